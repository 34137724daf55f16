import assert from "node:assert/strict";
import type { Reading } from "../device/device.ts";
import { readingJson } from "../output/record.ts";
import { ReadingRing } from "./reading_ring.ts";

const all = (ring: ReadingRing) => Array.from({ length: ring.count }, (_, i) => ring.reading(i));

Deno.test("ring gives back every kind of value exactly, in key order", () => {
  const ring = new ReadingRing(8);
  const readings: Reading[] = [
    { t: 1.001, device: "g", values: { pressure: 0.7638, pressure_units: "torr" } },
    { t: 1.002, device: "g", values: { a: NaN, b: -0, c: Infinity, d: null } },
    { t: 1.003, device: "m", values: { moving: true, done: false, trace: [1, 2.5, 3] } },
    { t: 1.004, device: "m", values: { "2": 1, x: "s" } },
    { t: 1.005, device: "g", values: {}, error: "timeout after 2 s" },
    // more values than a slot packs: kept as its object
    { t: 1.006, device: "b", values: { a: 1, b: 2, c: 3, d: 4, e: "five", f: 6 } },
  ];
  for (const r of readings) ring.push(r);
  assert.deepEqual(all(ring), readings);
  assert.deepEqual(all(ring).map(readingJson), readings.map(readingJson));
  assert.ok(Object.is(ring.reading(1).values.b, -0));
});

Deno.test("ring keeps the last `size` readings in arrival order, times to the millisecond", () => {
  const ring = new ReadingRing(3);
  for (let i = 1; i <= 5; i++) {
    ring.push({ t: 100 + i / 1000 + 0.0004, device: i % 2 ? "a" : "b", values: { x: i } });
  }
  assert.equal(ring.count, 3);
  assert.deepEqual(
    all(ring).map((r) => [r.device, r.t, r.values.x]),
    [["a", 100.003, 3], ["b", 100.004, 4], ["a", 100.005, 5]],
  );
  assert.deepEqual([0, 1, 2].map((i) => ring.tms(i)), [100003, 100004, 100005]);
  assert.deepEqual([0, 1, 2].map((i) => ring.device(i)), ["a", "b", "a"]);
});

Deno.test("ring: readings of one device with changing attribute sets keep their own keys", () => {
  const ring = new ReadingRing(64);
  const readings: Reading[] = [];
  // more shapes than a device remembers, alternating, and a slot reused by a smaller reading
  for (let i = 0; i < 40; i++) {
    const values: Reading["values"] = {};
    for (let k = 0; k <= i % 12; k++) values[`a${(i + k) % 5}`] = i * 10 + k;
    readings.push({ t: i, device: "g", values });
  }
  for (const r of readings) ring.push(r);
  assert.deepEqual(all(ring), readings);
  const small = new ReadingRing(1);
  small.push({ t: 1, device: "g", values: { a: "x", b: "y", c: "z" } });
  small.push({ t: 2, device: "g", values: { a: 1 } });
  assert.deepEqual(small.reading(0), { t: 2, device: "g", values: { a: 1 } });
});

Deno.test("ring: a value's type changing under the same names keeps each reading's own", () => {
  const ring = new ReadingRing(16);
  const readings: Reading[] = [
    { t: 1, device: "g", values: { p: 1.5, u: "torr" } },
    { t: 2, device: "g", values: { p: "overrange", u: "torr" } },
    { t: 3, device: "g", values: { p: null, u: 7 } },
    { t: 4, device: "g", values: { p: 2.5, u: "torr" } },
    { t: 5, device: "g", values: { p: true, u: [1, 2] } },
    { t: 6, device: "g", values: {}, error: "no answer" },
    { t: 7, device: "g", values: { p: 3 }, error: "partial" },
    { t: 8, device: "g", values: { p: 3.5, u: "torr" } },
  ];
  for (const r of readings) ring.push(r);
  assert.deepEqual(all(ring), readings);
  assert.deepEqual(all(ring).map(readingJson), readings.map(readingJson));
});

Deno.test("ring keeps no object of a reading of numbers and constant strings", () => {
  const ring = new ReadingRing(2);
  const units = "torr";
  const reading: Reading = { t: 5, device: "g", values: { pressure: 1.5, units } };
  ring.push(reading);
  reading.values.pressure = 99;
  assert.deepEqual(ring.reading(0).values, { pressure: 1.5, units: "torr" });
  assert.notEqual(ring.reading(0).values, reading.values);
});
