/**
 * Turning command-line TARGETs into device configs: a name from the config file, or an address
 * (`baratron://...`, `sim://...`, `ca://...`) that works with no config at all.
 *
 * @module
 */
import { addressOf, plainAddresses } from "../device/address.ts";
import { UsageError } from "../device/errors.ts";
import { findDriver } from "../device/registry.ts";
import { didYouMean } from "../device/suggest.ts";
import type { DeviceConfig, LabConfig } from "./load.ts";
import { configPath } from "./file.ts";
import { isConfigFile } from "./file_name.ts";

/**
 * Resolves targets to device configs. Names not in the config are a usage error naming the
 * config file searched; addressed devices get a name from their driver, made unique.
 */
export function resolveTargets(targets: readonly string[], config: LabConfig): DeviceConfig[] {
  const n = targets.length;
  const out = new Array<DeviceConfig>(n);
  const names = new Array<string>(n);
  // A thousand `ca://PV` targets read as addresses in one pass, not one by one.
  const plain = plainAddresses(targets);
  // Plain addresses are of one scheme: one driver for them all, not a registry look-up each.
  const plainDriver = plain !== undefined ? findDriver(plain[0]!.scheme) : undefined;
  // An indexed loop: an iterator result per target is garbage in cold code (a thousand targets).
  for (let t = 0; t < n; t++) {
    const target = targets[t]!;
    let cfg: DeviceConfig;
    const address = plain !== undefined ? plain[t] : addressOf(target);
    if (address !== undefined) {
      const driver = plainDriver ?? findDriver(address.scheme);
      const base = driver.defaultName?.(address) ?? address.target;
      cfg = { name: base, address, interval: 1000, options: NO_OPTIONS };
    } else {
      const found = config.devices.find((d) => d.name === target);
      if (!found) throw unknownDevice(target, config);
      cfg = found;
    }
    out[t] = cfg;
    names[t] = cfg.name;
  }
  return increasing(names) ? out : uniqueNames(out);
}

/**
 * Whether `names` are in strictly increasing order, so that none comes twice: one comparison a
 * name, where a set of a thousand names hashes each of them (~1.7 M instructions of a read of a
 * thousand PVs, in code that runs once). A list of PVs mostly comes in order; one that does not
 * stops at its first step back and takes the set.
 */
function increasing(names: readonly string[]): boolean {
  for (let i = 1; i < names.length; i++) if (!(names[i - 1]! < names[i]!)) return false;
  return true;
}

/** The devices with a name taken before made unique (`PV#2`, `PV#3`), in the order given. */
function uniqueNames(devices: DeviceConfig[]): DeviceConfig[] {
  const used = new Set<string>();
  for (let t = 0; t < devices.length; t++) {
    const cfg = devices[t]!;
    if (!used.has(cfg.name)) {
      used.add(cfg.name);
      continue;
    }
    let name = cfg.name;
    for (let i = 2; used.has(name); i++) name = `${cfg.name}#${i}`;
    used.add(name);
    devices[t] = { ...cfg, name };
  }
  return devices;
}

/**
 * The options of an addressed device: none, one shared object that nothing may change (a verb
 * tells a thousand addressed devices' options apart by identity, not by looking into each).
 */
export const NO_OPTIONS: Record<string, unknown> = Object.freeze({});

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
