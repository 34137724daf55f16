/**
 * Scans in the session file: a `scans` table (plan, command, positioners, detectors, units,
 * state, times) and a `scan_points` table (one row per completed point). The tables are created
 * idempotently in any `DatabaseSync`, so the scan verb, the session store and the server can
 * share one file. `labwire session info` lists scans with {@linkcode listScans};
 * `labwire session export --scan N` calls `exportScan` (`scan_export.ts`).
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Value } from "../device/attr.ts";
import { UsageError } from "../device/errors.ts";

/**
 * Where a scan is in its life. `stopped` (interrupted after a point), `aborted` (stopped at once:
 * second Ctrl-C, daemon shutdown) and `failed` scans can be resumed.
 */
export type ScanState = "running" | "done" | "stopped" | "aborted" | "failed";

/** What is stored about a scan when it starts. */
export interface ScanMeta {
  /** The full request (plan spec, detectors, timing), JSON-serialisable. */
  plan: unknown;
  /** The command line or API call that started it. */
  command: string;
  /** `device.attr` of each positioner. */
  positioners: string[];
  /** `device.attr` of each detector. */
  detectors: string[];
  /** Units of positioners and detectors, keyed by `device.attr` (absent when unitless). */
  units: Record<string, string>;
  /** Positions of the positioners when the scan started (the origin of relative plans). */
  origin: number[];
  /** Number of points in the plan. */
  total: number;
  /** Start time, Unix epoch seconds. */
  started: number;
}

/** A stored scan. */
export interface ScanRecord extends ScanMeta {
  /** Scan id in this session file. */
  id: number;
  /** Current state. */
  state: ScanState;
  /** End time (Unix epoch seconds), once it ended. */
  ended?: number;
  /** Why it failed or stopped, when it did. */
  error?: string;
  /** Points recorded so far. */
  recorded: number;
  /** Peak statistics per detector (`device.attr`; lib/scan/peak.ts), once the scan ended. */
  stats?: Record<string, unknown>;
  /** What the scan measured before and after, for `--baseline`. */
  baseline?: Record<string, unknown>;
}

