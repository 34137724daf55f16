/**
 * The batched sample writer: values are appended to in-memory pages and written by one
 * transaction per flush with prepared multi-row inserts. A flush happens `flushDelayMs` after the
 * first unwritten row (so a tick's burst of readings is written in the quiet time before the next
 * tick, and a kill -9 loses at most that delay) and at once when a batch reaches `maxBatch` rows.
 * A timed flush writes a burst in slices of a few hundred rows with an event-loop turn between
 * them, so a daemon's requests never wait long behind SQLite.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Value } from "../device/attr.ts";
import { AttrCounts } from "./attr_counts.ts";
import { Outage, type WriterOutage } from "./outage.ts";
import { textOf } from "./value_codec.ts";

/**
 * Rows per multi-row insert statement, largest first: a flush writes 64 rows to a statement,
 * and what is left over (fewer than 64) in at most one statement of each smaller size. One
 * statement per left-over row cost more than its time: every node:sqlite call given a freshly
 * boxed number leaves ~50 bytes of garbage in V8's old generation (--trace-gc-nvp: 200,000
 * one-row inserts, 9 MB freed only by mark-compacts), and a 25 ms flush of 100 gauges' samples
 * wrote most of them one by one.
 */
const STATEMENT_ROWS = [64, 32, 16, 8, 4, 2, 1] as const;

/**
 * Rows a timed flush writes in one transaction before the event loop gets a turn (~0.2 ms of
 * SQLite). A burst beyond it (a server answering tens of thousands of `/read`s a second records
 * each) is written in slices with a turn between them: one 2,000-row transaction held every
 * request in flight for ~1 ms, forty times a second. Each commit costs ~0.1 ms of its own (seven
 * WAL frames, ~20 pwrite/fcntl calls), so 2,048-row slices record a reading for ~0.3 µs less
 * CPU in a microbenchmark; tried in `serve`, side by side with this size on a busy machine, the
 * `/read` p99 doubled (medians 18 → 36 ms over 7 rounds) with no CPU gain visible per request.
 */
const ROWS_PER_SLICE = 8 * STATEMENT_ROWS[0];

/** An event row (alarm, device error, gap, note, start/stop). */
export interface EventRow {
  /** Epoch seconds; now if absent. */
  t?: number;
  /** `start`, `stop`, `error`, `recovered`, `gap`, `alarm`, `note`, `task`, … */
  kind: string;
  /** `info`, `minor`, `major`, … */
  severity?: string;
  /** Device concerned, if any. */
  device?: string;
  /** Attribute concerned, if any. */
  attr?: string;
  /** One human line. */
  message: string;
  /** Extra structured data (stored as JSON). */
  data?: unknown;
}

/** Options of a {@linkcode SampleWriter}. */
export interface WriterOptions {
  /** Delay between the first unwritten row and its flush, ms (default 25, at most 1000). */
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

/** Batches samples and events and writes them in one transaction per flush. */
export class SampleWriter {
  /** Running figures. */
  readonly stats: WriterStats = {
    errors: 0,
    dropped: 0,
    droppedEvents: 0,
    samples: 0,
    events: 0,
    flushes: 0,
    maxFlushMs: 0,
  };
  #db!: DatabaseSync;
  // Multi-row inserts by row count (STATEMENT_ROWS): numbers, and text rows.
  #multi: StatementSync[] = [];
  #multiText: StatementSync[] = [];
  #chunk!: StatementSync;
  #stat!: StatementSync;
  #statsRow!: StatementSync;
  #extend!: StatementSync;
  // The chunk the next flushes extend (one chunk row per ~second, not per flush: a week of
  // 25 ms flushes would otherwise be 24 million chunk rows).
  #chunkId = -1;
  #chunkRows = 0;
  #chunkStart = 0;
  readonly #statsEvery: number;
  #statsAt = performance.now();
  #lastRow = -1;
  #event!: StatementSync;
  readonly #delay: number;
  readonly #maxBatch: number;
  // Numeric rows as (t, id, value) triples in one reused typed buffer (NaN = null): a recorder
  // adding 20,000 samples/s then allocates no JS objects per sample.
  #num = new Float64Array(3 * 4096);
  #numRows = 0;
  // Per statement size, doubles only (SQLite binds NaN as NULL), so V8 keeps them unboxed.
  readonly #args: number[][] = [];
  // Text rows as columns, written 64 to a statement like the numbers: one statement per text
  // row cost ~2 µs, four times a number's (a gauge's units string beside each pressure).
  // The columns are kept between flushes (`#textRows` says how much is used): new arrays grown
  // row by row each flush were young objects alive at every scavenge under load.
  #textT: number[] = [];
  #textId: number[] = [];
  #textV: string[] = [];
  #textRows = 0;
  readonly #textArgs: (number | string)[][] = [];
  #events: EventRow[] = [];
  #rows = 0;
  #tMin = Infinity;
  #tMax = -Infinity;
  readonly #counts = new AttrCounts();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  // Set while writes fail.
  #outage: Outage | undefined;
  readonly #maxBuffered: number;
  readonly #maxEvents: number;

