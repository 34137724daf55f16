/**
 * The SQLite side of the session writer: the rows it holds, written by one transaction per flush
 * with prepared multi-row inserts, the sparse time index (`chunks`) and the per-attribute counts
 * (`attr_stats`). It runs where the writing connection lives: in the session writer's worker
 * (`write_worker.ts`), or on the recording thread when no worker can run.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Value } from "../device/attr.ts";
import { AttrCounts } from "./attr_counts.ts";
import { RowBuffer, type RowPage } from "./row_buffer.ts";

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
 * Rows a timed flush on the recording thread writes in one transaction (~0.2 ms of SQLite). A
 * burst beyond it (a server answering tens of thousands of `/read`s a second records each) is
 * written in slices with an event-loop turn between them: one 2,000-row transaction held every
 * request in flight for ~1 ms, forty times a second, while the writes ran on the thread that
 * answers requests.
 */
export const ROWS_PER_SLICE = 8 * STATEMENT_ROWS[0];

/**
 * Rows a timed drain of the writer's worker takes and writes in one transaction. The worker
 * pauses between two slices ({@linkcode SLICE_PAUSE_MS}), so that a thread it took a core from
 * gets it back after ~0.5 ms of SQLite: a drain of ~9,000 rows (`GET /read` at ~45,000 a second)
 * written in one go took one of two cores for ~3 ms, and the requests in flight on it waited that
 * long (a p99 of 1.5-2× the bare server's). Each commit writes the last, partly filled page of
 * `samples` again with the pages above it and the chunk's: 512-row slices cost the worker ~11 %
 * more CPU per row than one transaction per drain (2,500 rows every 25 ms, four interleaved
 * pairs), 1,024-row slices less. A backlog after a stall goes in the same slices.
 */
export const ROWS_PER_WORKER_SLICE = 2 * ROWS_PER_SLICE;

/** The worker's pause between two slices of a timed drain, ms (see {@linkcode ROWS_PER_WORKER_SLICE}). */
export const SLICE_PAUSE_MS = 0.2;

/** What the flusher needs to know besides its database. */
export interface FlusherOptions {
  /** This run's segment id (chunks belong to it). */
  segmentId: number;
  /** Rows that trigger an immediate flush; a chunk row covers at most this many rows. */
  maxBatch: number;
  /** Least time between two updates of `attr_stats`, ms. */
  statsEveryMs: number;
  /** Time a chunk covers, ms. */
  chunkMs: number;
}

/** What one flush wrote. */
export interface Flushed {
  /** Samples written. */
  samples: number;
  /** Events written. */
  events: number;
  /** How long the transaction took, ms. */
  ms: number;
}

/** Holds rows and writes them into a session database, one transaction per {@linkcode write}. */
export class SampleFlusher {
  /** Rows and events waiting to be written. */
  readonly rows = new RowBuffer();
  #db!: DatabaseSync;
  // Multi-row inserts by row count (STATEMENT_ROWS): numbers, and text rows.
  #multi: StatementSync[] = [];
  #multiText: StatementSync[] = [];
  #chunk!: StatementSync;
  #stat!: StatementSync;
  #statMulti!: StatementSync;
  #statsRow!: StatementSync;
  #extend!: StatementSync;
  #event!: StatementSync;
  // The chunk the next flushes extend (one chunk row per ~second, not per flush: a week of
  // 25 ms flushes would otherwise be 24 million chunk rows).
  #chunkId = -1;
  #chunkRows = 0;
  #chunkStart = 0;
  #statsAt = performance.now();
  #lastRow = -1;
  // Per statement size, doubles only (SQLite binds NaN as NULL), so V8 keeps them unboxed.
  readonly #args: number[][] = [];
  readonly #textArgs: (number | string)[][] = [];
  // Counts of every row held, written to attr_stats with the last of them.
  readonly #counts = new AttrCounts();

