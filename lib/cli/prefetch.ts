/**
 * Starting a one-shot read before its verb loads: `main.ts` hands a verb's arguments here first,
 * and the addressed targets whose driver can batch them ({@linkcode Driver.prefetch}) go out at
 * once — a `labwire read` of a thousand `ca://` PVs sends its searches while Deno still loads the
 * verb, the config and the output code, so the server works while labwire loads.
 *
 * Only plain cases start anything: every flag known to the verb's table, none that changes what
 * is read (`--attrs`, `--describe`) or prints help, targets `scheme://target` without `?options`,
 * `#` or `%`-escapes. The verb itself decides later what it reads; a prefetch it does not take
 * over is cancelled, so a wrong guess costs a few datagrams, never a wrong answer.
 *
 * @module
 */
import type { FlagSpecs } from "./common_flags.ts";
import { type Driver, findDriver, type Prefetch } from "../device/registry.ts";

/** A plain address: a scheme, `://`, then no `?`, `#` or `%`. */
const PLAIN_ADDRESS = /^([a-z][a-z0-9+.-]*):\/\/[^?#%]+$/i;

/**
 * Starts the prefetch of every plain addressed target in `args` (a verb's arguments, read with
 * `flags`) whose driver has one; returns the prefetches started (none when `args` hold a flag
 * outside `flags` or one of `refuse`).
 *
 * @example
 * ```ts ignore
 * import { prefetchTargets } from "./prefetch.ts";
 * const started = prefetchTargets(["ca://XXX:m1", "-t", "2s"], { timeout: { type: "string" } }, []);
 * started.forEach((p) => p.cancel());
 * ```
 */
export function prefetchTargets(
  args: readonly string[],
  flags: FlagSpecs,
  refuse: readonly string[],
): Prefetch[] {
  const byScheme = new Map<string, string[]>();
  // Indexed loops and no per-argument objects: this runs once, cold, over a thousand targets.
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      for (i++; i < args.length; i++) addTarget(byScheme, args[i]!);
      break;
    }
    if (a.length < 2 || a[0] !== "-") {
      addTarget(byScheme, a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = flagName(a.slice(0, eq < 0 ? a.length : eq), flags);
    if (name === undefined || refuse.includes(name)) return [];
    if (flags[name]!.type === "string" && eq < 0) i++;
  }
  const started: Prefetch[] = [];
  for (const [scheme, addresses] of byScheme) {
    let driver: Driver;
    try {
      driver = findDriver(scheme);
    } catch {
      continue; // the verb says what is wrong with it
    }
    if (driver.prefetch !== undefined && driver.readMany !== undefined) {
      started.push(driver.prefetch(addresses));
    }
  }
  return started;
}

function addTarget(byScheme: Map<string, string[]>, target: string): void {
  const m = PLAIN_ADDRESS.exec(target.trim());
  if (m === null) return;
  const scheme = m[1]!.toLowerCase();
  const list = byScheme.get(scheme);
  if (list === undefined) byScheme.set(scheme, [target]);
  else list.push(target);
}

/** The long name of `--name` or `-n` in `flags`, or undefined (a group `-ab`, an unknown flag). */
function flagName(flag: string, flags: FlagSpecs): string | undefined {
  if (flag.startsWith("--")) {
    const name = flag.slice(2);
    return Object.hasOwn(flags, name) ? name : undefined;
  }
  if (flag.length !== 2) return undefined;
  for (const name in flags) {
    if (Object.hasOwn(flags, name) && flags[name]!.short === flag[1]) return name;
  }
  return undefined;
}
