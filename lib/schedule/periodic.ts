/**
 * Drift-free periodic timing: tick k is due at `start + k × interval` (absolute deadlines), so
 * error never accumulates over days. When work overruns past later deadlines, those deadlines
 * are counted as missed and reported on the next tick — never silently skipped.
 *
 * @module
 */
import { onTimeout } from "./timer.ts";

/** One tick of a {@linkcode Schedule}. */
export interface Tick {
  /** Tick number, counting deadlines (missed ones included) from 0. */
  index: number;
  /** The deadline, in `performance.now()` milliseconds. */
  deadline: number;
  /** The deadline as Unix epoch milliseconds. */
  deadlineEpochMs: number;
  /** How late the tick fired, in ms (≥ 0). */
  lateness: number;
  /** Deadlines missed (overrun) just before this one. */
  missed: number;
}

/** Options of a schedule. */
export interface ScheduleOptions {
  /** Stops the schedule. */
  signal?: AbortSignal;
  /** Number of ticks to deliver (missed deadlines count towards it). */
  count?: number;
  /** Milliseconds after the start after which no tick is delivered. */
  duration?: number;
  /** When the first deadline is, in `performance.now()` ms; default now. */
  start?: number;
}

/** Statistics a schedule keeps. */
export interface ScheduleStats {
  /** Ticks delivered. */
  ticks: number;
  /** Deadlines missed because work overran. */
  missed: number;
  /** Largest lateness seen, ms. */
  maxLateness: number;
}

/**
 * Returns a promise resolving after `ms`, in whole milliseconds as timers count them (or at once
 * when `signal` aborts). The timer is an `AbortSignal.timeout`, the runtime's own timer: on Deno
 * 2.9.6 `setTimeout` is Node's, loaded on first use (~16 ms, see `./timer.ts`), which a verb that
 * sleeps only now and then (a scan's settle time, a write's read-back, a session's tail) need not
 * pay. A loop that sleeps many times a second in a verb that has Node's timers loaded anyway (the
 * sampler's slots) uses `sleepOnNodeTimer` (`./timer.ts`) instead: its wake-up costs less.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    // Whole milliseconds, truncated as `setTimeout` does (a schedule's tick may come up to 1 ms
    // early, never 1 ms late: it had the same slack before).
    const timer = onTimeout(ms, done);
    function done() {
      // A timer nobody listens to no longer keeps the process alive.
      timer.removeEventListener("abort", done);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * A periodic schedule on absolute deadlines. Iterate it; each iteration waits for the next
 * deadline. If the loop body overran one or more deadlines, the next tick reports them in
 * `missed` and lands on the next deadline still in the future.
 *
 * @example
 * ```ts
 * import { Schedule } from "./periodic.ts";
 * for await (const tick of new Schedule(10, { count: 3 })) console.log(tick.index, tick.missed);
 * ```
 */
export class Schedule implements AsyncIterable<Tick> {
  /** Running statistics. */
  readonly stats: ScheduleStats = { ticks: 0, missed: 0, maxLateness: 0 };
  readonly #start: number;
  readonly #epochOffset: number;

  /** Creates a schedule with ticks every `interval` ms. */
  constructor(readonly interval: number, readonly options: ScheduleOptions = {}) {
    if (!(interval > 0)) throw new RangeError(`interval must be > 0 ms, got ${interval}`);
    this.#start = options.start ?? performance.now();
    this.#epochOffset = Date.now() - performance.now();
  }

  /** The deadline of tick `k` in `performance.now()` ms. */
  deadline(k: number): number {
    return this.#start + k * this.interval;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Tick> {
    const { signal, count, duration } = this.options;
    let k = 0;
    while (!signal?.aborted) {
      if (count !== undefined && k >= count) return;
      let deadline = this.deadline(k);
      // Offsets from the start, not `deadline - start`: that difference of two large floats
      // came out just under k × interval (999.9999999998 for 5 × 200 ms), and a 1 s task at
      // 200 ms took a sixth sample at its end now and then.
      if (duration !== undefined && k * this.interval >= duration) return;
      let now = performance.now();
      let missed = 0;
      // The body overran: every deadline already past except the latest is missed.
      if (now - deadline >= this.interval) {
        missed = Math.floor((now - deadline) / this.interval);
        if (count !== undefined) missed = Math.min(missed, count - k);
        // Deadlines at or past the end of the duration were never due.
        if (duration !== undefined) {
          missed = Math.min(missed, Math.ceil(duration / this.interval) - k);
        }
        k += missed;
        this.stats.missed += missed;
        if (count !== undefined && k >= count) return;
        deadline = this.deadline(k);
        if (duration !== undefined && k * this.interval >= duration) return;
      }
      if (deadline > now) {
        await sleep(deadline - now, signal);
        if (signal?.aborted) return;
        now = performance.now();
      }
      const lateness = Math.max(0, now - deadline);
      if (lateness > this.stats.maxLateness) this.stats.maxLateness = lateness;
      this.stats.ticks++;
      yield {
        index: k,
        deadline,
        deadlineEpochMs: deadline + this.#epochOffset,
        lateness,
        missed,
      };
      k++;
    }
  }
}
