import assert from "node:assert/strict";
import {
  absolute,
  makePlan,
  MAX_SCAN_POINTS,
  parseRef,
  type Plan,
  PlanTooLarge,
  points,
  spaced,
} from "./plan.ts";
import { UsageError } from "../device/errors.ts";

const all = (p: Plan) => [...points(p)];

Deno.test("ascan: N points from start to stop inclusive, evenly spaced", () => {
  const p = makePlan({
    kind: "line",
    relative: false,
    num: 21,
    spacing: "linear",
    axes: [{ positioner: "motor.position", start: 0, stop: 10 }],
  });
  assert.equal(p.length, 21);
  assert.deepEqual(p.positioners, ["motor.position"]);
  assert.equal(p.relative, false);
  const pts = all(p);
  assert.equal(pts.length, 21);
  assert.deepEqual(pts[0], [0]);
  assert.deepEqual(pts[1], [0.5]);
  assert.deepEqual(pts[10], [5]);
  assert.deepEqual(pts[20], [10]);
  for (let i = 1; i < pts.length; i++) assert.ok(pts[i]![0]! > pts[i - 1]![0]!);
});

Deno.test("ascan: one point is the start; descending ranges run downwards", () => {
  const one = makePlan({
    kind: "line",
    relative: false,
    num: 1,
    spacing: "linear",
    axes: [{ positioner: "m.x", start: 3, stop: 7 }],
  });
  assert.deepEqual(all(one), [[3]]);
  const down = makePlan({
    kind: "line",
    relative: false,
    num: 3,
    spacing: "linear",
    axes: [{ positioner: "m.x", start: 2, stop: -2 }],
  });
  assert.deepEqual(all(down), [[2], [0], [-2]]);
});

Deno.test("a2scan: positioners move together, each through its own range", () => {
  const p = makePlan({
    kind: "line",
    relative: false,
    num: 11,
    spacing: "linear",
    axes: [
      { positioner: "m1.position", start: 0, stop: 1 },
      { positioner: "m2.position", start: 0, stop: 2 },
    ],
  });
  assert.equal(p.length, 11);
  assert.deepEqual(p.positioners, ["m1.position", "m2.position"]);
  assert.deepEqual(p.at(0), [0, 0]);
  assert.deepEqual(p.at(5), [0.5, 1]);
  assert.deepEqual(p.at(10), [1, 2]);
});

Deno.test("a3scan generalises to any number of positioners", () => {
  const p = makePlan({
    kind: "line",
    relative: false,
    num: 2,
    spacing: "linear",
    axes: [
      { positioner: "a.x", start: 0, stop: 1 },
      { positioner: "b.x", start: 10, stop: 20 },
      { positioner: "c.x", start: -1, stop: -3 },
    ],
  });
  assert.deepEqual(all(p), [[0, 10, -1], [1, 20, -3]]);
});

Deno.test("dscan: values are offsets, absolute() adds the start positions", () => {
  const p = makePlan({
    kind: "line",
    relative: true,
    num: 5,
    spacing: "linear",
    axes: [{ positioner: "motor.position", start: -1, stop: 1 }],
  });
  assert.equal(p.relative, true);
  assert.deepEqual(all(p), [[-1], [-0.5], [0], [0.5], [1]]);
  assert.deepEqual(absolute(p, 0, [3]), [2]);
  assert.deepEqual(absolute(p, 4, [3]), [4]);
  // at() returns fresh arrays: absolute() must not corrupt later reads
  assert.deepEqual(p.at(0), [-1]);
});

Deno.test("absolute() leaves absolute plans untouched", () => {
  const p = makePlan({
    kind: "line",
    relative: false,
    num: 2,
    spacing: "linear",
    axes: [{ positioner: "m.x", start: 1, stop: 2 }],
  });
  assert.deepEqual(absolute(p, 1, [100]), [2]);
});

