/**
 * The session store: one SQLite file per session (WAL, `synchronous=NORMAL`, so a kill -9 loses
 * only what the writer had not flushed). Opening it for recording checks, before any sampling
 * starts, that the path can be written and the disk has room; takes an exclusive advisory lock
 * (two recorders never share a file; readers like `session tail` still can); closes segments a
 * crash left open; and appends a new segment for this run.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Attr, AttrType } from "../device/attr.ts";
import { type Checkpointer, startCheckpointer } from "./checkpointer.ts";
import {
  type CarriedRows,
  carriedRows,
  type OpenFileOptions,
  openSessionFile,
  removeSessionFiles,
  restoreCarriedRows,
  WRITER_PRAGMAS,
} from "./file.ts";
import { CRASHED } from "./schema.ts";
import { type EventRow, SampleWriter, type WriterOptions } from "./writer.ts";

/** What a recording run says about itself in its segment. */
export interface SegmentMeta {
  /** The command line (argv after the program). */
  command?: string[];
  /** The config file path, if any. */
  configFile?: string;
  /** The config file's text (a snapshot: the file may change later). */
  configText?: string;
  /** labwire's version. */
  version?: string;
  /**
   * `[session.parameters]`: merged into the session's `parameters` (a later run's value of a
   * key replaces the earlier one; a change is recorded as a `parameters` event).
   */
  parameters?: Record<string, string | number | boolean>;
}

/** Options for opening a session to record into. */
export interface StoreOptions extends WriterOptions, OpenFileOptions {
  /** Metadata of this run's segment. */
  segment?: SegmentMeta;
  /**
   * Checkpoint the write-ahead log from a worker every this many ms (default 1000), keeping
   * checkpoint fsyncs off the sampling thread; 0 lets SQLite checkpoint on this connection.
   */
  checkpointMs?: number;
  /** Least time between two checks that the session file is still there, ms (default 1000). */
  fileCheckMs?: number;
  /**
   * Write samples and events from a worker's own connection, so recording costs this thread no
   * SQLite time (default false: written on this thread). `serve` asks for it: its thread answers
   * requests, and a `/read` recorded here cost ~1.6 µs more of it. `monitor` and `scan` do not:
   * they answer no one, and with the worker (rows handed over through a shared ring) `monitor`
   * of 2,000 channels at 10 Hz used less CPU (0.053 core against 0.060) but started ~24 MB
   * larger and grew 6.1 MB over two minutes (target 5 MB). The worker is its own V8 heap: its
   * old generation took ~45 kB/s (about half from the per-attribute count upserts: node:sqlite
   * leaves garbage there per call) with no mark-compact in a minute (`--trace-gc`). With no
   * worker available it writes on this thread as well.
   */
  writeInWorker?: boolean;
}

/** A device as the session knows it. */
export interface DeviceRow {
  /** Device name. */
  name: string;
  /** Its address. */
  address?: string;
  /** Its driver scheme. */
  driver?: string;
  /** Its sampling interval, ms. */
  intervalMs?: number;
}

/** An open session being recorded into. */
export class SessionStore {
  /** The batched writer of samples and events. */
  readonly writer: SampleWriter;
  /** This run's segment id. */
  readonly segmentId: number;
  #db: DatabaseSync;
  #lock: Deno.FsFile;
  readonly #options: StoreOptions;
  readonly #reopened = new Set<(db: DatabaseSync) => void>();
  #carry: CarriedRows | undefined;
  readonly #devices = new Map<string, number>();
  readonly #attrs = new Map<number, Map<string, { id: number; type: string; units?: string }>>();
  #closed = false;
  #checkedAt = -Infinity;
  readonly #checkEvery: number;
  #gone = false;
  #checkpointer: Checkpointer | undefined;
  readonly #statements = new Map<string, StatementSync>();

