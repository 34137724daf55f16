import assert from "node:assert/strict";
import fc from "fast-check";
import { UsageError } from "../device/errors.ts";
import { fuzzTest, onlyThrows } from "../../tests/fuzz_runs.ts";
import { parseDuration } from "./duration.ts";

const UNITS = ["us", "ms", "s", "min", "m", "h", "d"] as const;
const MS: Record<string, number> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  min: 60_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Text that is often almost a duration: digits (sometimes hundreds), a dot, a unit, spaces. */
const durationLike = fc.oneof(
  fc.string(),
  fc.stringMatching(/^\s?-?\d{0,400}(\.\d{0,5})?(e\d+)?\s?(us|ms|s|min|m|h|d|x|sec)?\s?$/),
  fc.tuple(fc.double(), fc.constantFrom(...UNITS, "")).map(([n, u]) => `${n}${u}`),
);

fuzzTest(
  "parseDuration: text gives a finite duration ≥ 0 or a UsageError",
  fc.tuple(durationLike, fc.constantFrom("ms" as const, "s" as const)),
  ([text, bare]) => {
    const ms = onlyThrows([UsageError], () => parseDuration(text, bare));
    if (ms !== undefined) assert.ok(Number.isFinite(ms) && ms >= 0, `${text} → ${ms}`);
  },
);

fuzzTest(
  "parseDuration: a number gives a finite duration ≥ 0 or a UsageError",
  fc.tuple(fc.double(), fc.constantFrom("ms" as const, "s" as const)),
  ([n, bare]) => {
    const ms = onlyThrows([UsageError], () => parseDuration(n, bare));
    if (ms !== undefined) assert.ok(Number.isFinite(ms) && ms >= 0, `${n} → ${ms}`);
  },
);

fuzzTest(
  "parseDuration: a written amount and unit round-trips to amount × unit",
  fc.tuple(
    fc.integer({ min: 0, max: 1_000_000 }),
    fc.nat(999),
    fc.constantFrom(...UNITS),
    fc.constantFrom("", " "),
  ),
  ([whole, frac, unit, space]) => {
    const text = `${whole}.${String(frac).padStart(3, "0")}${space}${unit}`;
    assert.equal(
      parseDuration(text),
      Number(`${whole}.${String(frac).padStart(3, "0")}`) * MS[unit]!,
    );
  },
);
