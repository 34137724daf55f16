/**
 * Where a run's points go as they come: the latest few kept in memory (for `ScanRun.points`),
 * and every one written to the session store in batched transactions — a batch when it is full
 * or when its first point has waited `flushMs`. A scan of any length so runs in flat memory.
 *
 * @module
 */
import type { ScanPoint, ScanStore } from "../session/scan_store.ts";

/** How a {@linkcode PointLog} keeps and writes points. */
export interface PointLogOptions {
  /** Records the points; without it they are only kept in memory. */
  store?: ScanStore;
  /** Latest points kept in memory; 0 keeps only those not written yet. */
  keep: number;
  /** Points per store transaction at most (default 1000). */
  batch?: number;
  /** Longest time a point waits before it is written, ms (default 250). */
  flushMs?: number;
}

/** The points of one run: a bounded in-memory tail, and batched writes to the store. */
export class PointLog {
  /** The scan the points are written to (set once the store made it). */
  id: number | undefined;
  readonly #opts: PointLogOptions;
  #buffer: ScanPoint[] = [];
  #recent: ScanPoint[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;

  /** A log that keeps and writes as `opts` say. */
  constructor(opts: PointLogOptions) {
    this.#opts = opts;
  }

  /** The latest points (at most `keep`; with `keep` 0, those not written yet), in order. */
  get points(): ScanPoint[] {
    const keep = this.#opts.keep;
    if (keep === 0) return this.#buffer.slice();
    return this.#recent.length > keep ? this.#recent.slice(-keep) : this.#recent.slice();
  }

  /** Keeps `point` and queues it for the store. */
  add(point: ScanPoint): void {
    const keep = this.#opts.keep;
    if (keep > 0) {
      this.#recent.push(point);
      if (this.#recent.length >= 2 * keep) this.#recent = this.#recent.slice(-keep);
    }
    const store = this.#opts.store;
    if (!store || this.id === undefined) return;
    this.#buffer.push(point);
    if (this.#buffer.length >= (this.#opts.batch ?? 1000)) this.flush();
    else if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => this.flush(), this.#opts.flushMs ?? 250);
    }
  }

  /** Writes the queued points now (the end of a run). */
  flush(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#buffer.length === 0 || this.id === undefined) return;
    const batch = this.#buffer;
    this.#buffer = [];
    this.#opts.store!.addPoints(this.id, batch);
  }
}
