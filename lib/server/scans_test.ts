import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import { Lab } from "../lab/lab.ts";
import { ScanStore } from "../session/scan_store.ts";
import { createApp } from "./app.ts";
import { silentLogger } from "./log.ts";
import { ScanService } from "./scans.ts";
import { StreamHub } from "./sse.ts";

const BENCH = `
[devices.motor]
address = "sim://motor?velocity=1e9"

[devices.det]
address = "sim://det?motor=motor"
`;

const body = (num: number) =>
  JSON.stringify({
    plan: { kind: "line", axes: [{ positioner: "motor.position", start: 0, stop: 1 }], num },
    detectors: ["det.counts"],
  });

async function withScans(
  store: ScanStore | undefined,
  fn: (app: ReturnType<typeof createApp>) => Promise<void>,
  keepPoints?: number,
) {
  const lab = await Lab.open(parseConfig(BENCH, "<test>"));
  const hub = new StreamHub();
  const scans = new ScanService(lab, store, hub, silentLogger, { keepPoints });
  try {
    await fn(createApp({ lab, hub, scans }));
  } finally {
    await scans.close();
    hub.close();
    await lab.close();
  }
}

Deno.test("a failing session store is a 503 that says so (store_error), not an internal error", async () => {
  const db = new DatabaseSync(":memory:");
  const store = new ScanStore(db);
  db.close(); // the disk went away
  await withScans(store, async (app) => {
    const res = await app.request("/api/scans", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: body(10),
    });
    const answer = await res.json();
    assert.equal(res.status, 503);
    assert.equal(answer.error.code, "store_error");
    assert.match(answer.error.message, /^session store failed: /);
  });
});

Deno.test("without a session, GET /api/scans/ID pages over the points still in memory", async () => {
  await withScans(undefined, async (app) => {
    const post = await app.request("/api/scans", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: body(500),
    });
    assert.equal(post.status, 202);
    const id = (await post.json()).id;
    let scan: Record<string, unknown> = {};
    while (scan.state !== "done") {
      await new Promise((r) => setTimeout(r, 20));
      scan = await (await app.request(`/api/scans/${id}?since=0&limit=10`)).json();
    }
    assert.equal(scan.recorded, 500);
    // only the latest 50 are kept: the page starts at the oldest kept point
    const pts = scan.points as { point: number }[];
    assert.deepEqual(pts.map((p) => p.point), Array.from({ length: 10 }, (_, i) => 450 + i));
    assert.equal(scan.next_since, 460);
    const tail = await (await app.request(`/api/scans/${id}?since=495`)).json();
    assert.deepEqual(tail.points.map((p: { point: number }) => p.point), [495, 496, 497, 498, 499]);
    assert.equal(tail.next_since, 500);
    const bad = await app.request(`/api/scans/${id}?limit=0`);
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
  }, 50);
});