/** One recorded point of a scan. */
export interface ScanPoint {
  /** Point index in the plan (0-based). */
  index: number;
  /** When the detectors were read, Unix epoch seconds. */
  t: number;
  /** Absolute target of each positioner. */
  positions: number[];
  /** Read-back of each positioner once it arrived. */
  readbacks: Value[];
  /** Value of each detector. */
  values: Value[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS scans (
  id INTEGER PRIMARY KEY,
  plan TEXT NOT NULL,
  command TEXT NOT NULL,
  positioners TEXT NOT NULL,
  detectors TEXT NOT NULL,
  units TEXT NOT NULL,
  origin TEXT NOT NULL,
  total INTEGER NOT NULL,
  state TEXT NOT NULL,
  error TEXT,
  started REAL NOT NULL,
  ended REAL
);
CREATE TABLE IF NOT EXISTS scan_points (
  scan_id INTEGER NOT NULL REFERENCES scans(id),
  idx INTEGER NOT NULL,
  t REAL NOT NULL,
  positions TEXT NOT NULL,
  readbacks TEXT NOT NULL,
  readings TEXT NOT NULL,
  PRIMARY KEY (scan_id, idx)
) WITHOUT ROWID;
`;

/**
 * Points per INSERT statement at most. One statement per point cost the daemon's old
 * generation ~50 bytes of garbage a point: a node:sqlite call given a freshly computed number
 * (a point's time) leaves that much in the old space (measured with --trace-gc-nvp: 200,000
 * one-row inserts, 9 MB freed only by mark-compacts; as 20-row inserts, none). A 1,000,000-point
 * scan at ~40,000 points/s so forced a mark-compact every few seconds and grew the heap.
 */
const POINTS_PER_STATEMENT = 32;

/** Columns added after the first release of the table: name and type. */
const ADDED_COLUMNS = [["stats", "TEXT"], ["baseline", "TEXT"]] as const;

/** Creates the scan tables if they are missing, and columns added since (safe on every open). */
export function ensureScanTables(db: DatabaseSync): void {
  db.exec(SCHEMA);
  const have = new Set(db.prepare("PRAGMA table_info(scans)").all().map((r) => String(r.name)));
  for (const [name, type] of ADDED_COLUMNS) {
    if (!have.has(name)) db.exec(`ALTER TABLE scans ADD COLUMN ${name} ${type}`);
  }
}

/**
 * Scan records in one session database. Points are written in batches by the caller
 * ({@linkcode ScanStore.addPoints} runs one transaction per call).
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { ScanStore } from "./scan_store.ts";
 * const store = new ScanStore(new DatabaseSync(":memory:"));
 * const id = store.create({
 *   plan: {}, command: "scan count 1", positioners: [], detectors: ["det.counts"], units: {},
 *   origin: [], total: 1, started: 0,
 * });
 * store.addPoints(id, [{ index: 0, t: 1, positions: [], readbacks: [], values: [5] }]);
 * store.points(id)[0]?.values; // [5]
 * ```
 */
export class ScanStore {
  // INSERT statements by number of points (1…POINTS_PER_STATEMENT), prepared when first used.
  #inserts: StatementSync[] = [];
  #page: StatementSync | undefined;
  #prepared: DatabaseSync | undefined;
  readonly #source: () => DatabaseSync;

  /**
   * Uses `db`, creating the scan tables in it at first use. Given a function (e.g.
   * `() => session.db`), it follows the session to a new database when its file is recreated,
   * and asks for it only when a scan is recorded or read: `labwire scan` opens its session file
   * there, so a scan refused by its checks (a mistyped attribute, a limit) makes none.
   */
  constructor(db: DatabaseSync | (() => DatabaseSync)) {
    this.#source = typeof db === "function" ? db : () => db;
  }

  /** The database the scans are recorded in (statements are prepared again when it changes). */
  get db(): DatabaseSync {
    return this.#follow();
  }

  #follow(): DatabaseSync {
    const db = this.#source();
    if (db !== this.#prepared) {
      ensureScanTables(db);
      this.#inserts = [];
      this.#page = undefined;
      this.#prepared = db;
    }
    return db;
  }

  /** Records a new running scan and returns its id. */
  create(meta: ScanMeta): number {
    const r = this.db.prepare(
      `INSERT INTO scans (plan, command, positioners, detectors, units, origin, total, state, started)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)`,
    ).run(
      JSON.stringify(meta.plan),
      meta.command,
      JSON.stringify(meta.positioners),
      JSON.stringify(meta.detectors),
      JSON.stringify(meta.units),
      JSON.stringify(meta.origin),
      meta.total,
      meta.started,
    );
    return Number(r.lastInsertRowid);
  }

  /** Appends points in one transaction. */
  addPoints(id: number, points: readonly ScanPoint[]): void {
    if (points.length === 0) return;
    // inside someone else's transaction (a shared session writer), join it
    const own = !this.db.isTransaction;
    if (own) this.db.exec("BEGIN");
    try {
      for (let from = 0; from < points.length; from += POINTS_PER_STATEMENT) {
        const n = Math.min(POINTS_PER_STATEMENT, points.length - from);
        const args: (number | string)[] = [];
        for (let i = from; i < from + n; i++) {
          const p = points[i]!;
          args.push(
            id,
            p.index,
            p.t,
            JSON.stringify(p.positions),
            JSON.stringify(p.readbacks),
            JSON.stringify(p.values),
          );
        }
        this.#insert(n).run(...args);
      }
      if (own) this.db.exec("COMMIT");
    } catch (err) {
      if (own) this.db.exec("ROLLBACK");
      throw err;
    }
  }

  /** The INSERT of `n` points. */
  #insert(n: number): StatementSync {
    let st = this.#inserts[n];
    if (!st) {
      const rows = new Array(n).fill("(?, ?, ?, ?, ?, ?)").join(", ");
      st = this.db.prepare(
        `INSERT INTO scan_points (scan_id, idx, t, positions, readbacks, readings) VALUES ${rows}`,
      );
      this.#inserts[n] = st;
    }
    return st;
  }

  /** Marks a scan running again (resume). */
  reopen(id: number): void {
    this.db.prepare("UPDATE scans SET state = 'running', error = NULL, ended = NULL WHERE id = ?")
      .run(id);
  }

  /** Records how a scan ended, with its peak statistics when there are any. */
  finish(
    id: number,
    state: Exclude<ScanState, "running">,
    error?: string,
    ended?: number,
    stats?: Record<string, unknown>,
  ): void {
    this.db.prepare("UPDATE scans SET state = ?, error = ?, ended = ?, stats = ? WHERE id = ?").run(
      state,
      error ?? null,
      ended ?? Date.now() / 1000,
      stats ? JSON.stringify(stats) : null,
      id,
    );
  }

