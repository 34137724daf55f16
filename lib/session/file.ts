/**
 * The session file itself, below the store: opening it for recording (directory, free space,
 * the exclusive lock, WAL, migration, a first real write), whether a recorder holds that lock
 * ({@linkcode recorderAlive}, for readers) and what a file recreated at the same path carries
 * over from the removed one. {@linkcode SessionStore} owns the open file; this module holds no
 * state.
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { dirname } from "node:path";
import { ConfigError, errorMessage } from "../device/errors.ts";
import { migrate } from "./schema.ts";

/** Size the write-ahead log file is cut back to when it is reset after a checkpoint, bytes. */
const WAL_SIZE_LIMIT = 64 * 1024 * 1024;

/**
 * The settings of every connection that writes a session (the recording one, and the writer's
 * worker's): wait for the other writer's lock instead of failing, commit without a sync per
 * transaction (WAL: a power cut loses the last commits, never the file), and cut the
 * write-ahead log back once checkpointed (without a limit its file keeps its largest size for
 * good: ~740 MB after a 1,000,000-point scan of 55 MB of data).
 */
export const WRITER_PRAGMAS: readonly string[] = [
  "PRAGMA busy_timeout = 5000",
  "PRAGMA synchronous = NORMAL",
  `PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT}`,
];

/**
 * Free space on the file system holding `path`, bytes, from `df -Pk` (undefined where it cannot
 * be known). Not `node:fs` `statfsSync`: importing `node:fs` makes every later promise of the
 * process costlier for the garbage collector (measured: 4× the surviving young objects at 20,000
 * samples/s, which grew RSS by ~50 MB and gave 5–10 ms pauses).
 */
