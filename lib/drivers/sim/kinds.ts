/**
 * The list of simulated instrument kinds, in the order `--help` shows them.
 *
 * @module
 */
import type { SimKind } from "./model.ts";
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