  /** Stores what `--baseline` read (`start`, then `end` as the scan ends). */
  setBaseline(id: number, baseline: Record<string, unknown>): void {
    this.db.prepare("UPDATE scans SET baseline = ? WHERE id = ?").run(JSON.stringify(baseline), id);
  }

  /** Every scan, oldest first. */
  list(): ScanRecord[] {
    return listScans(this.db);
  }

  /** One scan, or a usage error naming the scans there are. */
  get(id: number): ScanRecord {
    return readScan(this.db, id);
  }

  /** The recorded points of a scan, in point order. */
  points(id: number): ScanPoint[] {
    return readScanPoints(this.db, id);
  }

  /** Up to `limit` recorded points of a scan with index ≥ `since`, in point order. */
  pointsPage(id: number, since: number, limit: number): ScanPoint[] {
    const db = this.db;
    this.#page ??= db.prepare(
      "SELECT idx, t, positions, readbacks, readings FROM scan_points WHERE scan_id = ? AND idx >= ? ORDER BY idx LIMIT ?",
    );
    return this.#page.all(id, since, limit).map(toPoint);
  }

  /** The point indices already recorded, ascending. */
  recordedIndices(id: number): number[] {
    return this.db.prepare("SELECT idx FROM scan_points WHERE scan_id = ? ORDER BY idx").all(id)
      .map((r) => Number(r.idx));
  }

  /** The latest scan that did not complete (the default of `scan --resume`), if any. */
  lastUnfinished(): ScanRecord | undefined {
    return this.list().reverse().find((s) => s.state !== "done");
  }
}

/** Lists the scans of a session file (for `labwire session info`); none when there is no table. */
export function listScans(db: DatabaseSync): ScanRecord[] {
  if (!hasScanTables(db)) return [];
  return db.prepare(
    `SELECT s.*, (SELECT COUNT(*) FROM scan_points p WHERE p.scan_id = s.id) AS recorded
     FROM scans s ORDER BY s.id`,
  ).all().map(toRecord);
}

/** Reads one scan or throws a usage error listing the scan ids there are. */
export function readScan(db: DatabaseSync, id: number): ScanRecord {
  const rows = hasScanTables(db)
    ? db.prepare(
      `SELECT s.*, (SELECT COUNT(*) FROM scan_points p WHERE p.scan_id = s.id) AS recorded
       FROM scans s WHERE s.id = ?`,
    ).all(id)
    : [];
  if (rows.length === 0) {
    const ids = listScans(db).map((s) => s.id);
    throw new UsageError(
      `no scan ${id} in this session; ${
        ids.length ? `scans: ${ids.join(", ")}` : "it has no scans"
      }`,
    );
  }
  return toRecord(rows[0]!);
}

/** Reads the points of a scan in point order. */
export function readScanPoints(db: DatabaseSync, id: number): ScanPoint[] {
  return db.prepare(
    "SELECT idx, t, positions, readbacks, readings FROM scan_points WHERE scan_id = ? ORDER BY idx",
  ).all(id).map(toPoint);
}

function toPoint(r: Record<string, unknown>): ScanPoint {
  return {
    index: Number(r.idx),
    t: Number(r.t),
    positions: JSON.parse(String(r.positions)),
    readbacks: JSON.parse(String(r.readbacks)),
    values: JSON.parse(String(r.readings)),
  };
}

function hasScanTables(db: DatabaseSync): boolean {
  return db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'scans'").all()
    .length > 0;
}

function toRecord(r: Record<string, unknown>): ScanRecord {
  return {
    id: Number(r.id),
    plan: JSON.parse(String(r.plan)),
    command: String(r.command),
    positioners: JSON.parse(String(r.positioners)),
    detectors: JSON.parse(String(r.detectors)),
    units: JSON.parse(String(r.units)),
    origin: JSON.parse(String(r.origin)),
    total: Number(r.total),
    state: String(r.state) as ScanState,
    error: r.error === null || r.error === undefined ? undefined : String(r.error),
    started: Number(r.started),
    ended: r.ended === null || r.ended === undefined ? undefined : Number(r.ended),
    recorded: Number(r.recorded ?? 0),
    ...(typeof r.stats === "string" ? { stats: JSON.parse(r.stats) } : {}),
    ...(typeof r.baseline === "string" ? { baseline: JSON.parse(r.baseline) } : {}),
  };
}
