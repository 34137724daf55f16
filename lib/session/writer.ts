/**
 * The batched sample writer: values are held in memory (a row buffer here, or the ring below)
 * and written by one transaction per flush with prepared multi-row inserts. A flush happens
 * `flushDelayMs` after the first unwritten row (so a tick's burst of readings is written in the
 * quiet time before the next tick, and a kill -9 loses at most that delay) and at once when a
 * batch reaches `maxBatch` rows.
 *
 * The SQLite work runs in a worker that owns the writing connection (`write_worker.ts`) when the
 * writer is given one: the recording thread only puts rows in a ring in shared memory
 * (`row_ring.ts`), which the worker drains on its own timer (the recording thread rings its
 * doorbell only when it sleeps after a quiet period). Without a worker the same
 * flusher writes on this thread, a timed flush in slices of a few hundred rows with an event-loop
 * turn between them. Explicit flushes, retries and the close wait for the write either way, so
 * a flush that throws means the database refused.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Value } from "../device/attr.ts";
import { type Flushed, type FlusherOptions, ROWS_PER_SLICE, SampleFlusher } from "./flusher.ts";
import { Outage, type WriterOutage } from "./outage.ts";
import { type EventRow, RowBuffer, type RowPage } from "./row_buffer.ts";
import { type RingMemory, ringMemory, RingReader, type RingSize, RingWriter } from "./row_ring.ts";
import { NO_FIGURES, type WorkerAnswer, type WorkerFigures, WriteWorker } from "./write_worker.ts";

export type { EventRow };

/**
 * Default delay of a flush, ms: what a kill -9 loses at most. Each commit costs its writer about
 * the same whatever it holds, most of it the worker waking up for it rather than the commit
 * (with 200 rows a drain: 0.26–0.39 ms in the drain and its transaction, 1.2–1.5 ms of the
 * worker's CPU between drains; a thread waking from a 100 ms sleep is charged that much on this
 * project's VMs), so fewer, larger commits are cheaper: at 100 ms instead of 25 the worker spent
 * 30–45 % less CPU per recorded `GET /read` (~1.2 µs of ~3–4) and `serve` recording 100 gauges at
 * 10 Hz with no request ~20 % less (5.9 → 4.7 % of a core), in alternating pairs. Longer (250 ms
 * for `serve`) saved ~0.1–0.35 µs a `/read` but made each drain a longer burst on the core wrk
 * and the answering thread share (p99 higher in 3 of 4 pairs): not kept.
 */
export const FLUSH_DELAY_MS = 100;

/** Options of a {@linkcode SampleWriter}. */
export interface WriterOptions {
  /**
   * Delay between the first unwritten row and its flush, ms (default
   * {@linkcode FLUSH_DELAY_MS}, at most 1000).
   */
  flushDelayMs?: number;
  /** Rows that trigger an immediate flush (default 50,000). */
  maxBatch?: number;
  /**
   * Called when writing starts failing (disk full, permissions, a file system gone read-only):
   * once per outage, with the first error. The rows stay buffered (see `maxBufferedRows`) and
   * the writer retries with backoff until a write succeeds, then calls `onRecover`.
   */
  onError?: (err: unknown) => void;
  /** Called when a write succeeds again after `onError`, with what the outage cost. */
  onRecover?: (outage: WriterOutage) => void;
  /**
   * Most samples held in memory while writes fail (default 500,000: about 12 MB of numbers);
   * samples beyond it are dropped and counted (`stats.dropped`), never silently lost.
   */
  maxBufferedRows?: number;
  /** Most events held in memory while writes fail (default 10,000); beyond, dropped and counted. */
  maxBufferedEvents?: number;
  /** First retry delay after a failed write, ms (default 1000); doubles up to `retryMaxMs`. */
  retryMinMs?: number;
  /** Longest retry delay, ms (default 30,000). */
  retryMaxMs?: number;
  /**
   * Least time between two updates of the per-attribute counts (`attr_stats`), ms (default
   * 10 s). Updating 2,000 counters every flush would cost more than the samples themselves;
   * rows not yet counted are folded in by readers and by the next open (`stats_row`).
   */
  statsEveryMs?: number;
  /** Time a chunk (the sparse time index: one row per span of flushes) covers, ms (default 1000). */
  chunkMs?: number;
  /** Called before each flush writes (the recorder coalesces gap events here). */
  beforeFlush?: () => void;
  /**
   * Called before each flush; a throw fails the flush like a refused write (the store uses it
   * to notice a session file that was removed: SQLite would go on writing into the deleted file).
   */
  check?: () => void;
  /**
   * Size of the ring the samples go to the worker through (default 65,536 rows and 512 kB of
   * text). A row that finds it full is handed over at once (a flush, or while writes fail a
   * hold: the worker takes the ring's rows and keeps them, within `maxBufferedRows`).
   */
  ring?: RingSize;
}

