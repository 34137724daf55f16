/**
 * `/api/samples` queries run here, in a worker with its own read-only connection, so scanning
 * millions of rows never stalls sampling or other requests on the main thread. Long ranges are
 * answered from a per-attribute rollup (min/max/count per 10 s, built on first use and then
 * extended with new rows only), so a week of 10 Hz data is a few thousand buckets to merge;
 * short ranges are read from the rows themselves.
 *
 * The same module is the worker (when loaded as one) and the client class the server uses.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type { SampleSeries, SeriesQuery } from "./context.ts";

/** Rollup resolution, seconds: output buckets at least this wide come from the rollup. */
export const ROLLUP_SECONDS = 10;

interface Rollup {
  /** Bucket number (floor(t / ROLLUP_SECONDS)) → [min, max, count]. */
  buckets: Map<number, [number, number, number]>;
  lastRowid: number;
}

interface Request {
  id: number;
  path: string;
  query: SeriesQuery;
}

type Reply = { id: number; result: SampleSeries } | { id: number; status: number; message: string };

/** The query engine (runs inside the worker; exported for tests). */
export class SampleQueries {
  readonly #db: DatabaseSync;
  readonly #rollups = new Map<number, Rollup>();

  /** Opens `path` read-only. */
  constructor(path: string) {
    this.#db = new DatabaseSync(path, { readOnly: true });
    this.#db.exec("PRAGMA busy_timeout = 5000");
  }

  /** Closes the connection. */
  close(): void {
    this.#db.close();
  }

  #attrId(device: string, attr: string): number | undefined {
    const row = this.#db.prepare(
      "SELECT a.id AS id FROM attrs a JOIN devices d ON d.id = a.device_id WHERE d.name = ? AND a.name = ?",
    ).get(device, attr) as { id: number } | undefined;
    return row?.id;
  }

  /** Answers a query; throws `{status, message}` for an unknown attribute. */
  run(q: SeriesQuery): SampleSeries {
    const id = this.#attrId(q.device, q.attr);
    if (id === undefined) {
      throw { status: 404, message: `nothing recorded for ${q.device}.${q.attr} in this session` };
    }
    const width = (q.to - q.from) / q.maxPoints;
    return width >= ROLLUP_SECONDS ? this.#fromRollup(id, q, width) : this.#fromRows(id, q, width);
  }

  #fromRows(id: number, q: SeriesQuery, width: number): SampleSeries {
    const range = this.#db.prepare(
      "SELECT min(first_row) AS a, max(last_row) AS b FROM chunks WHERE t_max >= ? AND t_min <= ?",
    ).get(q.from, q.to) as { a: number | null; b: number | null };
    if (range.a === null || range.b === null) {
      return { t: [], min: [], max: [], rows: 0, bucket: null };
    }
    const where =
      "rowid BETWEEN ? AND ? AND attr_id = ? AND t >= ? AND t <= ? AND value IS NOT NULL";
    const args = [range.a, range.b, id, q.from, q.to] as const;
    // Few rows: all of them (LIMIT stops the scan early when there are many).
    const raw = this.#db.prepare(`SELECT t, value FROM samples WHERE ${where} LIMIT ?`)
      .all(...args, q.maxPoints + 1) as { t: number; value: number }[];
    if (raw.length <= q.maxPoints) {
      raw.sort((a, b) => a.t - b.t);
      const v = raw.map((r) => r.value);
      return { t: raw.map((r) => r.t), min: v, max: [...v], rows: raw.length, bucket: null };
    }
    const groups = this.#db.prepare(
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

  #rollup(id: number): Rollup {
    let r = this.#rollups.get(id);
    if (!r) {
      r = { buckets: new Map(), lastRowid: 0 };
      this.#rollups.set(id, r);
      // Keep the most recently used attributes only.
      if (this.#rollups.size > 16) this.#rollups.delete(this.#rollups.keys().next().value!);
    }
    const top = (this.#db.prepare("SELECT coalesce(max(rowid), 0) AS m FROM samples").get() as {
      m: number;
    }).m;
    if (top > r.lastRowid) {
      const rows = this.#db.prepare(
        `SELECT CAST(t / ? AS INTEGER) AS b, min(value) AS lo, max(value) AS hi, count(*) AS n
         FROM samples WHERE rowid > ? AND rowid <= ? AND attr_id = ? AND value IS NOT NULL
         GROUP BY b`,
      ).all(ROLLUP_SECONDS, r.lastRowid, top, id) as {
        b: number;
        lo: number;
        hi: number;
        n: number;
      }[];
      for (const g of rows) {
        const cur = r.buckets.get(g.b);
        if (!cur) r.buckets.set(g.b, [g.lo, g.hi, g.n]);
        else {
          if (g.lo < cur[0]) cur[0] = g.lo;
          if (g.hi > cur[1]) cur[1] = g.hi;
          cur[2] += g.n;
        }
      }
      r.lastRowid = top;
    }
    this.#rollups.delete(id);
    this.#rollups.set(id, r);
    return r;
  }

  /** min, max and count of the rows in [a, b) (or [a, b] when `closed`), through the chunk index. */
  #span(id: number, a: number, b: number, closed: boolean): [number, number, number] | undefined {
    if (b < a || (b === a && !closed)) return undefined;
    const range = this.#db.prepare(
      "SELECT min(first_row) AS a, max(last_row) AS b FROM chunks WHERE t_max >= ? AND t_min <= ?",
    ).get(a, b) as { a: number | null; b: number | null };
    if (range.a === null || range.b === null) return undefined;
    const row = this.#db.prepare(
      `SELECT min(value) AS lo, max(value) AS hi, count(*) AS n FROM samples
       WHERE rowid BETWEEN ? AND ? AND attr_id = ? AND t >= ? AND t ${closed ? "<=" : "<"} ?
       AND value IS NOT NULL`,
    ).get(range.a, range.b, id, a, b) as { lo: number | null; hi: number | null; n: number };
    return row.n > 0 && row.lo !== null && row.hi !== null ? [row.lo, row.hi, row.n] : undefined;
  }

  #fromRollup(id: number, q: SeriesQuery, width: number): SampleSeries {
    const r = this.#rollup(id);
    // Whole rollup buckets inside [from, to] come from the rollup; the partial ones at both ends
    // from the rows, so counts and extremes are exact for the range asked.
    const lo = Math.ceil(q.from / ROLLUP_SECONDS);
    const hi = Math.floor(q.to / ROLLUP_SECONDS) - 1;
    const acc = new Map<number, [number, number, number]>();
    const add = (t: number, v: [number, number, number]) => {
      const k = Math.min(q.maxPoints - 1, Math.max(0, Math.floor((t - q.from) / width)));
      const cur = acc.get(k);
      if (!cur) acc.set(k, [v[0], v[1], v[2]]);
      else {
        if (v[0] < cur[0]) cur[0] = v[0];
        if (v[1] > cur[1]) cur[1] = v[1];
        cur[2] += v[2];
      }
    };
    const head = this.#span(id, q.from, Math.min(q.to, lo * ROLLUP_SECONDS), hi < lo);
    if (head) add(q.from, head);
    if (hi >= lo) {
      if (hi - lo < r.buckets.size) {
        for (let b = lo; b <= hi; b++) {
          const v = r.buckets.get(b);
          if (v) add(b * ROLLUP_SECONDS, v);
        }
      } else {
        for (const [b, v] of r.buckets) if (b >= lo && b <= hi) add(b * ROLLUP_SECONDS, v);
      }
      const tail = this.#span(id, (hi + 1) * ROLLUP_SECONDS, q.to, true);
      if (tail) add((hi + 1) * ROLLUP_SECONDS, tail);
    }
    const keys = [...acc.keys()].sort((a, b) => a - b);
    const out: SampleSeries = { t: [], min: [], max: [], rows: 0, bucket: width };
    for (const k of keys) {
      const v = acc.get(k)!;
      out.t.push(q.from + k * width);
      out.min.push(v[0]);
      out.max.push(v[1]);
      out.rows += v[2];
    }
    return out;
  }
}

