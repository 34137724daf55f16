/**
 * `sim://dmm`: a 6½-digit digital multimeter measuring a steady input. Resolution and noise
 * follow the range; an input beyond 120 % of a fixed range reads as the SCPI overload value
 * 9.9e37, as real meters answer.
 *
 * @module
 */
import { attr, type Value } from "../../../device/attr.ts";
import type { SimKind, SimModel } from "../model.ts";
import { SIM_KIND_INFO } from "../driver_info.ts";
import { driftAt, gaussAt, roundTo } from "../noise.ts";

/** The meter's modes. */
export const DMM_MODES = ["DC V", "AC V"] as const;
/** The meter's ranges; AUTO picks the smallest that holds the input. */
export const DMM_RANGES = ["AUTO", "100 mV", "1 V", "10 V", "100 V", "1000 V"] as const;
const FULL_SCALE = [0.1, 1, 10, 100, 1000];
/** What an overloaded range reads (SCPI's "not a number" convention). */
export const OVERLOAD = 9.9e37;

/** The multimeter kind. */
export const dmm: SimKind = {
  ...SIM_KIND_INFO.dmm,
  create({ options, seed }): SimModel {
    const dc = options.number("dc", 1.2345, -1200, 1200);
    const ac = options.number("ac", 0.2301, 0, 1200);
    let mode: string = DMM_MODES[0];
    let range: string = "AUTO";
    const attrs = [
      attr("voltage", "number", {
        units: "V",
        precision: 6,
        description: "measured voltage (9.9e37 = overload)",
      }),
      attr("range", "enum", {
        rw: true,
        status: false,
        options: [...DMM_RANGES],
        description: "measurement range",
      }),
      attr("mode", "enum", {
        rw: true,
        status: false,
        options: [...DMM_MODES],
        description: "measurement function",
      }),
    ];
    const measure = (tMs: number): number => {
      const acMode = mode === "AC V";
      const input = acMode ? ac : dc;
      const fixed = DMM_RANGES.indexOf(range as typeof DMM_RANGES[number]) - 1;
      const scale = fixed >= 0
        ? FULL_SCALE[fixed]!
        : FULL_SCALE.find((f) => Math.abs(input) <= f * 1.2) ?? 1000;
      if (Math.abs(input) > scale * 1.2) return OVERLOAD;
      // Noise of a few counts of the last digit; a slow gain drift of 50 ppm.
      const v = input * (1 + 5e-5 * driftAt(seed, acMode ? 1 : 0, tMs, 900)) +
        scale * 3e-6 * gaussAt(seed, acMode ? 1 : 0, tMs);
      const digits = 6 - Math.round(Math.log10(scale));
      return roundTo(acMode ? Math.abs(v) : v, digits);
    };
    return {
      attrs,
      value(name, tMs): Value {
        if (name === "mode") return mode;
        if (name === "range") return range;
        return measure(tMs);
      },
      write(name, value) {
        if (name === "mode") mode = value as string;
        if (name === "range") range = value as string;
      },
    };
  },
};