Deno.test("log spacing: geometric steps, exact ends", () => {
  const p = makePlan({
    kind: "line",
    relative: false,
    num: 4,
    spacing: "log",
    axes: [{ positioner: "psu.voltage", start: 1, stop: 1000 }],
  });
  const v = all(p).map((x) => x[0]!);
  assert.equal(v[0], 1);
  assert.equal(v[3], 1000);
  assert.ok(Math.abs(v[1]! - 10) < 1e-9);
  assert.ok(Math.abs(v[2]! - 100) < 1e-9);
  assert.deepEqual(spaced(-1, -100, 3, "log").map((x) => Math.round(x * 1e9) / 1e9), [
    -1,
    -10,
    -100,
  ]);
});

Deno.test("log spacing refuses zero or sign-changing ranges", () => {
  for (const [start, stop] of [[0, 10], [-1, 10], [1, 0]]) {
    assert.throws(
      () =>
        makePlan({
          kind: "line",
          relative: false,
          num: 3,
          spacing: "log",
          axes: [{ positioner: "m.x", start: start!, stop: stop! }],
        }),
      UsageError,
    );
  }
});

Deno.test("mesh: first axis outermost, raster order", () => {
  const p = makePlan({
    kind: "mesh",
    relative: false,
    snake: false,
    axes: [
      { positioner: "y.pos", start: 0, stop: 1, num: 2 },
      { positioner: "x.pos", start: 0, stop: 2, num: 3 },
    ],
  });
  assert.equal(p.length, 6);
  assert.deepEqual(all(p), [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]);
});

Deno.test("snake mesh: inner axis reverses on alternate rows", () => {
  const p = makePlan({
    kind: "mesh",
    relative: false,
    snake: true,
    axes: [
      { positioner: "y.pos", start: 0, stop: 2, num: 3 },
      { positioner: "x.pos", start: 0, stop: 2, num: 3 },
    ],
  });
  assert.deepEqual(all(p), [
    [0, 0],
    [0, 1],
    [0, 2],
    [1, 2],
    [1, 1],
    [1, 0],
    [2, 0],
    [2, 1],
    [2, 2],
  ]);
});

Deno.test("snake mesh in 3-D: every point once, each step moves one axis by one step", () => {
  const p = makePlan({
    kind: "mesh",
    relative: false,
    snake: true,
    axes: [
      { positioner: "a.x", start: 0, stop: 1, num: 2 },
      { positioner: "b.x", start: 0, stop: 2, num: 3 },
      { positioner: "c.x", start: 0, stop: 3, num: 4 },
    ],
  });
  const pts = all(p);
  assert.equal(pts.length, 24);
  assert.equal(new Set(pts.map((x) => x.join(","))).size, 24);
  for (let i = 1; i < pts.length; i++) {
    const d = pts[i]!.reduce((s, v, k) => s + Math.abs(v - pts[i - 1]![k]!), 0);
    assert.equal(d, 1, `step ${i - 1}→${i}: ${pts[i - 1]} → ${pts[i]}`);
  }
});

Deno.test("relative mesh keeps offsets", () => {
  const p = makePlan({
    kind: "mesh",
    relative: true,
    snake: false,
    axes: [
      { positioner: "a.x", start: -1, stop: 1, num: 2 },
      { positioner: "b.x", start: -1, stop: 1, num: 2 },
    ],
  });
  assert.deepEqual(absolute(p, 3, [10, 20]), [11, 21]);
});

Deno.test("list: explicit points in order", () => {
  const p = makePlan({
    kind: "list",
    relative: false,
    positioners: ["m1.position", "m2.position"],
    points: [[1, 10], [2, 20], [5, 50]],
  });
  assert.equal(p.length, 3);
  assert.deepEqual(all(p), [[1, 10], [2, 20], [5, 50]]);
  const q = p.at(0);
  q[0] = 99;
  assert.deepEqual(p.at(0), [1, 10], "at() must not hand out the stored arrays");
});

Deno.test("list: a point with the wrong number of values is refused", () => {
  assert.throws(
    () => makePlan({ kind: "list", relative: false, positioners: ["a.x", "b.x"], points: [[1]] }),
    /expected 2/,
  );
});

