/**
 * {@linkcode SimDevice}: a simulated instrument behind the {@linkcode Device} interface. It wraps
 * a kind's model with what real instruments do to their callers: deadlines, injected faults,
 * and a check that no two calls are ever on the "line" at once.
 *
 * @module
 */
import { type Attr, findAttr, validateWrite, type Value, type Values } from "../../device/attr.ts";
import {
  type CallOptions,
  type Device,
  formatMs,
  statusNames,
  withDeadline,
} from "../../device/device.ts";
import { DeviceError } from "../../device/errors.ts";
import { FaultInjector } from "./faults.ts";
import { decodeFrame, encodeFrame, garble } from "./frame.ts";
import type { SimModel } from "./model.ts";
import { preciseAt, preciseNow } from "./noise.ts";

/**
 * The latest time (epoch ms) a simulator on the process clock was asked at: the model times of
 * calls never go back, for one device or across devices (whose models may share a world). A
 * caller's time may stand a millisecond either way of the clock (a manager's read that took
 * only `Date.now()`, see `DeviceManager.sampleTo`): a read right after a write (or another
 * device's read) is then still taken after it.
 */
const latest = new Float64Array([-Infinity]);

/** The model time of a call at `ms` (epoch ms on the process clock), never before an earlier call's. */
function modelTime(ms: number): number {
  // A typed array's slot, not a `let`: a double stored there is not a heap number made per call.
  const last = latest[0]!;
  if (ms < last) return last;
  latest[0] = ms;
  return ms;
}

/** How a {@linkcode SimDevice} behaves beyond its model. */
export interface SimDeviceOptions {
  /** Faults to inject; none by default. */
  faults?: FaultInjector;
  /** Fail a call that overlaps another with "interleaved I/O" (default: only count it). */
  strict?: boolean;
  /** Default per-call timeout, ms (default 1000). */
  timeoutMs?: number;
  /** Epoch-milliseconds clock (tests pass a fake one). */
  now?: () => number;
}

/**
 * A simulated device. With no faults configured every call answers at once without creating a
 * timer (hundreds of devices at 10 Hz cost next to nothing); with faults, calls go through
 * {@linkcode withDeadline} and a checksummed text answer.
 *
 * @example
 * ```ts
 * import { SimDevice } from "./device.ts";
 * import { gauge } from "./kinds/gauge.ts";
 * import { SimOptions } from "./options.ts";
 * import { world } from "./world.ts";
 * const options = new SimOptions("gauge", new URLSearchParams(), gauge.options);
 * const model = gauge.create({ options, seed: 1, world, now: Date.now });
 * const dev = new SimDevice("gauge", "sim://gauge", model);
 * await dev.read(); // { pressure: 0.75…, pressure_units: "torr" }
 * await dev.close();
 * ```
 */
export class SimDevice implements Device {
  /** Always `sim`. */
  readonly driver = "sim";
  /** Calls made (reads, writes, isMoving). */
  calls = 0;
  /** Calls that started while another call to this device was in flight. */
  overlaps = 0;
  /** Present on positioners only, so callers can tell a motor from a gauge. */
  readonly isMoving?: (opts?: CallOptions) => Promise<boolean>;

  readonly #model: SimModel;
  readonly #faults: FaultInjector;
  readonly #strict: boolean;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #status: string[];
  #inFlight = 0;
  #closed = false;

  /** Wraps `model` as device `name` opened from `address`. */
  constructor(
    readonly name: string,
    readonly address: string,
    model: SimModel,
    options: SimDeviceOptions = {},
  ) {
    this.#model = model;
    this.#faults = options.faults ?? new FaultInjector();
    this.#strict = options.strict ?? false;
    this.#timeoutMs = options.timeoutMs ?? 1000;
    this.#now = options.now ?? preciseNow;
    this.#status = statusNames(model.attrs);
    const moving = model.isMoving?.bind(model);
    if (moving) {
      this.isMoving = (opts) =>
        this.#call("isMoving", opts, (t) => ({ moving: moving(t) })).then((v) => v.moving === true);
    }
  }

