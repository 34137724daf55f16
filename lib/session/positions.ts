/**
 * Named positions (pyepics `Instruments`): a name and the values of some `device.attr`s, in the
 * order they were saved (and are restored), kept in a small SQLite file (`node:sqlite`, like the
 * session store) in labwire's state directory: `$LABWIRE_STATE_DIR`, else systemd's
 * `$STATE_DIRECTORY`, else `$XDG_STATE_HOME/labwire`, else `~/.local/state/labwire`.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { Value } from "../device/attr.ts";
import { NotFound, UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";

/** One saved position. */
export interface NamedPosition {
  /** Its name. */
  name: string;
  /** When it was saved, epoch seconds. */
  saved: number;
  /** `device.attr` and value pairs, in the order they are restored. */
  values: [string, Value][];
}

/** The file positions are kept in, by default. */
export const POSITIONS_FILE = "positions.sqlite";

/** Most entries in one position, and most positions in the file. */
export const MAX_POSITION_VALUES = 256;

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/**
 * labwire's state directory (see the module doc).
 *
 * @example
 * ```ts
 * import { stateDir } from "./positions.ts";
 * stateDir({ LABWIRE_STATE_DIR: "/srv/lab" }); // "/srv/lab"
 * ```
 */
export function stateDir(env: Record<string, string | undefined> = Deno.env.toObject()): string {
  if (env.LABWIRE_STATE_DIR) return env.LABWIRE_STATE_DIR;
  if (env.STATE_DIRECTORY) return env.STATE_DIRECTORY.split(":")[0]!;
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, "labwire");
  if (env.HOME) return join(env.HOME, ".local", "state", "labwire");
  throw new UsageError("no state directory: set LABWIRE_STATE_DIR (or HOME)");
}

/** Checks a position name (letters, digits, `_ . -`; at most 64). */
export function checkPositionName(name: string): string {
  if (!NAME.test(name)) {
    throw new UsageError(
      `"${name}" is not a position name: use letters, digits, _ . and - (at most 64)`,
    );
  }
  return name;
}

/** The positions file: save, get, list and delete named positions. */
export class PositionStore {
  readonly #db: DatabaseSync;

  private constructor(readonly path: string, db: DatabaseSync) {
    this.#db = db;
  }

  /** Opens (creating it and its directory when needed) the positions file at `path`. */
  static open(path: string = join(stateDir(), POSITIONS_FILE)): PositionStore {
    const dir = path.slice(0, Math.max(0, path.lastIndexOf("/")));
    if (dir) Deno.mkdirSync(dir, { recursive: true });
    const db = new DatabaseSync(path);
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec(
      `CREATE TABLE IF NOT EXISTS positions (
         name TEXT PRIMARY KEY,
         saved REAL NOT NULL,
         entries TEXT NOT NULL
       )`,
    );
    return new PositionStore(path, db);
  }

  /** Saves (or replaces) a position; returns whether one of that name was replaced. */
  save(p: NamedPosition): boolean {
    checkPositionName(p.name);
    if (p.values.length === 0 || p.values.length > MAX_POSITION_VALUES) {
      throw new UsageError(`a position holds 1 to ${MAX_POSITION_VALUES} values`);
    }
    const replaced = this.get(p.name) !== undefined;
    if (!replaced && this.#count() >= MAX_POSITION_VALUES * 16) {
      throw new UsageError(`at most ${MAX_POSITION_VALUES * 16} positions: delete some first`);
    }
    this.#db.prepare("INSERT OR REPLACE INTO positions (name, saved, entries) VALUES (?, ?, ?)")
      .run(p.name, p.saved, JSON.stringify(p.values));
    return replaced;
  }

  /** One position, or undefined. */
  get(name: string): NamedPosition | undefined {
    const r = this.#db.prepare("SELECT name, saved, entries FROM positions WHERE name = ?")
      .get(name) as { name: string; saved: number; entries: string } | undefined;
    return r && { name: r.name, saved: r.saved, values: JSON.parse(r.entries) };
  }

  /** One position, or a not-found error naming the positions there are. */
  require(name: string): NamedPosition {
    const p = this.get(name);
    if (p) return p;
    const names = this.list().map((x) => x.name);
    throw new NotFound(
      `no position "${name}"; ${names.length ? `positions: ${names.join(", ")}` : "none saved"}`,
      didYouMean(name, names) || "save one with: labwire position save NAME DEV.ATTR…",
    );
  }

  /** Every position, by name. */
  list(): NamedPosition[] {
    return (this.#db.prepare("SELECT name, saved, entries FROM positions ORDER BY name").all() as {
      name: string;
      saved: number;
      entries: string;
    }[]).map((r) => ({ name: r.name, saved: r.saved, values: JSON.parse(r.entries) }));
  }

  /** Deletes a position (a not-found error when there is none of that name). */
  delete(name: string): void {
    this.require(name);
    this.#db.prepare("DELETE FROM positions WHERE name = ?").run(name);
  }

  /** Closes the file. */
  close(): void {
    this.#db.close();
  }

  #count(): number {
    return (this.#db.prepare("SELECT count(*) AS n FROM positions").get() as { n: number }).n;
  }
}
