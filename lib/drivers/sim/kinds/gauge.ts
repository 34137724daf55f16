/**
 * `sim://gauge`: a capacitance-manometer-like pressure gauge whose pressure drifts slowly
 * (minutes) around a setpoint with a little fast noise.
 *
 * @module
 */
import { attr } from "../../../device/attr.ts";
import type { SimKind, SimModel } from "../model.ts";
import { SIM_KIND_INFO } from "../driver_info.ts";
import { driftAt, gaussAt, roundTo } from "../noise.ts";

const UNITS = ["torr", "mbar", "Pa"] as const;

/** The gauge kind. */
export const gauge: SimKind = {
  ...SIM_KIND_INFO.gauge,
  create({ options, seed }): SimModel {
    const units = options.choice("units", "torr", UNITS);
    const setpoint = options.number("setpoint", 0.75, 1e-12, 1e7);
    // Four significant digits, like the instrument's display.
    const precision = Math.max(0, 3 - Math.floor(Math.log10(setpoint)));
    const attrs = [
      attr("pressure", "number", {
        units,
        precision,
        min: 0,
        description: "measured pressure",
      }),
      attr("pressure_units", "string", { description: "units of pressure" }),
    ];
    return {
      attrs,
      value(name, tMs) {
        if (name === "pressure_units") return units;
        const p = setpoint *
          (1 + 0.02 * driftAt(seed, 0, tMs, 300) + 0.002 * gaussAt(seed, 0, tMs));
        return roundTo(Math.max(0, p), precision);
      },
      write() {},
    };
  },
};