  /** Calls currently in flight (0 or 1 when callers queue properly). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The declared attributes (local knowledge: no I/O, no faults). */
  attrs(opts?: CallOptions): Promise<Attr[]> {
    if (opts?.signal?.aborted) return Promise.reject(opts.signal.reason);
    return Promise.resolve(this.#model.attrs.map((a) => ({ ...a })));
  }

  /** Reads the named attributes, or the default reading. */
  read(names?: readonly string[], opts?: CallOptions): Promise<Values> {
    const wanted = names ?? this.#status;
    try {
      if (names) { for (const n of names) findAttr(this.#model.attrs, n, this.name); }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#call("read", opts, (t) => this.#valuesAt(wanted, t));
  }

  /** The model's values of `wanted` at `t` (ms since the epoch). */
  #valuesAt(wanted: readonly string[], t: number): Values {
    const out: Values = {};
    for (let i = 0; i < wanted.length; i++) out[wanted[i]!] = this.#model.value(wanted[i]!, t);
    return out;
  }

  /**
   * Reads like {@linkcode read}, the values to `done` or the failure to `failed`: with no fault
   * configured, before it returns (no promise: a manager then knows the read took no time),
   * the values at the caller's `at` (a `performance.now()`) unless the device has its own clock.
   */
  readTo(
    names: readonly string[] | undefined,
    opts: CallOptions | undefined,
    done: (values: Values) => void,
    failed: (err: unknown) => void,
    at?: number,
  ): void {
    if (names !== undefined || this.#closed || this.#faults.active) {
      this.read(names, opts).then(done, failed);
      return;
    }
    let out: Values;
    try {
      this.#count("read");
      if (opts?.signal?.aborted) throw opts.signal.reason;
      out = this.#valuesAt(this.#status, this.#time(at));
    } catch (err) {
      failed(err);
      return;
    }
    done(out);
  }

  /** Writes one attribute (validated again here: a real instrument refuses nonsense too). */
  async write(name: string, value: Value, opts?: CallOptions): Promise<void> {
    const v = validateWrite(findAttr(this.#model.attrs, name, this.name), value);
    await this.#call(`write ${name}`, opts, (t) => {
      this.#model.write(name, v, t);
      return {};
    });
  }

  /** Device-specific techniques (the motor's `move`). */
  techniques(): string[] {
    return [...(this.#model.techniques ?? [])];
  }

  /** Releases this device's hold on shared world state. */
  close(): Promise<void> {
    if (!this.#closed) this.#model.close?.();
    this.#closed = true;
    return Promise.resolve();
  }

  #call(what: string, opts: CallOptions | undefined, fn: (tMs: number) => Values): Promise<Values> {
    if (this.#closed) {
      return Promise.reject(
        new DeviceError(`${what} ${this.address}: device is closed`, this.name),
      );
    }
    try {
      this.#count(what);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this.#faults.active) {
      // Synchronous answer: nothing to wait for, so no deadline (and no timer) is needed. Loops
      // over instant answers take their fair turns themselves (fairTurn in the scan runner and
      // tasks). The answer never waits for one: it is given inside the device's queue, where a
      // pause holds every caller queued behind it, and a busy HTTP server looks "starving" to
      // the heartbeat (profiled: 64 clients polling one sim stalled 10-20 ms per pause).
      if (opts?.signal?.aborted) return Promise.reject(opts.signal.reason);
      try {
        return Promise.resolve(fn(this.#time()));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    this.#inFlight++;
    return withDeadline(
      opts,
      this.#timeoutMs,
      `${what} ${this.address}`,
      (signal) => this.#faulty(fn, signal),
    ).finally(() => this.#inFlight--);
  }

  /**
   * The model time (epoch ms) of a call now, or at `at` (a caller's `performance.now()` of it)
   * unless the device has a clock of its own.
   */
  #time(at?: number): number {
    if (this.#now !== preciseNow) return this.#now();
    return modelTime(at === undefined ? preciseNow() : preciseAt(at));
  }

  /** Counts a call (and one that overlaps another); throws for an overlap with `strict`. */
  #count(what: string): void {
    this.calls++;
    if (this.#inFlight > 0) {
      this.overlaps++;
      if (this.#strict) {
        throw new DeviceError(
          `${what} ${this.address}: interleaved I/O: the call started while another was in flight`,
          this.name,
        );
      }
    }
  }

  async #faulty(fn: (tMs: number) => Values, signal: AbortSignal): Promise<Values> {
    const f = this.#faults;
    const now = performance.now();
    const outcome = f.decide(now);
    if (outcome === "disconnected") {
      throw new DeviceError(
        `${this.address}: connection refused (simulated disconnect, back in ${
          formatMs(f.downUntil - now)
        }); retry later`,
        this.name,
      );
    }
    await delay(f.delayMs(), signal);
    switch (outcome) {
      case "timeout":
        return await never(signal);
      case "error":
        throw new DeviceError(
          `${this.address}: device answered "ERR -100 command error" (simulated error_rate)`,
          this.name,
        );
      case "garbage":
        // The device did its work; its answer was corrupted on the way back.
        return decodeFrame(garble(encodeFrame(fn(this.#time())), f.random), this.address);
      default:
        return decodeFrame(encodeFrame(fn(this.#time())), this.address);
    }
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** A call the device never answers: settles only when the caller gives up. */
function never(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}
