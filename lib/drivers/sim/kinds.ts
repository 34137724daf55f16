/**
 * The list of simulated instrument kinds, in the order `--help` shows them.
 *
 * @module
 */
import type { SimKind } from "./model.ts";
import { COMMON_OPTIONS } from "./options.ts";
import { gauge } from "./kinds/gauge.ts";
import { thermo } from "./kinds/thermo.ts";
import { motor } from "./kinds/motor.ts";
import { dmm } from "./kinds/dmm.ts";
import { det } from "./kinds/det.ts";
import { bank } from "./kinds/bank.ts";

/**
 * Every `sim://KIND`, each with a one-line summary and its options.
 *
 * @example
 * ```ts
 * import { SIM_KINDS } from "./kinds.ts";
 * SIM_KINDS.map((k) => `sim://${k.kind}  ${k.summary}`);
 * ```
 */
export const SIM_KINDS: readonly SimKind[] = [gauge, thermo, motor, dmm, det, bank];

/**
 * The kinds as help text: one line per kind, then its own options.
 *
 * @example
 * ```ts
 * import { simKindsHelp } from "./kinds.ts";
 * console.log(simKindsHelp());
 * ```
 */
export function simKindsHelp(): string {
  const width = Math.max(...SIM_KINDS.map((k) => k.kind.length)) + 8;
  return SIM_KINDS.map((k) => {
    const opts = Object.keys(k.options).map((o) => `${o}=`).join(" ");
    return `  ${`sim://${k.kind}`.padEnd(width)}${k.summary}\n  ${
      "".padEnd(width)
    }options: ${opts}`;
  }).concat(`  every kind: ${Object.keys(COMMON_OPTIONS).map((o) => `${o}=`).join(" ")}`).join(
    "\n",
  );
}
