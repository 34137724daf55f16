/**
 * The device model every driver implements and every verb uses: a {@linkcode Device} has
 * attributes, reads and writes them, may offer techniques and push updates, and is closed.
 *
 * @module
 */
import type { Attr, Value, Values } from "./attr.ts";
import { formatMs } from "./clock.ts";
import { TimeoutError } from "./errors.ts";

// The reading clock and the wording of call timeouts live in ./clock.ts, which a read of
// ca:// PVs loads without the rest of this module.
export { formatMs, nowSeconds } from "./clock.ts";

/** Options every device call takes: a caller's abort signal and a timeout in milliseconds. */
export interface CallOptions {
  /** Aborts the call (Ctrl-C, a stopped task, a closed HTTP request). */
  signal?: AbortSignal;
  /** Milliseconds before the call fails with a {@linkcode TimeoutError}; the device's default if absent. */
  timeout?: number;
  /**
   * For `write`: nobody will wait for the write to complete, so the device need not track it
   * (`ca://` sends a plain WRITE, as `caput` without `-c`, instead of WRITE_NOTIFY).
   */
  sendOnly?: boolean;
}

/** One reading of one device: `t` is Unix epoch seconds (ms precision); a failed read has `error`. */
export interface Reading {
  /** When the reading was taken, Unix epoch seconds with millisecond precision. */
  t: number;
  /** Device name. */
  device: string;
  /** Attribute values; empty when the read failed. */
  values: Values;
  /** Why the read failed, when it did. */
  error?: string;
}

/**
 * The keys a reading has beside its values when it is written out (`{"t":...,"device":...,<attr>:...}`,
 * plus `error`): no attribute may be called one of them.
 */
export const READING_KEYS: readonly string[] = ["t", "device", "error"];

/** A push subscription handle (e.g. an EPICS monitor); `close` cancels it. */
export interface Subscription {
  /** Cancels the subscription. */
  close(): Promise<void>;
}

/** An open instrument, whatever its protocol. */
export interface Device {
  /** The name readings carry: the config name, or one derived from the address. */
  readonly name: string;
  /** The address it was opened from, e.g. `baratron://10.0.0.5`. */
  readonly address: string;
  /** The driver's URL scheme, e.g. `baratron`. */
  readonly driver: string;
  /** Declared attributes (may need a connection first, hence async). */
  attrs(opts?: CallOptions): Promise<Attr[]>;
  /** Reads the named attributes, or the default reading (`status` attrs) when `names` is absent. */
  read(names?: readonly string[], opts?: CallOptions): Promise<Values>;
  /**
   * Optional: reads like {@linkcode Device.read}, handing the values to `done` or the failure to
   * `failed` (exactly one, once; possibly before it returns) instead of settling a promise. For a
   * poller's thousands of reads a second: a device manager uses it, when present, for every read
   * it starts on an idle queue (a sampler's, an HTTP reading's), and takes an answer given before
   * `readTo` returns as one that took no time (latency 0); `read` stays for every other caller.
   * A throw before either is called is taken as the read's failure, so neither may be called
   * after one (the manager would count the read ended twice). `at` is the caller's
   * `performance.now()` of the read's start (the manager's, which times the read and dates the
   * reading; or, when the manager read only the wall clock, the monotonic time it stands for,
   * within a millisecond): a device whose values follow the clock (a simulator) takes them at
   * `at` instead of reading the clock again.
   */
  readTo?(
    names: readonly string[] | undefined,
    opts: CallOptions | undefined,
    done: (values: Values) => void,
    failed: (err: unknown) => void,
    at?: number,
  ): void;
  /** Writes one attribute; the value has already been validated against its Attr by the caller. */
  write(name: string, value: Value, opts?: CallOptions): Promise<void>;
  /** Device-specific techniques beyond the generic `sample` and `hold` (e.g. the sim motor's `move`). */
  techniques(): string[];
  /**
   * Optional push updates (EPICS monitors): calls `onValues` on each change until closed; with
   * `error` (and no values) when the source says it has none (a remote daemon gone away).
   */
  subscribe?(
    names: readonly string[] | undefined,
    onValues: (values: Values, t: number, error?: string) => void,
    opts?: CallOptions,
  ): Promise<Subscription>;
  /**
   * True when the device pushes every reading its source takes (a remote labwire daemon's event
   * stream): samplers follow it through `subscribe` instead of polling it.
   */
  readonly pushes?: boolean;
  /**
   * Changes whenever the declared attributes may have changed (a remote daemon came back, maybe
   * with another config), so whoever cached {@linkcode Device.attrs} asks again; absent when they
   * never change while the device is open.
   */
  readonly attrsEpoch?: number;
  /** Optional "done" signal for positioners: true while a move is in progress. */
  isMoving?(opts?: CallOptions): Promise<boolean>;
  /** Releases sockets, timers and servers. */
  close(): Promise<void>;
}

/**
 * Runs `fn` with a signal that aborts on the caller's signal or after `timeoutMs`; a timeout
 * becomes a {@linkcode TimeoutError} saying what was tried.
 *
 * @example
 * ```ts
 * import { withDeadline } from "./device.ts";
 * await withDeadline({ timeout: 100 }, 1000, "reading x", (signal) => Promise.resolve(signal.aborted));
 * ```
 */
export async function withDeadline<T>(
  opts: CallOptions | undefined,
  defaultTimeoutMs: number,
  what: string,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = opts?.timeout ?? defaultTimeoutMs;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new TimeoutError(`${what}: no answer within ${formatMs(timeoutMs)}`));
  }, timeoutMs);
  const outer = opts?.signal;
  const onAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) controller.abort(outer.reason);
  else outer?.addEventListener("abort", onAbort, { once: true });
  try {
    return await raceAbort(fn(controller.signal), controller.signal);
  } catch (err) {
    if (timedOut) throw new TimeoutError(`${what}: no answer within ${formatMs(timeoutMs)}`);
    throw err;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onAbort);
  }
}

/** Rejects as soon as `signal` aborts, even if `p` ignores the signal. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** Picks the default reading's attribute names (those with `status`) from a declaration. */
export function statusNames(attrs: readonly Attr[]): string[] {
  return attrs.filter((a) => a.status).map((a) => a.name);
}
