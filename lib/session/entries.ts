/**
 * Manual entries in a session (pymanip's `add_entry`): `labwire session note FILE "text"` and
 * `labwire session add FILE KEY=VALUE…` append a timestamped `note` or `entry` event to the
 * session's latest segment. They open the file with their own short connection, so they work
 * while `monitor` or `serve` records into it (SQLite serialises the two writers; this one waits
 * up to 5 s for the recorder's transaction).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type { Value } from "../device/attr.ts";
import { errorMessage, UsageError } from "../device/errors.ts";
import { APPLICATION_ID } from "./schema.ts";

/** Most characters of a note (a line of a lab notebook, not a file). */
export const MAX_NOTE_LENGTH = 10_000;

/** Most values one `session add` records. */
export const MAX_ENTRY_VALUES = 100;

/** Where the mistakes of `session add` and `session note` are (main's prefix names them). */
const ADD = { subcommand: "add" };
const NOTE = { subcommand: "note" };

/** What was appended: the event's id, time and segment. */
export interface AppendedEntry {
  /** Event id. */
  id: number;
  /** Epoch seconds. */
  t: number;
  /** The segment it belongs to. */
  segment: number | null;
}

/**
 * Parses `KEY=VALUE` words: numbers become numbers, `true`/`false` booleans, anything else text.
 *
 * @example
 * ```ts
 * import { parseEntryValues } from "./entries.ts";
 * parseEntryValues(["flow_sccm=20", "valve=open", "purged=true"]);
 * // { flow_sccm: 20, valve: "open", purged: true }
 * ```
 */
export function parseEntryValues(words: readonly string[]): Record<string, Value> {
  if (words.length === 0) {
    throw new UsageError("give KEY=VALUE pairs, e.g. flow_sccm=20 valve=open", undefined, ADD);
  }
  if (words.length > MAX_ENTRY_VALUES) {
    throw new UsageError(`at most ${MAX_ENTRY_VALUES} values at once`, undefined, ADD);
  }
  const out: Record<string, Value> = {};
  for (const w of words) {
    const m = /^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/s.exec(w);
    if (!m) {
      throw new UsageError(
        `expected KEY=VALUE, got "${w}"`,
        "keys use letters, digits, _ . and -, e.g. flow_sccm=20",
        ADD,
      );
    }
    const [, key, text] = m as unknown as [string, string, string];
    if (key in out) throw new UsageError(`${key} is given twice`, undefined, ADD);
    const n = Number(text);
    out[key] = text.trim() !== "" && Number.isFinite(n)
      ? n
      : text === "true"
      ? true
      : text === "false"
      ? false
      : text;
  }
  return out;
}

/** Appends a note to the session at `path`. */
export function addNote(path: string, text: string, t = Date.now() / 1000): AppendedEntry {
  if (text.trim() === "") {
    throw new UsageError('give the text, e.g. "valve opened"', undefined, NOTE);
  }
  if (text.length > MAX_NOTE_LENGTH) {
    throw new UsageError(`at most ${MAX_NOTE_LENGTH} characters`, undefined, NOTE);
  }
  return append(path, { t, kind: "note", message: text, data: null });
}

/** Appends manual values to the session at `path`. */
export function addEntry(
  path: string,
  values: Record<string, Value>,
  t = Date.now() / 1000,
): AppendedEntry {
  const message = Object.entries(values).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ");
  return append(path, { t, kind: "entry", message, data: values });
}

function append(
  path: string,
  e: { t: number; kind: string; message: string; data: unknown },
): AppendedEntry {
  try {
    if (!Deno.statSync(path).isFile) throw new Error("not a file");
  } catch {
    throw new UsageError(`no session file ${path}`, "see: labwire session list DIR");
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (err) {
    throw new UsageError(`cannot open session ${path}: ${errorMessage(err)}`);
  }
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    const app = db.prepare("PRAGMA application_id").get() as { application_id: number };
    if (app.application_id !== APPLICATION_ID) {
      throw new UsageError(`${path} is not a labwire session file`);
    }
    const seg = db.prepare("SELECT max(id) AS id FROM segments").get() as { id: number | null };
    const r = db.prepare(
      "INSERT INTO events (t, segment_id, kind, severity, message, data) VALUES (?, ?, ?, 'info', ?, ?)",
    ).run(e.t, seg.id, e.kind, e.message, e.data === null ? null : JSON.stringify(e.data));
    return { id: Number(r.lastInsertRowid), t: e.t, segment: seg.id };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // a runtime failure (locked longer than 5 s, disk full): exit 1, not a usage mistake
    throw new Error(`cannot write to session ${path}: ${errorMessage(err)}`, { cause: err });
  } finally {
    db.close();
  }
}
