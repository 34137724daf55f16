import assert from "node:assert/strict";
import fc from "fast-check";
import { stringify } from "smol-toml";
import { ConfigError } from "../device/errors.ts";
import type { Value } from "../device/attr.ts";
import { parseConfig } from "../config/load.ts";
import { fuzzTest, onlyThrows } from "../../tests/fuzz_runs.ts";
import { compileCondition } from "./condition.ts";
import { COMPARES, describeCondition, parseAlarms } from "./rules.ts";

const number = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double());
const alarmValue = fc.oneof(
  number,
  fc.boolean(),
  fc.constantFrom("1s", "0s", "-1s", "250ms", "on", "", "minor", "major", "invalid", "bogus"),
  fc.constantFrom(...COMPARES, "=>", "between"),
  fc.constantFrom("gauge", "pressure", "{device} is {value}", "{nope}"),
  fc.array(number, { maxLength: 2 }),
);
const KEYS = [
  "name",
  "device",
  "attr",
  "compare",
  "trip",
  "low",
  "high",
  "delay",
  "hysteresis",
  "severity",
  "message",
  "error_after",
  "stale_after",
];
const alarmTable = fc.dictionary(
  fc.oneof({ arbitrary: fc.constantFrom(...KEYS), weight: 12 }, fc.string({ maxLength: 6 })),
  alarmValue,
  { maxKeys: 7 },
);

/** A rule as people write one: the keys its comparison takes, values at their edges. */
const ruleTable = fc.record({
  name: fc.string({ maxLength: 6 }),
  device: fc.oneof({ arbitrary: fc.constant("gauge"), weight: 9 }, fc.constant("other")),
  attr: fc.oneof({ arbitrary: fc.constant("pressure"), weight: 8 }, fc.constantFrom("units", "x")),
  compare: fc.constantFrom(...COMPARES),
  trip: fc.oneof(number, number, fc.boolean(), fc.constantFrom("torr", "")),
  low: number,
  high: number,
  delay: fc.oneof(
    { arbitrary: fc.constantFrom("1s", "0s", "250ms", "2m"), weight: 9 },
    fc.constantFrom("-1s", -1, 1),
  ),
  hysteresis: fc.oneof(
    { arbitrary: fc.double({ min: 0, max: 10, noNaN: true }), weight: 9 },
    number,
  ),
  severity: fc.oneof(
    { arbitrary: fc.constantFrom("minor", "major", "invalid"), weight: 9 },
    fc.constant("fatal"),
  ),
  message: fc.constantFrom("{device}.{attr} = {value}", "{nope}", "plain"),
}, { requiredKeys: ["name", "device", "attr", "compare"] }).map((t) => {
  const bounds = t.compare === "outside" || t.compare === "inside";
  const takesTrip = !bounds && t.compare !== "changed";
  const ordered = [">", ">=", "<", "<="].includes(t.compare);
  return Object.fromEntries(
    Object.entries(t).filter(([k, v]) =>
      v !== undefined && (k !== "trip" || takesTrip) && ((k !== "low" && k !== "high") || bounds) &&
      (k !== "hysteresis" || ordered || bounds)
    ),
  );
});

/** A bench with one gauge, and alarms that are mostly near right. */
const alarmsDoc = fc.array(fc.oneof({ arbitrary: ruleTable, weight: 6 }, alarmTable), {
  maxLength: 2,
}).map((
  alarms,
) => stringify({ devices: { gauge: { address: "sim://gauge" } }, alarms }));

/** Readings an alarm sees: numbers, text, flags, arrays, nothing. */
const reading: fc.Arbitrary<Value> = fc.oneof(
  number,
  fc.boolean(),
  fc.string({ maxLength: 4 }),
  fc.array(fc.double(), { maxLength: 2 }),
  fc.constant(null),
);

fuzzTest(
  "parseAlarms: any [[alarms]] tables are rules or a ConfigError; no value both trips and clears",
  fc.tuple(alarmsDoc, fc.array(fc.tuple(reading, reading), { maxLength: 6 })),
  ([text, values]) => {
    // The whole file is validated when it loads, so a mistake may surface there already.
    const alarms = onlyThrows([ConfigError], () => parseAlarms(parseConfig(text, "alarms.toml")));
    if (alarms === undefined) return;
    for (const rule of alarms.rules) {
      assert.equal(typeof describeCondition(rule), "string");
      assert.ok(rule.delay >= 0 && Number.isFinite(rule.delay), `delay ${rule.delay}`);
      assert.ok(rule.hysteresis >= 0, `hysteresis ${rule.hysteresis}`);
      const c = compileCondition(rule);
      for (const [v, prev] of values) {
        const trips = c.trips(v, prev);
        const clears = c.clears(v, prev);
        assert.ok(!(trips === true && clears === true), `${rule.compare}: ${v} trips and clears`);
      }
    }
  },
);
