import assert from "node:assert/strict";
import { parsePlanFile } from "./plan_file.ts";
import { ConfigError } from "../device/errors.ts";
import { SNAKE_MESH_2X3 } from "../../tests/fixtures/scan_request.ts";

Deno.test("a line scan plan file with timing and devices", () => {
  const f = parsePlanFile(
    `plan = "dscan"
num = 5
detectors = ["det.counts", "dmm.voltage"]
triggers = ["dmm.trigger"]
settle = "50ms"
dwell = "100ms"
move_timeout = "30s"
tolerance = 0.01
devices = ["sim://motor", "sim://det"]
[[axes]]
positioner = "motor.position"
start = -1
stop = 1
[readbacks]
"motor.position" = "readback"
`,
    "scan.toml",
  );
  assert.deepEqual(f, {
    plan: {
      kind: "line",
      relative: true,
      axes: [{ positioner: "motor.position", start: -1, stop: 1 }],
      num: 5,
      spacing: "linear",
    },
    detectors: ["det.counts", "dmm.voltage"],
    triggers: ["dmm.trigger"],
    devices: ["sim://motor", "sim://det"],
    settleMs: 50,
    dwellMs: 100,
    moveTimeoutMs: 30_000,
    tolerance: 0.01,
    readbacks: { "motor.position": "readback" },
  });
});

Deno.test("mesh, list, count and log plan files", () => {
  const mesh = parsePlanFile(
    `plan = "mesh"
snake = true
[[axes]]
positioner = "y.pos"
start = 0
stop = 1
num = 2
[[axes]]
positioner = "x.pos"
start = 0
stop = 2
num = 3
`,
    "m.toml",
  );
  assert.deepEqual(mesh.plan, SNAKE_MESH_2X3);
  const list = parsePlanFile(
    `plan = "list"
[positions]
"m1.position" = [1, 2, 5]
"m2.position" = [0, 0.5, 1]
`,
    "l.toml",
  );
  assert.deepEqual(list.plan, {
    kind: "list",
    relative: false,
    positioners: ["m1.position", "m2.position"],
    points: [[1, 0], [2, 0.5], [5, 1]],
  });
  assert.deepEqual(parsePlanFile('plan = "count"\nnum = 3', "c.toml").plan, {
    kind: "count",
    num: 3,
  });
  const log = parsePlanFile(
    'plan = "ascan"\nnum = 3\nlog = true\n[[axes]]\npositioner = "psu.voltage"\nstart = 1\nstop = 100',
    "g.toml",
  );
  assert.equal(log.plan.kind === "line" && log.plan.spacing, "log");
});

Deno.test("plan file mistakes name the file and key", () => {
  const bad = (text: string, re: RegExp) =>
    assert.throws(() => parsePlanFile(text, "s.toml"), (e) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, re);
      return true;
    });
  bad('plan = "ascan"\nnun = 3', /s\.toml: nun: unknown key.*did you mean "num"/);
  bad("num = 3", /s\.toml: plan: expected plan =/);
  bad('plan = "ascan"\nnum = 3', /s\.toml: axes: expected \[\[axes\]\]/);
  bad(
    'plan = "ascan"\nnum = 0\n[[axes]]\npositioner = "m.x"\nstart = 0\nstop = 1',
    /s\.toml: num: expected a whole number/,
  );
  bad(
    'plan = "a2scan"\nnum = 2\n[[axes]]\npositioner = "m.x"\nstart = 0\nstop = 1',
    /a2scan moves 2/,
  );
  bad('plan = "list"\n[positions]\n"a.x" = [1, 2]\n"b.x" = [1]', /has 1 values/);
  bad('plan = "count"\nnum = 2\nsettle = "soon"', /s\.toml: settle: .*not a duration/);
  bad(
    'plan = "count"\nnum = 2\ndwell = 0.5',
    /s\.toml: dwell: 0\.5 has no unit: write "0\.5ms" or "0\.5s"/,
  );
  bad('plan = "wiggle"', /s\.toml: plan: unknown plan "wiggle"/);
  bad("plan = [", /not valid TOML/);
});
