/**
 * `sim://thermo`: a temperature-controlled stage. With the heater (closed-loop control) on, the
 * temperature relaxes exponentially towards the setpoint; off, towards ambient. A slow drift and
 * a little noise ride on top.
 *
 * @module
 */
import { attr, type Value } from "../../../device/attr.ts";
import type { SimKind, SimModel } from "../model.ts";
import { SIM_KIND_INFO } from "../driver_info.ts";
import { driftAt, gaussAt, roundTo } from "../noise.ts";

/** The thermometer/temperature controller kind. */
export const thermo: SimKind = {
  ...SIM_KIND_INFO.thermo,
  create({ options, seed }): SimModel {
    const ambient = options.number("ambient", 22, -50, 100);
    const tauMs = options.number("tau", 60, 0.001, 1e6) * 1000;
    let setpoint = options.number("setpoint", 25, -20, 150);
    let heater = true;
    // The curve is anchored at the last change: temperature `t0` at time `anchor`.
    let t0 = setpoint;
    let anchor = 0;
    const goal = () => (heater ? setpoint : ambient);
    const model = (tMs: number) => {
      const g = goal();
      return g + (t0 - g) * Math.exp(-Math.max(0, tMs - anchor) / tauMs);
    };
    const reanchor = (tMs: number) => {
      t0 = model(tMs);
      anchor = tMs;
    };
    const attrs = [
      attr("temperature", "number", {
        units: "°C",
        precision: 3,
        description: "measured temperature",
      }),
      attr("setpoint", "number", {
        rw: true,
        units: "°C",
        min: -20,
        max: 150,
        precision: 2,
        description: "temperature the controller holds while the heater is on",
      }),
      attr("heater", "boolean", {
        rw: true,
        description: "closed-loop control on; off lets the stage drift to ambient",
      }),
    ];
    return {
      attrs,
      value(name, tMs): Value {
        if (name === "setpoint") return setpoint;
        if (name === "heater") return heater;
        const t = model(tMs) + 0.05 * driftAt(seed, 0, tMs, 600) + 0.005 * gaussAt(seed, 0, tMs);
        return roundTo(t, 3);
      },
      write(name, value, tMs) {
        reanchor(tMs);
        if (name === "setpoint") setpoint = value as number;
        if (name === "heater") heater = value as boolean;
      },
    };
  },
};