export function freeBytes(path: string): number | undefined {
  try {
    const out = new Deno.Command("df", { args: ["-Pk", path], stdout: "piped", stderr: "null" })
      .outputSync();
    if (!out.success) return undefined;
    const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
    const available = Number(line.split(/\s+/)[3]);
    return Number.isFinite(available) ? available * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Formats a byte count for messages: "12.3 MB". */
export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** What opening a session file needs to know. */
export interface OpenFileOptions {
  /** Refuse to start with less free space than this, bytes (default 64 MiB). */
  minFreeBytes?: number;
}

/** A session file open for recording: its database and the lock held on it. */
export interface OpenFile {
  /** The migrated database (WAL). */
  db: DatabaseSync;
  /** The file descriptor holding the exclusive advisory lock. */
  lock: Deno.FsFile;
}

/**
 * Opens (creating if needed) a session file for recording: checks the disk, takes the lock, sets
 * WAL and migrates. Throws a {@linkcode ConfigError} naming the path and what to do.
 */
export function openSessionFile(path: string, options: OpenFileOptions): OpenFile {
  const what = "choose another file with --session FILE or set [session] path in the config";
  try {
    Deno.mkdirSync(dirname(path), { recursive: true });
  } catch (err) {
    throw new ConfigError(
      `cannot create the session's directory ${dirname(path)}: ${errorMessage(err)}; ${what}`,
      path,
      undefined,
      { cause: err },
    );
  }
  // Checked before the file exists: a refused start leaves no empty session behind.
  const min = options.minFreeBytes ?? 64 * 1024 * 1024;
  const free = freeBytes(dirname(path));
  if (free !== undefined && free < min) {
    throw new ConfigError(
      `only ${formatBytes(free)} free on its disk (need at least ${
        formatBytes(min)
      }); free some space or ${what}`,
      path,
    );
  }
  let existed = true;
  try {
    Deno.lstatSync(path);
  } catch {
    existed = false;
  }
  let lock: Deno.FsFile;
  try {
    lock = Deno.openSync(path, { read: true, write: true, create: true });
  } catch (err) {
    throw new ConfigError(
      `cannot write the session file: ${errorMessage(err)}; ${what}`,
      path,
      undefined,
      {
        cause: err,
      },
    );
  }
  let db: DatabaseSync | undefined;
  let locked = false;
  try {
    if (!lock.tryLockSync(true)) {
      throw new ConfigError(
        `another labwire process is recording into this session; stop it, or ${what}`,
        path,
      );
    }
    locked = true;
    db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL");
    for (const sql of WRITER_PRAGMAS) db.exec(sql);
    migrate(db, path);
    // A real write now, so a read-only or full disk fails here rather than after an hour.
    db.exec(
      "INSERT INTO session (key, value) VALUES ('checked', datetime('now')) " +
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    );
    return { db, lock };
  } catch (err) {
    try {
      db?.close();
    } catch { /* already failing */ }
    // A file this call created (and no one else holds) goes again: no 0-byte sessions.
    if (locked && !existed) removeSessionFiles(path, ["-wal", "-shm", ""]);
    lock.close();
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(
      `cannot record into the session file: ${errorMessage(err)}; ${what}`,
      path,
      undefined,
      {
        cause: err,
      },
    );
  }
}

/**
 * Whether a recorder holds the session's lock (the exclusive advisory lock `SessionStore.open`
 * takes for its whole run, released by the kernel when its process dies, however it dies).
 */
export function recorderAlive(path: string): boolean {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch {
    return false;
  }
  try {
    if (!file.tryLockSync(false)) return true;
    file.unlockSync();
    return false;
  } catch {
    // Locks unsupported here (some network file systems): believe the segment table.
    return true;
  } finally {
    file.close();
  }
}

/** Removes the files `path` + each suffix (`-wal`, `-shm`, `""`) that are there. */
export function removeSessionFiles(path: string, suffixes: string[]): void {
  for (const suffix of suffixes) {
    try {
      Deno.removeSync(path + suffix);
    } catch { /* not there */ }
  }
}

type Row = Record<string, SQLInputValue>;

/** What a recreated session file needs from the removed one: table definitions and rows. */
export interface CarriedRows {
  defs: { name: string; sql: string }[];
  rows: [string, Row[]][];
}

/** The rows every id of a running recording refers to, with the definitions of every table. */
export function carriedRows(db: DatabaseSync, segmentId: number): CarriedRows {
  const defs = db.prepare(
    "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' " +
      "ORDER BY type = 'index'",
  ).all() as { name: string; sql: string }[];
  const all = (sql: string, ...args: SQLInputValue[]) => db.prepare(sql).all(...args) as Row[];
  const rows: [string, Row[]][] = [
    ["segments", all("SELECT * FROM segments WHERE id = ?", segmentId)],
    ["devices", all("SELECT * FROM devices")],
    ["attrs", all("SELECT * FROM attrs")],
  ];
  if (defs.some((d) => d.name === "scans")) {
    rows.push(["scans", all("SELECT * FROM scans WHERE state = 'running'")]);
  }
  return { defs, rows };
}

/** Inserts rows (ids kept) into `table`. */
function insertRows(db: DatabaseSync, table: string, rows: Row[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const insert = db.prepare(
    `INSERT OR REPLACE INTO ${table} (${cols.join(", ")}) VALUES (${
      cols.map(() => "?").join(", ")
    })`,
  );
  for (const row of rows) insert.run(...cols.map((c) => row[c]!));
}

/**
 * Writes what {@linkcode carriedRows} read into a new, empty session file `db`, in one
 * transaction: tables other modules add (scans, scan points) come with their definitions.
 */
export function restoreCarriedRows(db: DatabaseSync, carry: CarriedRows): void {
  db.exec("BEGIN");
  const have = new Set(
    (db.prepare("SELECT name FROM sqlite_master").all() as { name: string }[]).map((r) => r.name),
  );
  for (const d of carry.defs) if (!have.has(d.name)) db.exec(d.sql);
  for (const [table, rows] of carry.rows) insertRows(db, table, rows);
  db.prepare("INSERT OR REPLACE INTO session (key, value) VALUES ('created', ?)").run(
    new Date().toISOString(),
  );
  db.exec("COMMIT");
}