  /** Prepares the statements against an open, migrated session database. */
  constructor(db: DatabaseSync, readonly options: FlusherOptions) {
    this.#prepare(db);
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
    const upsert = (rows: number) =>
      db.prepare(
        `INSERT INTO attr_stats (attr_id, count, t_first, t_last) VALUES ${
          new Array(rows).fill("(?,?,?,?)").join(",")
        } ON CONFLICT (attr_id) DO UPDATE SET count = count + excluded.count,
         t_first = min(t_first, excluded.t_first), t_last = max(t_last, excluded.t_last)`,
      );
    this.#stat = upsert(1);
    this.#statMulti = upsert(STATEMENT_ROWS[0]);
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
   * (the session file was removed and recreated): what is held is written there, the
   * per-attribute counts start again from what is held, and chunks start afresh.
   */
  reopen(db: DatabaseSync): void {
    this.#prepare(db);
    this.#chunkId = -1;
    this.#chunkRows = 0;
    this.#lastRow = -1;
    this.#counts.clear();
    const { num, numRows, textT, textId, textRows } = this.rows;
    for (let row = 0; row < numRows; row++) this.#counts.add(num[3 * row]!, num[3 * row + 1]!);
    for (let i = 0; i < textRows; i++) this.#counts.add(textT[i]!, textId[i]!);
  }

  /** Holds one sample (`t` epoch seconds) of attribute id `attrId`. */
  add(t: number, attrId: number, v: Value): void {
    this.rows.add(t, attrId, v);
    this.#counts.add(t, attrId);
  }

  /** Holds the rows and events of a page, after those held. */
  absorb(page: RowPage): void {
    this.rows.absorb(page);
    const num = page.num;
    const triples = 3 * page.numRows;
    for (let i = 0; i < triples; i += 3) this.#counts.add(num[i]!, num[i + 1]!);
    for (let j = triples; j < num.length; j += 2) this.#counts.add(num[j]!, num[j + 1]!);
  }

  /**
   * Writes the oldest `limit` rows held (numbers first) and every event in one transaction;
   * `final` writes the per-attribute counts whatever their age. Returns what was written
   * (undefined when there was nothing to write); throws when the database refuses, and then
   * everything stays held.
   */
  write(final: boolean, limit: number): Flushed | undefined {
    const buf = this.rows;
    const started = performance.now();
    const numRows = Math.min(buf.numRows, limit);
    const textRows = Math.min(buf.textRows, limit - numRows);
    const rows = numRows + textRows;
    const all = rows === buf.rows;
    // Counts cover every row held, so they are written only with the last of them.
    const stats = all && this.#counts.any &&
      (final || started - this.#statsAt >= this.options.statsEveryMs);
    const events = buf.events;
    if (rows === 0 && events.length === 0 && !stats) return undefined;
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
      const num = buf.num;
      let row = 0;
      for (const n of STATEMENT_ROWS) {
        const args = this.#args[n]!;
        for (; numRows - row >= n; row += n) {
          const base = row * 3;
          for (let k = 0; k < n * 3; k++) args[k] = num[base + k]!;
          note(this.#multi[n]!.run(...args), n);
        }
      }
      const { textT, textId, textV } = buf;
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
        // A slice's chunk gets the time range of everything held: wider, never narrower.
        const extend = chunk >= 0 && started - this.#chunkStart < this.options.chunkMs &&
          this.#chunkRows + rows <= this.options.maxBatch &&
          // Only a chunk that ends right before these rows (contiguous rowids) is extended.
          Number(this.#extend.run(lastRow, buf.tMin, buf.tMax, chunk, firstRow).changes) === 1;
        if (!extend) {
          const r = this.#chunk.run(this.options.segmentId, firstRow, lastRow, buf.tMin, buf.tMax);
          chunk = Number(r.lastInsertRowid);
        }
        pendingChunk = { id: chunk, extended: extend };
      }
      const covered = rows > 0 ? lastRow : this.#lastRow;
      pendingLast = covered;
      if (stats) {
        this.#counts.write(this.#stat, { rows: STATEMENT_ROWS[0], statement: this.#statMulti });
        this.#statsRow.run(String(covered));
      }
      for (const e of events) {
        this.#event.run(
          e.t ?? Date.now() / 1000,
          this.options.segmentId,
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
    this.#lastRow = pendingLast;
    if (pendingChunk) {
      if (!pendingChunk.extended) {
        this.#chunkStart = started;
        this.#chunkRows = 0;
      }
      this.#chunkId = pendingChunk.id;
      this.#chunkRows += rows;
    }
    if (stats) {
      this.#statsAt = started;
      this.#counts.clear();
    }
    const written = events.length;
    if (all) buf.reset();
    else buf.consume(numRows, textRows);
    return { samples: rows, events: written, ms: performance.now() - started };
  }
}
