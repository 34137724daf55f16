/**
 * A DeviceManager owns one open device: every call to it goes through one queue (a serial line
 * never sees interleaved commands, whoever asks), the last reading is cached, and any number of
 * subscribers get readings through bounded {@linkcode Feed}s.
 *
 * @module
 */
import { type Attr, findAttr, validateWrite, type Value, type Values } from "../device/attr.ts";
import {
  type CallOptions,
  type Device,
  type Reading,
  type Subscription,
} from "../device/device.ts";
import { DeviceError, errorMessage, UsageError } from "../device/errors.ts";
import { monoAtWall, wallSecondsAt } from "../device/wall_clock.ts";
import type { DeviceConfig } from "../config/load.ts";
import { Feed } from "./feed.ts";

/** Connection state shown by `serve` and the dashboard. */
export type DeviceState = "unknown" | "up" | "down";

/** Counters a manager keeps for metrics. */
export interface DeviceStats {
  /** Reads attempted. */
  reads: number;
  /** Reads that failed. */
  errors: number;
  /** Writes done. */
  writes: number;
  /** Latency of the last read, ms. */
  lastLatencyMs: number;
  /**
   * Read latencies in ms: per bucket of {@linkcode LATENCY_BUCKETS_MS}, the reads that took at
   * most its bound and more than the bound before it (`/metrics` sums them Prometheus style).
   */
  latencyBuckets: number[];
  /** Sum of read latencies, ms. */
  latencySumMs: number;
}

/** Upper bounds (ms) of the read latency histogram. */
export const LATENCY_BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/** Options of a manager call that takes a reading. */
export interface SampleOptions extends CallOptions {
  /**
   * Keep the reading to the caller (and the last-reading cache): no listener or subscriber sees
   * it. For scans, whose thousands of reads a second are recorded as scan points, not samples.
   */
  quiet?: boolean;
  /**
   * Join a read of the same attributes, with the same options object, that waits last in the
   * device's queue and has not started yet, instead of queueing another (single-flight): N
   * callers of a slow device wait for about two reads, not N. The joined read starts after
   * every caller that joined it arrived, so each still gets a fresh reading (its `t` is when
   * the read started). Not for a call with a `signal` (each caller would need its own abort).
   */
  join?: boolean;
}

/**
 * Who a reading taken with {@linkcode DeviceManager.sampleFor} goes to: `done` gets the reading
 * (good or with `error`), `lost` what stopped it (the caller's abort while it ran).
 */
export interface ReadingTarget {
  /** The reading, in the turn it is made. */
  done(reading: Reading): void;
  /** The caller's abort stopped the read: no reading. */
  lost(reason: unknown): void;
}

/** What closing waits for in a busy queue: its end, not its outcome. */
const CLOSE = () => {};

/** The queue of a device nothing was asked of yet (one promise for every manager). */
const IDLE: Promise<unknown> = Promise.resolve();

/** The listeners of a manager that has none (shared: listener lists are never changed in place). */
const NO_LISTENERS: readonly ((reading: Reading) => void)[] = [];

/** What a manager with no listener calls per reading. */
const NO_FAN_OUT = (_reading: Reading): void => {};

/**
 * One function calling `list`'s listeners in order. Each listener is called from a call site of
 * its own (one per position), not from one loop's: the daemon's managers all have the same
 * listeners in the same order (the SSE hub, alarms, the recorder), each made by one closure
 * site, so each position's call site sees one closure's code and V8 calls (or inlines) it
 * directly, where the loop's one site saw them all and went through the generic call builtin.
 */
