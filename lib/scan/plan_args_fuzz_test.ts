import assert from "node:assert/strict";
import fc from "fast-check";
import { UsageError } from "../device/errors.ts";
import { fuzzTest, onlyThrows } from "../../tests/fuzz_runs.ts";
import { parsePlanArgs } from "./plan_args.ts";
import { makePlan, points } from "./plan.ts";

const PLANS = [
  "ascan",
  "dscan",
  "a2scan",
  "d3scan",
  "a0scan",
  "mesh",
  "grid",
  "dmesh",
  "list",
  "dlist",
  "count",
  "bogus",
  "scan",
];
/** Words a user types after a plan name: positioners, numbers, lists, files, flags. */
const word = fc.oneof(
  fc.constantFrom("motor.position", "m2.position", "det.counts", "1", "0", "-1", "2.5", "11"),
  fc.constantFrom("1e308", "1e309", "-0", "NaN", "Infinity", "0x10", "", " ", "1,2,5", ",", "@f"),
  fc.constantFrom("1e15", "4294967297", "9007199254740993", "3.0", "1,,2", "1 2 3"),
  fc.double().map(String),
  fc.integer().map(String),
  fc.string({ maxLength: 8 }),
);
const planArgs = fc.record({
  name: fc.oneof({ arbitrary: fc.constantFrom(...PLANS), weight: 5 }, fc.string({ maxLength: 6 })),
  words: fc.array(word, { maxLength: 10 }),
  log: fc.boolean(),
  snake: fc.boolean(),
  file: fc.oneof(fc.constantFrom("1 2 3\n# c\n4", "", "x", "1,2\n3"), fc.string({ maxLength: 20 })),
});

fuzzTest(
  "parsePlanArgs: any plan name and words are a plan or a UsageError",
  planArgs,
  ({ name, words, log, snake, file }) => {
    const spec = onlyThrows(
      [UsageError],
      () => parsePlanArgs(name, words, { log, snake, readFile: () => file }),
    );
    if (spec === undefined) return;
    const plan = makePlan(spec, { maxPoints: Infinity });
    // How many points a scan may have is bounded where scans are submitted (CLI, HTTP).
    assert.ok(plan.length >= 1, `length ${plan.length}`);
    // The first points are finite numbers, one per positioner.
    let n = 0;
    for (const p of points(plan)) {
      assert.ok(p.every(Number.isFinite), JSON.stringify(p));
      if (++n >= 3) break;
    }
  },
);

fuzzTest(
  "parsePlanArgs: a written line scan reads back as its positioners, ends and points",
  fc.record({
    relative: fc.boolean(),
    axes: fc.array(
      fc.record({
        positioner: fc.stringMatching(/^[a-z][a-z0-9_]{0,5}\.[a-z]{1,6}$/),
        // A written -0 is read back as 0: the sign of a zero does not survive String().
        start: fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => x + 0),
        stop: fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => x + 0),
      }),
      { minLength: 1, maxLength: 3 },
    ).filter((axes) => new Set(axes.map((a) => a.positioner)).size === axes.length),
    num: fc.integer({ min: 1, max: 1000 }),
  }),
  ({ relative, axes, num }) => {
    const words = [
      ...axes.flatMap((a) => [a.positioner, String(a.start), String(a.stop)]),
      String(num),
    ];
    const spec = parsePlanArgs(relative ? "dscan" : "ascan", words);
    assert.deepEqual(spec, {
      kind: "line",
      relative,
      axes: axes.map((a) => ({ ...a })),
      num,
      spacing: "linear",
    });
  },
);
