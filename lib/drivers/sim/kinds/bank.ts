/**
 * `sim://bank?channels=N`: a generic data logger with N numeric channels `ch0…`, each a slow
 * sine plus noise. Cheap by design: load benchmarks open hundreds.
 *
 * @module
 */
import { attr, type Value } from "../../../device/attr.ts";
import type { SimKind, SimModel } from "../model.ts";
import { SIM_KIND_INFO } from "../driver_info.ts";
import { gaussAt, roundTo, uniformAt } from "../noise.ts";

/** The channel bank kind. */
export const bank: SimKind = {
  ...SIM_KIND_INFO.bank,
  create({ options, seed }): SimModel {
    const n = options.integer("channels", 10, 1, 10_000);
    const attrs = Array.from({ length: n }, (_, i) =>
      attr(`ch${i}`, "number", {
        units: "V",
        precision: 4,
        description: `channel ${i}`,
      }));
    // Per-channel period (10–60 s) and phase, fixed by the seed.
    const period = attrs.map((_, i) => 10_000 + 50_000 * uniformAt(seed, i, 1));
    const phase = attrs.map((_, i) => 2 * Math.PI * uniformAt(seed, i, 2));
    const index = new Map(attrs.map((a, i) => [a.name, i]));
    return {
      attrs,
      value(name, tMs): Value {
        const i = index.get(name) ?? 0;
        const v = Math.sin((2 * Math.PI * tMs) / period[i]! + phase[i]!) +
          0.01 * gaussAt(seed, i, tMs);
        return roundTo(v, 4);
      },
      write() {},
    };
  },
};