function fanOut(list: readonly ((reading: Reading) => void)[]): (reading: Reading) => void {
  switch (list.length) {
    case 0:
      return NO_FAN_OUT;
    case 1:
      return list[0]!;
    case 2: {
      const [a, b] = list as [(r: Reading) => void, (r: Reading) => void];
      return (r) => {
        a(r);
        b(r);
      };
    }
    case 3: {
      const [a, b, c] = list as [(r: Reading) => void, (r: Reading) => void, (r: Reading) => void];
      return (r) => {
        a(r);
        b(r);
        c(r);
      };
    }
    case 4: {
      const [a, b, c, d] = list as [
        (r: Reading) => void,
        (r: Reading) => void,
        (r: Reading) => void,
        (r: Reading) => void,
      ];
      return (r) => {
        a(r);
        b(r);
        c(r);
        d(r);
      };
    }
    default:
      return (r) => {
        for (let i = 0; i < list.length; i++) list[i]!(r);
      };
  }
}

/** A caller waiting for a shared read (see {@linkcode SampleOptions.join}). */
interface Joiner {
  answer: ((reading: Reading) => unknown) | undefined;
  failed: ((err: unknown) => unknown) | undefined;
  resolve: (v: unknown) => void;
  reject: (err: unknown) => void;
}

/** A read queued for callers that share it: joinable while it is the queue's last, unstarted call. */
interface SharedRead {
  names: readonly string[] | undefined;
  opts: SampleOptions;
  /** `performance.now()` when the read started (0 while it waits). */
  begun: number;
  /** The callers that joined it after the one that queued it. */
  joiners: Joiner[];
}

