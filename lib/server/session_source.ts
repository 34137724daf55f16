/**
 * The server's view of the session being recorded: downsampled history for `/api/samples`
 * (min/max per bucket computed by SQLite, so a week of 10 Hz data never leaves the database as
 * rows) and readings since a time for SSE resume. It reads through its own read-only connection
 * (WAL lets it in beside the writer), opened on first use.
 *
 * @module
 */
import type { Reading } from "../device/device.ts";
import { SessionReader } from "../session/reader.ts";
import type { SampleQuery, SampleSeries, SessionSource } from "./context.ts";
import { HttpError } from "./http_error.ts";

/** Where the figures of a running recording come from. */
export interface RecordingFigures {
  /** Sample rows written so far. */
  rowsWritten(): number;
  /** Null while recording works, else why not. */
  problem(): string | null;
}

/** A {@linkcode SessionSource} over a session file being recorded. */
export class SessionFileSource implements SessionSource {
  #reader: SessionReader | undefined;

  /** Reads the session at `path`; `figures` tells how the recording is going. */
  constructor(readonly path: string, readonly figures: RecordingFigures) {}

  /** Sample rows written so far. */
  rowsWritten(): number {
    return this.figures.rowsWritten();
  }

  /** Null while recording works, else why not. */
  problem(): string | null {
    return this.figures.problem();
  }

  #open(): SessionReader {
    this.#reader ??= SessionReader.open(this.path);
    return this.#reader;
  }

  #attrId(device: string, attr: string): number | undefined {
    const reader = this.#open();
    const find = () => reader.attrs().find((a) => a.device === device && a.attr === attr)?.id;
    let id = find();
    if (id === undefined) {
      reader.reloadAttrs();
      id = find();
    }
    return id;
  }

  /** Rowid range of the flushes overlapping [from, to] (the session's sparse time index). */
  #rows(from: number, to: number): { first: number; last: number } | undefined {
    const row = this.#open().db.prepare(
      "SELECT min(first_row) AS a, max(last_row) AS b FROM chunks WHERE t_max >= ? AND t_min <= ?",
    ).get(from, to) as { a: number | null; b: number | null };
    return row.a === null || row.b === null ? undefined : { first: row.a, last: row.b };
  }

  /** Recorded numeric values of one attribute, min/max per bucket when they exceed `maxPoints`. */
  samples(q: SampleQuery): SampleSeries {
    const id = this.#attrId(q.device, q.attr);
    if (id === undefined) {
      throw new HttpError(404, `nothing recorded for ${q.device}.${q.attr} in this session`);
    }
    const range = this.#rows(q.from, q.to);
    if (!range) return { t: [], min: [], max: [], rows: 0, bucket: null };
    const db = this.#open().db;
    const where =
      "rowid BETWEEN ? AND ? AND attr_id = ? AND t >= ? AND t <= ? AND value IS NOT NULL";
    const args = [range.first, range.last, id, q.from, q.to] as const;
    // Few rows: return them all (LIMIT stops the scan early when there are many).
    const raw = db.prepare(`SELECT t, value FROM samples WHERE ${where} LIMIT ?`)
      .all(...args, q.maxPoints + 1) as { t: number; value: number }[];
    if (raw.length <= q.maxPoints) {
      raw.sort((a, b) => a.t - b.t);
      const v = raw.map((r) => r.value);
      return { t: raw.map((r) => r.t), min: v, max: [...v], rows: raw.length, bucket: null };
    }
    const width = (q.to - q.from) / q.maxPoints;
    const groups = db.prepare(
      `SELECT CAST((t - ?) / ? AS INTEGER) AS b, min(value) AS lo, max(value) AS hi, count(*) AS n
       FROM samples WHERE ${where} GROUP BY b ORDER BY b`,
    ).all(q.from, width, ...args) as { b: number; lo: number; hi: number; n: number }[];
    const out: SampleSeries = { t: [], min: [], max: [], rows: 0, bucket: width };
    for (const g of groups) {
      out.t.push(q.from + Math.min(g.b, q.maxPoints - 1) * width);
      out.min.push(g.lo);
      out.max.push(g.hi);
      out.rows += g.n;
    }
    return out;
  }

  /** Readings recorded at or after `tMs`, oldest first, rebuilt from their samples. */
  readingsSince(tMs: number, devices: ReadonlySet<string> | undefined, limit: number): Reading[] {
    const reader = this.#open();
    reader.reloadAttrs();
    const attrs = new Map(reader.attrs().map((a) => [a.id, a]));
    const ids = [...attrs.values()].filter((a) => !devices || devices.has(a.device)).map((a) =>
      a.id
    );
    if (ids.length === 0) return [];
    const out: Reading[] = [];
    let current = new Map<string, Reading>();
    let currentT = NaN;
    for (const s of reader.samples({ from: tMs / 1000, attrIds: ids })) {
      if (s.t !== currentT) {
        out.push(...current.values());
        if (out.length >= limit) break;
        current = new Map();
        currentT = s.t;
      }
      const a = attrs.get(s.attrId);
      if (!a) continue;
      let r = current.get(a.device);
      if (!r) {
        r = { t: s.t, device: a.device, values: {} };
        current.set(a.device, r);
      }
      r.values[a.attr] = s.value;
    }
    if (out.length < limit) out.push(...current.values());
    return out.slice(0, limit);
  }

  /** Closes the read connection. */
  close(): void {
    this.#reader?.close();
    this.#reader = undefined;
  }
}
