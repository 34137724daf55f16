/**
 * The `?key=value` options of a `sim://` address (and of a config file's device table), read
 * with their types and ranges. Option names are checked by the config schema
 * (`lib/config/schema.ts`) before a device is created: a typo is an error, never ignored.
 *
 * @module
 */
import { UsageError } from "../../device/errors.ts";
import { didYouMean } from "../../device/suggest.ts";
import { FAULT_KEYS } from "./faults.ts";

/** Options every kind accepts, with what they do (for `--help` and error messages). */
export const COMMON_OPTIONS: Record<string, string> = {
  seed: "integer seed: devices with the same seed give the same values at the same time",
  id: "name of the device (and, for motors, its key in the shared world)",
  strict: "1 = a call overlapping another call fails with 'interleaved I/O'",
  timeout: "default per-call timeout, e.g. 2s (applied when the device is opened)",
  latency: "answer after this delay, e.g. 20ms",
  jitter: "plus a uniform random delay up to this",
  timeout_rate: "fraction of calls never answered (they time out)",
  error_rate: "fraction of calls answered with a device error",
  garbage_rate: "fraction of calls answered with a garbled response",
  disconnect_rate: "chance per call that the device refuses connections …",
  disconnect_for: "… for this long (default 5s)",
};

// Keep the table above in step with the fault options the injector understands.
for (const k of FAULT_KEYS) {
  if (!(k in COMMON_OPTIONS)) throw new Error(`sim options: fault option ${k} is undocumented`);
}

/**
 * Typed access to a sim device's options.
 *
 * @example
 * ```ts
 * import { SimOptions } from "./options.ts";
 * const o = new SimOptions("motor", new URLSearchParams("velocity=5"), { velocity: "speed" });
 * o.number("velocity", 10); // 5
 * ```
 */
export class SimOptions {
  readonly #values = new Map<string, string>();

  /**
   * Merges config-file options (first) and address options (winning). Which keys a kind takes
   * is checked before, by `checkAddressOptions` (`lib/config/options.ts`) and the config schema.
   */
  constructor(
    readonly kind: string,
    params: URLSearchParams,
    accepted: Record<string, string>,
    config: Record<string, unknown> = {},
  ) {
    this.accepted = accepted;
    for (const [k, v] of Object.entries(config)) {
      if (v !== undefined && v !== null) this.#values.set(k, String(v));
    }
    for (const [k, v] of params) this.#values.set(k, v);
  }

  /** The kind's own options (beyond {@linkcode COMMON_OPTIONS}), with what they do. */
  readonly accepted: Record<string, string>;

  /** The raw text of option `key`, if given. */
  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  /** Every option as text (for fault parsing). */
  record(): Record<string, string> {
    return Object.fromEntries(this.#values);
  }

  /** A number option within [min, max], or `dflt` when absent. */
  number(key: string, dflt: number, min = -Infinity, max = Infinity): number {
    const v = this.#values.get(key);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
      const range = min === -Infinity && max === Infinity
        ? "a number"
        : `a number in ${min}…${max}`;
      throw new UsageError(`sim://${this.kind}: ${key} must be ${range}, got "${v}"`);
    }
    return n;
  }

  /** An integer option within [min, max], or `dflt` when absent. */
  integer(key: string, dflt: number, min = -Infinity, max = Infinity): number {
    const n = this.number(key, dflt, min, max);
    if (!Number.isInteger(n)) {
      throw new UsageError(`sim://${this.kind}: ${key} must be an integer, got "${n}"`);
    }
    return n;
  }

  /** A boolean option (`1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`), or `dflt` when absent. */
  flag(key: string, dflt = false): boolean {
    const v = this.#values.get(key)?.trim().toLowerCase();
    if (v === undefined) return dflt;
    if (["1", "true", "yes", "on", ""].includes(v)) return true;
    if (["0", "false", "no", "off"].includes(v)) return false;
    throw new UsageError(`sim://${this.kind}: ${key} must be 1 or 0, got "${v}"`);
  }

  /** One of `choices` (case-insensitive), or `dflt` when absent. */
  choice<T extends string>(key: string, dflt: T, choices: readonly T[]): T {
    const v = this.#values.get(key);
    if (v === undefined) return dflt;
    const c = choices.find((x) => x.toLowerCase() === v.trim().toLowerCase());
    if (c === undefined) {
      throw new UsageError(
        `sim://${this.kind}: ${key} must be one of ${choices.join(", ")}, got "${v}"`,
        didYouMean(v, choices) || undefined,
      );
    }
    return c;
  }
}