Deno.test("count: N points with no positioner", () => {
  const p = makePlan({ kind: "count", num: 4 });
  assert.equal(p.length, 4);
  assert.deepEqual(p.positioners, []);
  assert.deepEqual(all(p), [[], [], [], []]);
});

Deno.test("points() can start in the middle (resume)", () => {
  const p = makePlan({
    kind: "line",
    relative: false,
    num: 5,
    spacing: "linear",
    axes: [{ positioner: "m.x", start: 0, stop: 4 }],
  });
  assert.deepEqual([...points(p, 3)], [[3], [4]]);
});

Deno.test("10,000 points are computed on demand", () => {
  const p = makePlan({
    kind: "mesh",
    relative: false,
    snake: true,
    axes: [
      { positioner: "a.x", start: 0, stop: 99, num: 100 },
      { positioner: "b.x", start: 0, stop: 99, num: 100 },
    ],
  });
  assert.equal(p.length, 10_000);
  assert.deepEqual(p.at(9_999), [99, 0]);
  assert.deepEqual(p.at(150), [1, 49]);
});

Deno.test("bad specs are usage errors naming the problem", () => {
  const line = (over: object) => () =>
    makePlan({
      kind: "line",
      relative: false,
      num: 3,
      spacing: "linear",
      axes: [{ positioner: "m.x", start: 0, stop: 1 }],
      ...over,
    });
  assert.throws(line({ num: 0 }), /whole number/);
  assert.throws(line({ num: 2.5 }), /whole number/);
  assert.throws(line({ axes: [] }), /at least one positioner/);
  assert.throws(line({ axes: [{ positioner: "nodot", start: 0, stop: 1 }] }), /device\.attr/);
  assert.throws(line({ axes: [{ positioner: "m.x", start: NaN, stop: 1 }] }), /start/);
  assert.throws(
    line({
      axes: [{ positioner: "m.x", start: 0, stop: 1 }, { positioner: "m.x", start: 0, stop: 2 }],
    }),
    /twice/,
  );
  assert.throws(() => makePlan({ kind: "count", num: -1 }), UsageError);
  assert.throws(() => makePlan({ kind: "line" } as never), UsageError);
});

Deno.test("parseRef splits device.attr", () => {
  assert.deepEqual(parseRef("motor.position"), { device: "motor", attr: "position" });
  assert.deepEqual(parseRef("m-1.a.b"), { device: "m-1", attr: "a.b" });
  assert.throws(() => parseRef("motor"), UsageError);
  assert.throws(() => parseRef(".x"), UsageError);
  assert.throws(() => parseRef("sim://motor.position"), UsageError);
});

Deno.test("a plan over its point limit is refused without computing its points", () => {
  const line = (num: number) => ({
    kind: "line" as const,
    relative: false,
    num,
    spacing: "linear" as const,
    axes: [{ positioner: "m.x", start: 0, stop: 1 }],
  });
  assert.equal(makePlan(line(MAX_SCAN_POINTS)).length, 1_000_000);
  for (const num of [MAX_SCAN_POINTS + 1, 1e8, 1e12]) {
    assert.throws(
      () => makePlan(line(num)),
      (e: unknown) => e instanceof PlanTooLarge && /the limit is 1,000,000/.test(e.message),
    );
  }
  assert.throws(() => makePlan(line(11), { maxPoints: 10 }), /the limit is 10\b/);
  // a mesh is as long as the product of its axes
  const mesh = {
    kind: "mesh" as const,
    relative: false,
    snake: false,
    axes: [
      { positioner: "m.x", start: 0, stop: 1, num: 1000 },
      { positioner: "m.y", start: 0, stop: 1, num: 1001 },
    ],
  };
  assert.throws(() => makePlan(mesh), /1,001,000 points; the limit is 1,000,000/);
  assert.throws(
    () =>
      makePlan({ kind: "list", relative: false, positioners: ["m.x"], points: [[1], [2], [3]] }, {
        maxPoints: 2,
      }),
    PlanTooLarge,
  );
  assert.throws(() => makePlan({ kind: "count", num: 1e12 }), PlanTooLarge);
  assert.throws(() => makePlan({ kind: "count", num: Infinity }), /whole number/);
});
