/**
 * Bounds of `labwire serve` requests, against the daemon as a process: a scan plan over the
 * point limit is a 422 naming the limit (the daemon used to freeze and die of memory on
 * `num: 100000000`), non-finite numbers are a 400, task intervals and durations are bounded,
 * and no request gets a 5xx.
 */
import assert from "node:assert/strict";
import { guardedFetch, spawnServe } from "./labwire_process.ts";
import { benchToml, SIM } from "../fixtures/sim_bench.ts";

const BENCH = benchToml({ motor: SIM.motor, det: SIM.det, thermo: SIM.thermo }, "100ms");

const json = { "content-type": "application/json" };

const line = (num: unknown) => ({
  plan: {
    kind: "line",
    relative: false,
    axes: [{ positioner: "motor.position", start: 0, stop: 1 }],
    num,
    spacing: "linear",
  },
  detectors: ["det.counts"],
});

async function withServe(config: string, fn: (url: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "labwire-bounds-" });
  try {
    await Deno.writeTextFile(`${dir}/bench.toml`, config);
    const s = await spawnServe([`${dir}/bench.toml`, "--session", `${dir}/s.sqlite`]);
    try {
      await fn(s.url);
    } finally {
      assert.equal(await s.stop(), 0, s.lines.join("\n"));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("serve: scan and task requests over their bounds are refused, never a 5xx", async () => {
  await withServe(BENCH, async (url) => {
    const post = (path: string, body: unknown) =>
      guardedFetch(`${url}${path}`, {
        method: "POST",
        headers: json,
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    const limit = /over the limit of 1,000,000|the limit is 1,000,000/;
    for (const num of [100_000_000, 1e12, 1_000_001]) {
      const r = await post("/api/scans", line(num));
      assert.equal(r.status, 422, `num ${num}: ${JSON.stringify(r.body)}`);
      const err = r.body.error as { code: string; message: string };
      assert.equal(err.code, "limit_exceeded");
      assert.match(err.message, limit);
      assert.match(err.message, /max_scan_points/);
    }
    // a mesh is as long as the product of its axes
    const mesh = await post("/api/scans", {
      plan: {
        kind: "mesh",
        axes: [
          { positioner: "motor.position", start: 0, stop: 1, num: 1000 },
          { positioner: "thermo.setpoint", start: 20, stop: 21, num: 1001 },
        ],
      },
      detectors: ["det.counts"],
    });
    assert.equal(mesh.status, 422, JSON.stringify(mesh.body));
    assert.match(JSON.stringify(mesh.body), /1,001,000 points; the limit is 1,000,000/);
    const count = await post("/api/scans", { plan: { kind: "count", num: 1e12 }, detectors: [] });
    assert.equal(count.status, 422);

    // non-finite and out-of-range numbers: refused, no 5xx
    const bad: [string, unknown, number][] = [
      ["/api/scans", line(1e999), 400],
      ["/api/scans", line(2.5), 400],
      [
        "/api/scans",
        '{"plan":{"kind":"line","axes":[{"positioner":"motor.position","start":0,"stop":1e999}],"num":3},"detectors":["det.counts"]}',
        400,
      ],
      ["/api/scans", { ...line(3), settle_ms: 1e300 }, 422],
      ["/api/scans", { ...line(3), poll_ms: 1e-9 }, 400],
      ["/api/devices/thermo/tasks", { technique: "sample", sampling_interval: 1e-9 }, 400],
      ["/api/devices/thermo/tasks", { technique: "sample", max_duration: 1e12 }, 422],
      ["/api/devices/thermo/tasks", '{"technique":"sample","sampling_interval":1e999}', 400],
    ];
    for (const [path, body, status] of bad) {
      const r = await post(path, body);
      assert.equal(r.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    }
    const page = await guardedFetch(`${url}/api/scans/s1?limit=100000`);
    assert.ok(page.status === 404 || page.status === 422, String(page.status));

    // a plan at the limit is taken, and the daemon is still well
    const ok = await post("/api/scans", line(1000));
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    const over = await guardedFetch(`${url}/api/scans/${ok.body.id}?limit=100000`);
    assert.equal(over.status, 422);
    const health = await guardedFetch(`${url}/healthz`);
    assert.equal(health.status, 200);
  });
});

Deno.test("serve: [server] max_scan_points sets the limit the 422 names", async () => {
  await withServe(`[server]\nmax_scan_points = 50\n${BENCH}`, async (url) => {
    const post = (body: unknown) =>
      guardedFetch(`${url}/api/scans`, {
        method: "POST",
        headers: json,
        body: JSON.stringify(body),
      });
    const over = await post(line(51));
    assert.equal(over.status, 422);
    assert.match(JSON.stringify(over.body), /over the limit of 50 \(\[server\] max_scan_points\)/);
    const at = await post(line(50));
    assert.equal(at.status, 202, JSON.stringify(at.body));
  });
});
