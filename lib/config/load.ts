/**
 * The config file, `labwire.toml`: found by `--config`, then `LABWIRE_CONFIG`, then
 * `./labwire.toml`. This module validates the `[devices.NAME]` tables; every other section is
 * kept raw in {@linkcode LabConfig.sections} and validated by the module that owns it
 * (alarms by `lib/alarm`, the server by `lib/server`, …), so errors always name file and key.
 *
 * @module
 */
import { parse as parseToml } from "smol-toml";
import { type Address, isAddress, parseAddress } from "../device/address.ts";
import { ConfigError, UsageError } from "../device/errors.ts";
import { didYouMean } from "../cli/suggest.ts";
import { parseDuration } from "./duration.ts";

/** One configured device. */
export interface DeviceConfig {
  /** The table name: `[devices.NAME]`. */
  name: string;
  /** Its parsed address. */
  address: Address;
  /** Sampling interval in ms for `monitor`/`serve` (default 1000). */
  interval: number;
  /** Per-call timeout in ms, when set. */
  timeout?: number;
  /** Every other key of the table, handed to the driver. */
  options: Record<string, unknown>;
}

/** A loaded config: devices plus the raw other sections. */
export interface LabConfig {
  /** The file it came from; undefined for built-in or address-only configs. */
  file?: string;
  /** Devices in file order. */
  devices: DeviceConfig[];
  /** Top-level sections other than `devices`, e.g. `alarms`, `session`, `server`, `notify`. */
  sections: Record<string, unknown>;
  /** The file's text, kept for the session's config snapshot. */
  text?: string;
}

/** Top-level sections the config file may hold; anything else is a typo. */
export const KNOWN_SECTIONS = [
  "devices",
  "session",
  "alarms",
  "notify",
  "server",
  "ca",
  "scan",
  "instruments",
];

/** The default config path searched when neither `--config` nor `LABWIRE_CONFIG` is given. */
export const DEFAULT_CONFIG = "labwire.toml";

/** Resolves which config file to use: explicit path, then `LABWIRE_CONFIG`, then `./labwire.toml`. */
export function configPath(explicit?: string): { path: string; explicit: boolean } {
  if (explicit) return { path: explicit, explicit: true };
  const env = Deno.env.get("LABWIRE_CONFIG");
  if (env) return { path: env, explicit: true };
  return { path: DEFAULT_CONFIG, explicit: false };
}

/**
 * Loads the config file. A missing default file gives an empty config; a missing explicit
 * file, bad TOML or a bad key is a {@linkcode ConfigError}.
 */
export async function loadConfig(explicit?: string): Promise<LabConfig> {
  const { path, explicit: wasExplicit } = configPath(explicit);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && !wasExplicit) return { devices: [], sections: {} };
    if (err instanceof Deno.errors.NotFound) {
      throw new ConfigError("file not found", path, undefined, { cause: err });
    }
    throw new ConfigError(`cannot read: ${(err as Error).message}`, path, undefined, {
      cause: err,
    });
  }
  return parseConfig(text, path);
}

/** Parses TOML text; a syntax error is a {@linkcode ConfigError} naming the file. */
export function parseTomlFile(text: string, file: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (err) {
    const msg = (err as Error).message.split("\n")[0];
    throw new ConfigError(`not valid TOML: ${msg}`, file, undefined, { cause: err });
  }
}

/** Parses and validates config text; `file` is used in error messages. */
export function parseConfig(text: string, file = "<config>"): LabConfig {
  const doc = parseTomlFile(text, file);
  const sections: Record<string, unknown> = {};
  for (const key of Object.keys(doc)) {
    if (!KNOWN_SECTIONS.includes(key)) {
      const hint = didYouMean(key, KNOWN_SECTIONS);
      throw new ConfigError(
        `unknown section; expected one of ${KNOWN_SECTIONS.join(", ")}${hint ? ` (${hint})` : ""}`,
        file,
        key,
      );
    }
    if (key !== "devices") sections[key] = doc[key];
  }
  const devices: DeviceConfig[] = [];
  const table = doc.devices ?? {};
  if (!isTable(table)) throw new ConfigError("expected a table of [devices.NAME]", file, "devices");
  for (const [name, entry] of Object.entries(table)) {
    devices.push(parseDevice(name, entry, file));
  }
  return { file, devices, sections, text };
}

function parseDevice(name: string, entry: unknown, file: string): DeviceConfig {
  const key = `devices.${name}`;
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) {
    throw new ConfigError("device names use letters, digits, _ and -", file, key);
  }
  if (!isTable(entry)) throw new ConfigError("expected a table with an address", file, key);
  const { address, interval, timeout, ...options } = entry;
  if (typeof address !== "string") {
    throw new ConfigError(
      'expected address = "scheme://…" (e.g. "baratron://10.0.0.5")',
      file,
      `${key}.address`,
    );
  }
  if (!isAddress(address)) {
    throw new ConfigError(
      `"${address}" is not an address like baratron://HOST`,
      file,
      `${key}.address`,
    );
  }
  return {
    name,
    address: wrap(() => parseAddress(address), file, `${key}.address`),
    interval: interval === undefined ? 1000 : durationKey(interval, file, `${key}.interval`),
    timeout: timeout === undefined ? undefined : durationKey(timeout, file, `${key}.timeout`),
    options,
  };
}

/** Reads a duration value (number of seconds or text like "250ms") from a config key. */
export function durationKey(value: unknown, file: string | undefined, key: string): number {
  if (typeof value !== "number" && typeof value !== "string") {
    throw new ConfigError('expected a duration like 1, "250ms" or "2m"', file, key);
  }
  return wrap(() => parseDuration(value, "s", ""), file, key);
}

function wrap<T>(fn: () => T, file: string | undefined, key: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof UsageError) {
      throw new ConfigError(err.message + (err.hint ? ` (${err.hint})` : ""), file, key, {
        cause: err,
      });
    }
    throw err;
  }
}

/** True for a plain object (a TOML table). */
export function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
