import assert from "node:assert/strict";
import { SessionStore } from "../session/store.ts";
import { ROLLUP_SECONDS, SampleQueries, SamplesWorker } from "./samples_worker.ts";

async function session(
  rows: number,
  t0: number,
): Promise<{ dir: string; path: string; values: number[] }> {
  const dir = await Deno.makeTempDir({ prefix: "labwire-samples-" });
  const path = `${dir}/s.sqlite`;
  const store = SessionStore.open(path, { segment: { command: ["test"] }, checkpointMs: 0 });
  const a = store.attr(store.device({ name: "gauge" }), { name: "pressure", type: "number" });
  const b = store.attr(store.device({ name: "thermo" }), { name: "temperature", type: "number" });
  const values: number[] = [];
  for (let k = 0; k < rows; k++) {
    const v = Math.sin(k / 700) + (k === 33_333 ? 50 : 0);
    values.push(v);
    store.writer.add(t0 + k / 10, a, v);
    if (k % 7 === 0) store.writer.add(t0 + k / 10, b, 1000 + k);
    if (k % 5000 === 4999) store.writer.flush();
  }
  store.writer.flush();
  store.close("test");
  return { dir, path, values };
}

Deno.test("rollup answers match a brute-force min/max per bucket exactly", async () => {
  const t0 = 1_700_000_000; // aligned to the rollup
  const { dir, path, values } = await session(75_000, t0);
  const q = new SampleQueries(path);
  try {
    const from = t0;
    const to = t0 + 7500;
    const s = q.run({ device: "gauge", attr: "pressure", from, to, maxPoints: 50 });
    assert.equal(s.bucket, 150);
    assert.ok(s.bucket! >= ROLLUP_SECONDS);
    const expect = new Map<number, [number, number, number]>();
    values.forEach((v, k) => {
      const t = t0 + k / 10;
      if (t < from || t > to) return;
      const b = Math.min(49, Math.floor((t - from) / 150));
      const cur = expect.get(b) ?? [Infinity, -Infinity, 0];
      expect.set(b, [Math.min(cur[0], v), Math.max(cur[1], v), cur[2] + 1]);
    });
    assert.equal(s.t.length, expect.size);
    s.t.forEach((t, i) => {
      const e = expect.get(Math.round((t - from) / 150))!;
      assert.equal(s.min[i], e[0]);
      assert.equal(s.max[i], e[1]);
    });
    assert.equal(s.rows, [...expect.values()].reduce((a, e) => a + e[2], 0));
    assert.equal(Math.max(...s.max), 50 + Math.sin(33_333 / 700), "the spike survives");

    // An unaligned range: the partial buckets at both ends are read from rows, so totals are exact.
    const f2 = t0 + 123.45;
    const t2 = t0 + 6543.21;
    const s2 = q.run({ device: "gauge", attr: "pressure", from: f2, to: t2, maxPoints: 100 });
    const inRange = values.filter((_, k) => t0 + k / 10 >= f2 && t0 + k / 10 <= t2);
    assert.equal(s2.rows, inRange.length);
    assert.equal(Math.min(...s2.min), Math.min(...inRange));
    assert.equal(Math.max(...s2.max), Math.max(...inRange));

    // Short ranges come from the rows: every point when they fit.
    const s3 = q.run({
      device: "gauge",
      attr: "pressure",
      from: t0,
      to: t0 + 9.95,
      maxPoints: 200,
    });
    assert.equal(s3.bucket, null);
    assert.deepEqual(s3.min, values.slice(0, 100));
    assert.throws(
      () => q.run({ device: "gauge", attr: "nope", from: t0, to: t0 + 1, maxPoints: 2 }),
      {
        status: 404,
      },
    );
  } finally {
    q.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("queries run in a worker and come back as promises", async () => {
  const t0 = 1_700_000_000;
  const { dir, path } = await session(2_000, t0);
  const w = new SamplesWorker(path);
  try {
    const s = await w.query({
      device: "thermo",
      attr: "temperature",
      from: t0,
      to: t0 + 200,
      maxPoints: 1000,
    });
    assert.equal(s.rows, Math.ceil(2000 / 7));
    await assert.rejects(
      () => w.query({ device: "nope", attr: "x", from: t0, to: t0 + 1, maxPoints: 2 }),
      (e: Error & { status?: number }) =>
        e.status === 404 && /nothing recorded for nope\.x/.test(e.message),
    );
  } finally {
    w.close();
    await Deno.remove(dir, { recursive: true });
  }
});
