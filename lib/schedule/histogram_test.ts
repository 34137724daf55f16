import assert from "node:assert/strict";
import { TimingHistogram } from "./histogram.ts";
import { percentile } from "./percentile.ts";

Deno.test("histogram percentiles are within 1 % above the exact ones; the maximum is exact", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const values: number[] = [];
  const h = new TimingHistogram();
  for (let i = 0; i < 20_000; i++) {
    // Mostly sub-millisecond, a tail to seconds: lateness as a sampler sees it.
    const v = random() < 0.95 ? random() * 2 : random() * 3000;
    values.push(v);
    h.add(v);
  }
  assert.equal(h.count, 20_000);
  assert.equal(h.max, Math.max(...values));
  for (const p of [1, 50, 90, 99, 99.9, 100]) {
    const exact = percentile(values, p);
    const got = h.percentile(p);
    assert.ok(got >= exact - 0.01 && got <= exact * 1.01 + 0.01, `p${p}: ${got} vs ${exact}`);
  }
});

Deno.test("histogram: empty, zero, negative and huge values", () => {
  const h = new TimingHistogram();
  assert.ok(Number.isNaN(h.percentile(50)));
  assert.deepEqual(h.stats(), { p50: NaN, p99: NaN, max: NaN });
  h.add(0);
  h.add(-1); // a clock step backwards counts as on time
  h.add(1e12);
  assert.equal(h.percentile(50), 0.01); // the first bucket: 0 to 0.01 ms
  assert.equal(h.max, 1e12);
  assert.equal(h.percentile(100), 1e12);
});
