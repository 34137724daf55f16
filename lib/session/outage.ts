/**
 * An outage of the session store as the writer lives through it: when writes started failing and
 * with what, the last error, what the outage cost (failed attempts, dropped samples and events),
 * and the retry delay, doubling from a first delay up to a longest one.
 *
 * @module
 */

/** What an outage of the store cost, told to `onRecover`. */
export interface WriterOutage {
  /** When writes started failing, epoch seconds. */
  since: number;
  /** How long writes failed, ms. */
  durationMs: number;
  /** Failed write attempts during the outage. */
  errors: number;
  /** Samples dropped during the outage (the buffer was full). */
  dropped: number;
  /** Events dropped during the outage. */
  droppedEvents: number;
}

/**
 * One outage, from the first failed write to the next good one.
 *
 * @example
 * ```ts
 * import { Outage } from "./outage.ts";
 * const o = new Outage(new Error("disk full"), 1000);
 * o.failed(new Error("disk full"), 30_000); // 1000: the first retry
 * o.failed(new Error("disk full"), 30_000); // 2000
 * o.summary().errors; // 2
 * ```
 */
export class Outage {
  /** When writes started failing, epoch seconds. */
  readonly since = Date.now() / 1000;
  /** The last error writes failed with. */
  last: unknown;
  /** Failed write attempts. */
  errors = 0;
  /** Samples dropped. */
  dropped = 0;
  /** Events dropped. */
  droppedEvents = 0;
  #retryMs: number;

  /** Starts an outage with its first error; retries begin `retryMinMs` after it. */
  constructor(readonly error: unknown, retryMinMs: number) {
    this.last = error;
    this.#retryMs = retryMinMs / 2;
  }

  /** Counts a failed attempt; returns how long to wait before the next (doubling, at most `retryMaxMs`). */
  failed(err: unknown, retryMaxMs: number): number {
    this.errors++;
    this.last = err;
    this.#retryMs = Math.min(retryMaxMs, this.#retryMs * 2);
    return this.#retryMs;
  }

  /** What the outage cost, as of now. */
  summary(): WriterOutage {
    return {
      since: this.since,
      durationMs: Date.now() - this.since * 1000,
      errors: this.errors,
      dropped: this.dropped,
      droppedEvents: this.droppedEvents,
    };
  }
}
