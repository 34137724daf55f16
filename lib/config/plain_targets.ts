/**
 * TARGETs that are all plain addresses of one scheme (`ca://PV` a thousand times) turned into
 * device configs without the parser of every other address form or the config's names: a read
 * of `ca://` PVs loads this module, and `./targets.ts` (names from the config file, options,
 * VISA strings, `./address.ts` and its two modules) only for a target written some other way
 * (`../lab/setup.ts`).
 *
 * @module
 */
import { plainAddresses } from "../device/plain_address.ts";
import { findDriver } from "../device/registry.ts";
import type { DeviceConfig } from "./load.ts";

/**
 * The options of an addressed device: none, one shared object that nothing may change (a verb
 * tells a thousand addressed devices' options apart by identity, not by looking into each).
 */
export const NO_OPTIONS: Record<string, unknown> = Object.freeze({});

/**
 * The device configs of `targets` when every one is a plain address of one scheme (as
 * {@linkcode plainAddresses} reads them), named by their driver and made unique; undefined
 * otherwise (then `./targets.ts`' `resolveTargets` reads them one by one).
 *
 * @example
 * ```ts
 * import { registerFamilies } from "../drivers/families.ts";
 * import { plainTargets } from "./plain_targets.ts";
 * await registerFamilies(["ca"]);
 * plainTargets(["ca://B:pv1", "ca://B:pv1"])?.map((d) => d.name); // ["B:pv1", "B:pv1#2"]
 * plainTargets(["ca://B:pv1", "gauge"]); // undefined
 * ```
 */
export function plainTargets(targets: readonly string[]): DeviceConfig[] | undefined {
  // A thousand `ca://PV` targets read as addresses in one pass, not one by one.
  const plain = plainAddresses(targets);
  if (plain === undefined) return undefined;
  // Plain addresses are of one scheme: one driver for them all, not a registry look-up each.
  const driver = findDriver(plain[0]!.scheme);
  const n = plain.length;
  const out = new Array<DeviceConfig>(n);
  const names = new Array<string>(n);
  // An indexed loop: an iterator result per target is garbage in cold code (a thousand targets).
  for (let t = 0; t < n; t++) {
    const address = plain[t]!;
    const name = driver.defaultName?.(address) ?? address.target;
    out[t] = { name, address, interval: 1000, options: NO_OPTIONS };
    names[t] = name;
  }
  return uniqueNames(out, names);
}

/**
 * `devices` (whose names are `names`) with a name taken before made unique (`PV#2`, `PV#3`), in
 * the order given. Names in strictly increasing order are distinct, proven by one comparison
 * each, where a set of a thousand names hashes each of them (~1.7 M instructions of a read of a
 * thousand PVs, in code that runs once): a list of PVs mostly comes in order; one that does not
 * stops at its first step back and takes the set.
 */
export function uniqueNames(devices: DeviceConfig[], names: readonly string[]): DeviceConfig[] {
  let i = 1;
  while (i < names.length && names[i - 1]! < names[i]!) i++;
  if (i >= names.length) return devices;
  const used = new Set<string>();
  for (let t = 0; t < devices.length; t++) {
    const cfg = devices[t]!;
    if (!used.has(cfg.name)) {
      used.add(cfg.name);
      continue;
    }
    let name = cfg.name;
    for (let k = 2; used.has(name); k++) name = `${cfg.name}#${k}`;
    used.add(name);
    devices[t] = { ...cfg, name };
  }
  return devices;
}
