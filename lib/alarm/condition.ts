/**
 * The trip and clear tests of a threshold rule, compiled once into two small functions so the
 * engine's per-sample work is a map lookup and a comparison. Pure: no time, no state.
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import type { ThresholdRule } from "./rules.ts";

/** A compiled condition; both tests return undefined when the value cannot be compared. */
export interface Condition {
  /** True when an idle alarm should (start to) fire for value `v` (`prev` is the last value seen). */
  trips(v: Value, prev: Value | undefined): boolean | undefined;
  /** True when an active alarm should clear for value `v`. */
  clears(v: Value, prev: Value | undefined): boolean | undefined;
}

/**
 * Compiles a rule's comparison, trip points and hysteresis.
 *
 * @example
 * ```ts
 * import { compileCondition } from "./condition.ts";
 * const c = compileCondition({
 *   name: "x", key: "alarms[0]", device: "d", attr: "a", compare: ">", trip: 10,
 *   delay: 0, hysteresis: 1, severity: "major",
 * });
 * c.trips(11, undefined); // true
 * c.clears(9.5, undefined); // false: still within the deadband
 * ```
 */
export function compileCondition(rule: ThresholdRule): Condition {
  const h = rule.hysteresis;
  switch (rule.compare) {
    case ">":
    case ">=":
    case "<":
    case "<=":
      return ordered(rule.compare, rule.trip as number, h);
    case "==":
    case "!=": {
      const trip = rule.trip as number | string | boolean;
      const same = (v: Value) =>
        typeof v === typeof trip ? Object.is(v, trip) || v === trip : undefined;
      if (rule.compare === "==") {
        return { trips: (v) => same(v), clears: (v) => negate(same(v)) };
      }
      return { trips: (v) => negate(same(v)), clears: (v) => same(v) };
    }
    case "outside": {
      const low = rule.low!, high = rule.high!;
      return {
        trips: (v) => typeof v === "number" ? v < low || v > high : undefined,
        clears: (v) => typeof v === "number" ? v >= low + h && v <= high - h : undefined,
      };
    }
    case "inside": {
      const low = rule.low!, high = rule.high!;
      return {
        trips: (v) => typeof v === "number" ? v >= low && v <= high : undefined,
        clears: (v) => typeof v === "number" ? v < low - h || v > high + h : undefined,
      };
    }
    case "changed":
      return {
        trips: (v, prev) => prev === undefined ? undefined : !sameValue(v, prev),
        clears: (v, prev) => prev === undefined ? undefined : sameValue(v, prev),
      };
  }
}

function ordered(op: ">" | ">=" | "<" | "<=", trip: number, h: number): Condition {
  const num = (f: (v: number) => boolean) => (v: Value) => typeof v === "number" ? f(v) : undefined;
  switch (op) {
    case ">":
      return { trips: num((v) => v > trip), clears: num((v) => v <= trip - h) };
    case ">=":
      return { trips: num((v) => v >= trip), clears: num((v) => v < trip - h) };
    case "<":
      return { trips: num((v) => v < trip), clears: num((v) => v >= trip + h) };
    case "<=":
      return { trips: num((v) => v <= trip), clears: num((v) => v > trip + h) };
  }
}

function negate(b: boolean | undefined): boolean | undefined {
  return b === undefined ? undefined : !b;
}

/** Value equality for `changed`: numbers by `Object.is` (NaN equals NaN), arrays element-wise. */
export function sameValue(a: Value, b: Value): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
  }
  return Object.is(a, b);
}
