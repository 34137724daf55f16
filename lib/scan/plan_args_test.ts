import assert from "node:assert/strict";
import { parsePlanArgs } from "./plan_args.ts";
import { makePlan, points } from "./plan.ts";
import { UsageError } from "../device/errors.ts";
import { SNAKE_MESH_2X3 } from "../../tests/fixtures/scan_request.ts";

Deno.test("ascan/dscan words", () => {
  assert.deepEqual(parsePlanArgs("ascan", ["motor.position", "0", "10", "21"]), {
    kind: "line",
    relative: false,
    axes: [{ positioner: "motor.position", start: 0, stop: 10 }],
    num: 21,
    spacing: "linear",
  });
  const d = parsePlanArgs("dscan", ["motor.position", "-1", "1", "5"], { log: false });
  assert.equal(d.kind === "line" && d.relative, true);
});

Deno.test("a2scan takes two triples, and the count must match the name", () => {
  const s = parsePlanArgs("a2scan", ["m1.position", "0", "1", "m2.position", "0", "2", "11"]);
  assert.ok(s.kind === "line");
  assert.equal(s.axes.length, 2);
  assert.equal(s.num, 11);
  assert.throws(() => parsePlanArgs("a2scan", ["m1.position", "0", "1", "5"]), /2 positioner/);
  // plain ascan accepts any number of triples
  const t = parsePlanArgs("ascan", ["a.x", "0", "1", "b.x", "0", "1", "c.x", "0", "1", "3"]);
  assert.ok(t.kind === "line" && t.axes.length === 3);
  const d2 = parsePlanArgs("d2scan", ["a.x", "0", "1", "b.x", "0", "1", "3"]);
  assert.ok(d2.kind === "line" && d2.relative);
});

Deno.test("--log gives log spacing", () => {
  const s = parsePlanArgs("ascan", ["psu.voltage", "1", "100", "3"], { log: true });
  assert.deepEqual([...points(makePlan(s))].map((p) => Math.round(p[0]!)), [1, 10, 100]);
});

Deno.test("mesh/grid/dmesh words, with snake", () => {
  const s = parsePlanArgs("mesh", ["y.pos", "0", "1", "2", "x.pos", "0", "2", "3"], {
    snake: true,
  });
  assert.deepEqual(s, SNAKE_MESH_2X3);
  assert.equal(parsePlanArgs("grid", ["y.pos", "0", "1", "2"]).kind, "mesh");
  const d = parsePlanArgs("dmesh", ["y.pos", "0", "1", "2"]);
  assert.ok(d.kind === "mesh" && d.relative);
  assert.throws(() => parsePlanArgs("mesh", ["y.pos", "0", "1"]), UsageError);
});

Deno.test("list: comma lists per positioner, or @FILE", () => {
  assert.deepEqual(parsePlanArgs("list", ["motor.position", "1,2,5"]), {
    kind: "list",
    relative: false,
    positioners: ["motor.position"],
    points: [[1], [2], [5]],
  });
  const files: Record<string, string> = { "pos.txt": "# positions\n0.5\n1.5 2.5\n" };
  const s = parsePlanArgs("dlist", ["a.x", "@pos.txt", "b.x", "1,2,3"], {
    readFile: (p) => files[p]!,
  });
  assert.deepEqual(s, {
    kind: "list",
    relative: true,
    positioners: ["a.x", "b.x"],
    points: [[0.5, 1], [1.5, 2], [2.5, 3]],
  });
  assert.throws(() => parsePlanArgs("list", ["a.x", "1,2", "b.x", "1"]), /has 1 positions/);
  assert.throws(() => parsePlanArgs("list", ["a.x", "1,x"]), /expected a number/);
});

Deno.test("count N", () => {
  assert.deepEqual(parsePlanArgs("count", ["10"]), { kind: "count", num: 10 });
  assert.throws(() => parsePlanArgs("count", ["0"]), UsageError);
  assert.throws(() => parsePlanArgs("count", []), UsageError);
});

Deno.test("mistakes are usage errors with hints", () => {
  assert.throws(() => parsePlanArgs("ascan", ["motor.position", "0", "10"]), /expected/);
  assert.throws(() => parsePlanArgs("ascan", ["motor.position", "0", "x", "3"]), /number/);
  assert.throws(() => parsePlanArgs("ascan", ["motor.position", "0", "1", "2.5"]), /whole/);
  assert.throws(() => parsePlanArgs("ascan", ["m.x", "0", "1", "3"], { snake: true }), /mesh/);
  assert.throws(() => parsePlanArgs("mesh", ["m.x", "0", "1", "3"], { log: true }), /--log/);
  try {
    parsePlanArgs("ascam", ["m.x", "0", "1", "3"]);
    assert.fail("should throw");
  } catch (err) {
    assert.ok(err instanceof UsageError);
    assert.match(err.hint ?? "", /ascan/);
  }
});
