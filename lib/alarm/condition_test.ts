import assert from "node:assert/strict";
import { compileCondition, sameValue } from "./condition.ts";
import type { Compare, ThresholdRule } from "./rules.ts";

function rule(compare: Compare, extra: Partial<ThresholdRule> = {}): ThresholdRule {
  return {
    name: "r",
    key: "alarms[0]",
    device: "d",
    attr: "a",
    compare,
    delay: 0,
    hysteresis: 0,
    severity: "major",
    ...extra,
  };
}

Deno.test("ordered comparisons trip at the trip point and clear past the hysteresis", () => {
  const cases: [Compare, number[], number[], number[], number[]][] = [
    // compare, trips on, does not trip on, clears on, does not clear on (trip 10, h 2)
    [">", [10.5, 100], [10, 9], [8, 0], [8.5, 10, 11]],
    [">=", [10, 11], [9.99], [7.9], [8, 9, 10]],
    ["<", [9.5, -1], [10, 11], [12, 13], [11.9, 10, 9]],
    ["<=", [10, 9], [10.01], [12.1], [12, 11, 10]],
  ];
  for (const [compare, trips, stays, clears, holds] of cases) {
    const c = compileCondition(rule(compare, { trip: 10, hysteresis: 2 }));
    for (const v of trips) assert.equal(c.trips(v, undefined), true, `${compare} trips on ${v}`);
    for (const v of stays) assert.equal(c.trips(v, undefined), false, `${compare} idle on ${v}`);
    for (const v of clears) assert.equal(c.clears(v, undefined), true, `${compare} clears ${v}`);
    for (const v of holds) assert.equal(c.clears(v, undefined), false, `${compare} holds ${v}`);
  }
});

Deno.test("== and != compare numbers, strings and booleans of the same type only", () => {
  const eq = compileCondition(rule("==", { trip: "fault" }));
  assert.equal(eq.trips("fault", undefined), true);
  assert.equal(eq.trips("ok", undefined), false);
  assert.equal(eq.clears("ok", undefined), true);
  assert.equal(eq.trips(1, undefined), undefined, "a number is not comparable to a string trip");
  const ne = compileCondition(rule("!=", { trip: true }));
  assert.equal(ne.trips(false, undefined), true);
  assert.equal(ne.trips(true, undefined), false);
  assert.equal(ne.clears(true, undefined), true);
  const num = compileCondition(rule("==", { trip: 0 }));
  assert.equal(num.trips(-0, undefined), true);
  assert.equal(num.trips(null, undefined), undefined);
});

Deno.test("outside and inside use low/high with the hysteresis widening the way back", () => {
  const out = compileCondition(rule("outside", { low: 20, high: 80, hysteresis: 5 }));
  assert.deepEqual([19, 20, 80, 81].map((v) => out.trips(v, undefined)), [
    true,
    false,
    false,
    true,
  ]);
  assert.deepEqual(
    [22, 25, 50, 75, 78].map((v) => out.clears(v, undefined)),
    [false, true, true, true, false],
  );
  const ins = compileCondition(rule("inside", { low: 20, high: 80, hysteresis: 5 }));
  assert.deepEqual([19, 20, 80, 81].map((v) => ins.trips(v, undefined)), [
    false,
    true,
    true,
    false,
  ]);
  assert.deepEqual(
    [14, 16, 50, 84, 86].map((v) => ins.clears(v, undefined)),
    [true, false, false, false, true],
  );
  assert.equal(out.trips("x", undefined), undefined);
});

Deno.test("changed compares with the previous value, arrays element-wise, NaN equal to NaN", () => {
  const c = compileCondition(rule("changed"));
  assert.equal(c.trips(1, undefined), undefined, "no previous value: nothing to compare");
  assert.equal(c.trips(2, 1), true);
  assert.equal(c.trips("open", "open"), false);
  assert.equal(c.clears([1, 2], [1, 2]), true);
  assert.equal(c.trips([1, 2], [1, 3]), true);
  assert.equal(sameValue(NaN, NaN), true);
  assert.equal(sameValue([1], [1, 2]), false);
});
