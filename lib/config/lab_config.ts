/**
 * The loaded config's shape (`LabConfig`, `DeviceConfig`), the TOML reader, and the config of a
 * file that has only `[devices]` tables, checked without zod (`./device_tables.ts`). A file
 * with any other section goes through the whole schema (`./load.ts`), which checks its devices
 * with the same code.
 *
 * @module
 */
import { parse as parseToml } from "smol-toml";
import { ConfigError } from "../device/errors.ts";
import { checkDeviceTables, type DeviceTable, tableIssueProblem } from "./device_tables.ts";
import { isConfigFile } from "./file_name.ts";
import { problemText } from "./problem.ts";

/**
 * One configured device: its validated table (`./device_tables.ts`) with its name, and the
 * interval filled in.
 */
export interface DeviceConfig extends Omit<DeviceTable, "interval"> {
  /** The table name: `[devices.NAME]`. */
  name: string;
  /** Sampling interval in ms for `monitor`/`serve` (default 1000). */
  interval: number;
  /**
   * The config file that declares it: the files its options name (`token_file`, `ca_file`) are
   * beside it. Undefined for an address given on the command line or a request.
   */
  file?: string;
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

/** Sampling interval of a device whose table sets none, ms. */
export const DEFAULT_INTERVAL_MS = 1000;

/** Parses TOML text; a syntax error is a {@linkcode ConfigError} naming the file. */
export function parseTomlFile(text: string, file: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (err) {
    const msg = (err as Error).message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
    // where it went wrong, as a line and a caret (smol-toml's TomlError knows; 1-based)
    const { line, column } = err as { line?: unknown; column?: unknown };
    const at = typeof line === "number" && typeof column === "number"
      ? ` at line ${line}, column ${column}`
      : "";
    // A CRLF file's line without its \r (printed, it showed as `\r`); the caret's indent keeps
    // the line's tabs, so it lands under the column a terminal shows, not one per tab short.
    const source = typeof line === "number"
      ? text.split("\n")[line - 1]?.replace(/\r$/, "")
      : undefined;
    const caret = source !== undefined && typeof column === "number"
      ? `:\n  ${source}\n  ${source.slice(0, Math.max(0, column - 1)).replace(/[^\t]/g, " ")}^`
      : "";
    throw new ConfigError(`not valid TOML${at}: ${msg}${caret}`, file, undefined, {
      cause: err,
    });
  }
}

/** The device `name` of a checked `[devices.NAME]` table. */
export function deviceConfig(name: string, d: DeviceTable, file?: string): DeviceConfig {
  return {
    name,
    ...(isConfigFile(file) ? { file } : {}),
    address: d.address,
    interval: d.interval ?? DEFAULT_INTERVAL_MS,
    timeout: d.timeout,
    ...(d.safeState ? { safeState: d.safeState } : {}),
    ...(d.safeStateTimeout !== undefined ? { safeStateTimeout: d.safeStateTimeout } : {}),
    options: d.options,
    ...(d.trigger ? { trigger: d.trigger } : {}),
  };
}

/**
 * The config of a parsed file (`doc`, from `text` in `file`) that has no section but
 * `[devices]`, checked as the whole schema checks it (the same errors, naming the file and key);
 * undefined when it has another section, which `./load.ts` checks with the whole schema.
 *
 * @example
 * ```ts
 * import "../drivers/mod.ts";
 * import { devicesOnlyConfig } from "./lab_config.ts";
 * const doc = { devices: { g: { address: "sim://gauge", interval: "500ms" } } };
 * devicesOnlyConfig(doc, "", "lab.toml")?.devices[0]?.interval; // 500
 * devicesOnlyConfig({ ...doc, session: { path: "run.sqlite" } }, "", "lab.toml"); // undefined
 * ```
 */
export function devicesOnlyConfig(
  doc: Record<string, unknown>,
  text: string,
  file: string,
): LabConfig | undefined {
  for (const key in doc) if (key !== "devices") return undefined;
  const devices: DeviceConfig[] = [];
  if (doc.devices !== undefined) {
    const r = checkDeviceTables(doc.devices);
    if (!r.ok) {
      const p = tableIssueProblem(r.issue, ["devices"]);
      throw new ConfigError(problemText(p), file, p.key || undefined);
    }
    for (const [name, d] of Object.entries(r.value)) devices.push(deviceConfig(name, d, file));
  }
  return { file, devices, sections: {}, text };
}
