/**
 * A bounded delivery queue for one notification sink: `push` never waits (the alarm engine runs
 * inside sampling), one worker delivers items in order, failed deliveries are retried with
 * exponential backoff and logged, and `close` gives up after a bounded time.
 *
 * @module
 */
import { withDeadline } from "../device/device.ts";
import { errorMessage } from "../device/errors.ts";
import { sleep as realSleep } from "../schedule/periodic.ts";

/** Options of a {@linkcode RetryQueue}. */
export interface RetryQueueOptions {
  /** Items kept waiting; beyond it the oldest are dropped (default 100). */
  capacity?: number;
  /** Items handed to one delivery (default 1). */
  maxBatch?: number;
  /** Retries after a failed attempt before the items are given up (default 5). */
  retries?: number;
  /** First backoff in ms, doubled after each failure (default 1000). */
  baseDelay?: number;
  /** Longest backoff in ms (default 60 000). */
  maxDelay?: number;
  /** Milliseconds one delivery attempt may take (default 30 000). */
  timeout?: number;
  /** Log lines (failures, drops); default stderr. */
  log?: (line: string) => void;
  /** Waits between attempts; tests replace it to record backoff without waiting. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Counters of a {@linkcode RetryQueue}. */
export interface RetryQueueStats {
  /** Items delivered. */
  delivered: number;
  /** Items given up after all retries (or at close). */
  failed: number;
  /** Items dropped because the queue was full. */
  dropped: number;
  /** Failed attempts that were retried. */
  retried: number;
  /** Items waiting now, the one being delivered included. */
  queued: number;
}

/**
 * Delivers pushed items in order through `deliver`, with retries and a bounded backlog.
 *
 * @example
 * ```ts
 * import { RetryQueue } from "./retry_queue.ts";
 * const q = new RetryQueue<string>("print", (items) => {
 *   console.log(items.join());
 *   return Promise.resolve();
 * });
 * q.push("hello");
 * await q.close();
 * ```
 */
export class RetryQueue<T> {
  // Waiting items are #items[#head…]; dropping the oldest advances #head (O(1), no shift()).
  #items: T[] = [];
  #head = 0;
  #inFlight = 0;
  #worker: Promise<void> | undefined;
  #hurry = new AbortController();
  #stop = new AbortController();
  #closed = false;
  #droppedBurst = 0;
  #capacity: number;
  #maxBatch: number;
  #retries: number;
  #baseDelay: number;
  #maxDelay: number;
  #timeout: number;
  #log: (line: string) => void;
  #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Counters (queued is computed by {@linkcode RetryQueue.stats}). */
  readonly #stats = { delivered: 0, failed: 0, dropped: 0, retried: 0 };

  /** Creates a queue named `name` (used in log lines) delivering through `deliver`. */
  constructor(
    readonly name: string,
    readonly deliver: (items: T[], signal: AbortSignal) => Promise<void>,
    opts: RetryQueueOptions = {},
  ) {
    this.#capacity = Math.max(1, opts.capacity ?? 100);
    this.#maxBatch = Math.max(1, opts.maxBatch ?? 1);
    this.#retries = Math.max(0, opts.retries ?? 5);
    this.#baseDelay = opts.baseDelay ?? 1000;
    this.#maxDelay = opts.maxDelay ?? 60_000;
    this.#timeout = opts.timeout ?? 30_000;
    this.#log = opts.log ?? ((line) => console.error(line));
    this.#sleep = opts.sleep ?? realSleep;
  }

  /** Queues an item; returns at once. Ignored after {@linkcode RetryQueue.close}. */
  push(item: T): void {
    if (this.#closed) return;
    this.#items.push(item);
    if (this.#items.length - this.#head > this.#capacity) {
      this.#items[this.#head++] = undefined as T; // let it be collected
      if (this.#head >= this.#capacity) {
        // Compact now and then, so a sink stuck for hours cannot grow the array of holes.
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      this.#stats.dropped++;
      if (this.#droppedBurst++ === 0) {
        this.#log(`notify ${this.name}: queue full (${this.#capacity}), dropping the oldest items`);
      }
    }
    this.#worker ??= this.#run().finally(() => (this.#worker = undefined));
  }

  /** Resolves once everything queued so far has been delivered or given up. */
  async drained(): Promise<void> {
    while (this.#worker) await this.#worker;
  }

  /** Current counters. */
  stats(): RetryQueueStats {
    return { ...this.#stats, queued: this.#items.length - this.#head + this.#inFlight };
  }

  /**
   * Stops accepting items and delivers what is queued without further backoff waits; after
   * `timeoutMs` the attempt in progress is aborted and the rest is counted as failed.
   */
  async close(timeoutMs = 5000): Promise<void> {
    this.#closed = true;
    this.#hurry.abort();
    const worker = this.#worker;
    if (worker) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.#stop.abort(new Error(`still undelivered after ${timeoutMs} ms at close`));
          resolve();
        }, timeoutMs);
      });
      await Promise.race([worker, deadline]);
      clearTimeout(timer);
      this.#stop.abort(new Error("closed"));
      await worker;
    }
    const left = this.#items.length - this.#head;
    if (left > 0) {
      this.#stats.failed += left;
      this.#items = [];
      this.#head = 0;
      this.#log(`notify ${this.name}: closed with ${left} undelivered item${left > 1 ? "s" : ""}`);
    }
  }

  async #run(): Promise<void> {
    // Deliver after the caller's synchronous code: push() runs inside AlarmEngine.observe(),
    // which must not pay for spawning a process or opening a socket.
    await null;
    while (this.#items.length > this.#head && !this.#stop.signal.aborted) {
      const batch = this.#items.slice(this.#head, this.#head + this.#maxBatch);
      this.#items = this.#items.slice(this.#head + batch.length);
      this.#head = 0;
      this.#inFlight = batch.length;
      this.#droppedBurst = 0;
      await this.#attempt(batch);
      this.#inFlight = 0;
    }
  }

  async #attempt(batch: T[]): Promise<void> {
    const n = batch.length;
    for (let attempt = 0;; attempt++) {
      try {
        await withDeadline(
          { signal: this.#stop.signal, timeout: this.#timeout },
          this.#timeout,
          "sink",
          (signal) => this.deliver(batch, signal),
        );
        this.#stats.delivered += n;
        if (attempt > 0) this.#log(`notify ${this.name}: delivered after ${attempt + 1} attempts`);
        return;
      } catch (err) {
        const what = `notify ${this.name}: delivery of ${n} item${n > 1 ? "s" : ""} failed`;
        if (this.#stop.signal.aborted) {
          this.#stats.failed += n;
          this.#log(`${what}: ${errorMessage(err)}; giving up (closing)`);
          return;
        }
        if (attempt >= this.#retries) {
          this.#stats.failed += n;
          this.#log(`${what} ${attempt + 1} times: ${errorMessage(err)}; giving up`);
          return;
        }
        this.#stats.retried++;
        const delay = Math.min(this.#maxDelay, this.#baseDelay * 2 ** attempt);
        const hurry = this.#hurry.signal.aborted;
        this.#log(
          `${what} (attempt ${attempt + 1}/${this.#retries + 1}): ${errorMessage(err)}; ${
            hurry ? "retrying now (closing)" : `retrying in ${formatDelay(delay)}`
          }`,
        );
        if (!hurry) await this.#sleep(delay, this.#hurry.signal);
      }
    }
  }
}

function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${+(ms / 1000).toFixed(1)} s`;
}
