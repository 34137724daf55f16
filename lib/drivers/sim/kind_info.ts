/**
 * What the registry must know of each `sim://KIND` before the simulators load: its name,
 * summary and option names (the option rules of a `sim://` address need them at start-up). The
 * kinds themselves (`./kinds/*.ts`) add their models to these and load with `./driver.ts` on
 * the first `sim://` open, so a `labwire read ca://…` does not load them.
 *
 * @module
 */

/** One kind of simulated instrument without its model, as listed by `--help`. */
export interface SimKindInfo {
  /** The address target: `sim://KIND`. */
  kind: string;
  /** One line for `--help`. */
  summary: string;
  /** Kind-specific options with a one-line description each. */
  options: Record<string, string>;
}

/** Travel limits and speed of a simulated motor. */
export interface MotorSettings {
  /** Lowest position a move may target. */
  min: number;
  /** Highest position a move may target. */
  max: number;
  /** Speed, units per second. */
  velocity: number;
}

/** The defaults of a motor nobody configured: -100…100 at 10 units/s. */
export const DEFAULT_MOTOR: MotorSettings = { min: -100, max: 100, velocity: 10 };

/**
 * Every `sim://KIND` without its model, in the order `--help` shows them.
 *
 * @example
 * ```ts
 * import { SIM_KIND_INFO } from "./kind_info.ts";
 * Object.keys(SIM_KIND_INFO.gauge.options); // ["setpoint", "units"]
 * ```
 */
export const SIM_KIND_INFO = {
  gauge: {
    kind: "gauge",
    summary: "pressure gauge: pressure drifting around a setpoint (torr, mbar or Pa)",
    options: {
      setpoint: "pressure it drifts around, in its units (default 0.75)",
      units: "torr (default), mbar or Pa",
    },
  },
  thermo: {
    kind: "thermo",
    summary: "temperature controller: temperature relaxing to a settable setpoint (°C)",
    options: {
      setpoint: "initial setpoint, °C (default 25)",
      ambient: "temperature with the heater off, °C (default 22)",
      tau: "time constant of the approach, s (default 60)",
    },
  },
  motor: {
    kind: "motor",
    summary: "motor: position setpoint within limits, a move takes real time at velocity",
    options: {
      id: "key in the shared world, followed by sim://det?motor=ID (default motor)",
      min: `lower travel limit (default ${DEFAULT_MOTOR.min})`,
      max: `upper travel limit (default ${DEFAULT_MOTOR.max})`,
      velocity: `speed, mm/s (default ${DEFAULT_MOTOR.velocity})`,
    },
  },
  dmm: {
    kind: "dmm",
    summary: "digital multimeter: voltage (V) with range and mode (DC V, AC V)",
    options: {
      dc: "DC input, V (default 1.2345)",
      ac: "AC input, V rms (default 0.2301)",
    },
  },
  det: {
    kind: "det",
    summary: "counter: Poisson counts of a Gaussian peak at motor position 5 over a background",
    options: {
      motor: "id of the motor it follows (default motor; created if absent)",
      center: "peak position (default 5)",
      width: "peak standard deviation (default 1)",
      amplitude: "peak height, counts/s (default 1000)",
      background: "flat background, counts/s (default 10)",
    },
  },
  bank: {
    kind: "bank",
    summary: "data logger with N numeric channels ch0… (for load tests)",
    options: { channels: "number of channels (default 10)" },
  },
} as const satisfies Record<string, SimKindInfo>;

/** The kinds' names, in `--help` order. */
export const SIM_KIND_NAMES: readonly string[] = Object.keys(SIM_KIND_INFO);
