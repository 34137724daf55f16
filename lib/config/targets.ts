/**
 * Turning command-line TARGETs into device configs: a name from the config file, or an address
 * (`baratron://...`, `sim://...`, `ca://...`) that works with no config at all.
 *
 * @module
 */
import { addressOf } from "../device/address.ts";
import { UsageError } from "../device/errors.ts";
import { findDriver } from "../device/registry.ts";
import { didYouMean } from "../device/suggest.ts";
import type { DeviceConfig, LabConfig } from "./load.ts";
import { configPath } from "./file.ts";
import { isConfigFile } from "./file_name.ts";
import { NO_OPTIONS, plainTargets, uniqueNames } from "./plain_targets.ts";

export { NO_OPTIONS } from "./plain_targets.ts";

/**
 * Resolves targets to device configs. Names not in the config are a usage error naming the
 * config file searched; addressed devices get a name from their driver, made unique.
 */
export function resolveTargets(targets: readonly string[], config: LabConfig): DeviceConfig[] {
  const plain = plainTargets(targets);
  if (plain !== undefined) return plain;
  const n = targets.length;
  const out = new Array<DeviceConfig>(n);
  const names = new Array<string>(n);
  // An indexed loop: an iterator result per target is garbage in cold code (a thousand targets).
  for (let t = 0; t < n; t++) {
    const target = targets[t]!;
    let cfg: DeviceConfig;
    const address = addressOf(target);
    if (address !== undefined) {
      const base = findDriver(address.scheme).defaultName?.(address) ?? address.target;
      cfg = { name: base, address, interval: 1000, options: NO_OPTIONS };
    } else {
      const found = config.devices.find((d) => d.name === target);
      if (!found) throw unknownDevice(target, config);
      cfg = found;
    }
    out[t] = cfg;
    names[t] = cfg.name;
  }
  return uniqueNames(out, names);
}

function unknownDevice(target: string, config: LabConfig): UsageError {
  const names = config.devices.map((d) => d.name);
  const where = config.file ?? `${configPath().path} (not found)`;
  const known = names.length ? `; it has: ${names.join(", ")}` : "";
  const hint = didYouMean(target, names) ||
    (/^[\d.]+(:\d+)?$/.test(target)
      ? `did you mean "baratron://${target}"?`
      : `give an address like baratron://HOST or sim://gauge${
        // a built-in bench is what --demo gives: no use suggesting it again
        config.file !== undefined && !isConfigFile(config.file) ? "" : ", or try --demo"}`);
  return new UsageError(`unknown device "${target}" (config searched: ${where})${known}`, hint);
}
