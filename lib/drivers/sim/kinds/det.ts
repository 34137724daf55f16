/**
 * `sim://det`: a counter whose rate is a Gaussian peak over a flat background as a function of a
 * motor's actual position (default peak at 5, width 1, 1000 counts/s on top of 10 counts/s), so
 * a scan of `sim://motor` finds a peak. Counts are Poisson over `count_time`, and a reading
 * answers at once (the counting time is simulated, not waited for, so scans stay fast; a
 * scan's dwell time is the runner's business).
 *
 * @module
 */
import { attr, type Value } from "../../../device/attr.ts";
import type { SimKind, SimModel } from "../model.ts";
import { SIM_KIND_INFO } from "../driver_info.ts";
import { hash32 } from "../noise.ts";
import { Random } from "../random.ts";

/** The detector kind. */
export const det: SimKind = {
  ...SIM_KIND_INFO.det,
  create({ options, seed, world }): SimModel {
    const motorId = options.get("motor") ?? "motor";
    const center = options.number("center", 5);
    const width = options.number("width", 1, 1e-9);
    const amplitude = options.number("amplitude", 1000, 0);
    const background = options.number("background", 10, 0);
    let countTime = 1;
    const m = world.acquireMotor(motorId);
    const attrs = [
      attr("counts", "integer", {
        units: "counts",
        precision: 0,
        description: `counts in count_time at motor "${motorId}"'s position`,
      }),
      attr("count_time", "number", {
        rw: true,
        status: false,
        units: "s",
        min: 0.001,
        max: 3600,
        precision: 3,
        description: "counting time per reading",
      }),
      attr("count", "boolean", {
        rw: true,
        status: false,
        description:
          "write true to count for count_time (a scaler's CNT): reads true until done, then counts holds the result",
      }),
    ];
    // a triggered count: when it ends, and its result once it has ended
    let countEnd: number | undefined;
    let latched: number | undefined;
    let pending: number | undefined;
    let closed = false;
    const live = (tMs: number) => {
      const x = m.readback(tMs);
      const rate = background + amplitude * Math.exp(-((x - center) ** 2) / (2 * width ** 2));
      return new Random(hash32(seed, 77, Math.floor(tMs))).poisson(rate * countTime);
    };
    return {
      attrs,
      value(name, tMs): Value {
        if (name === "count_time") return countTime;
        if (countEnd !== undefined && tMs >= countEnd) {
          latched = pending;
          countEnd = undefined;
        }
        if (name === "count") return countEnd !== undefined;
        // once triggered, counts is the result of the last count that ended (a scaler's S1)
        if (latched !== undefined || countEnd !== undefined) return latched ?? 0;
        return live(tMs);
      },
      write(name, value, tMs) {
        if (name === "count_time") countTime = value as number;
        else if (name === "count" && value === true) {
          pending = live(tMs);
          countEnd = tMs + countTime * 1000;
        }
      },
      close() {
        if (!closed) world.releaseMotor(motorId);
        closed = true;
      },
    };
  },
};
