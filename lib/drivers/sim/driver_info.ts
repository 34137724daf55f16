/**
 * The `sim://` driver as the registry knows it before `./driver.ts` loads: scheme, help text,
 * the kinds (name, summary, options; `./kinds/*.ts` add their models to these), the option rules
 * of each kind and the device name. The simulators themselves (models, noise,
 * faults, the shared world) load on the first `sim://` open, so a verb whose targets are all
 * `ca://` or `baratron://` does not load them.
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import {
  durationOption,
  flagOption,
  numberOption,
  scalarOption,
  textOption,
} from "../../config/options.ts";
import { UsageError } from "../../device/errors.ts";
import { MAX_TIMER_MS, TIMEOUT_RULE } from "../../config/duration.ts";
import type { DriverInfo, DriverOptions, OptionRule } from "../../device/registry.ts";
import { didYouMean } from "../../device/suggest.ts";

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
 * import { SIM_KIND_INFO } from "./driver_info.ts";
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

/** The rules of the options every kind takes (documented in `COMMON_OPTIONS`, `./options.ts`). */
const SIM_COMMON: Record<string, OptionRule> = {
  seed: numberOption(0, 2 ** 32 - 1, true),
  id: textOption("expected a name"),
  strict: flagOption(),
  timeout: durationOption(TIMEOUT_RULE),
  latency: durationOption({ min: 0, max: 60_000 }),
  jitter: durationOption({ min: 0, max: 60_000 }),
  timeout_rate: numberOption(0, 1),
  error_rate: numberOption(0, 1),
  garbage_rate: numberOption(0, 1),
  disconnect_rate: numberOption(0, 1),
  disconnect_for: durationOption({ min: 1, max: MAX_TIMER_MS }),
};

/** The kind an address target names (case and trailing slashes ignored), if there is one. */
function kindInfo(target: string): SimKindInfo | undefined {
  const name = target.replace(/\/+$/, "").toLowerCase();
  return Object.hasOwn(SIM_KIND_INFO, name)
    ? SIM_KIND_INFO[name as keyof typeof SIM_KIND_INFO]
    : undefined;
}

/**
 * The options of `sim://KIND`: the common ones (checked here) and the kind's own (any scalar;
 * the kind checks its values when it reads them). Undefined for an unknown kind, which
 * {@linkcode checkKind} reports with the list of kinds.
 */
export function simOptionRules(target: string): DriverOptions | undefined {
  const kind = kindInfo(target);
  if (!kind) return undefined;
  const own = Object.fromEntries(Object.keys(kind.options).map((k) => [k, scalarOption()]));
  return { owner: `sim://${kind.kind}`, rules: { ...SIM_COMMON, ...own } };
}

/** Returns the kind named by an address target, or throws a usage error listing the kinds. */
export function checkKind(target: string): SimKindInfo {
  const k = kindInfo(target);
  if (!k) {
    const name = target.replace(/\/+$/, "").toLowerCase();
    throw new UsageError(
      `sim://${target} is not a simulated instrument; kinds: ${SIM_KIND_NAMES.join(", ")}`,
      didYouMean(name, SIM_KIND_NAMES) || undefined,
    );
  }
  return k;
}

/** The name of a directly addressed sim device: its `id`, else its kind. */
export function simName(address: Address): string {
  return address.params.get("id") ?? address.target.replace(/\/+$/, "").toLowerCase();
}

/** The `sim://` driver without its `open`. */
export const SIM_INFO: DriverInfo = {
  scheme: "sim",
  descriptors: "none",
  summary: `simulated instruments in this process: ${SIM_KIND_NAMES.join(", ")}`,
  example: "sim://gauge?seed=3&latency=20ms",
  defaultName: simName,
  options: simOptionRules,
};
