/**
 * Reading a session file (while it is being recorded, too: WAL lets readers in): its summary
 * for `session info`, its samples in time order for export (streamed chunk by chunk, so a week
 * of data never sits in memory), and new rows for `session tail`.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type { AttrType, Value } from "../device/attr.ts";
import { ConfigError, errorMessage, UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import { APPLICATION_ID, CRASHED, pragmaNumber, SCHEMA_VERSION } from "./schema.ts";
import { decodeValue } from "./value_codec.ts";
import type { EventRow } from "./writer.ts";
import { statsRow } from "./store.ts";
import { recorderAlive } from "./file.ts";

/** An attribute column of a session. */
export interface AttrInfo {
  /** Attribute id in the file. */
  id: number;
  /** Device name. */
  device: string;
  /** Attribute name. */
  attr: string;
  /** Declared (or inferred) type. */
  type: AttrType;
  /** Units, when known. */
  units?: string;
  /** Samples stored. */
  count: number;
  /** First sample time, epoch seconds. */
  first?: number;
  /** Last sample time, epoch seconds. */
  last?: number;
}

/** A segment (one run of a recording command). */
export interface SegmentInfo {
  /** Segment number, from 1. */
  id: number;
  /** Start, epoch seconds. */
  start: number;
  /** Stop, epoch seconds (absent while running). */
  stop?: number;
  /** Why it stopped. */
  reason?: string;
  /** The command line. */
  command?: string[];
  /** The config file. */
  config_file?: string;
  /** labwire version. */
  version?: string;
  /** Host it ran on. */
  hostname?: string;
  /**
   * `running` while its process still records (it holds the session's lock), `stopped` once
   * closed, `interrupted` when it ended without closing (killed, crashed, power cut).
   */
  state: "running" | "stopped" | "interrupted";
  /** Its last sample or event, epoch seconds (what an interrupted segment ends with). */
  last?: number;
  /** Process id that recorded it. */
  pid?: number;
}

/** One stored event: an {@linkcode EventRow} as written, with its id, time and segment. */
export interface EventInfo extends EventRow {
  /** Event id (increasing). */
  id: number;
  /** Epoch seconds. */
  t: number;
  /** Segment it belongs to. */
  segment?: number;
}

/** A task run recorded in the session. */
export interface TaskInfo {
  /** Row id. */
  id: number;
  /** Segment it ran in. */
  segment?: number;
  /** Device. */
  device: string;
  /** Technique. */
  technique: string;
  /** Parameters as submitted (with the task id). */
  params: unknown;
  /** Start, epoch seconds. */
  start: number;
  /** End, epoch seconds. */
  stop?: number;
  /** Final (or current) state. */
  status?: string;
  /** Counts at the end. */
  data?: unknown;
}

/** One decoded sample. */
export interface Sample {
  /** Epoch seconds. */
  t: number;
  /** Attribute id (see {@linkcode AttrInfo}). */
  attrId: number;
  /** The value. */
  value: Value;
}

/** Options selecting samples. */
export interface SampleQuery {
  /** Earliest time, epoch seconds (inclusive). */
  from?: number;
  /** Latest time, epoch seconds (inclusive). */
  to?: number;
  /** Attribute ids to include (default all). */
  attrIds?: readonly number[];
}

interface RawRow {
  t: number;
  attr_id: number;
  value: number | null;
  text: string | null;
}

/** A session file opened for reading. */
export class SessionReader {
  readonly #db: DatabaseSync;
  #attrs = new Map<number, AttrInfo>();
  readonly #recorderAlive: boolean;

  private constructor(readonly path: string, db: DatabaseSync, alive: boolean) {
    this.#db = db;
    this.#recorderAlive = alive;
    this.reloadAttrs();
  }

