import assert from "node:assert/strict";
import { downsample } from "./downsample.ts";

Deno.test("downsample keeps every point when they fit", () => {
  const s = downsample([1, 2, 3], [10, 20, 30], 0, 4, 10);
  assert.deepEqual(s, {
    t: [1, 2, 3],
    min: [10, 20, 30],
    max: [10, 20, 30],
    rows: 3,
    bucket: null,
  });
});

Deno.test("downsample keeps min and max per bucket, so a spike survives", () => {
  const n = 100_000;
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    t[i] = i / 10;
    v[i] = Math.sin(i / 1000);
  }
  v[54_321] = 99;
  const s = downsample(t, v, 0, n / 10, 500);
  assert.equal(s.t.length, 500);
  assert.equal(s.rows, n);
  assert.equal(s.bucket, 20);
  assert.equal(Math.max(...s.max), 99);
  assert.ok(Math.min(...s.min) <= -0.99);
  for (let i = 0; i < s.t.length; i++) assert.ok(s.min[i]! <= s.max[i]!);
  assert.deepEqual(s.t.slice(0, 3), [0, 20, 40]);
});

Deno.test("downsample skips empty buckets (gaps stay gaps)", () => {
  const s = downsample([0, 0.5, 9, 9.5], [1, 2, 3, 4], 0, 10, 3);
  assert.equal(s.t.length, 2);
  assert.deepEqual(s.min, [1, 3]);
  assert.deepEqual(s.max, [2, 4]);
});
