/**
 * The config file, `labwire.toml` (found and read by `./file.ts`). The whole file is validated against the one schema in `./schema.ts` when it
 * is loaded, so a typo anywhere fails every verb with the file and key named. Sections other
 * than `devices` are also kept raw in {@linkcode LabConfig.sections} for the module that owns
 * each (alarms by `lib/alarm`, the server by `lib/server`, …), which reads it through the same
 * schema.
 *
 * @module
 */
import type { Address } from "../device/address.ts";
import { ConfigError, UsageError } from "../device/errors.ts";
import { type DurationRule, readDuration } from "./duration.ts";
import { CONFIG_SCHEMA } from "./schema.ts";
import { isTable, parseWith } from "./fields.ts";
import { checkDerived } from "./derived_schema.ts";
import {
  DEFAULT_INTERVAL_MS,
  type DeviceConfig,
  deviceConfig,
  type LabConfig,
  parseTomlFile,
} from "./lab_config.ts";

export { DEFAULT_INTERVAL_MS, type DeviceConfig, type LabConfig, parseTomlFile };

/** The address of the derived device `name` (`derived://NAME`), handled by the derived driver. */
export function derivedAddress(name: string): Address {
  return {
    text: `derived://${name}`,
    scheme: "derived",
    target: name,
    params: new URLSearchParams(),
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
  return parseConfigDoc(parseTomlFile(text, file), text, file);
}

/** Validates a parsed config file (`doc`, from `text`) against {@linkcode CONFIG_SCHEMA}. */
export function parseConfigDoc(
  doc: Record<string, unknown>,
  text: string,
  file: string,
): LabConfig {
  const checked = parseWith(CONFIG_SCHEMA, doc, file);
  const sections: Record<string, unknown> = {};
  for (const key of Object.keys(doc)) {
    if (key !== "devices") sections[key] = doc[key];
  }
  const devices: DeviceConfig[] = Object.entries(checked.devices ?? {}).map(([name, d]) =>
    deviceConfig(name, d, file)
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