  private constructor(
    readonly path: string,
    db: DatabaseSync,
    lock: Deno.FsFile,
    options: StoreOptions,
  ) {
    this.#db = db;
    this.#lock = lock;
    this.#options = options;
    const now = Date.now() / 1000;
    const open = db.prepare("SELECT id FROM segments WHERE stop IS NULL").all() as { id: number }[];
    for (const { id } of open) {
      // A run that died without closing (kill -9, power cut): its last chunk is its end.
      const last = db.prepare(
        `SELECT max(t) AS t FROM (SELECT max(t_max) AS t FROM chunks WHERE segment_id = ?
         UNION ALL SELECT max(t) FROM events WHERE segment_id = ?
         UNION ALL SELECT start FROM segments WHERE id = ?)`,
      ).get(id, id, id) as { t: number };
      db.prepare("UPDATE segments SET stop = ?, reason = ? WHERE id = ?")
        .run(last.t, CRASHED, id);
    }
    foldStats(db);
    const seg = options.segment ?? {};
    const r = db.prepare(
      `INSERT INTO segments (start, command, config_file, config, version, hostname, pid)
       VALUES (?,?,?,?,?,?,?)`,
    ).run(
      now,
      seg.command ? JSON.stringify(seg.command) : null,
      seg.configFile ?? null,
      seg.configText ?? null,
      seg.version ?? null,
      hostname(),
      Deno.pid,
    );
    this.segmentId = Number(r.lastInsertRowid);
    db.prepare("INSERT OR IGNORE INTO session (key, value) VALUES ('created', ?)").run(
      new Date(now * 1000).toISOString(),
    );
    const changed = seg.parameters ? mergeParameters(db, seg.parameters) : undefined;
    for (
      const row of db.prepare("SELECT id, name FROM devices").all() as {
        id: number;
        name: string;
      }[]
    ) this.#devices.set(row.name, row.id);
    for (
      const row of db.prepare("SELECT id, device_id, name, type, units FROM attrs").all() as {
        id: number;
        device_id: number;
        name: string;
        type: string;
        units: string | null;
      }[]
    ) {
      this.#attrMap(row.device_id).set(row.name, {
        id: row.id,
        type: row.type,
        units: row.units ?? undefined,
      });
    }
    // The worker's connection leaves checkpoints to the checkpointer as this one does.
    const autocheckpoint = (options.checkpointMs ?? 1000) > 0 ? 0 : 1000;
    this.writer = new SampleWriter(
      db,
      this.segmentId,
      options,
      options.writeInWorker !== true ? undefined : {
        path,
        pragmas: [...WRITER_PRAGMAS, `PRAGMA wal_autocheckpoint = ${autocheckpoint}`],
      },
    );
    this.#checkEvery = options.fileCheckMs ?? 1000;
    this.writer.options.check = () => this.#checkFile();
    this.#startCheckpointer();
    this.writer.event({
      t: now,
      kind: "start",
      message: `segment ${this.segmentId} started${
        open.length ? ` (closed ${open.length} left open by a crash)` : ""
      }`,
      data: { segment: this.segmentId, pid: Deno.pid },
    });
    if (changed) {
      this.writer.event({
        t: now,
        kind: "parameters",
        message: `parameters: ${
          Object.entries(changed).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")
        }`,
        data: changed,
      });
    }
  }

  /**
   * Opens (creating if needed) a session file for recording. Throws a {@linkcode ConfigError}
   * naming the path and what to do when it cannot be written, is locked by another recorder, or
   * the disk is (nearly) full.
   */
  static open(path: string, options: StoreOptions = {}): SessionStore {
    const { db, lock } = openSessionFile(path, options);
    return new SessionStore(path, db, lock, options);
  }

  /**
   * Calls `fn` with the new database each time the session file is recreated (it was removed
   * or moved away while recording); returns a function that removes the listener.
   */
  onReopen(fn: (db: DatabaseSync) => void): () => void {
    this.#reopened.add(fn);
    return () => this.#reopened.delete(fn);
  }

  /** The database (for readers in the same process and the scan store). */
  get db(): DatabaseSync {
    return this.#db;
  }

  /** Registers a device (or updates its address/interval) and returns its id. */
  device(d: DeviceRow): number {
    const known = this.#devices.get(d.name);
    if (known !== undefined) {
      this.#sql("UPDATE devices SET address = ?, driver = ?, interval_ms = ? WHERE id = ?")
        .run(d.address ?? null, d.driver ?? null, d.intervalMs ?? null, known);
      return known;
    }
    const r = this.#sql(
      "INSERT INTO devices (name, address, driver, interval_ms) VALUES (?,?,?,?)",
    ).run(d.name, d.address ?? null, d.driver ?? null, d.intervalMs ?? null);
    const id = Number(r.lastInsertRowid);
    this.#devices.set(d.name, id);
    return id;
  }

  /** Registers an attribute of a device id (keeping units current) and returns its id. */
  attr(deviceId: number, a: Pick<Attr, "name" | "type"> & Partial<Attr>): number {
    const map = this.#attrMap(deviceId);
    const known = map.get(a.name);
    if (known) {
      if ((a.units !== undefined && a.units !== known.units) || a.type !== known.type) {
        this.#sql("UPDATE attrs SET type = ?, units = ?, description = ? WHERE id = ?")
          .run(a.type, a.units ?? known.units ?? null, a.description ?? null, known.id);
        known.units = a.units ?? known.units;
        known.type = a.type;
      }
      return known.id;
    }
    const r = this.#sql(
      "INSERT INTO attrs (device_id, name, type, units, description) VALUES (?,?,?,?,?)",
    ).run(deviceId, a.name, a.type, a.units ?? null, a.description ?? null);
    const id = Number(r.lastInsertRowid);
    map.set(a.name, { id, type: a.type, units: a.units });
    return id;
  }

  /** The id of a known attribute, if registered. */
  attrId(deviceId: number, name: string): number | undefined {
    return this.#attrs.get(deviceId)?.get(name)?.id;
  }

  /** The declared type of a registered attribute. */
  attrType(deviceId: number, name: string): AttrType | undefined {
    return this.#attrs.get(deviceId)?.get(name)?.type as AttrType | undefined;
  }

  /** Queues an event (written with the next flush, within a second). */
  event(e: EventRow): void {
    this.writer.event(e);
  }

  /** Records a task run; returns its id (see {@linkcode SessionStore.endTask}). */
  startTask(device: string, technique: string, params: unknown): number {
    const r = this.#sql(
      "INSERT INTO tasks (segment_id, device, technique, params, start, status) VALUES (?,?,?,?,?,?)",
    ).run(
      this.segmentId,
      device,
      technique,
      JSON.stringify(params ?? {}),
      Date.now() / 1000,
      "running",
    );
    return Number(r.lastInsertRowid);
  }

  /** Ends a task run with its status and collected data. */
  endTask(id: number, status: string, data?: unknown): void {
    this.#sql("UPDATE tasks SET stop = ?, status = ?, data = ? WHERE id = ?").run(
      Date.now() / 1000,
      status,
      data === undefined ? null : JSON.stringify(data),
      id,
    );
  }

  /** Flushes, ends the segment with `reason` and closes the file. */
  close(reason = "stopped"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#checkpointer?.stop();
    const now = Date.now() / 1000;
    try {
      this.writer.event({
        t: now,
        kind: "stop",
        message: `segment ${this.segmentId} stopped: ${reason}`,
      });
      this.writer.close();
      this.#db.prepare("UPDATE segments SET stop = ?, reason = ? WHERE id = ?").run(
        now,
        reason,
        this.segmentId,
      );
      this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } finally {
      this.#db.close();
      this.#lock.close();
    }
  }

  // At most once a second: is `path` still the file being written? Removed or moved away (log
  // rotation), every write would vanish with the last descriptor: the first check that sees it
  // fails the write (an outage: logged, /healthz degraded), the retry recreates the file at the
  // path and writing goes on there. Replaced by another file, writes fail until it is moved away.
  #checkFile(): void {
    const now = performance.now();
    if (now - this.#checkedAt < this.#checkEvery && !this.#gone) return;
    this.#checkedAt = now;
    let ino: number | null | undefined;
    try {
      ino = Deno.statSync(this.path).ino;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (ino !== undefined && (ino === null || ino === this.#lock.statSync().ino)) {
      this.#gone = false;
      return;
    }
    if (ino === undefined && this.#gone) {
      this.#recreate();
      this.#gone = false;
      return;
    }
    if (ino === undefined) {
      // First seen gone (the next look recreates it, above). The writer's worker drains the
      // ring into its connection on its own timer while rows come: until the file is recreated
      // it would go on writing them into the removed file (lost with it), not hold them for the
      // new one. Detached, it holds them.
      this.writer.detach();
    }
    this.#gone = true;
    throw new Error(
      ino === undefined
        ? `the session file ${this.path} was removed or moved away; recreating it`
        : `the session file ${this.path} was replaced by another file; move that file away and ` +
          "recording goes on in a new one at that path",
    );
  }

  /**
   * Opens a new file at the path with the rows every id in use refers to (this segment, the
   * devices and attributes, running scans), so the writer, the recorder and scans go on with the
   * same ids; the old file's other rows stay with it. Those rows are read once, before the old
   * connection is closed (its write-ahead log has the path's name, which the new file takes), so
   * a retry after a failed attempt (no room for the new file) needs nothing from the old one.
   */
  #recreate(): void {
    if (!this.#carry) {
      const old = this.#db;
      this.#carry = carriedRows(old, this.segmentId);
      this.#checkpointer?.stop();
      this.#checkpointer = undefined;
      // The worker's connection first: closed last, a connection deletes the log by its name.
      this.writer.detach();
      try {
        old.close();
      } catch { /* its file is gone: nothing to keep in it */ }
      this.#lock.close();
    }
    removeSessionFiles(this.path, ["-wal", "-shm"]);
    const { db, lock } = openSessionFile(this.path, this.#options);
    try {
      restoreCarriedRows(db, this.#carry);
    } catch (err) {
      db.close();
      lock.close();
      removeSessionFiles(this.path, ["-wal", "-shm", ""]);
      throw err;
    }
    this.#carry = undefined;
    this.#db = db;
    this.#lock = lock;
    this.#statements.clear();
    this.writer.reopen(db);
    this.#startCheckpointer();
    for (const fn of this.#reopened) fn(db);
    this.writer.event({
      kind: "store",
      severity: "major",
      message: `the session file ${this.path} was removed or moved away while recording; ` +
        `recording goes on in this new file (segment ${this.segmentId} continues here; what was ` +
        "recorded before went with the old file)",
    });
  }

  // Checkpoints the write-ahead log from a worker (see StoreOptions.checkpointMs).
  #startCheckpointer(): void {
    const every = this.#options.checkpointMs ?? 1000;
    if (every <= 0) return;
    this.#db.exec("PRAGMA wal_autocheckpoint = 0");
    this.#checkpointer = startCheckpointer(this.path, every, (message) => {
      if (this.#closed) return;
      // No worker (or it failed): SQLite checkpoints on the writing connections again.
      this.#db.exec("PRAGMA wal_autocheckpoint = 1000");
      this.writer.pragma("PRAGMA wal_autocheckpoint = 1000");
      this.writer.event({
        kind: "note",
        severity: "info",
        message: `checkpointing in the background failed (${message}); checkpointing inline`,
      });
    });
  }

  // Prepared once: registering 2,000 attrs must not leave 2,000 statements for the GC.
  #sql(text: string): StatementSync {
    let st = this.#statements.get(text);
    if (!st) {
      st = this.#db.prepare(text);
      this.#statements.set(text, st);
    }
    return st;
  }

  #attrMap(deviceId: number) {
    let map = this.#attrs.get(deviceId);
    if (!map) {
      map = new Map();
      this.#attrs.set(deviceId, map);
    }
    return map;
  }
}