  /** Prepares the statements against an open, migrated session database. */
  constructor(db: DatabaseSync, readonly segmentId: number, readonly options: WriterOptions = {}) {
    this.#prepare(db);
    this.#statsEvery = options.statsEveryMs ?? 10_000;
    this.#delay = Math.min(1000, Math.max(0, options.flushDelayMs ?? 25));
    this.#maxBatch = options.maxBatch ?? 50_000;
    this.#maxBuffered = Math.max(this.#maxBatch, options.maxBufferedRows ?? 500_000);
    this.#maxEvents = options.maxBufferedEvents ?? 10_000;
  }

  #prepare(db: DatabaseSync): void {
    this.#db = db;
    for (const n of STATEMENT_ROWS) {
      const values = new Array(n).fill("(?,?,?)").join(",");
      this.#multi[n] = db.prepare(`INSERT INTO samples (t, attr_id, value) VALUES ${values}`);
      const texts = new Array(n).fill("(?,?,NULL,?)").join(",");
      this.#multiText[n] = db.prepare(
        `INSERT INTO samples (t, attr_id, value, text) VALUES ${texts}`,
      );
      this.#args[n] ??= new Array<number>(n * 3).fill(0.5);
      this.#textArgs[n] ??= [];
    }
    this.#chunk = db.prepare(
      "INSERT INTO chunks (segment_id, first_row, last_row, t_min, t_max) VALUES (?,?,?,?,?)",
    );
    this.#stat = db.prepare(
      `INSERT INTO attr_stats (attr_id, count, t_first, t_last) VALUES (?,?,?,?)
       ON CONFLICT (attr_id) DO UPDATE SET count = count + excluded.count,
         t_first = min(t_first, excluded.t_first), t_last = max(t_last, excluded.t_last)`,
    );
    this.#extend = db.prepare(
      `UPDATE chunks SET last_row = ?, t_min = min(t_min, ?), t_max = max(t_max, ?)
       WHERE id = ? AND last_row = ? - 1`,
    );
    this.#statsRow = db.prepare(
      `INSERT INTO session (key, value) VALUES ('stats_row', ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
    this.#event = db.prepare(
      `INSERT INTO events (t, segment_id, kind, severity, device, attr, message, data)
       VALUES (?,?,?,?,?,?,?,?)`,
    );
  }

  /**
   * Goes on writing into `db`, a new file holding the same device, attribute and segment ids
   * (the session file was removed and recreated): what is buffered is written there, the
   * per-attribute counts start again from what is still buffered, and chunks start afresh.
   */
  reopen(db: DatabaseSync): void {
    this.#prepare(db);
    this.#chunkId = -1;
    this.#chunkRows = 0;
    this.#lastRow = -1;
    this.#counts.clear();
    for (let row = 0; row < this.#numRows; row++) {
      this.#counts.add(this.#num[3 * row]!, this.#num[3 * row + 1]!);
    }
    for (let i = 0; i < this.#textRows; i++) {
      this.#counts.add(this.#textT[i]!, this.#textId[i]!);
    }
  }

  /** The error writes fail with while the store is failing, else undefined. */
  get failure(): unknown {
    return this.#outage?.last;
  }

  /** When the current outage began (epoch seconds), or undefined while writes succeed. */
  get failingSince(): number | undefined {
    return this.#outage?.since;
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.#rows + this.#events.length;
  }

  /** Appends one sample (`t` epoch seconds) of attribute id `attrId`. */
  add(t: number, attrId: number, v: Value): void {
    if (this.#outage && this.#rows >= this.#maxBuffered) {
      this.stats.dropped++;
      this.#outage.dropped++;
      return;
    }
    if (typeof v === "number" || v === null) {
      this.#addNumber(t, attrId, v);
    } else if (typeof v === "boolean") {
      this.#addNumber(t, attrId, v ? 1 : 0);
    } else {
      const n = this.#textRows++;
      this.#textT[n] = t;
      this.#textId[n] = attrId;
      this.#textV[n] = textOf(v)!;
    }
    this.#rows++;
    if (t < this.#tMin) this.#tMin = t;
    if (t > this.#tMax) this.#tMax = t;
    this.#counts.add(t, attrId);
    // While failing, only the retry timer writes: a sampling thread never waits on a bad disk.
    if (this.#rows >= this.#maxBatch && !this.#outage) this.#tryFlush();
    else this.#arm();
  }

  /** Queues an event; it is written with the next flush. */
  event(e: EventRow): void {
    if (this.#outage && this.#events.length >= this.#maxEvents) {
      this.stats.droppedEvents++;
      this.#outage.droppedEvents++;
      return;
    }
    this.#events.push(e);
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

  /** Writes the oldest `limit` rows buffered (numbers first) and every event in one transaction. */
  #flush(final: boolean, limit: number): void {
    // Before clearing the timer: events queued by the hook must not arm a second flush.
    this.options.beforeFlush?.();
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const started = performance.now();
    const numRows = Math.min(this.#numRows, limit);
    const textRows = Math.min(this.#textRows, limit - numRows);
    const rows = numRows + textRows;
    const all = rows === this.#rows;
    // Counts cover every row added, so they are written only with the last of them.
    const stats = all && this.#counts.any &&
      (final || started - this.#statsAt >= this.#statsEvery);
    if (rows === 0 && this.#events.length === 0 && !stats) return;
    this.options.check?.();
    const db = this.#db;
    db.exec("BEGIN");
    let pendingLast = this.#lastRow;
    let pendingChunk: { id: number; extended: boolean } | undefined;
    try {
      let firstRow = -1;
      let lastRow = -1;
      const note = (r: { lastInsertRowid: number | bigint }, rows: number) => {
        lastRow = Number(r.lastInsertRowid);
        if (firstRow < 0) firstRow = lastRow - rows + 1;
      };
      const num = this.#num;
      let row = 0;
      for (const n of STATEMENT_ROWS) {
        const args = this.#args[n]!;
        for (; numRows - row >= n; row += n) {
          const base = row * 3;
          for (let k = 0; k < n * 3; k++) args[k] = num[base + k]!;
          note(this.#multi[n]!.run(...args), n);
        }
      }
      const textT = this.#textT;
      const textId = this.#textId;
      const textV = this.#textV;
      row = 0;
      for (const n of STATEMENT_ROWS) {
        const textArgs = this.#textArgs[n]!;
        for (; textRows - row >= n; row += n) {
          for (let k = 0; k < n; k++) {
            textArgs[3 * k] = textT[row + k]!;
            textArgs[3 * k + 1] = textId[row + k]!;
            textArgs[3 * k + 2] = textV[row + k]!;
          }
          note(this.#multiText[n]!.run(...textArgs), n);
          for (let k = 0; k < n; k++) textArgs[3 * k + 2] = ""; // no string outlives its flush
        }
      }
      let chunk = this.#chunkId;
      if (rows > 0) {
        // A slice's chunk gets the time range of everything buffered: wider, never narrower.
        const extend = chunk >= 0 && started - this.#chunkStart < (this.options.chunkMs ?? 1000) &&
          this.#chunkRows + rows <= this.#maxBatch &&
          // Only a chunk that ends right before these rows (contiguous rowids) is extended.
          Number(this.#extend.run(lastRow, this.#tMin, this.#tMax, chunk, firstRow).changes) === 1;
        if (!extend) {
          const r = this.#chunk.run(this.segmentId, firstRow, lastRow, this.#tMin, this.#tMax);
          chunk = Number(r.lastInsertRowid);
        }
        pendingChunk = { id: chunk, extended: extend };
      }
      const covered = rows > 0 ? lastRow : this.#lastRow;
      pendingLast = covered;
      if (stats) {
        this.#counts.write(this.#stat);
        this.#statsRow.run(String(covered));
      }
      for (const e of this.#events) {
        this.#event.run(
          e.t ?? Date.now() / 1000,
          this.segmentId,
          e.kind,
          e.severity ?? null,
          e.device ?? null,
          e.attr ?? null,
          e.message,
          e.data === undefined ? null : JSON.stringify(e.data),
        );
      }
      db.exec("COMMIT");
    } catch (err) {
      try {
        db.exec("ROLLBACK");
      } catch {
        // The failed statement may already have rolled the transaction back.
      }
      throw err;
    }
    this.stats.samples += rows;
    this.stats.events += this.#events.length;
    this.stats.flushes++;
    this.#lastRow = pendingLast;
    if (pendingChunk) {
      if (!pendingChunk.extended) {
        this.#chunkStart = started;
        this.#chunkRows = 0;
      }
      this.#chunkId = pendingChunk.id;
      this.#chunkRows += rows;
    }
    if (stats) this.#statsAt = started;
    if (all) this.#reset(stats);
    else this.#consume(numRows, textRows);
    const ms = performance.now() - started;
    if (ms > this.stats.maxFlushMs) this.stats.maxFlushMs = ms;
    if (this.#outage) this.#recovered();
  }

  /**
   * Flushes and stops the timer; later adds throw. Throws when the last flush fails (what was
   * still buffered is then lost, and counted in `stats.dropped`).
   */
  close(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      this.flush(true);
    } catch (err) {
      this.stats.errors++;
      this.stats.dropped += this.#rows;
      this.stats.droppedEvents += this.#events.length;
      this.#closed = true;
      throw err;
    }
    this.#closed = true;
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
    this.stats.errors++;
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

  #addNumber(t: number, attrId: number, v: number | null): void {
    let num = this.#num;
    const i = this.#numRows * 3;
    if (i + 3 > num.length) {
      const bigger = new Float64Array(num.length * 2);
      bigger.set(num);
      this.#num = num = bigger;
    }
    num[i] = t;
    num[i + 1] = attrId;
    // SQLite stores NaN as NULL anyway, so NaN can mean null here.
    num[i + 2] = v === null ? NaN : v;
    this.#numRows++;
  }

  #arm(): void {
    if (this.#closed) throw new Error("session writer is closed");
    // While failing, the retry timer is armed already (and must keep its backoff).
    if (this.#timer !== undefined || this.#outage) return;
    this.#timer = setTimeout(this.#timed, this.#delay);
  }

  /** The timed flush: a slice, and the next one soon while a burst is still buffered. */
  readonly #timed = (): void => {
    this.#timer = undefined;
    if (!this.#tryFlush(ROWS_PER_SLICE) || this.#closed) return;
    if (this.#rows >= ROWS_PER_SLICE) this.#timer = setTimeout(this.#timed, 0);
    else if (this.#rows > 0 || this.#events.length > 0) this.#arm();
  };

  /** Drops the rows a slice wrote from the front of the buffer. */
  #consume(numRows: number, textRows: number): void {
    this.#num.copyWithin(0, 3 * numRows, 3 * this.#numRows);
    this.#numRows -= numRows;
    // A loop, not Array.prototype.copyWithin: on plain arrays that is a generic per-element
    // property walk (~0.1 µs an element; profiled at ~0.4 µs per `GET /read` recorded at
    // 20,000 a second, where each timed flush leaves a slice's remainder of text rows).
    const left = this.#textRows - textRows;
    const textT = this.#textT;
    const textId = this.#textId;
    const textV = this.#textV;
    for (let i = 0; i < left; i++) {
      textT[i] = textT[textRows + i]!;
      textId[i] = textId[textRows + i]!;
      textV[i] = textV[textRows + i]!;
    }
    textV.fill("", left, this.#textRows);
    this.#textRows = left;
    this.#rows -= numRows + textRows;
    this.#events = [];
  }

  #reset(stats: boolean): void {
    this.#numRows = 0;
    // A burst may have grown the buffer; give the memory back once it is written.
    if (this.#num.length > 3 * 65536) this.#num = new Float64Array(3 * 4096);
    if (this.#textT.length > 65536) {
      this.#textT = [];
      this.#textId = [];
      this.#textV = [];
    } else this.#textV.fill("", 0, this.#textRows); // no string outlives its flush
    this.#textRows = 0;
    this.#events = [];
    this.#rows = 0;
    this.#tMin = Infinity;
    this.#tMax = -Infinity;
    if (stats) this.#counts.clear();
  }
}