  /** Opens a session file read-only; a missing or foreign file is a {@linkcode UsageError}. */
  static open(path: string): SessionReader {
    try {
      if (!Deno.statSync(path).isFile) throw new UsageError(`${path} is not a file`);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      // A mistyped name is the common case: said as `session note` says it, not as the OS's
      // "No such file or directory (os error 2): stat '…'".
      throw new UsageError(
        err instanceof Deno.errors.NotFound
          ? `no session file ${path}`
          : `cannot open session ${path}: ${errorMessage(err)}`,
        "see: labwire session list DIR",
      );
    }
    // Asked before SQLite opens the file: closing another descriptor of a file drops the POSIX
    // locks SQLite holds on it, so the probe must not run beside an open connection.
    const alive = recorderAlive(path);
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path, { readOnly: true });
      db.exec("PRAGMA busy_timeout = 5000");
    } catch (err) {
      throw new UsageError(`cannot open session ${path}: ${errorMessage(err)}`);
    }
    let appId = 0, version = 0;
    try {
      appId = pragmaNumber(db, "application_id");
      version = pragmaNumber(db, "user_version");
    } catch {
      // "file is not a database": reported below like any foreign file.
    }
    if (appId !== APPLICATION_ID) {
      db.close();
      throw new UsageError(`${path} is not a labwire session file`);
    }
    if (version > SCHEMA_VERSION) {
      db.close();
      throw new ConfigError(
        `written by a newer labwire (schema ${version}, this one reads up to ${SCHEMA_VERSION}); upgrade labwire`,
        path,
      );
    }
    return new SessionReader(path, db, alive);
  }

  /** True when `path` is a labwire session file (for `session list`). */
  static isSession(path: string): boolean {
    try {
      const r = SessionReader.open(path);
      r.close();
      return true;
    } catch {
      return false;
    }
  }

  /** The database (for the scan store's readers). */
  get db(): DatabaseSync {
    return this.#db;
  }

  /** Re-reads the attribute table (a live session may have gained attributes). */
  reloadAttrs(): void {
    const rows = this.#db.prepare(
      `SELECT a.id, d.name AS device, a.name AS attr, a.type, a.units,
         s.count, s.t_first, s.t_last
       FROM attrs a JOIN devices d ON d.id = a.device_id
       LEFT JOIN attr_stats s ON s.attr_id = a.id ORDER BY d.id, a.id`,
    ).all() as Record<string, unknown>[];
    // Samples written since the recorder last updated attr_stats (≤ 10 s of them, or a killed
    // run's tail) are counted here.
    const extra = new Map(
      (this.#db.prepare(
        `SELECT attr_id, count(*) AS n, min(t) AS a, max(t) AS b FROM samples
         WHERE rowid > ? GROUP BY attr_id`,
      ).all(statsRow(this.#db)) as { attr_id: number; n: number; a: number; b: number }[])
        .map((r) => [Number(r.attr_id), r]),
    );
    this.#attrs = new Map(rows.map((r) => [Number(r.id), {
      id: Number(r.id),
      device: String(r.device),
      attr: String(r.attr),
      type: String(r.type) as AttrType,
      units: r.units === null ? undefined : String(r.units),
      count: Number(r.count ?? 0) + Number(extra.get(Number(r.id))?.n ?? 0),
      first: minDefined(r.t_first, extra.get(Number(r.id))?.a),
      last: maxDefined(r.t_last, extra.get(Number(r.id))?.b),
    }]));
  }

  /** Every attribute column, in device then declaration order. */
  attrs(): AttrInfo[] {
    return [...this.#attrs.values()];
  }

  /** One attribute by id (reloading once if a live session added it). */
  attr(id: number): AttrInfo | undefined {
    if (!this.#attrs.has(id)) this.reloadAttrs();
    return this.#attrs.get(id);
  }

  /**
   * Resolves `device.attr` or `device` (all its attributes) selections into columns; unknown
   * names are a usage error with a suggestion.
   */
  select(names?: readonly string[]): AttrInfo[] {
    const all = this.attrs();
    if (!names || names.length === 0) return all;
    const out: AttrInfo[] = [];
    for (const name of names) {
      const hits = all.filter((a) => `${a.device}.${a.attr}` === name || a.device === name);
      if (hits.length === 0) {
        const known = all.map((a) => `${a.device}.${a.attr}`);
        throw new UsageError(
          `no column "${name}" in ${this.path}; it has: ${known.join(", ")}`,
          didYouMean(name, known) || undefined,
        );
      }
      for (const h of hits) if (!out.includes(h)) out.push(h);
    }
    return out;
  }

  /** The segments (runs), oldest first. */
  segments(): SegmentInfo[] {
    const rows = this.#db.prepare("SELECT * FROM segments ORDER BY id").all() as Record<
      string,
      unknown
    >[];
    const alive = this.#recorderAlive;
    const lastOf = this.#db.prepare(
      `SELECT max(t) AS t FROM (SELECT max(t_max) AS t FROM chunks WHERE segment_id = ?1
       UNION ALL SELECT max(t) FROM events WHERE segment_id = ?1 AND kind NOT IN ('start', 'stop'))`,
    );
    return rows.map((r) => {
      const open = r.stop === null;
      const last = (lastOf.get(Number(r.id)) as { t: number | null } | undefined)?.t ?? null;
      return {
        id: Number(r.id),
        start: Number(r.start),
        stop: open ? undefined : Number(r.stop),
        reason: r.reason === null ? undefined : String(r.reason),
        command: r.command === null ? undefined : JSON.parse(String(r.command)),
        config_file: r.config_file === null ? undefined : String(r.config_file),
        version: r.version === null ? undefined : String(r.version),
        hostname: r.hostname === null ? undefined : String(r.hostname),
        state: open
          ? (alive && r.id === rows.at(-1)!.id ? "running" : "interrupted")
          : r.reason === CRASHED
          ? "interrupted"
          : "stopped",
        last: last === null ? undefined : Number(last),
        pid: r.pid === null || r.pid === undefined ? undefined : Number(r.pid),
      };
    });
  }

  /** The config snapshot of a segment (default: the latest). */
  configText(segment?: number): string | undefined {
    const row =
      (segment === undefined
        ? this.#db.prepare("SELECT config FROM segments ORDER BY id DESC LIMIT 1").get()
        : this.#db.prepare("SELECT config FROM segments WHERE id = ?").get(segment)) as
          | { config: string | null }
          | undefined;
    return row?.config ?? undefined;
  }

  /** Session-level metadata (e.g. `created`). */
  meta(): Record<string, string> {
    const rows = this.#db.prepare("SELECT key, value FROM session").all() as {
      key: string;
      value: string;
    }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  /** Events with id above `afterId`, optionally only of some kinds, oldest first. */
  events(options: { afterId?: number; kinds?: string[]; limit?: number } = {}): EventInfo[] {
    const kinds = options.kinds ?? [];
    const rows = this.#db.prepare(
      `SELECT * FROM events WHERE id > ?${
        kinds.length ? ` AND kind IN (${kinds.map(() => "?").join(",")})` : ""
      } ORDER BY id LIMIT ?`,
    ).all(options.afterId ?? 0, ...kinds, options.limit ?? -1) as Record<string, unknown>[];
    return rows.map((r) => ({
      id: Number(r.id),
      t: Number(r.t),
      segment: r.segment_id === null ? undefined : Number(r.segment_id),
      kind: String(r.kind),
      severity: r.severity === null ? undefined : String(r.severity),
      device: r.device === null ? undefined : String(r.device),
      attr: r.attr === null ? undefined : String(r.attr),
      message: String(r.message),
      data: r.data === null ? undefined : JSON.parse(String(r.data)),
    }));
  }

  /** Task runs, oldest first. */
  tasks(): TaskInfo[] {
    const rows = this.#db.prepare("SELECT * FROM tasks ORDER BY id").all() as Record<
      string,
      unknown
    >[];
    return rows.map((r) => ({
      id: Number(r.id),
      segment: r.segment_id === null ? undefined : Number(r.segment_id),
      device: String(r.device),
      technique: String(r.technique),
      params: r.params === null ? undefined : JSON.parse(String(r.params)),
      start: Number(r.start),
      stop: r.stop === null ? undefined : Number(r.stop),
      status: r.status === null ? undefined : String(r.status),
      data: r.data === null ? undefined : JSON.parse(String(r.data)),
    }));
  }

  /** Count of events per kind. */
  eventCounts(): Record<string, number> {
    const rows = this.#db.prepare("SELECT kind, count(*) AS n FROM events GROUP BY kind").all() as {
      kind: string;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.kind, Number(r.n)]));
  }

  /** Sum of missed deadlines recorded in gap events. */
  missedDeadlines(): number {
    const row = this.#db.prepare(
      "SELECT coalesce(sum(json_extract(data, '$.missed')), 0) AS n FROM events WHERE kind = 'gap'",
    ).get() as { n: number };
    return Number(row.n);
  }

  /** Time span of the samples, epoch seconds. */
  timeRange(): { first?: number; last?: number } {
    const row = this.#db.prepare("SELECT min(t_min) AS a, max(t_max) AS b FROM chunks").get() as {
      a: number | null;
      b: number | null;
    };
    return { first: row.a ?? undefined, last: row.b ?? undefined };
  }

  /**
   * Yields samples in time order (ties in write order), loading one flush's rows at a time.
   * Rows are written in arrival order, which can lag behind `t` (a slow read finishes after a
   * fast one started later); a row is only yielded once no later chunk can hold an earlier time.
   */
  *samples(query: SampleQuery = {}): Generator<Sample> {
    const from = query.from ?? -Infinity;
    const to = query.to ?? Infinity;
    // Each chunk with the earliest time of every chunk after it: rows before that bound can go.
    const chunks = this.#db.prepare(
      `SELECT first_row, last_row, min(t_min) OVER (
         ORDER BY id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS later
       FROM chunks WHERE t_max >= ? AND t_min <= ? ORDER BY id`,
    );
    const ids = query.attrIds;
    const filter = ids && ids.length > 0
      ? ` AND attr_id IN (${ids.map((i) => Math.trunc(i)).join(",")})`
      : "";
    const stmt = this.#db.prepare(
      `SELECT t, attr_id, value, text FROM samples
       WHERE rowid BETWEEN ? AND ? AND t >= ? AND t <= ?${filter}`,
    );
    let held: RawRow[] = [];
    const lo = from === -Infinity ? -1e300 : from;
    const hi = to === Infinity ? 1e300 : to;
    const list = chunks.iterate(lo, hi) as Iterable<
      { first_row: number; last_row: number; later: number | null }
    >;
    for (const c of list) {
      const rows = stmt.all(c.first_row, c.last_row, lo, hi) as unknown as RawRow[];
      rows.sort((a, b) => a.t - b.t);
      held = held.length === 0 ? rows : merge(held, rows);
      const bound = c.later ?? Infinity;
      let n = 0;
      while (n < held.length && held[n]!.t < bound) n++;
      for (let k = 0; k < n; k++) yield this.#decode(held[k]!);
      held = n === held.length ? [] : held.slice(n);
    }
    for (const r of held) yield this.#decode(r);
  }

  /** Samples written after rowid `after` (for `tail`), in write order, with the last rowid. */
  samplesAfter(after: number, limit = 10_000): { rows: Sample[]; last: number } {
    const rows = this.#db.prepare(
      "SELECT rowid AS id, t, attr_id, value, text FROM samples WHERE rowid > ? ORDER BY rowid LIMIT ?",
    ).all(after, limit) as unknown as (RawRow & { id: number })[];
    return {
      rows: rows.map((r) => this.#decode(r)),
      last: rows.length ? Number(rows[rows.length - 1]!.id) : after,
    };
  }

  /** The rowid from which the last `n` samples start (for `tail --lines N`). */
  lastRowid(n = 0): number {
    const row = this.#db.prepare("SELECT coalesce(max(rowid), 0) AS id FROM samples").get() as {
      id: number;
    };
    return Math.max(0, Number(row.id) - n);
  }

  /** The last event id. */
  lastEventId(): number {
    const row = this.#db.prepare("SELECT coalesce(max(id), 0) AS id FROM events").get() as {
      id: number;
    };
    return Number(row.id);
  }

  /** Closes the file. */
  close(): void {
    this.#db.close();
  }

  #decode(r: RawRow): Sample {
    const a = this.attr(Number(r.attr_id));
    return {
      t: r.t,
      attrId: Number(r.attr_id),
      value: decodeValue(a?.type ?? "number", r.value, r.text),
    };
  }
}

function minDefined(a: unknown, b: unknown): number | undefined {
  const xs = [a, b].filter((x) => x !== null && x !== undefined).map(Number);
  return xs.length ? Math.min(...xs) : undefined;
}

function maxDefined(a: unknown, b: unknown): number | undefined {
  const xs = [a, b].filter((x) => x !== null && x !== undefined).map(Number);
  return xs.length ? Math.max(...xs) : undefined;
}

function merge(a: RawRow[], b: RawRow[]): RawRow[] {
  const out: RawRow[] = new Array(a.length + b.length);
  let i = 0, j = 0, k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i]!.t <= b[j]!.t ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}
