/**
 * `deno bench lib/drivers/derived/driver_bench.ts`: the cost of parsing and of evaluating derived
 * attributes (the figure with its target is checked by `tests/bench/derived.ts`, on the same
 * kinds of expression).
 */
import { parseExpression } from "../../device/expression.ts";
import { DerivedPlan } from "./driver.ts";
import type { Values } from "../../device/attr.ts";

const DERIVED_EXPRESSIONS: Record<string, string> = {
  mbar: "gauge.pressure * 1.33322",
  rate: "log10(max(det.counts, 1)) / sqrt(abs(dmm.voltage) + 1e-9)",
  ok: "gauge.pressure < 1e-2 and not motor.moving or motor.position >= 0",
};

const exprs = new Map(Object.entries(DERIVED_EXPRESSIONS).map(([k, v]) => [k, parseExpression(v)]));
const plan = new DerivedPlan([...exprs.keys()], exprs);
const reading = new Map<string, Values>([
  ["gauge", { pressure: 1e-3 }],
  ["det", { counts: 1000 }],
  ["dmm", { voltage: 0.5 }],
  ["motor", { moving: false, position: 1 }],
]);
const out: Values = {};

Deno.bench("derived: evaluate 3 attributes from their dependencies' readings", () => {
  plan.evaluate(reading, out);
});

Deno.bench("derived: parse the 3 expressions", () => {
  for (const text of Object.values(DERIVED_EXPRESSIONS)) parseExpression(text);
});
