/**
 * Scans over HTTP: POST /api/scans runs a plan on the sim motor and detector, points arrive on
 * the event stream, a write or scan touching the moving motor gets 409, DELETE interrupts.
 */
import assert from "node:assert/strict";
import { readEvents, startTestDaemon, until } from "./serve_fixture.ts";
import { motorScan } from "../fixtures/scan_request.ts";

const BENCH = `
[devices.motor]
address = "sim://motor?seed=3&velocity=100"
interval = "250ms"

[devices.det]
address = "sim://det?seed=5&motor=motor"
interval = "250ms"
`;

const json = { "content-type": "application/json" };

async function post(url: string, body: unknown) {
  const res = await fetch(`${url}/api/scans`, {
    method: "POST",
    headers: json,
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json(), location: res.headers.get("location") };
}

Deno.test("POST /api/scans: an ascan finds the detector peak; points stream as events", async () => {
  const d = await startTestDaemon({ bench: BENCH });
  try {
    const stream = await fetch(`${d.url}/api/stream?devices=det`);
    const events = readEvents(stream.body!, 30);
    const created = await post(d.url, { ...motorScan(0, 10, 21), settle_ms: 20 });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.id as string;
    assert.equal(created.location, `/api/scans/${id}`);
    assert.deepEqual(created.body.positioners, ["motor.position"]);

    // While it moves the motor, a plain write and an overlapping scan are refused.
    const write = await fetch(`${d.url}/api/devices/motor/attrs/position`, {
      method: "PUT",
      headers: json,
      body: JSON.stringify({ value: 3 }),
    });
    assert.equal(write.status, 409);
    await write.body?.cancel();
    const second = await post(d.url, motorScan(0, 1, 2));
    assert.equal(second.status, 409);
    assert.match(second.body.error.message, new RegExp(`motor is owned by scan ${id}`));

    let scan: Record<string, unknown> = {};
    await until(
      async () => {
        scan = await (await fetch(`${d.url}/api/scans/${id}`)).json();
        return scan.state === "done";
      },
      20_000,
      "the scan to finish",
    );
    // Points are flat, as `labwire scan` prints them: {scan, point, t, POS, POS_target, DET}.
    const points = scan.points as Record<string, number>[];
    assert.equal(points.length, 21);
    assert.deepEqual(Object.keys(points[0]!), [
      "scan",
      "point",
      "t",
      "motor.position",
      "motor.position_target",
      "det.counts",
    ]);
    let best = points[0]!;
    for (const p of points) if (p["det.counts"]! > best["det.counts"]!) best = p;
    assert.ok(
      Math.abs(best["motor.position_target"]! - 5) <= 0.5,
      `peak at ${best["motor.position_target"]}`,
    );
    assert.equal(typeof scan.session_scan_id, "number", "recorded in the session");

    const scanEvents = (await events).filter((e) => e.event === "scan_point").map((e) =>
      JSON.parse(e.data)
    );
    assert.ok(scanEvents.length >= 1);
    assert.equal(scanEvents[0].scan, id);
    assert.deepEqual(Object.keys(scanEvents[0]), Object.keys(points[0]!));
    assert.equal(typeof scanEvents[0]["motor.position"], "number");
    assert.equal(typeof scanEvents[0]["det.counts"], "number");
  } finally {
    await d.close();
  }
});

Deno.test("DELETE /api/scans/{id} interrupts after the current point and keeps the data", async () => {
  const d = await startTestDaemon({ bench: BENCH, session: false });
  try {
    const created = await post(d.url, { ...motorScan(0, 10, 200), settle_ms: 50 });
    assert.equal(created.status, 202);
    const id = created.body.id as string;
    await until(async () => {
      const s = await (await fetch(`${d.url}/api/scans/${id}`)).json();
      return (s.recorded_this_run as number) >= 2;
    });
    const res = await fetch(`${d.url}/api/scans/${id}`, { method: "DELETE" });
    assert.equal(res.status, 200);
    const stopped = await res.json();
    assert.equal(stopped.state, "stopped");
    assert.ok(stopped.points.length >= 2 && stopped.points.length < 200);
    // The motor is free again.
    const write = await fetch(`${d.url}/api/devices/motor/attrs/position`, {
      method: "PUT",
      headers: json,
      body: JSON.stringify({ value: 1 }),
    });
    assert.equal(write.status, 200);
    await write.body?.cancel();
  } finally {
    await d.close();
  }
});

/** Reads the motor's readback and moving flag through the API. */
async function motorState(url: string): Promise<{ readback: number; moving: boolean }> {
  const res = await fetch(`${url}/api/devices/motor/read`);
  const r = await res.json();
  return { readback: r.readback, moving: r.moving };
}

/** The bench with a motor that takes 10 s to cross its range (0 to 100 mm at 10 mm/s). */
const SLOW_BENCH = BENCH.replace("velocity=100", "velocity=10");

/** Starts a scan whose second point is that 10 s move, and waits until it is moving. */
async function scanInLongMove(url: string): Promise<string> {
  const created = await post(url, motorScan(0, 100, 2));
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const id = created.body.id as string;
  await until(async () => (await motorState(url)).readback > 1);
  return id;
}

Deno.test("DELETE /api/scans/{id}?now=1 stops at once: the move in flight is stopped, nothing moves back", async () => {
  const d = await startTestDaemon({ bench: SLOW_BENCH, session: false });
  try {
    const id = await scanInLongMove(d.url);
    const res = await fetch(`${d.url}/api/scans/${id}?now=1`, { method: "DELETE" });
    assert.equal(res.status, 200);
    const stopped = await res.json();
    assert.equal(stopped.state, "aborted");
    assert.equal(stopped.points.length, 1, "the point at 0 is kept, the one at 100 never taken");
    const after = await motorState(d.url);
    assert.equal(after.moving, false, "the motor was told to stop");
    assert.ok(after.readback > 1 && after.readback < 100, `stopped on its way: ${after.readback}`);
    const bad = await fetch(`${d.url}/api/scans/${id}?now=soon`, { method: "DELETE" });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /now/);
  } finally {
    await d.close();
  }
});

