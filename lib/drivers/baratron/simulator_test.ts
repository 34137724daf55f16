import assert from "node:assert/strict";
import { UsageError } from "../../device/errors.ts";
import { GaugeModel } from "./gauge_model.ts";
import { startBaratronSimulators } from "./simulator.ts";
import { POLL_REQUEST } from "./protocol.ts";
import { decodePoll, parseResponse } from "./text_decoder.ts";

Deno.test("model: run hours count up in real time from a large start", () => {
  const m = new GaugeModel({ seed: 3, runSeconds: 63063947 }, 0);
  const a = m.sample(0);
  const b = m.sample(3_600_000);
  assert.equal(a.run_hours, 63063947 / 3600);
  assert.equal(b.run_hours, (63063947 + 3600) / 3600);
  assert.ok(new GaugeModel({ seed: 4 }, 0).sample(0).run_hours > 8000, "years of operation");
});

Deno.test("model: warm-up wait counts down to 0 while the LED goes from yellow blinking to green", () => {
  const m = new GaugeModel({ seed: 1, warmupS: 120 }, 0);
  const cold = m.sample(0);
  assert.equal(cold.wait_hours, 120 / 3600);
  assert.equal(cold.led_color, "yellow, blinking");
  const half = m.sample(60_000);
  assert.equal(half.wait_hours, 60 / 3600);
  const warm = m.sample(121_000);
  assert.equal(warm.wait_hours, 0);
  assert.equal(warm.led_color, "green");
  assert.equal(new GaugeModel({ seed: 1, warmupS: 0 }, 0).sample(0).led_color, "green");
});

Deno.test("model: pressure wanders around the setpoint, within a few percent", () => {
  const m = new GaugeModel({ seed: 7, setpoint: 3.8, fullScale: 1000, warmupS: 0 }, 0);
  const values: number[] = [];
  for (let t = 0; t <= 600_000; t += 500) values.push(m.sample(t).pressure);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  assert.ok(Math.abs(mean - 3.8) < 0.05, `mean ${mean}`);
  assert.ok(values.every((p) => p > 3.6 && p < 4.0));
  assert.ok(new Set(values).size > values.length / 2, "the value moves");
});

Deno.test("model: zeroing recommended exactly when the drift is beyond 0.0015", () => {
  let seen = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const v = new GaugeModel({ seed, warmupS: 0 }, 0).sample(0);
    const recommended = v.system_status === "e-Baratron Zeroing Recommended";
    assert.equal(recommended, Math.abs(v.drift) > 0.0015, `seed ${seed}: ${v.drift}`);
    if (recommended) seen++;
    assert.equal(v.led_color, "green", "advice, not a fault: the LED stays green");
  }
  assert.ok(seen > 0 && seen < 40, "some gauges need zeroing, some do not");
});

Deno.test("model: the same seed gives the same gauge; units and full scale are honoured", () => {
  const a = new GaugeModel({ seed: 9 }, 0);
  const b = new GaugeModel({ seed: 9 }, 0);
  for (let t = 0; t < 5000; t += 1000) assert.deepEqual(a.sample(t), b.sample(t));
  const m = new GaugeModel({ units: "mbar", fullScale: 1.33, setpoint: 0.5 }, 0).sample(0);
  assert.equal(m.pressure_units, "mbar");
  assert.equal(m.full_scale_pressure, 1.33);
  assert.throws(() => new GaugeModel({ units: "furlongs" }), UsageError);
});

Deno.test("server: answers only the EVIDs asked, in the order asked, whatever the content type", async () => {
  const sims = await startBaratronSimulators({ count: 1 });
  const url = sims.addresses[0]!.replace("baratron://", "http://") + "/ToolWeb/Cmd";
  try {
    for (const type of ["text/xml", "application/x-www-form-urlencoded", "text/plain"]) {
      const res = await fetch(url, {
        method: "POST",
        body: '<PollRequest><V Name="EVID_1103"/><V Name="EVID_105"/></PollRequest>',
        headers: { "content-type": type },
      });
      assert.equal(res.status, 200);
      const raw = parseResponse(await res.text());
      assert.deepEqual([...raw.values.keys()], [1103, 105]);
    }
    // EVIDs a gauge does not have are left out rather than invented.
    const res = await fetch(url, {
      method: "POST",
      body: '<PollRequest><V Name="EVID_100"/><V Name="EVID_4242"/></PollRequest>',
    });
    assert.deepEqual([...parseResponse(await res.text()).values.keys()], [100]);
  } finally {
    await sims.close();
  }
});

