/**
 * Fault injection shared by every simulated instrument (`sim://` devices and the wire-protocol
 * simulators), set by URL options or flags:
 *
 * | option | meaning |
 * |---|---|
 * | `latency=20ms` | answer after this delay |
 * | `jitter=5ms` | plus a uniform random delay up to this |
 * | `timeout_rate=0.01` | fraction of calls never answered |
 * | `error_rate=0.01` | fraction of calls answered with a device error |
 * | `garbage_rate=0.01` | fraction of calls answered with an unparseable response |
 * | `disconnect_rate=0.001` | chance per call that the device drops off the network … |
 * | `disconnect_for=5s` | … for this long |
 *
 * @module
 */
import { parseDuration } from "../../config/duration.ts";
import { UsageError } from "../../device/errors.ts";
import { Random } from "./random.ts";

/** Fault settings of one simulated device. */
export interface FaultOptions {
  /** Fixed answer delay, ms. */
  latencyMs: number;
  /** Extra uniform random delay up to this, ms. */
  jitterMs: number;
  /** Fraction of calls never answered. */
  timeoutRate: number;
  /** Fraction of calls answered with a device error. */
  errorRate: number;
  /** Fraction of calls answered with garbage. */
  garbageRate: number;
  /** Chance per call of dropping off the network. */
  disconnectRate: number;
  /** How long a disconnect lasts, ms. */
  disconnectForMs: number;
}

/** The fault option names, as written in URLs (`?latency=20ms`) and as flags (`--latency 20ms`). */
export const FAULT_KEYS = [
  "latency",
  "jitter",
  "timeout_rate",
  "error_rate",
  "garbage_rate",
  "disconnect_rate",
  "disconnect_for",
] as const;

/** No faults at all. */
export const NO_FAULTS: FaultOptions = {
  latencyMs: 0,
  jitterMs: 0,
  timeoutRate: 0,
  errorRate: 0,
  garbageRate: 0,
  disconnectRate: 0,
  disconnectForMs: 5000,
};

/**
 * Reads fault options from URL parameters or flag values; bad values are usage errors.
 *
 * @example
 * ```ts
 * import { parseFaults } from "./faults.ts";
 * parseFaults(new URLSearchParams("latency=20ms&error_rate=0.1")).errorRate; // 0.1
 * ```
 */
export function parseFaults(
  params: URLSearchParams | Record<string, string | undefined>,
): FaultOptions {
  const get = (k: string) =>
    params instanceof URLSearchParams ? params.get(k) ?? undefined : params[k];
  const rate = (k: string) => {
    const v = get(k);
    if (v === undefined) return 0;
    const n = Number(v);
    if (!(n >= 0 && n <= 1)) throw new UsageError(`${k}: expected a fraction 0–1, got "${v}"`);
    return n;
  };
  const dur = (k: string, dflt: number) => {
    const v = get(k);
    return v === undefined ? dflt : parseDuration(v, "ms", k);
  };
  return {
    latencyMs: dur("latency", 0),
    jitterMs: dur("jitter", 0),
    timeoutRate: rate("timeout_rate"),
    errorRate: rate("error_rate"),
    garbageRate: rate("garbage_rate"),
    disconnectRate: rate("disconnect_rate"),
    disconnectForMs: dur("disconnect_for", 5000),
  };
}

/** What a simulated call should do. */
export type FaultOutcome = "ok" | "timeout" | "error" | "garbage" | "disconnected";

/** Decides, call by call and deterministically for a seed, which fault (if any) happens. */
export class FaultInjector {
  #downUntil = 0;

  /** Creates an injector with its own random source. */
  constructor(
    readonly options: FaultOptions = NO_FAULTS,
    readonly random: Random = new Random(1),
  ) {}

  /** True when any fault or delay is configured. */
  get active(): boolean {
    const o = this.options;
    return o.latencyMs > 0 || o.jitterMs > 0 || o.timeoutRate > 0 || o.errorRate > 0 ||
      o.garbageRate > 0 || o.disconnectRate > 0;
  }

  /** Until when (same clock as `decide`) the device is disconnected; 0 if it never was. */
  get downUntil(): number {
    return this.#downUntil;
  }

  /** The delay before this call's answer, ms. */
  delayMs(): number {
    const { latencyMs, jitterMs } = this.options;
    return latencyMs + (jitterMs > 0 ? this.random.uniform(0, jitterMs) : 0);
  }

  /**
   * Decides the outcome of one call at time `nowMs` (epoch or monotonic, consistently; by
   * default performance.now(), read only when a disconnect is or may become in force).
   */
  decide(nowMs?: number): FaultOutcome {
    const o = this.options;
    if (this.#downUntil > 0 && (nowMs ??= performance.now()) < this.#downUntil) {
      return "disconnected";
    }
    if (this.random.chance(o.disconnectRate)) {
      this.#downUntil = (nowMs ?? performance.now()) + o.disconnectForMs;
      return "disconnected";
    }
    if (this.random.chance(o.timeoutRate)) return "timeout";
    if (this.random.chance(o.errorRate)) return "error";
    if (this.random.chance(o.garbageRate)) return "garbage";
    return "ok";
  }
}