/** The server's handle on the worker: queries go out, results come back as promises. */
export class SamplesWorker {
  #worker: Worker | undefined;
  #next = 1;
  readonly #pending = new Map<number, PromiseWithResolvers<SampleSeries>>();

  /** Queries the session at `path`. */
  constructor(readonly path: string) {}

  /** Runs one query in the worker. */
  query(query: SeriesQuery): Promise<SampleSeries> {
    if (!this.#worker) {
      this.#worker = new Worker(new URL("./samples_worker.ts", import.meta.url).href, {
        type: "module",
      });
      this.#worker.onmessage = (e: MessageEvent<Reply>) => {
        const p = this.#pending.get(e.data.id);
        if (!p) return;
        this.#pending.delete(e.data.id);
        if ("result" in e.data) p.resolve(e.data.result);
        else p.reject(Object.assign(new Error(e.data.message), { status: e.data.status }));
      };
      this.#worker.onerror = (e) => {
        e.preventDefault();
        for (const p of this.#pending.values()) p.reject(new Error(e.message));
        this.#pending.clear();
        this.#worker?.terminate();
        this.#worker = undefined;
      };
    }
    const id = this.#next++;
    const p = Promise.withResolvers<SampleSeries>();
    this.#pending.set(id, p);
    this.#worker.postMessage({ id, path: this.path, query } satisfies Request);
    return p.promise;
  }

  /** Stops the worker; pending queries fail. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    for (const p of this.#pending.values()) p.reject(new Error("the server is stopping"));
    this.#pending.clear();
  }
}

// Inside the worker: answer queries, one connection per session file.
const scope = globalThis as unknown as {
  WorkerGlobalScope?: new () => unknown;
  onmessage: ((e: MessageEvent<Request>) => void) | null;
  postMessage(m: Reply): void;
};
if (typeof scope.WorkerGlobalScope !== "undefined" && scope instanceof scope.WorkerGlobalScope) {
  const engines = new Map<string, SampleQueries>();
  scope.onmessage = (e) => {
    const { id, path, query } = e.data;
    try {
      let engine = engines.get(path);
      if (!engine) {
        engine = new SampleQueries(path);
        engines.set(path, engine);
      }
      scope.postMessage({ id, result: engine.run(query) });
    } catch (err) {
      const e2 = err as { status?: number; message?: string };
      scope.postMessage({
        id,
        status: typeof e2.status === "number" ? e2.status : 503,
        message: e2.message ?? String(err),
      });
    }
  };
}
