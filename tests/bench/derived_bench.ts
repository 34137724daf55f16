/**
 * `deno bench tests/bench/derived_bench.ts`: the cost of parsing and of evaluating derived
 * attributes (the figure with its target is checked by `tests/bench/derived.ts`).
 */
import { parseExpression } from "../../lib/device/expression.ts";
import { DerivedPlan } from "../../lib/drivers/derived/driver.ts";
import type { Values } from "../../lib/device/attr.ts";
import { DERIVED_EXPRESSIONS } from "./derived_cases.ts";

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
