/**
 * The session file's schema and its migrations. A session is one SQLite file tagged with
 * {@linkcode APPLICATION_ID}; `PRAGMA user_version` holds the schema version and each migration
 * moves it one step, so a file written by an older labwire opens in a newer one.
 *
 * Samples are a narrow rowid table without a time index (an index would halve ingest speed and
 * grow the file by two thirds); instead every flush writes one `chunks` row naming the rowid
 * range it wrote and its time span, a sparse time index that readers use for `--from/--to` and
 * for time-ordered export.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { ConfigError } from "../device/errors.ts";

/** `PRAGMA application_id` of labwire session files ("LWSN"). */
export const APPLICATION_ID = 0x4c57534e;

/** The migrations, in order: migration i takes `user_version` from i to i + 1. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE session (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE segments (
    id INTEGER PRIMARY KEY,
    start REAL NOT NULL,
    stop REAL,
    reason TEXT,
    command TEXT,
    config_file TEXT,
    config TEXT,
    version TEXT,
    hostname TEXT,
    pid INTEGER
  );
  CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    address TEXT,
    driver TEXT,
    interval_ms REAL
  );
  CREATE TABLE attrs (
    id INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES devices(id),
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    units TEXT,
    description TEXT,
    UNIQUE (device_id, name)
  );
  CREATE TABLE samples (t REAL NOT NULL, attr_id INTEGER NOT NULL, value REAL, text TEXT);
  CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    segment_id INTEGER NOT NULL,
    first_row INTEGER NOT NULL,
    last_row INTEGER NOT NULL,
    t_min REAL NOT NULL,
    t_max REAL NOT NULL
  );
  CREATE TABLE attr_stats (
    attr_id INTEGER PRIMARY KEY,
    count INTEGER NOT NULL,
    t_first REAL NOT NULL,
    t_last REAL NOT NULL
  );
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    t REAL NOT NULL,
    segment_id INTEGER,
    kind TEXT NOT NULL,
    severity TEXT,
    device TEXT,
    attr TEXT,
    message TEXT NOT NULL,
    data TEXT
  );
  CREATE INDEX events_t ON events (t);
  CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    segment_id INTEGER,
    device TEXT NOT NULL,
    technique TEXT NOT NULL,
    params TEXT,
    start REAL NOT NULL,
    stop REAL,
    status TEXT,
    data TEXT
  );
  `,
];

/**
 * The stop reason of a segment that ended without a clean stop (kill -9, crash), written when the
 * next run opens the file; `session info` shows such segments as interrupted.
 */
export const CRASHED = "ended without a clean stop (killed or crashed)";

/** The schema version this labwire writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings a freshly opened database to {@linkcode SCHEMA_VERSION}: an empty file gets the whole
 * schema; an older session is migrated; a file of another application or a newer labwire is a
 * {@linkcode ConfigError} naming `path`.
 */
export function migrate(db: DatabaseSync, path: string): void {
  const appId = pragmaNumber(db, "application_id");
  const version = pragmaNumber(db, "user_version");
  const empty = version === 0 && appId === 0 && tableCount(db) === 0;
  if (!empty && appId !== APPLICATION_ID) {
    throw new ConfigError(
      "not a labwire session file (it is some other SQLite database); choose another --session path",
      path,
    );
  }
  if (version > SCHEMA_VERSION) {
    throw new ConfigError(
      `written by a newer labwire (schema ${version}, this one reads up to ${SCHEMA_VERSION}); upgrade labwire`,
      path,
    );
  }
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(MIGRATIONS[v]!);
      db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw err;
    }
  }
}

/** Reads a numeric pragma. */
export function pragmaNumber(db: DatabaseSync, name: string): number {
  const row = db.prepare(`PRAGMA ${name}`).get() as Record<string, unknown> | undefined;
  return Number(row ? Object.values(row)[0] : 0);
}

// Tables other modules may have created first (the scan store makes its own, idempotently).
const FOREIGN_TABLES = ["scans", "scan_points"];

function tableCount(db: DatabaseSync): number {
  const rows = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as {
    name: string;
  }[];
  return rows.filter((r) => !FOREIGN_TABLES.includes(r.name)).length;
}