Deno.test("a second DELETE of a scan still finishing its point stops it at once, as a second Ctrl-C", async () => {
  const d = await startTestDaemon({ bench: SLOW_BENCH, session: false });
  try {
    const id = await scanInLongMove(d.url);
    const first = fetch(`${d.url}/api/scans/${id}`, { method: "DELETE" });
    await until(async () => {
      const s = await (await fetch(`${d.url}/api/scans/${id}`)).json();
      return s.state === "stopping";
    });
    const second = await fetch(`${d.url}/api/scans/${id}`, { method: "DELETE" });
    assert.equal(second.status, 200);
    assert.equal((await second.json()).state, "aborted");
    const firstAnswer = await first;
    assert.equal(firstAnswer.status, 200);
    assert.equal((await firstAnswer.json()).state, "aborted", "both callers see how it ended");
    assert.equal((await motorState(d.url)).moving, false);
  } finally {
    await d.close();
  }
});

Deno.test("POST /api/scans refuses bad plans before any move", async () => {
  const d = await startTestDaemon({ bench: BENCH, session: false });
  try {
    const before = d.lab.find("motor")!.stats.writes;
    const limit = await post(d.url, motorScan(0, 1e6, 3));
    assert.ok([400, 422].includes(limit.status), JSON.stringify(limit.body));
    assert.match(limit.body.error.message, /limit/);
    const extra = await post(d.url, { ...motorScan(0, 1, 2), speed: 3 });
    assert.equal(extra.status, 400);
    const device = await post(d.url, { ...motorScan(0, 1, 2), detectors: ["nope.counts"] });
    assert.ok([400, 404].includes(device.status), JSON.stringify(device.body));
    assert.equal(d.lab.find("motor")!.stats.writes, before, "nothing moved");
    const missing = await fetch(`${d.url}/api/scans/s999`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await d.close();
  }
});
