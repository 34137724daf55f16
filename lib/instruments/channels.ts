/**
 * What every attribute of a definition goes through, whatever its protocol family: a name that
 * can stand in a reading (snake_case, declared once, not a reading's own key), a channel group
 * expanded to one attribute per channel id (`ch{ch}_voltage`), and limits given once or per
 * channel. The message and the register compilers share these, so a rule is written once.
 *
 * @module
 */
import { READING_KEYS } from "../device/device.ts";

/** Throws a `ConfigError` naming the key (the compilers' own, bound to the file). */
export type Fail = (key: string, message: string) => never;

/**
 * The name of attribute `base` for channel `id` of `group`, after the group's name pattern
 * (default `{attr}_{GROUP}`), lowercased; `base` itself without a group.
 *
 * @example
 * ```ts
 * import { channelAttrName } from "./channels.ts";
 * channelAttrName("voltage", "ch", "1", "ch{ch}_{attr}"); // "ch1_voltage"
 * ```
 */
export function channelAttrName(
  base: string,
  group: string | undefined,
  id: string | undefined,
  pattern?: string,
): string {
  if (group === undefined) return base;
  return (pattern ?? `{attr}_{${group}}`).replace("{attr}", base).replace(`{${group}}`, id!)
    .toLowerCase();
}

/**
 * Checks an expanded attribute name (snake_case, not declared before, not `t`, `device` or
 * `error`) and adds it to `seen`.
 */
export function claimAttrName(name: string, key: string, seen: Set<string>, fail: Fail): void {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) {
    fail(`${key}.channels`, `expands to "${name}", not snake_case`);
  }
  if (seen.has(name)) fail(key, `attribute "${name}" is declared twice`);
  if (READING_KEYS.includes(name)) {
    fail(
      key,
      `"${name}" is a key of every reading (${
        READING_KEYS.join(", ")
      }); name the attribute after what it holds, e.g. "system_${name}"`,
    );
  }
  seen.add(name);
}

/** A limit given once, or per channel id (`{ "1" = 10, "2" = 20 }`). */
export type ChannelNumber = number | Record<string, number> | undefined;

/**
 * The `min` and `max` of an attribute for channel `id` (each given once or per channel); a
 * table without channels, a channel missing from it, or min above max fails naming the key.
 *
 * @example
 * ```ts ignore
 * channelLimits({ min: 0, max: { "1": 30, "2": 6 } }, "2", "attrs.voltage", fail); // { min: 0, max: 6 }
 * ```
 */
export function channelLimits(
  a: { min?: ChannelNumber; max?: ChannelNumber },
  id: string | undefined,
  key: string,
  fail: Fail,
): { min?: number; max?: number } {
  const pick = (v: ChannelNumber, k: string): number | undefined => {
    if (v === undefined || typeof v === "number") return v;
    if (id === undefined) return fail(`${key}.${k}`, "a table of values needs channels");
    const x = v[id];
    if (x === undefined) return fail(`${key}.${k}`, `no value for channel "${id}"`);
    return x;
  };
  const min = pick(a.min, "min");
  const max = pick(a.max, "max");
  if (min !== undefined && max !== undefined && min > max) {
    fail(key, `min ${min} is above max ${max}`);
  }
  return { min, max };
}
