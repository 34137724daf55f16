import assert from "node:assert/strict";
import { driftAt, gaussAt, hash32, roundTo, uniformAt } from "./noise.ts";

Deno.test("noise is a pure function of seed, channel and tick", () => {
  assert.equal(gaussAt(3, 1, 1_700_000_000_123), gaussAt(3, 1, 1_700_000_000_123));
  assert.notEqual(gaussAt(3, 1, 1_700_000_000_123), gaussAt(4, 1, 1_700_000_000_123));
  assert.notEqual(gaussAt(3, 1, 1_700_000_000_123), gaussAt(3, 2, 1_700_000_000_123));
  assert.notEqual(gaussAt(3, 1, 1_700_000_000_123), gaussAt(3, 1, 1_700_000_000_124));
});

Deno.test("ticks beyond 2^32 still change the hash", () => {
  assert.notEqual(hash32(1, 2 ** 32), hash32(1, 2 * 2 ** 32));
});

Deno.test("uniformAt lies in [0, 1) and gaussAt has mean 0, sd 1", () => {
  const n = 20_000;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const u = uniformAt(9, 0, i);
    assert.ok(u >= 0 && u < 1);
    const g = gaussAt(9, 0, i);
    sum += g;
    sq += g * g;
  }
  const mean = sum / n;
  const sd = Math.sqrt(sq / n - mean * mean);
  assert.ok(Math.abs(mean) < 0.05, `mean ${mean}`);
  assert.ok(Math.abs(sd - 1) < 0.05, `sd ${sd}`);
});

Deno.test("driftAt stays within [-1, 1] and moves slowly", () => {
  const t0 = 1_700_000_000_000;
  let lo = Infinity;
  let hi = -Infinity;
  for (let s = 0; s < 3600; s += 10) {
    const d = driftAt(5, 0, t0 + s * 1000, 300);
    lo = Math.min(lo, d);
    hi = Math.max(hi, d);
    // Over one second a 300 s drift changes by far less than its full swing.
    assert.ok(Math.abs(driftAt(5, 0, t0 + s * 1000 + 1000, 300) - d) < 0.05);
  }
  assert.ok(lo >= -1 && hi <= 1);
  assert.ok(hi - lo > 0.5, "it does wander over an hour");
});

Deno.test("roundTo keeps the requested decimals", () => {
  assert.equal(roundTo(1.234567, 3), 1.235);
  assert.equal(roundTo(1234.5, 0), 1235);
});
