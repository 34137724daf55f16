/**
 * `sim://motor`: a positioner. Writing `position` starts a move at `velocity`; `readback` is
 * interpolated from the time, `moving` is true until it arrives. The motor lives in the shared
 * world under its `id` (default `motor`) so `sim://det` can follow it.
 *
 * @module
 */
import { attr, type Value } from "../../../device/attr.ts";
import { UsageError } from "../../../device/errors.ts";
import type { SimKind, SimModel } from "../model.ts";
import { SIM_KIND_INFO } from "../driver_info.ts";
import { roundTo } from "../noise.ts";

/** The motor kind. */
export const motor: SimKind = {
  ...SIM_KIND_INFO.motor,
  create({ options, world, now }): SimModel {
    const id = options.get("id") ?? "motor";
    const given = (k: string) => options.get(k) !== undefined;
    // Parse everything before touching the world, so a bad option leaves no motor behind.
    const minOpt = given("min") ? options.number("min", 0) : undefined;
    const maxOpt = given("max") ? options.number("max", 0) : undefined;
    const velocity = given("velocity") ? options.number("velocity", 0, 1e-6, 1e9) : undefined;
    const m = world.acquireMotor(id);
    // Options given here configure the shared motor; a detector that created it first only
    // used defaults.
    const min = minOpt ?? m.settings.min;
    const max = maxOpt ?? m.settings.max;
    if (!(min < max)) {
      world.releaseMotor(id);
      throw new UsageError(`sim://motor: min (${min}) must be below max (${max})`);
    }
    m.settings.min = min;
    m.settings.max = max;
    if (velocity !== undefined) m.setVelocity(velocity, now());
    const attrs = [
      attr("position", "number", {
        rw: true,
        units: "mm",
        min,
        max,
        precision: 3,
        description: "setpoint: where the motor goes (a write starts a move)",
      }),
      attr("readback", "number", { units: "mm", precision: 3, description: "actual position" }),
      attr("moving", "boolean", { description: "true while a move is in progress" }),
      attr("velocity", "number", {
        rw: true,
        status: false,
        units: "mm/s",
        min: 1e-6,
        max: 1e9,
        precision: 3,
        description: "speed of moves",
      }),
      attr("status", "enum", {
        status: false,
        options: ["idle", "moving"],
        description: "motion state",
      }),
      attr("stop", "boolean", {
        rw: true,
        status: false,
        description: "write true to stop where the motor is",
      }),
    ];
    let closed = false;
    return {
      attrs,
      techniques: ["move"],
      value(name, tMs): Value {
        switch (name) {
          case "position":
            return m.target;
          case "readback":
            return roundTo(m.readback(tMs), 3); // a 1 µm encoder
          case "moving":
            return m.moving(tMs);
          case "velocity":
            return m.settings.velocity;
          case "status":
            return m.moving(tMs) ? "moving" : "idle";
          default:
            return false;
        }
      },
      write(name, value, tMs) {
        if (name === "position") m.moveTo(value as number, tMs);
        else if (name === "velocity") m.setVelocity(value as number, tMs);
        else if (name === "stop" && value === true) m.stop(tMs);
      },
      isMoving: (tMs) => m.moving(tMs),
      close() {
        if (!closed) world.releaseMotor(id);
        closed = true;
      },
    };
  },
};
