/**
 * Cost of a derived attribute: evaluating `[derived.NAME]` expressions from their dependencies'
 * values, the step a derived device adds to every read once the dependencies are read
 * ({@linkcode DerivedPlan.evaluate}: gather each reference from its device's reading into the
 * expression's slots, evaluate). Three expressions of the README's kind (unit conversion, a
 * ratio with functions, a comparison with logic), 200,000 evaluations each per run; the figure
 * is CPU time (user + system) per evaluation, median of 9 runs after 2 warm-up runs. A
 * `deno bench` of the same steps is in `lib/drivers/derived/driver_bench.ts`.
 *
 * Target (issue 14): ≤ 2 µs per evaluation.
 *
 * Run: deno run -A tests/bench/derived.ts
 */
import process from "node:process";
import { parseExpression } from "../../lib/device/expression.ts";
import { DerivedPlan } from "../../lib/drivers/derived/driver.ts";
import type { Values } from "../../lib/device/attr.ts";
import { Targets } from "./targets.ts";
import { DERIVED_EXPRESSIONS } from "./derived_cases.ts";

const targets = new Targets("derived");
const N = 200_000;

const exprs = new Map(Object.entries(DERIVED_EXPRESSIONS).map(([k, v]) => [k, parseExpression(v)]));
const plan = new DerivedPlan([...exprs.keys()], exprs);
// readings vary, so nothing is constant-folded away
const readings = Array.from({ length: 64 }, (_, i) =>
  new Map<string, Values>([
    ["gauge", { pressure: 1e-3 * (1 + i / 64) }],
    ["det", { counts: 1000 + i }],
    ["dmm", { voltage: 0.5 + i / 128 }],
    ["motor", { moving: i % 2 === 0, position: i / 10 }],
  ]));

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const per: number[] = [];
let check = 0;
for (let run = 0; run < 11; run++) {
  const out: Values = {};
  const t0 = cpuUs();
  for (let i = 0; i < N; i++) plan.evaluate(readings[i & 63]!, out);
  const t1 = cpuUs();
  check += out.mbar as number;
  if (run >= 2) per.push((t1 - t0) / (N * exprs.size));
}
per.sort((a, b) => a - b);
const sample = plan.evaluate(readings[0]!);
targets.require(
  "values computed",
  Math.abs((sample.mbar as number) - 1.33322e-3) < 1e-12 && sample.ok === true && check > 0,
  JSON.stringify(sample),
  "mbar = 1.33322e-3, ok = true",
);
targets.check("per evaluation (CPU, median)", per[per.length >> 1]!, "<=", 2, "µs");
targets.finish();