/** Figures of a writer. */
export interface WriterStats {
  /** Failed write attempts (each failed flush or retry counts one). */
  errors: number;
  /** Samples dropped because writes failed for longer than the buffer holds. */
  dropped: number;
  /** Events dropped for the same reason. */
  droppedEvents: number;
  /** Samples written. */
  samples: number;
  /** Events written. */
  events: number;
  /** Flushes (transactions) done. */
  flushes: number;
  /** Longest flush, ms. */
  maxFlushMs: number;
}

/** Where a writer's worker opens the session file (see {@linkcode SampleWriter}). */
export interface WriterWorkerOptions {
  /** Session file. */
  path: string;
  /** Statements the worker runs on each connection it opens (`PRAGMA …`). */
  pragmas: string[];
}

/** Batches samples and events and writes them in one transaction per flush. */
export class SampleWriter {
  readonly #stats: WriterStats = {
    errors: 0,
    dropped: 0,
    droppedEvents: 0,
    samples: 0,
    events: 0,
    flushes: 0,
    maxFlushMs: 0,
  };
  // Exactly one of these writes: the flusher on this thread, or the worker.
  #local: SampleFlusher | undefined;
  #remote: WriteWorker | undefined;
  // Rows not yet handed to whoever writes (the local flusher's own buffer when it writes here;
  // with a worker: events, and a row the ring had no room for, on its way in a page).
  #buf: RowBuffer;
  // With a worker: the ring the samples go through.
  #ring: RingWriter | undefined;
  readonly #ringMemory: RingMemory | undefined;
  #db: DatabaseSync;
  readonly #flusherOptions: FlusherOptions;
  // The worker's figures as last read, what was sent to it in pages so far, and the attempts
  // count of the last answer applied (an older failure, answered late, is not an outage).
  readonly #figures: WorkerFigures = { ...NO_FIGURES };
  #sentRows = 0;
  #sentEvents = 0;
  #attempts = 0;
  readonly #delay: number;
  readonly #maxBatch: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  // Set while writes fail.
  #outage: Outage | undefined;
  readonly #maxBuffered: number;
  readonly #maxEvents: number;
  // Rows put() into the ring since the last publish() (which checks the batch and arms).
  #putSince = false;

  /**
   * Prepares the writer against an open, migrated session database. With `worker`, the writes
   * go through a worker's own connection to that file (this thread waits for it only on explicit
   * flushes); when no worker can start, they are written on `db` here.
   */
  constructor(
    db: DatabaseSync,
    readonly segmentId: number,
    readonly options: WriterOptions = {},
    worker?: WriterWorkerOptions,
  ) {
    this.#delay = Math.min(1000, Math.max(0, options.flushDelayMs ?? FLUSH_DELAY_MS));
    this.#maxBatch = options.maxBatch ?? 50_000;
    this.#maxBuffered = Math.max(this.#maxBatch, options.maxBufferedRows ?? 500_000);
    this.#maxEvents = options.maxBufferedEvents ?? 10_000;
    this.#db = db;
    const flusher = this.#flusherOptions = {
      segmentId,
      maxBatch: this.#maxBatch,
      statsEveryMs: options.statsEveryMs ?? 10_000,
      chunkMs: options.chunkMs ?? 1000,
    };
    const ring = this.#ringMemory = worker && ringMemory(options.ring);
    this.#remote = ring &&
      WriteWorker.start(
        { ...worker!, flusher, ring, delayMs: this.#delay },
        (answer) => this.#answered(answer),
      );
    this.#buf = new RowBuffer();
    if (this.#remote) this.#ring = new RingWriter(ring!);
    else {
      this.#local = new SampleFlusher(db, flusher);
      this.#buf = this.#local.rows;
    }
  }

  /**
   * The worker, once it runs (its ring is then live, and what it holds published: the rows put
   * since are published by {@linkcode SampleWriter.publish} or here again); undefined while it
   * starts (unless `wait`) and when the writes are on this thread. A worker that could not start hands over to a flusher here (nothing was
   * written there yet, so nothing is lost).
   */
  #worker(wait: boolean): WriteWorker | undefined {
    const remote = this.#remote;
    if (!remote) return undefined;
    const ready = remote.ready(wait);
    if (ready === undefined) return undefined;
    if (ready) {
      this.#ring!.live();
      return remote;
    }
    remote.terminate();
    this.#remote = undefined;
    const local = this.#local = new SampleFlusher(this.#db, this.#flusherOptions);
    // Nothing was drained by the worker: the ring's rows, then the page's, are all still here.
    this.#ring!.publish();
    new RingReader(this.#ringMemory!).drain(local);
    local.absorb(this.#buf.takePage());
    this.#buf = local.rows;
    this.#ring = undefined;
    return undefined;
  }

  /** Running figures (with a worker: as it last published them). */
  get stats(): WriterStats {
    const remote = this.#remote;
    if (remote) {
      const f = remote.figures(this.#figures);
      const s = this.#stats;
      s.samples = f.samples;
      s.events = f.events;
      s.flushes = f.flushes;
      s.maxFlushMs = f.maxFlushMs;
    }
    return this.#stats;
  }

  /** Whether the worker sleeps until the next timed flush rings for it (false without one). */
  get workerSleeps(): boolean {
    return this.#ring?.drainerSleeps ?? false;
  }

  /** Whether the writes run in a worker (false: on this thread); waits for it to start. */
  get inWorker(): boolean {
    return this.#worker(true) !== undefined;
  }

  /**
   * Goes on writing into `db`, a new file holding the same device, attribute and segment ids
   * (the session file was removed and recreated): what is buffered is written there, the
   * per-attribute counts start again from what is still buffered, and chunks start afresh.
   * A worker opens the file at its path again.
   */
  reopen(db: DatabaseSync): void {
    this.#db = db;
    if (this.#local) this.#local.reopen(db);
    else this.#remote!.post({ kind: "reopen" });
  }

  /**
   * Lets go of the session file before it is replaced (the worker closes its connection and
   * waits for {@linkcode SampleWriter.reopen}); what is buffered stays.
   */
  detach(): void {
    const remote = this.#worker(true);
    if (!remote) return;
    try {
      this.#answer(remote.request({ kind: "detach" }));
    } catch { /* a worker that cannot close its connection holds nothing of the new file */ }
  }

  /**
   * Runs `sql` (a `PRAGMA`) on the worker's connection, and on any it opens later (without a
   * worker the writer writes on the caller's own connection: nothing to do).
   */
  pragma(sql: string): void {
    this.#remote?.post({ kind: "pragma", sql });
  }

  /** The error writes fail with while the store is failing, else undefined. */
  get failure(): unknown {
    return this.#outage?.last;
  }

  /** When the current outage began (epoch seconds), or undefined while writes succeed. */
  get failingSince(): number | undefined {
    return this.#outage?.since;
  }

  /** Samples not yet written (here, in the ring, on their way to the worker, or held by it). */
  get #rows(): number {
    if (!this.#remote) return this.#buf.rows;
    const f = this.#remote.figures(this.#figures);
    return this.#buf.rows + this.#ring!.put + this.#sentRows - f.received + f.heldRows;
  }

  /** Events not yet written. */
  get #eventsPending(): number {
    if (!this.#remote) return this.#buf.events.length;
    const f = this.#remote.figures(this.#figures);
    return this.#buf.events.length + this.#sentEvents - f.receivedEvents + f.heldEvents;
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.#rows + this.#eventsPending;
  }

  /**
   * Makes the samples added so far visible to the worker, which drains on its own timer (the
   * recorder: after each reading's samples). Without it they go with the next timed flush, at
   * most one flush delay later.
   */
  publish(): void {
    const ring = this.#ring;
    if (ring === undefined) return;
    ring.commit();
    if (!this.#putSince) return;
    this.#putSince = false;
    // As add() does per row, once per batch: a full batch is flushed, else the timer armed.
    const max = this.#maxBatch;
    if (this.#outage === undefined && ring.held >= max && ring.heldNow() >= max) this.#tryFlush();
    else this.#arm();
  }

  /**
   * Appends one sample like {@linkcode SampleWriter.add}, leaving the full-batch check and the
   * flush timer to the next {@linkcode SampleWriter.publish} (the recorder's, after a reading's
   * samples): a row into the ring is then its store alone, not those checks per value.
   */
  put(t: number, attrId: number, v: Value): void {
    const ring = this.#ring;
    if (ring !== undefined && this.#outage === undefined && ring.add(t, attrId, v)) {
      this.#putSince = true;
      return;
    }
    this.add(t, attrId, v);
  }

  /**
   * Puts the values of one reading (`t` epoch seconds) whose names are `names` in order, with
   * the ids `ids`, like {@linkcode SampleWriter.put} of each (the batch check and the timer
   * left to {@linkcode SampleWriter.publish}). Returns how many it put when it put them all,
   * `-1 - k` when it stopped before the `k`-th value (a name not `names[k]`; no ring, or an
   * outage, or a row the ring has no room for: then `add`'s way), the rest being the caller's.
   */
  putValues(
    t: number,
    values: Record<string, Value>,
    names: readonly string[],
    ids: readonly number[],
  ): number {
    const ring = this.#ring;
    if (ring === undefined || this.#outage !== undefined) return -1;
    const done = ring.putValues(t, values, names, ids);
    if (done !== 0 && done !== -1) this.#putSince = true;
    return done;
  }

  /** Appends one sample (`t` epoch seconds) of attribute id `attrId`. */
  add(t: number, attrId: number, v: Value): void {
    if (this.#outage && this.#rows >= this.#maxBuffered) {
      this.#stats.dropped++;
      this.#outage.dropped++;
      return;
    }
    const ring = this.#ring;
    if (this.#local) this.#local.add(t, attrId, v);
    else if (!ring!.add(t, attrId, v)) {
      // No room in the ring (or a text longer than it): handed over at once with what it holds.
      this.#buf.add(t, attrId, v);
      this.#handOver();
      return;
    }
    const max = this.#maxBatch;
    // While failing, only the retry timer writes: a sampling thread never waits on a bad disk.
    // The ring's held is an upper bound: the worker may have drained it since its room was
    // last looked at, so a full batch is asked of heldNow before the flush.
    if (
      !this.#outage &&
      (ring ? ring.held >= max && ring.heldNow() >= max : this.#buf.rows >= max)
    ) this.#tryFlush();
    else this.#arm();
  }

  /**
   * Gives the worker what the ring and the page hold, waiting for it: a flush, or while writes
   * fail a hold (the worker keeps the rows; the retry timer writes them).
   */
  #handOver(): void {
    if (!this.#outage) {
      this.#tryFlush();
      return;
    }
    const remote = this.#worker(true);
    if (!remote) return; // a flusher here took the rows over
    const page = this.#page();
    try {
      this.#answer(remote.request({ kind: "hold", page }, page ? [page.num.buffer] : []));
    } catch (err) {
      this.#failed(err);
    }
  }

  /** Queues an event; it is written with the next flush. */
  event(e: EventRow): void {
    if (this.#outage && this.#eventsPending >= this.#maxEvents) {
      this.#stats.droppedEvents++;
      this.#outage.droppedEvents++;
      return;
    }
    this.#buf.events.push(e);
    this.#arm();
  }

  /**
   * Flushes like {@linkcode SampleWriter.flush} but never throws: a failure starts (or continues)
   * an outage, retried with backoff. Returns whether the buffer is written.
   */
  tryFlush(): boolean {
    return this.#tryFlush();
  }

  /** Makes sure a flush is scheduled (e.g. after a gap was noted by `beforeFlush`'s owner). */
  arm(): void {
    this.#arm();
  }

  /** Writes everything buffered in one transaction; throws when the database refuses. */
  flush(final = false): void {
    this.#flush(final, Infinity);
  }

  /**
   * Writes the oldest `limit` rows buffered (numbers first) and every event in one transaction,
   * here or (everything buffered) in the worker, waiting for it.
   */
  #flush(final: boolean, limit: number): void {
    // Before clearing the timer: events queued by the hook must not arm a second flush.
    this.options.beforeFlush?.();
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.pending > 0) this.options.check?.();
    const remote = this.#worker(true);
    if (remote) {
      const page = this.#page();
      const answer = remote.request(
        { kind: "write", page, final },
        page ? [page.num.buffer] : [],
      );
      this.#answer(answer);
      if (answer.error !== undefined) throw answer.error;
    } else {
      const done = this.#local!.write(final, limit);
      if (done) this.#wrote(done);
    }
    if (this.#outage) this.#recovered();
  }

  /** Hands what is buffered here over as a page for the worker, counted as sent (if any). */
  #page(): RowPage | undefined {
    const buf = this.#buf;
    if (buf.rows === 0 && buf.events.length === 0) return undefined;
    this.#sentRows += buf.rows;
    this.#sentEvents += buf.events.length;
    return buf.takePage();
  }

  #wrote(done: Flushed): void {
    const s = this.#stats;
    s.samples += done.samples;
    s.events += done.events;
    s.flushes++;
    if (done.ms > s.maxFlushMs) s.maxFlushMs = done.ms;
  }

  /**
   * Notes the worker's attempts count from an answer newer than the last one taken; returns
   * false for an older one (a timed write's failure answered after a later waited-for request).
   */
  #answer(answer: WorkerAnswer): boolean {
    if (answer.attempts < this.#attempts) return false;
    this.#attempts = answer.attempts;
    return true;
  }

  /** A timed write failed in the worker: an outage starts, like a failed flush. */
  #answered(answer: WorkerAnswer): void {
    if (this.#answer(answer) && answer.error !== undefined && !this.#closed) {
      this.#failed(answer.error);
    }
  }

  /**
   * Flushes and stops the timer (and the worker); later adds throw. Throws when the last flush
   * fails (what was still buffered is then lost, and counted in `stats.dropped`).
   */
  close(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      this.flush(true);
    } catch (err) {
      this.#stats.errors++;
      this.#stats.dropped += this.#rows;
      this.#stats.droppedEvents += this.#eventsPending;
      this.#closed = true;
      this.#stop();
      throw err;
    }
    this.#closed = true;
    this.#stop();
  }

  #stop(): void {
    if (!this.#remote?.ready(false)) {
      this.#remote?.terminate();
      return;
    }
    try {
      this.#remote.request({ kind: "close" });
    } catch { /* it is stopped below either way */ }
    this.#remote.terminate();
  }

  /**
   * Counts a failed write made beside the writer (a device or task row): it starts or continues
   * an outage like a failed flush, so health checks see it and the retry timer runs.
   */
  reportFailure(err: unknown): void {
    this.#failed(err);
  }

  #tryFlush(limit = Infinity): boolean {
    try {
      this.#flush(false, limit);
      return true;
    } catch (err) {
      this.#failed(err);
      return false;
    }
  }

  #failed(err: unknown): void {
    this.#stats.errors++;
    const first = this.#outage === undefined;
    this.#outage ??= new Outage(err, this.options.retryMinMs ?? 1000);
    const retryMs = this.#outage.failed(err, this.options.retryMaxMs ?? 30_000);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (!this.#closed) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#tryFlush();
      }, retryMs);
    }
    if (first) this.options.onError?.(err);
  }

  #recovered(): void {
    const outage = this.#outage!.summary();
    this.#outage = undefined;
    this.options.onRecover?.(outage);
  }

  #arm(): void {
    if (this.#closed) throw new Error("session writer is closed");
    // While failing, the retry timer is armed already (and must keep its backoff).
    if (this.#timer !== undefined || this.#outage !== undefined) return;
    this.#timer = setTimeout(this.#timed, this.#delay);
  }

  /**
   * The timed flush. To a worker: its doorbell rung if it sleeps (else it drains the ring on its
   * own timer, in slices), events posted in a page. Here: a slice, and the next one soon while
   * a burst is still buffered.
   */
  readonly #timed = (): void => {
    this.#timer = undefined;
    const remote = this.#worker(false);
    if (remote) {
      this.options.beforeFlush?.();
      try {
        if (this.pending > 0) this.options.check?.();
      } catch (err) {
        this.#failed(err);
        return;
      }
      this.#ring!.wake();
      const page = this.#page();
      if (page) remote.post({ kind: "write", page, final: false }, [page.num.buffer]);
      return;
    }
    if (this.#remote) {
      // Starting: these rows wait for the next turn.
      this.#arm();
      return;
    }
    if (!this.#tryFlush(ROWS_PER_SLICE) || this.#closed) return;
    if (this.#buf.rows >= ROWS_PER_SLICE) this.#timer = setTimeout(this.#timed, 0);
    else if (this.#buf.rows > 0 || this.#buf.events.length > 0) this.#arm();
  };
}