/** The rowid up to which `attr_stats` counts samples (the writer updates it every ~10 s). */
export function statsRow(db: DatabaseSync): number {
  const row = db.prepare("SELECT value FROM session WHERE key = 'stats_row'").get() as
    | { value: string }
    | undefined;
  return row ? Number(row.value) : 0;
}

// Counts the samples a run wrote after its last stats update (it was killed in between).
function foldStats(db: DatabaseSync): void {
  const from = statsRow(db);
  db.exec("BEGIN IMMEDIATE");
  try {
    db.prepare(
      `INSERT INTO attr_stats (attr_id, count, t_first, t_last)
       SELECT attr_id, count(*), min(t), max(t) FROM samples WHERE rowid > ? GROUP BY attr_id
       ON CONFLICT (attr_id) DO UPDATE SET count = count + excluded.count,
         t_first = min(t_first, excluded.t_first), t_last = max(t_last, excluded.t_last)`,
    ).run(from);
    db.prepare(
      `INSERT INTO session (key, value) SELECT 'stats_row', coalesce(max(rowid), 0) FROM samples
       WHERE true ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ).run();
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}

function hostname(): string | null {
  try {
    return Deno.hostname();
  } catch {
    return null;
  }
}

/**
 * Merges `given` into the session's `parameters` row; returns the keys whose value changed (all
 * of them the first time), or undefined when none did.
 */
function mergeParameters(
  db: DatabaseSync,
  given: Record<string, string | number | boolean>,
): Record<string, string | number | boolean> | undefined {
  const row = db.prepare("SELECT value FROM session WHERE key = 'parameters'").get() as
    | { value: string }
    | undefined;
  const before = row ? JSON.parse(row.value) as Record<string, unknown> : {};
  const changed = Object.fromEntries(
    Object.entries(given).filter(([k, v]) => before[k] !== v),
  );
  if (Object.keys(changed).length === 0) return undefined;
  db.prepare("INSERT OR REPLACE INTO session (key, value) VALUES ('parameters', ?)").run(
    JSON.stringify({ ...before, ...given }),
  );
  return changed;
}
