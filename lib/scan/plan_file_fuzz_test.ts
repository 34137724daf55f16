import assert from "node:assert/strict";
import fc from "fast-check";
import { stringify } from "smol-toml";
import { ConfigError } from "../device/errors.ts";
import { fuzzTest, onlyThrows } from "../../tests/fuzz_runs.ts";
import { parsePlanFile, PLAN_KEYS } from "./plan_file.ts";

/** Values near what plan files hold, and anything else TOML can say. */
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom("ascan", "dscan", "a2scan", "mesh", "grid", "list", "dlist", "count", "x"),
    fc.constantFrom("motor.position", "det.counts", "50ms", "1s", "-1s", "sim://motor", ""),
    fc.integer({ min: -3, max: 30 }),
    fc.double(),
    fc.boolean(),
    fc.array(tie("v"), { maxLength: 4 }),
    fc.dictionary(
      fc.constantFrom("positioner", "start", "stop", "num", "motor.position", "x"),
      tie("v"),
      { maxKeys: 4 },
    ),
  ),
})).v;
const planDoc = fc.dictionary(
  fc.oneof({ arbitrary: fc.constantFrom(...PLAN_KEYS), weight: 9 }, fc.string({ maxLength: 6 })),
  value,
  { maxKeys: 6 },
);

fuzzTest("parsePlanFile: any TOML document is a plan or a ConfigError", planDoc, (doc) => {
  const f = onlyThrows([ConfigError], () => parsePlanFile(stringify(doc), "plan.toml"));
  if (f === undefined) return;
  for (const ms of [f.settleMs, f.dwellMs, f.moveTimeoutMs]) {
    if (ms !== undefined) assert.ok(Number.isFinite(ms) && ms >= 0, `${ms}`);
  }
});

fuzzTest(
  "parsePlanFile: any text is a plan or a ConfigError",
  fc.oneof(
    fc.string(),
    fc.array(
      fc.constantFrom('plan = "mesh"\n', "[[axes]]\n", "num = 3\n", "start = 0\n", "[", "="),
      {
        maxLength: 12,
      },
    ).map((p) => p.join("")),
  ),
  (text) => {
    onlyThrows([ConfigError], () => parsePlanFile(text, "plan.toml"));
  },
);

fuzzTest(
  "parsePlanFile: a mesh written to a file reads back as the same axes",
  fc.record({
    axes: fc.uniqueArray(
      fc.record({
        positioner: fc.stringMatching(/^[a-z][a-z0-9]{0,5}\.[a-z]{1,6}$/),
        // smol-toml writes -0 as 0: compare without the sign of a zero.
        start: fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => x + 0),
        stop: fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => x + 0),
        num: fc.integer({ min: 1, max: 50 }),
      }),
      { minLength: 1, maxLength: 3, selector: (a) => a.positioner },
    ),
    snake: fc.boolean(),
    relative: fc.boolean(),
  }),
  ({ axes, snake, relative }) => {
    const doc = { plan: relative ? "dmesh" : "mesh", snake, axes };
    const f = parsePlanFile(stringify(doc), "plan.toml");
    assert.deepEqual(f.plan, { kind: "mesh", relative, axes: axes.map((a) => ({ ...a })), snake });
  },
);
