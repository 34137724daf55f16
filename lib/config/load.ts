/**
 * The config file, `labwire.toml` (found and read by `./file.ts`). The whole file is validated against the one schema in `./schema.ts` when it
 * is loaded, so a typo anywhere fails every verb with the file and key named. Sections other
 * than `devices` are also kept raw in {@linkcode LabConfig.sections} for the module that owns
 * each (alarms by `lib/alarm`, the server by `lib/server`, …), which reads it through the same
 * schema.
 *
 * @module
 */
import { parse as parseToml } from "smol-toml";
import type { Address } from "../device/address.ts";
import { ConfigError, UsageError } from "../device/errors.ts";
import { type DurationRule, readDuration } from "./duration.ts";
import { CONFIG_SCHEMA } from "./schema.ts";
import { isTable, parseWith } from "./fields.ts";
import { checkDerived } from "./derived_schema.ts";

/** The address of the derived device `name` (`derived://NAME`), handled by the derived driver. */
export function derivedAddress(name: string): Address {
  return {
    text: `derived://${name}`,
    scheme: "derived",
    target: name,
    params: new URLSearchParams(),
  };
}

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
  /** `safe_state`: attribute and value pairs written, in order, when its owner stops. */
  safeState?: [string, number | boolean | string | number[]][];
  /** `safe_state_timeout` in ms, when set. */
  safeStateTimeout?: number;
  /** A detector's trigger protocol (`trigger`, `trigger_done`): used by scans at every point. */
  trigger?: { attr: string; done: string };
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

/** Sampling interval of a device whose table sets none, ms. */
export const DEFAULT_INTERVAL_MS = 1000;

/** Parses TOML text; a syntax error is a {@linkcode ConfigError} naming the file. */
export function parseTomlFile(text: string, file: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (err) {
    const msg = (err as Error).message.split("\n")[0];
    throw new ConfigError(`not valid TOML: ${msg}`, file, undefined, { cause: err });
  }
}

type CheckedDevice = NonNullable<ReturnType<typeof CONFIG_SCHEMA.parse>["devices"]>[string];

function deviceConfig(name: string, d: CheckedDevice): DeviceConfig {
  return {
    name,
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
 * Validates one device table given outside a file (`POST /api/devices`) exactly as a
 * `[devices.NAME]` table of the config: the same schema, the same errors naming the key
 * (`where` stands for the file in them).
 *
 * @example
 * ```ts
 * import "../drivers/mod.ts";
 * import { parseDeviceTable } from "./load.ts";
 * parseDeviceTable("g2", { address: "sim://gauge", interval: "500ms" }).interval; // 500
 * ```
 */
export function parseDeviceTable(name: string, table: unknown, where = "<request>"): DeviceConfig {
  const checked = parseWith(CONFIG_SCHEMA, { devices: { [name]: table } }, where);
  return deviceConfig(name, checked.devices![name]!);
}

/** Parses and validates config text against {@linkcode CONFIG_SCHEMA}; `file` is used in error messages. */
export function parseConfig(text: string, file = "<config>"): LabConfig {
  const doc = parseTomlFile(text, file);
  const checked = parseWith(CONFIG_SCHEMA, doc, file);
  const sections: Record<string, unknown> = {};
  for (const key of Object.keys(doc)) {
    if (key !== "devices") sections[key] = doc[key];
  }
  const devices: DeviceConfig[] = Object.entries(checked.devices ?? {}).map(([name, d]) =>
    deviceConfig(name, d)
  );
  if (checked.derived) {
    // derived devices are devices like any other (read, stream, monitor, serve, CA, alarms,
    // scans), opened by the derived:// driver over the devices they read
    const deps = checkDerived(checked.derived, devices.map((d) => d.name), file);
    for (const [name, t] of Object.entries(checked.derived)) {
      devices.push({
        name,
        address: derivedAddress(name),
        interval: t.interval ?? DEFAULT_INTERVAL_MS,
        options: { attrs: t.attrs, uses: deps.get(name) ?? [] },
      });
    }
  }
  return { file, devices, sections, text };
}

/**
 * Reads a duration (with its unit, like "250ms" or "2m") from a config key; a bare number or a
 * value outside `rule` is a {@linkcode ConfigError} naming the file and key.
 */
export function durationKey(
  value: unknown,
  file: string | undefined,
  key: string,
  rule: DurationRule = { min: 0 },
): number {
  try {
    return readDuration(value, rule);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    throw new ConfigError(err.message + (err.hint ? ` (${err.hint})` : ""), file, key, {
      cause: err,
    });
  }
}

export { isTable };
