import assert from "node:assert/strict";
import { gotoPosition, PeakCollector, peakStats } from "./peak.ts";

const gauss = (x: number, c: number, sigma: number, height: number, bg: number) =>
  bg + height * Math.exp(-((x - c) ** 2) / (2 * sigma ** 2));

Deno.test("a gaussian over a background: peak, FWHM 2.3548σ, cen and com at the centre", () => {
  const xs = Array.from({ length: 401 }, (_, i) => i * 0.025);
  const ys = xs.map((x) => gauss(x, 4.2, 0.5, 1000, 50));
  const s = peakStats(xs, ys, "m.x");
  assert.ok(Math.abs(s.peak_position! - 4.2) < 1e-9);
  assert.ok(Math.abs(s.peak! - 1050) < 1e-9);
  assert.ok(Math.abs(s.min! - 50) < 1e-9);
  assert.ok(Math.abs(s.fwhm! - 2.3548 * 0.5) < 0.002, `fwhm ${s.fwhm}`);
  assert.ok(Math.abs(s.cen! - 4.2) < 1e-6, `cen ${s.cen}`);
  // the background is subtracted: a constant offset does not pull the com towards the middle
  assert.ok(Math.abs(s.com! - 4.2) < 0.01, `com ${s.com}`);
  assert.equal(s.points, 401);
});

Deno.test("a peak at the edge of the scan has no FWHM or cen; flat data has no com", () => {
  const xs = [0, 1, 2, 3];
  const edge = peakStats(xs, [10, 8, 4, 1], "m.x");
  assert.equal(edge.peak_position, 0);
  assert.equal(edge.fwhm, null);
  assert.equal(edge.cen, null);
  assert.throws(() => gotoPosition(edge, "cen", "d.c"), /not inside the scan on both sides/);
  assert.equal(gotoPosition(edge, "peak", "d.c"), 0);
  const flat = peakStats(xs, [3, 3, 3, 3], "m.x");
  assert.equal(flat.com, null);
  assert.throws(() => gotoPosition(flat, "com", "d.c"), /d\.c is flat/);
  const none = peakStats(xs, [NaN, NaN, NaN, NaN], "m.x");
  assert.equal(none.points, 0);
  assert.equal(none.peak, null);
});

Deno.test("non-numeric points are skipped; half-maximum crossings are interpolated", () => {
  const s = peakStats([0, 1, 2, 3, 4, 5], [0, NaN, 2, 4, 2, 0], "m.x");
  assert.equal(s.points, 5);
  assert.equal(s.fwhm, 2);
  assert.equal(s.cen, 3);
});

Deno.test("the collector grows, takes read-backs as x, and orders points by position", () => {
  const c = new PeakCollector("m.x", ["d.c", "d.label"]);
  // a list scan visiting positions out of order, more points than the first allocation
  const xs = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1000) / 100);
  xs.forEach((x, i) =>
    c.add({
      index: i,
      positions: [x],
      readbacks: [x],
      values: [gauss(x, 5, 1, 100, 0), "text"],
    })
  );
  const stats = c.stats();
  assert.deepEqual(Object.keys(stats), ["d.c"], "a detector without numbers has no statistics");
  assert.equal(stats["d.c"]!.peak_position, 5);
  assert.ok(Math.abs(stats["d.c"]!.fwhm! - 2.3548) < 0.01);
  // a count scan (no positioner) uses the point index
  const count = new PeakCollector(undefined, ["d.c"]);
  [1, 5, 2].forEach((v, i) => count.add({ index: i, positions: [], readbacks: [], values: [v] }));
  assert.equal(count.stats()["d.c"]!.peak_position, 1);
  assert.equal(count.stats()["d.c"]!.positioner, "point");
});

Deno.test("a collector sized to the plan gives the same statistics, and still grows past it", () => {
  const xs = Array.from({ length: 401 }, (_, i) => i * 0.025);
  const ys = xs.map((x) => gauss(x, 4.2, 0.5, 1000, 50));
  const add = (c: PeakCollector) =>
    xs.forEach((x, i) => c.add({ index: i, positions: [x], readbacks: [x], values: [ys[i]!] }));
  const sized = new PeakCollector("m.x", ["d.c"], xs.length);
  const short = new PeakCollector("m.x", ["d.c"], 3);
  add(sized);
  add(short);
  assert.deepEqual(sized.stats(), { "d.c": peakStats(xs, ys, "m.x") });
  assert.deepEqual(short.stats(), sized.stats());
  assert.equal(short.length, 401);
});

Deno.test("columns widen when a value is not exactly a 32-bit float: the statistics are exact", () => {
  // integer counts and half-step positions first (32-bit exact), then values that are not
  const xs = Array.from({ length: 600 }, (_, i) => (i < 300 ? i * 0.5 : 150 + (i - 300) / 3));
  const ys = xs.map((x, i) => (i < 300 ? Math.round(gauss(x, 140, 20, 1000, 5)) : 1 / (x - 100)));
  const c = new PeakCollector("m.x", ["d.c", "d.n"], xs.length);
  xs.forEach((x, i) =>
    c.add({ index: i, positions: [x], readbacks: [x], values: [ys[i]!, i < 10 ? "busy" : i] })
  );
  const n = xs.map((_, i) => (i < 10 ? NaN : i));
  assert.deepEqual(c.stats(), { "d.c": peakStats(xs, ys, "m.x"), "d.n": peakStats(xs, n, "m.x") });
});