Deno.test("server: wrong path, method or body are HTTP errors with a reason", async () => {
  const sims = await startBaratronSimulators({ count: 1 });
  const base = sims.addresses[0]!.replace("baratron://", "http://");
  try {
    const notFound = await fetch(`${base}/`, { method: "POST", body: POLL_REQUEST });
    assert.equal(notFound.status, 404);
    assert.match(await notFound.text(), /POST \/ToolWeb\/Cmd/);
    const get = await fetch(`${base}/ToolWeb/Cmd`);
    assert.equal(get.status, 405);
    await get.body?.cancel();
    const bad = await fetch(`${base}/ToolWeb/Cmd`, { method: "POST", body: "<PollRequest>" });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /not well-formed XML/);
    const set = await fetch(`${base}/ToolWeb/Cmd`, {
      method: "POST",
      body: '<SetRequest><V Name="EVID_71">1</V></SetRequest>',
    });
    assert.equal(set.status, 400);
    assert.match(await set.text(), /<SetRequest> is not supported/);
    assert.equal(sims.gauges[0]!.counts.bad, 4);
  } finally {
    await sims.close();
  }
});

Deno.test("server: N gauges on consecutive ports", async () => {
  // Three free consecutive ports, below the ephemeral range so no port-0 listener elsewhere is hit.
  for (let attempt = 0; attempt < 20; attempt++) {
    const start = 20000 + Math.floor(Math.random() * 12000);
    try {
      const sims = await startBaratronSimulators({ port: start, count: 3 });
      assert.deepEqual(sims.addresses, [
        `baratron://127.0.0.1:${start}`,
        `baratron://127.0.0.1:${start + 1}`,
        `baratron://127.0.0.1:${start + 2}`,
      ]);
      await sims.close();
      return;
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
    }
  }
  assert.fail("no three consecutive free ports found");
});

Deno.test("server: a port in use is a usage error, and gauges already started are stopped", async () => {
  for (let attempt = 0; attempt < 20; attempt++) {
    const start = 20000 + Math.floor(Math.random() * 12000);
    let blocker: Deno.Listener;
    try {
      blocker = Deno.listen({ hostname: "127.0.0.1", port: start + 1 });
    } catch {
      continue;
    }
    try {
      const err = await startBaratronSimulators({ port: start, count: 3 }).then(
        (sims) => sims.close().then(() => assert.fail("started on a busy port")),
        (e: unknown) => e,
      );
      assert.ok(err instanceof UsageError);
      if (err.message.includes(`:${start}:`)) continue; // the first port was taken by someone else
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${start + 1}: the port is in use`));
      assert.match(err.hint ?? "", /another --listen port/);
      // The gauge started on `start` before the failure was closed again.
      Deno.listen({ hostname: "127.0.0.1", port: start }).close();
      return;
    } finally {
      blocker.close();
    }
  }
  assert.fail("no free port pair found");
});

Deno.test("server: port 0 gives every gauge its own free port, each with its own values", async () => {
  const sims = await startBaratronSimulators({ count: 5, seed: 11 });
  try {
    assert.equal(new Set(sims.gauges.map((g) => g.port)).size, 5);
    const fs = await Promise.all(sims.addresses.map(async (a) => {
      const res = await fetch(`${a.replace("baratron://", "http://")}/ToolWeb/Cmd`, {
        method: "POST",
        body: POLL_REQUEST,
      });
      return decodePoll(parseResponse(await res.text()).values).pressure;
    }));
    assert.ok(new Set(fs).size > 1, "seeded per gauge");
  } finally {
    await sims.close();
  }
});