/** Whether two attribute lists ask for the same attributes in the same order. */
function sameNames(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * What one caller of a shared read gets: `answer`'s make of the reading (or the reading), or
 * `failed`'s of the error when there is no reading or `answer` throws; throws what neither takes.
 * {@linkcode DeviceManager} `#finished` is the same for a caller's own read, with the making of
 * the reading inside its `try` (no reading to share, and no call more per sample).
 */
function answered(
  reading: Reading | undefined,
  error: unknown,
  answer: ((reading: Reading) => unknown) | undefined,
  failed: ((err: unknown) => unknown) | undefined,
): unknown {
  if (reading === undefined) {
    if (failed === undefined) throw error;
    return failed(error);
  }
  try {
    return answer === undefined ? reading : answer(reading);
  } catch (err) {
    if (failed === undefined) throw err;
    return failed(err);
  }
}

/** One device with its queue, cache and subscribers. */
export class DeviceManager {
  #tail: Promise<unknown> = IDLE;
  #queued = 0;
  /** A read handed to the device's `readTo` holds the queue (`#tail` is not its promise). */
  #direct = false;
  /** Settles the promise made for callers queued behind that read (see `#tailPromise`). */
  #directEnd: (() => void) | undefined;
  // The read later callers may join: the last call queued, not started yet (any call queued
  // after it, or its start, ends that).
  #joinable: SharedRead | undefined;
  // Once the queue is empty its tail goes back to IDLE: the last call's promise (and the value it
  // settled with) is not held until the next call, which outlived young collections in bulk.
  readonly #settled = () => {
    if (--this.#queued === 0) this.#tail = IDLE;
  };
  #attrs: Attr[] | undefined;
  /** The device's `attrsEpoch` when `#attrs` was fetched. */
  #attrsEpoch: number | undefined;
  // Made on first use, and listeners kept as a copy-on-write array (no Set): most managers of a
  // large stream never get a subscriber and have one listener, and two Sets were ~0.3 KB each.
  #subscribers: Set<Feed<Reading>> | undefined;
  #listenerList: readonly ((reading: Reading) => void)[] = NO_LISTENERS;
  // The listeners above called in order by one function (see fanOut), made when they change.
  #fanOut: (reading: Reading) => void = NO_FAN_OUT;
  // The last reading, and the last good one before it while the last one failed: a good reading
  // is both, one store per reading (each `GET /read`) instead of two.
  #last: Reading | undefined;
  #goodBefore: Reading | undefined;
  /**
   * Bumped whenever a manager's reading, state, counters or fetched attrs may have changed: a
   * `/metrics` page rendered at one count is current while the count stays.
   */
  static changes = 0;
  /** Connection state from the latest call. */
  state: DeviceState = "unknown";
  /** Counters for metrics. */
  readonly stats: DeviceStats = {
    reads: 0,
    errors: 0,
    writes: 0,
    lastLatencyMs: 0,
    latencyBuckets: new Array<number>(LATENCY_BUCKETS_MS.length).fill(0),
    latencySumMs: 0,
  };

  /** Wraps an open device described by `config`. */
  constructor(readonly device: Device, readonly config: DeviceConfig) {}

  /** The device's name. */
  get name(): string {
    return this.config.name;
  }

  /** The last reading (good or failed), if any. */
  get last(): Reading | undefined {
    return this.#last;
  }

  /** The last reading without an error, if any. */
  get lastGood(): Reading | undefined {
    const last = this.#last;
    return last === undefined || last.error === undefined ? last : this.#goodBefore;
  }

  /** Keeps `reading` as the last one (and the last good one, see {@linkcode lastGood}). */
  #keep(reading: Reading): void {
    DeviceManager.changes++;
    if (reading.error !== undefined) {
      const last = this.#last;
      if (last !== undefined && last.error === undefined) this.#goodBefore = last;
    }
    this.#last = reading;
  }

  /**
   * The queue's tail to chain a call onto. A read handed to the device's `readTo` has no
   * promise: one is made only when a call has to wait behind it (settled when the read ends).
   */
  #tailPromise(): Promise<unknown> {
    if (this.#direct && this.#directEnd === undefined) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#tail = promise;
      this.#directEnd = resolve;
    }
    return this.#tail;
  }

  /**
   * Runs `fn` when every earlier call to this device has finished: the device's one queue.
   * A call whose signal aborts while it waits is never started.
   */
  exclusive<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const run = async () => {
      if (signal?.aborted) throw signal.reason ?? new DeviceError("aborted", this.name);
      return await fn();
    };
    const waiting = this.#queued > 0;
    // A read queued before this call is no longer the last: joining it would answer a later
    // caller with a reading taken before this call (a write's, say) ran.
    this.#joinable = undefined;
    this.#queued++;
    const p = this.#tailPromise().then(run, run);
    this.#tail = p.then(this.#settled, this.#settled);
    // An idle queue starts the call at once: only a call that waits needs its own abort path.
    if (!signal || !waiting) return p;
    // A caller that gives up while a hung call holds the queue is answered at once (its own
    // call will not start); stopping never waits for another caller's device timeout.
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason ?? new DeviceError("aborted", this.name));
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  /**
   * The device's attributes (fetched through the queue, then cached until the device's
   * `attrsEpoch` says they may have changed).
   */
  async attrs(opts?: CallOptions): Promise<Attr[]> {
    const epoch = this.device.attrsEpoch;
    if (this.#attrs && epoch === this.#attrsEpoch) return this.#attrs;
    const attrs = await this.exclusive(() => this.device.attrs(opts), opts?.signal);
    this.#attrs = attrs;
    this.#attrsEpoch = epoch;
    DeviceManager.changes++;
    return attrs;
  }

  /** The attributes {@linkcode attrs} fetched, while still current; undefined otherwise. */
  cachedAttrs(): Attr[] | undefined {
    return this.device.attrsEpoch === this.#attrsEpoch ? this.#attrs : undefined;
  }

  /**
   * Takes a fresh reading through the queue. Never throws for device failures: a failed read is
   * a reading with `error`. It is cached and published to subscribers. `started` is the
   * `performance.now()` of this call when the caller has just read the clock itself (the
   * sampler, for the lateness of each read): a clock read costs ~0.4 µs here, and a poll read it
   * five times.
   */
  sample(
    names?: readonly string[],
    opts?: SampleOptions,
    started: number = performance.now(),
  ): Promise<Reading> {
    return Promise.resolve(this.#sample(names, opts, started, undefined)) as Promise<Reading>;
  }

  /**
   * Takes a fresh reading like {@linkcode sample} and gives what `answer` makes of it, called in
   * the turn the reading is made: one promise and one turn fewer than `sample().then(answer)`
   * (what an HTTP reading answers with, thousands a second). A read answered in the turn it is
   * asked (a simulator's) gives `answer`'s make of it as it is, no promise: nothing to wait for,
   * and an HTTP answer made in the request's turn is sent without a promise resolved, a `then`
   * looked up on the answer and a turn of the microtask queue (~2k instructions a `GET /read`
   * under callgrind, Deno's server answering a `Response` on its synchronous path). Any other
   * read gives a promise of it. With `failed`, what `answer` throws (or an aborted call's error)
   * gives what `failed` makes of it, and never a rejection: one promise fewer than
   * `sampleTo(…).catch(failed)`; without, a throw of `answer` is a rejected promise. A read
   * answered in its turn reads the wall clock alone for its time, not the monotonic clock (its
   * latency is 0): see `#startIdleRead`.
   */
  sampleTo<T>(
    names: readonly string[] | undefined,
    opts: SampleOptions | undefined,
    answer: (reading: Reading) => T,
    failed?: (err: unknown) => T,
  ): T | Promise<T> {
    return this.#sample(names, opts, undefined, answer, failed) as T | Promise<T>;
  }

  /**
   * Takes a fresh reading like {@linkcode sample} and hands it to `to` (see
   * {@linkcode ReadingTarget}) instead of returning a promise: the sampler's way, thousands of
   * readings a second, each without a promise, a reaction and a turn of its own for the caller.
   */
  sampleFor(
    names: readonly string[] | undefined,
    opts: SampleOptions | undefined,
    started: number,
    to: ReadingTarget,
  ): void {
    if (this.#queued > 0 || opts?.signal?.aborted) {
      this.#queuedRead(names, opts, started, undefined).then(
        to.done as (reading: unknown) => void,
        to.lost,
      );
      return;
    }
    this.#startIdleRead(names, opts, started, undefined, to);
  }

  /**
   * A reading for `answer`, or its make of it (as it is when made in this turn, else a promise);
   * `started` undefined when the caller read no clock (see sampleTo).
   */
  #sample(
    names: readonly string[] | undefined,
    opts: SampleOptions | undefined,
    started: number | undefined,
    answer: ((reading: Reading) => unknown) | undefined,
    failed?: (err: unknown) => unknown,
  ): unknown {
    if (this.#queued > 0 || opts?.signal?.aborted) {
      const at = started ?? performance.now();
      if (opts?.join === true && opts.signal === undefined) {
        return this.#sharedRead(names, opts, at, answer, failed);
      }
      return this.#queuedRead(names, opts, at, answer, failed);
    }
    return this.#startIdleRead(names, opts, started, answer, undefined, failed);
  }

  /**
   * Joins the queued, unstarted read of the same attributes and options, or queues one that
   * later callers may join (see {@linkcode SampleOptions.join}): the reading, or `answer`'s.
   */
  #sharedRead(
    names: readonly string[] | undefined,
    opts: SampleOptions,
    started: number,
    answer: ((reading: Reading) => unknown) | undefined,
    failed: ((err: unknown) => unknown) | undefined,
  ): Promise<unknown> {
    const j = this.#joinable;
    if (j !== undefined && j.opts === opts && sameNames(j.names, names)) {
      return new Promise((resolve, reject) => j.joiners.push({ answer, failed, resolve, reject }));
    }
    const shared: SharedRead = { names, opts, begun: 0, joiners: [] };
    const p = this.exclusive(() => {
      // Started: a caller arriving from now on needs a read that starts after it.
      if (this.#joinable === shared) this.#joinable = undefined;
      shared.begun = performance.now();
      return this.device.read(names, opts);
    });
    this.#joinable = shared;
    return p.then(
      (values) => this.#sharedEnded(shared, started, true, values, answer, failed),
      (err) => this.#sharedEnded(shared, started, false, err, answer, failed),
    );
  }

  /**
   * One reading of a shared read (recorded and published once), answered to every caller that
   * joined it and to the one that queued it (whose answer this returns). Its time is when the
   * read started, after every joiner arrived; its latency counts from the first caller's call,
   * as a queued read's does.
   */
  #sharedEnded(
    shared: SharedRead,
    started: number,
    ok: boolean,
    result: unknown,
    answer: ((reading: Reading) => unknown) | undefined,
    failed: ((err: unknown) => unknown) | undefined,
  ): unknown {
    const t = wallSecondsAt(shared.begun > 0 ? shared.begun : performance.now());
    let reading: Reading | undefined;
    let error: unknown;
    try {
      reading = this.#took(t, started, shared.opts, ok, result);
    } catch (err) {
      error = err;
    }
    const joiners = shared.joiners;
    for (let i = 0; i < joiners.length; i++) {
      const w = joiners[i]!;
      // One caller's answer that throws is that caller's error, never the others'.
      try {
        w.resolve(answered(reading, error, w.answer, w.failed));
      } catch (err) {
        w.reject(err);
      }
    }
    return answered(reading, error, answer, failed);
  }

  /** Reads once the queue is free (or fails with the abort): the reading, or `answer`'s. */
  #queuedRead(
    names: readonly string[] | undefined,
    opts: SampleOptions | undefined,
    started: number,
    answer: ((reading: Reading) => unknown) | undefined,
    failed?: (err: unknown) => unknown,
  ): Promise<unknown> {
    const t = wallSecondsAt(started);
    return this.exclusive(() => this.device.read(names, opts), opts?.signal).then(
      (values) => this.#finished(t, started, opts, true, values, answer, failed),
      (err) => this.#finished(t, started, opts, false, err, answer, failed),
    );
  }

  /**
   * Starts a read on an idle queue: the reading goes to `answer` (what it makes of it is
   * returned as it is when the device answered before `readTo` returned, else a promise settles
   * with it; a throw of it is a rejected promise) or, with a `to`, to `to` (then the promise
   * settles with nothing and never rejects: nobody waits on it; through the device's `readTo`,
   * it is settled from the start).
   * A device with a `readTo` is read through it, whoever asks. `started` undefined: the caller
   * read no clock, and this read reads one (the wall clock alone when the answer comes in the
   * turn it is asked).
   */
  #startIdleRead(
    names: readonly string[] | undefined,
    opts: SampleOptions | undefined,
    started: number | undefined,
    answer: ((reading: Reading) => unknown) | undefined,
    to: ReadingTarget | undefined,
    failed?: (err: unknown) => unknown,
  ): unknown {
    // An idle queue starts the read at once and the queue is free again when the answer is
    // taken. No async frame, turn of the queue or extra promise per reading (a sampler takes
    // thousands a second), and no closure either: only one such read runs at a time (it keeps
    // the queue busy), so a read answered later is described in fields of its own.
    this.#queued++;
    const device = this.device;
    if (device.readTo !== undefined) {
      // The wall clock of the read's start, from the caller's clock read (one read, not two).
      // With none, from `Date.now()` (~150 instructions; `performance.now()` is an op of ~650,
      // the largest item of a `GET /read` over the bare server's under callgrind): a read
      // answered in its turn needs no latency, and one that is not is timed from its return.
      // The device gets the monotonic time that wall time stands for (within a millisecond).
      let t: number;
      let at: number;
      if (started === undefined) {
        const wall = Date.now();
        t = wall / 1000;
        at = monoAtWall(wall);
      } else {
        t = wallSecondsAt(started);
        at = started;
      }
      // The values come straight back (no promise, reaction or microtask per reading).
      this.#direct = true;
      this.#inReadTo = true;
      try {
        device.readTo(names, opts, this.#idleReadDone, this.#idleReadFailed, at);
      } catch (err) {
        // A throw before either callback is the read's failure; one after is not a second end.
        if (this.#inReadTo) this.#idleReadEnded(false, err);
      }
      if (!this.#inReadTo) {
        // Answered before `readTo` returned (a simulator with no fault): in the turn it was
        // asked, so the read took no time anything else could have run in. Its latency is 0
        // and no clock is read again (the device was handed the read's start for its values
        // too: one clock read a reading).
        const ok = this.#answeredOk;
        const result = this.#answered;
        this.#answered = undefined;
        this.#free();
        if (to !== undefined) {
          this.#handTo(to, t, at, opts, ok, result, true);
          return IDLE;
        }
        try {
          return this.#finished(t, at, opts, ok, result, answer, failed, true);
        } catch (err) {
          return Promise.reject(err);
        }
      }
      this.#inReadTo = false;
      // Timed from here when the caller read no clock: the device's own start of the read (a
      // request sent) is all that came before, microseconds.
      this.#keepIdle(t, started ?? performance.now(), opts, answer, to, failed);
      if (to !== undefined) return IDLE;
      // Whoever waits for `answer`'s make of the reading gets a promise, settled when it is made.
      const { promise, resolve, reject } = Promise.withResolvers<unknown>();
      this.#idleRead.resolve = resolve;
      this.#idleRead.reject = reject;
      return promise;
    }
    // The wall clock of the read's start, from the latency's clock read (one read, not two).
    const mono = started ?? performance.now();
    this.#keepIdle(wallSecondsAt(mono), mono, opts, answer, to, failed);
    // The read itself is the queue's tail.
    let p: Promise<Values>;
    try {
      p = device.read(names, opts);
    } catch (err) {
      p = Promise.reject(err);
    }
    this.#tail = p;
    return p.then(this.#idleReadDone, this.#idleReadFailed);
  }

  /** Describes the idle read that is answered later in {@linkcode #idleRead}. */
  #keepIdle(
    t: number,
    started: number,
    opts: SampleOptions | undefined,
    answer: ((reading: Reading) => unknown) | undefined,
    to: ReadingTarget | undefined,
    failed: ((err: unknown) => unknown) | undefined,
  ): void {
    const idle = this.#idleRead;
    idle.t = t;
    idle.started = started;
    idle.opts = opts;
    idle.answer = answer;
    idle.to = to;
    idle.failed = failed;
  }

  /**
   * The read {@linkcode sample} started on an idle queue and answered later: when, with which
   * options, for whom.
   */
  readonly #idleRead: {
    t: number;
    started: number;
    opts: SampleOptions | undefined;
    answer: ((reading: Reading) => unknown) | undefined;
    to: ReadingTarget | undefined;
    failed: ((err: unknown) => unknown) | undefined;
    /** Settle the promise of a read through `readTo` that was not answered in its turn. */
    resolve: ((v: unknown) => void) | undefined;
    reject: ((err: unknown) => void) | undefined;
  } = {
    t: 0,
    started: 0,
    opts: undefined,
    answer: undefined,
    to: undefined,
    failed: undefined,
    resolve: undefined,
    reject: undefined,
  };
  /** The device's `readTo` runs: an answer now is taken up when it returns. */
  #inReadTo = false;
  /** The answer given while `readTo` ran: whether it is values, and the values or error. */
  #answeredOk = false;
  #answered: unknown;
  readonly #idleReadDone = (values: Values): unknown => this.#idleReadEnded(true, values);
  readonly #idleReadFailed = (err: unknown): unknown => this.#idleReadEnded(false, err);

  /** The idle read's values (`ok`) or failure: kept for `#startIdleRead` while `readTo` runs. */
  #idleReadEnded(ok: boolean, result: unknown): unknown {
    if (this.#inReadTo) {
      // Taken up when `readTo` returns: no listener runs inside the device's call.
      this.#inReadTo = false;
      this.#answeredOk = ok;
      this.#answered = result;
      return undefined;
    }
    this.#free();
    const idle = this.#idleRead;
    const { t, started, opts, answer, to, failed, resolve } = idle;
    idle.opts = undefined;
    idle.answer = undefined;
    idle.to = undefined;
    idle.failed = undefined;
    if (to !== undefined) {
      this.#handTo(to, t, started, opts, ok, result, false);
      return undefined;
    }
    if (resolve === undefined) return this.#finished(t, started, opts, ok, result, answer, failed);
    const reject = idle.reject!;
    idle.resolve = undefined;
    idle.reject = undefined;
    try {
      resolve(this.#finished(t, started, opts, ok, result, answer, failed));
    } catch (err) {
      reject(err);
    }
    return undefined;
  }

  /** Frees the queue the idle read held. */
  #free(): void {
    if (this.#direct) {
      this.#direct = false;
      const end = this.#directEnd;
      this.#directEnd = undefined;
      // Callers queued behind the read start after it, as behind a read's promise.
      end?.();
    }
    if (--this.#queued === 0) this.#tail = IDLE;
  }

  /** Makes the reading of an idle read for `to`: its `done`, or its `lost` for an abort. */
  #handTo(
    to: ReadingTarget,
    t: number,
    started: number,
    opts: SampleOptions | undefined,
    ok: boolean,
    result: unknown,
    instant: boolean,
  ): void {
    let reading: Reading;
    try {
      reading = this.#took(t, started, opts, ok, result, instant);
    } catch (err) {
      to.lost(err);
      return;
    }
    to.done(reading);
  }

  /**
   * The reading of a read started at `t`, or what the caller of {@linkcode sampleTo} makes of it
   * (and of a throw, with `failed`).
   */
  #finished(
    t: number,
    started: number,
    opts: SampleOptions | undefined,
    ok: boolean,
    result: unknown,
    answer: ((reading: Reading) => unknown) | undefined,
    failed: ((err: unknown) => unknown) | undefined,
    instant = false,
  ): unknown {
    if (failed === undefined) {
      const reading = this.#took(t, started, opts, ok, result, instant);
      return answer === undefined ? reading : answer(reading);
    }
    try {
      return answer!(this.#took(t, started, opts, ok, result, instant));
    } catch (err) {
      return failed(err);
    }
  }

  /**
   * Makes the reading of a read started at `t`: its values when `ok`, else the read's error.
   * `instant`: answered in the turn it was asked (latency 0, no clock read).
   */
  #took(
    t: number,
    started: number,
    opts: SampleOptions | undefined,
    ok: boolean,
    result: unknown,
    instant = false,
  ): Reading {
    let reading: Reading;
    if (ok) {
      reading = { t, device: this.name, values: result as Values };
      this.state = "up";
    } else {
      if (opts?.signal?.aborted && !(result instanceof DeviceError)) throw result;
      reading = { t, device: this.name, values: {}, error: errorMessage(result) };
      this.state = "down";
      this.stats.errors++;
    }
    this.#recordLatency(instant ? 0 : performance.now() - started);
    this.stats.reads++;
    if (opts?.quiet) this.#keep(reading);
    else this.publish(reading);
    return reading;
  }

  /** Reads values, throwing a {@linkcode DeviceError} when the device fails (for one-shot verbs). */
  async read(names?: readonly string[], opts?: SampleOptions): Promise<Values> {
    const r = await this.sample(names, opts);
    if (r.error !== undefined) throw new DeviceError(r.error, this.name);
    return r.values;
  }

  /**
   * Validates `value` against the attribute (before any I/O), writes it through the queue and
   * returns the read-back of that attribute.
   */
  async write(name: string, value: unknown, opts?: SampleOptions): Promise<Value> {
    const attr = findAttr(await this.attrs(opts), name, this.name);
    const v = validateWrite(attr, value);
    await this.exclusive(() => this.device.write(name, v, opts), opts?.signal);
    this.stats.writes++;
    DeviceManager.changes++;
    const back = await this.read([name], opts);
    return back[name] ?? null;
  }

  /** Caches a reading and hands it to every subscriber (also used for pushed monitor updates). */
  publish(reading: Reading): void {
    this.#keep(reading);
    // The listeners as they were when this reading came (one that adds or removes a listener
    // changes the next reading's): no iterator or closure per reading (thousands a second).
    const listeners = this.#fanOut;
    listeners(reading);
    const subscribers = this.#subscribers;
    if (subscribers !== undefined && subscribers.size > 0) {
      subscribers.forEach((feed) => feed.push(reading));
    }
  }

  /**
   * Calls `fn` synchronously with every reading (for recorders and alarm engines that must see
   * everything and are cheap); returns a function that removes the listener.
   */
  onReading(fn: (reading: Reading) => void): () => void {
    // concat, not a spread: a spread's array was made with room for 16 (~150 bytes per device).
    if (!this.#listenerList.includes(fn)) {
      this.#listenerList = this.#listenerList.concat(fn);
      this.#fanOut = fanOut(this.#listenerList);
    }
    return () => {
      if (!this.#listenerList.includes(fn)) return false;
      this.#listenerList = this.#listenerList.filter((f) => f !== fn);
      this.#fanOut = fanOut(this.#listenerList);
      return true;
    };
  }

  /**
   * Follows a device that pushes its updates (`Device.subscribe`, e.g. EPICS monitors): every
   * update is published like a sampled reading (one the device says failed, with its error,
   * and the device shown down), then handed to `onUpdate`.
   */
  async followPushed(
    attrs: string[] | undefined,
    onUpdate: (reading: Reading) => void,
    opts?: { timeout?: number },
  ): Promise<Subscription> {
    if (!this.device.subscribe) {
      throw new UsageError(`${this.name} does not push updates; sample it instead`);
    }
    const pushes = this.device.pushes === true;
    return await this.device.subscribe(attrs, (values, t, error) => {
      const reading: Reading = error === undefined
        ? { t, device: this.name, values }
        : { t, device: this.name, values, error };
      this.state = error === undefined ? "up" : "down";
      if (pushes) {
        // A device that pushes every reading its source takes (stamped by the source) counts
        // each as a read whose latency is the reading's age on arrival: for a polled device,
        // the same "taken at t, here at t + latency".
        this.#recordLatency(Math.max(0, Date.now() - t * 1000));
        this.stats.reads++;
        if (error !== undefined) this.stats.errors++;
      }
      this.publish(reading);
      onUpdate(reading);
    }, opts);
  }

  /** Subscribes to readings; the feed holds at most `capacity` undelivered readings. */
  subscribe(capacity = 1024): Feed<Reading> {
    const subscribers = this.#subscribers ??= new Set();
    const feed: Feed<Reading> = new Feed<Reading>(capacity, () => subscribers.delete(feed));
    subscribers.add(feed);
    return feed;
  }

  /** Number of live subscribers. */
  get subscriberCount(): number {
    return this.#subscribers?.size ?? 0;
  }

  /** Ends every subscription and closes the device (after queued calls finish). */
  close(): Promise<void> {
    if (this.#subscribers !== undefined && this.#subscribers.size > 0) {
      for (const feed of [...this.#subscribers]) feed.close();
    }
    // a queued call's failure went to its caller; closing only waits for the queue to drain
    if (this.#queued > 0) {
      return this.#tailPromise().then(CLOSE, CLOSE).then(() => this.device.close());
    }
    // An idle device (every one of a finished `read`) closes without an async frame here.
    try {
      return this.device.close();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #recordLatency(ms: number): void {
    this.stats.lastLatencyMs = ms;
    this.stats.latencySumMs += ms;
    // One count per read, in its own bucket: counting it in every bucket above (cumulative, as
    // Prometheus shows them) was twelve increments for an instant reading, every `GET /read`.
    for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) {
      if (ms <= LATENCY_BUCKETS_MS[i]!) {
        this.stats.latencyBuckets[i]!++;
        return;
      }
    }
  }
}
