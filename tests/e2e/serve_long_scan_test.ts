/**
 * A long zero-latency scan in `labwire serve` (a process): the POST is answered, the API,
 * other devices' sampling and a 1 ms task keep going while it runs, its points page through
 * `GET /api/scans/ID?since=&limit=`, and SIGTERM ends the daemon with the scan stored `aborted`
 * and its points kept. (It used to take 10 s to answer its own POST, starve sampling, ignore
 * SIGTERM until the scan was done, and answer a 100 MB body.) Times here are hang guards only;
 * the figures are in `deno task bench responsiveness`.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { guardedFetch, spawnServe } from "./labwire_process.ts";
import { benchToml, SIM } from "../fixtures/sim_bench.ts";
import { motorScan } from "../fixtures/scan_request.ts";

const BENCH = benchToml(
  { motor: SIM.fastMotor, det: SIM.det, thermo: SIM.thermo, dmm: SIM.dmm },
  "100ms",
);

const json = { "content-type": "application/json" };

Deno.test("serve: a 1,000,000-point scan streams, pages, shares the loop, and SIGTERM aborts it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-long-scan-" });
  try {
    await Deno.writeTextFile(`${dir}/bench.toml`, BENCH);
    const session = `${dir}/s.sqlite`;
    const s = await spawnServe([`${dir}/bench.toml`, "--session", session]);
    let stopped = false;
    try {
      const post = await guardedFetch(`${s.url}/api/scans`, {
        method: "POST",
        headers: json,
        body: JSON.stringify(motorScan(0, 1, 1_000_000)),
      }, 8000);
      assert.equal(post.status, 202, JSON.stringify(post.body));
      const id = post.body.id as string;
      const task = await guardedFetch(`${s.url}/api/devices/dmm/tasks`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ technique: "sample", sampling_interval: 0.001, max_duration: 600 }),
      });
      assert.equal(task.status, 202, JSON.stringify(task.body));

      // while it runs: health answers, thermo keeps being sampled, the task samples
      const thermoT =
        async () => ((await guardedFetch(`${s.url}/api/devices/thermo`, {}, 5000)).body
          .last_t as number);
      const before = await thermoT();
      let recorded = 0;
      for (let i = 0; i < 10; i++) {
        const h = await guardedFetch(`${s.url}/healthz`, {}, 5000);
        assert.equal(h.status, 200);
        const st = await guardedFetch(`${s.url}/api/scans/${id}?limit=1`, {}, 5000);
        assert.equal(st.body.state, "running");
        recorded = st.body.recorded as number;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(recorded > 0 && recorded < 1_000_000, `${recorded} points`);
      assert.ok((await thermoT()) > before, "thermo was sampled during the scan");
      const t = await guardedFetch(`${s.url}/api/tasks/${task.body.id}`, {}, 5000);
      assert.ok((t.body.samples as number) > 1, `task samples: ${t.body.samples}`);

      // points page from the session: a bounded body however long the scan
      const first = await guardedFetch(`${s.url}/api/scans/${id}?limit=5`, {}, 5000);
      const pts = first.body.points as { point: number }[];
      assert.deepEqual(pts.map((p) => p.point), [0, 1, 2, 3, 4]);
      assert.equal(first.body.next_since, 5);
      const next = await guardedFetch(`${s.url}/api/scans/${id}?since=5&limit=3`, {}, 5000);
      assert.deepEqual((next.body.points as { point: number }[]).map((p) => p.point), [5, 6, 7]);
      const dflt = await guardedFetch(`${s.url}/api/scans/${id}`, {}, 5000);
      assert.ok((dflt.body.points as unknown[]).length <= 1000);

      const status = await s.stop("SIGTERM", 10_000);
      stopped = true;
      assert.equal(status, 0, s.lines.join("\n"));
    } finally {
      // the server may already have exited; this only makes sure
      if (!stopped) await s.stop("SIGKILL").catch(() => {});
    }
    const db = new DatabaseSync(session, { readOnly: true });
    try {
      const row = db.prepare(
        "SELECT state, error, (SELECT COUNT(*) FROM scan_points p WHERE p.scan_id = scans.id) AS n FROM scans",
      ).get() as { state: string; error: string; n: number };
      assert.equal(row.state, "aborted");
      assert.match(row.error, /server stopping/);
      assert.ok(row.n > 0 && row.n < 1_000_000, `${row.n} points kept`);
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
