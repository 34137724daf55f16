/**
 * Loading instrument definitions: TOML text → validated raw definition → {@linkcode Instrument}
 * (with `extends` merged), and the catalog labwire looks names up in — the built-in definitions
 * embedded in the binary, then user definitions from `[instruments]` in `labwire.toml`,
 * `--instruments DIR` and `~/.config/labwire/instruments/`. A user definition with a built-in's
 * name replaces it. Every error names the file and the key.
 *
 * @example
 * ```ts
 * import { findInstrument } from "./loader.ts";
 * const dmm = await findInstrument("keysight-34461a");
 * dmm.attrs.map((a) => a.attr.name); // ["voltage_dc", …]
 * ```
 *
 * @module
 */
import { parseTomlFile } from "../config/load.ts";
import { ConfigError, UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import { compileDefinition, type Instrument } from "./definition.ts";
import { definitionSchema, type RawDefinition } from "./schema.ts";
import { BUILTIN_DEFINITIONS } from "./builtin.ts";
import { instrumentSources } from "./sources.ts";

export { addInstrumentSource, resetInstrumentSources } from "./sources.ts";

/** A parsed file: its raw definition and where it came from. */
export interface RawEntry {
  /** The definition's name (its `name` key, or the file name without `.toml`). */
  name: string;
  /** The file (or `built-in:NAME.toml`). */
  file: string;
  /** The validated TOML. */
  raw: RawDefinition;
}

/**
 * Parses and validates one definition's TOML text (without resolving `extends`).
 *
 * @example
 * ```ts
 * import { parseDefinition } from "./loader.ts";
 * parseDefinition('[attrs.v]\nget = "MEAS?"', "x.toml").name; // "x"
 * ```
 */
export function parseDefinition(text: string, file: string): RawEntry {
  const doc = parseTomlFile(text, file);
  const result = definitionSchema.safeParse(doc);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = issue.path.map(String).join(".");
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      const known = knownKeys(issue.path.map(String));
      const hints = issue.keys.map((k) => didYouMean(k, known)).filter((h) => h !== "");
      message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${
        issue.keys.map((k) => `"${k}"`).join(", ")
      }` +
        (hints.length
          ? ` (${hints.join("; ")})`
          : known.length
          ? ` (known: ${known.join(", ")})`
          : "");
    }
    throw new ConfigError(message, file, key || undefined);
  }
  const base = file.split("/").at(-1)!.replace(/\.toml$/, "").replace(/^built-in:/, "");
  return { name: result.data.name ?? base, file, raw: result.data };
}

/** Known keys at a path of the schema, for did-you-mean hints. */
function knownKeys(path: string[]): string[] {
  // deno-lint-ignore no-explicit-any
  let s: any = definitionSchema;
  for (const p of path) {
    const shape = s?.shape ?? s?.def?.shape;
    if (shape && p in shape) s = unwrap(shape[p]);
    else if (s?.def?.type === "record") s = unwrap(s.def.valueType);
    else return [];
  }
  const shape = s?.shape ?? s?.def?.shape;
  return shape ? Object.keys(shape) : [];
}

// deno-lint-ignore no-explicit-any
function unwrap(s: any): any {
  while (s?.def?.type === "optional") s = s.def.innerType;
  return s;
}

/** Merges a definition over the one it extends: tables merge key by key, other values replace. */
export function mergeDefinitions(base: RawDefinition, over: RawDefinition): RawDefinition {
  const merged = deepMerge(base, over) as RawDefinition;
  delete merged.extends;
  merged.name = over.name;
  return merged;
}

function deepMerge(a: unknown, b: unknown): unknown {
  if (isPlain(a) && isPlain(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in a ? deepMerge(a[k], v) : v;
    return out;
  }
  return b;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

let loaded: { map: Map<string, RawEntry>; version: number } | undefined;

/** The per-user definitions folder, `~/.config/labwire/instruments/` (XDG_CONFIG_HOME honoured). */
export function userInstrumentDir(): string | undefined {
  const xdg = Deno.env.get("XDG_CONFIG_HOME");
  const home = Deno.env.get("HOME");
  const base = xdg || (home ? `${home}/.config` : undefined);
  return base ? `${base}/labwire/instruments` : undefined;
}

async function readSource(path: string, required: boolean): Promise<RawEntry[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (!required && err instanceof Deno.errors.NotFound) return [];
    throw new ConfigError(
      err instanceof Deno.errors.NotFound ? "no such file or directory" : (err as Error).message,
      path,
    );
  }
  if (info.isFile) return [parseDefinition(await Deno.readTextFile(path), path)];
  const out: RawEntry[] = [];
  const names: string[] = [];
  for await (const e of Deno.readDir(path)) {
    if (e.isFile && e.name.endsWith(".toml")) names.push(e.name);
  }
  for (const n of names.sort()) {
    const file = `${path.replace(/\/+$/, "")}/${n}`;
    out.push(parseDefinition(await Deno.readTextFile(file), file));
  }
  return out;
}

/** Every known raw definition by name: built-ins, then the user folder, then added sources. */
export async function rawCatalog(): Promise<Map<string, RawEntry>> {
  const { paths, version } = instrumentSources();
  if (loaded?.version === version) return loaded.map;
  const map = new Map<string, RawEntry>();
  for (const [file, text] of Object.entries(BUILTIN_DEFINITIONS)) {
    const e = parseDefinition(text, `built-in:${file}`);
    map.set(e.name, e);
  }
  const dir = userInstrumentDir();
  const sources: [string, boolean][] = [
    ...(dir ? [[dir, false] as [string, boolean]] : []),
    ...paths.map((s) => [s, true] as [string, boolean]),
  ];
  for (const [src, required] of sources) {
    for (const e of await readSource(src, required)) map.set(e.name, e);
  }
  loaded = { map, version };
  return map;
}

/** Resolves `extends` chains and compiles an entry; a cycle or an unknown base names the file. */
export function resolveEntry(entry: RawEntry, catalog: Map<string, RawEntry>): Instrument {
  let raw = entry.raw;
  const chain = [entry.name];
  let parent = raw.extends;
  while (parent !== undefined) {
    const base = catalog.get(parent);
    if (!base || base === entry && chain.length === 1) {
      throw new ConfigError(
        `extends unknown instrument "${parent}"`,
        entry.file,
        "extends",
      );
    }
    if (chain.includes(base.name)) {
      throw new ConfigError(
        `extends makes a cycle: ${[...chain, base.name].join(" → ")}`,
        entry.file,
        "extends",
      );
    }
    chain.push(base.name);
    raw = mergeDefinitions(base.raw, { ...raw, name: raw.name ?? entry.name });
    parent = base.raw.extends;
  }
  return compileDefinition(raw, entry.file, entry.name);
}

/** Every definition name, sorted. */
export async function instrumentNames(): Promise<string[]> {
  return [...(await rawCatalog()).keys()].sort();
}

/**
 * Finds a definition by name; an unknown name is a usage error with a did-you-mean hint
 * and the way to list them.
 */
export async function findInstrument(name: string): Promise<Instrument> {
  const catalog = await rawCatalog();
  const entry = catalog.get(name);
  if (!entry) {
    const names = [...catalog.keys()].sort();
    throw new UsageError(
      `unknown instrument "${name}"`,
      didYouMean(name, names) || `known: ${names.join(", ")} (labwire instruments list)`,
    );
  }
  return resolveEntry(entry, catalog);
}

/** Loads and checks one file as `labwire instruments check` does (its `extends` from the catalog). */
export async function checkFile(path: string): Promise<Instrument> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new ConfigError(
      err instanceof Deno.errors.NotFound ? "file not found" : (err as Error).message,
      path,
    );
  }
  const entry = parseDefinition(text, path);
  const catalog = new Map(await rawCatalog());
  catalog.set(entry.name, entry);
  return resolveEntry(entry, catalog);
}
