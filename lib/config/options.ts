/**
 * Driver options, checked one way for a config file's device table keys (beyond
 * address/interval/timeout) and an address' `?key=value` alike (`sim://gauge?seed=3`,
 * `ca://PV?wait=1`, `baratron://HOST?timeout=2s`): the rule builders each driver declares its
 * options with (`Driver.options`, so this layer does not import the drivers), and the checks.
 * `./schema.ts` wraps the same rules into the zod schema of `labwire.toml`;
 * {@linkcode checkAddressOptions} applies them directly.
 *
 * No zod here, on purpose: every driver checks its address before any I/O, so this module is on
 * the start-up path of `labwire read sim://gauge`, where loading zod (and the config schema)
 * cost about 70 ms of CPU per run. Mistakes are worded by the one formatter, `./problem.ts`.
 *
 * @module
 */
import { type Address, hasOptions, hostPort } from "../device/address.ts";
import { UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import { type DurationRule, MAX_TIMER_MS, readDuration } from "./duration.ts";
import type { Problem } from "./problem.ts";
import type { DriverOptions, OptionRule } from "../device/registry.ts";
import { listDrivers } from "../device/registry.ts";

/** The range of a number, for messages: ` from 0 to 1`, ` >= 0`, or nothing. */
export function rangeText(min: number, max: number): string {
  if (min === -Infinity && max === Infinity) return "";
  if (max === Infinity) return ` \u2265 ${min}`;
  if (min === -Infinity) return ` \u2264 ${max}`;
  return ` from ${min} to ${max}`;
}

/**
 * A number in [min, max] (whole when `integer`); `seed = 3` and `?seed=3` mean the same.
 *
 * @example
 * ```ts
 * import { numberOption } from "./options.ts";
 * numberOption(0, 1)("0.5"); // { ok: true, value: 0.5 }
 * ```
 */
export function numberOption(min: number, max: number, integer = false): OptionRule {
  return (v) => {
    const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
    if (
      typeof n !== "number" || !Number.isFinite(n) || n < min || n > max ||
      (integer && !Number.isInteger(n))
    ) {
      return {
        ok: false,
        message: `expected ${integer ? "a whole number" : "a number"}${rangeText(min, max)}`,
      };
    }
    return { ok: true, value: n };
  };
}

/**
 * A flag: true/false, 1/0, yes/no, on/off (an empty `?wait` is true).
 *
 * @example
 * ```ts
 * import { flagOption } from "./options.ts";
 * flagOption()("no"); // { ok: true, value: false }
 * ```
 */
export function flagOption(): OptionRule {
  return (v) => {
    if (typeof v === "boolean") return { ok: true, value: v };
    const t = typeof v === "number"
      ? String(v)
      : typeof v === "string"
      ? v.trim().toLowerCase()
      : "?";
    if (["1", "true", "yes", "on", ""].includes(t)) return { ok: true, value: true };
    if (["0", "false", "no", "off"].includes(t)) return { ok: true, value: false };
    return { ok: false, message: "expected 1 or 0 (true or false)" };
  };
}

/**
 * A duration with a unit, in ms, within `rule` (default 1 ms to setTimeout's ceiling).
 *
 * @example
 * ```ts
 * import { durationOption } from "./options.ts";
 * durationOption()("2s"); // { ok: true, value: 2000 }
 * ```
 */
export function durationOption(rule: DurationRule = { min: 1, max: MAX_TIMER_MS }): OptionRule {
  return (v) => {
    try {
      return { ok: true, value: readDuration(v, rule) };
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      return { ok: false, message: err.message + (err.hint ? ` (${err.hint})` : "") };
    }
  };
}

/** Any scalar: a sim kind checks its own values when it reads them. */
export function scalarOption(): OptionRule {
  return (v) =>
    ["string", "number", "boolean"].includes(typeof v)
      ? { ok: true, value: v }
      : { ok: false, message: "expected a string, a number or true/false" };
}

/** A non-empty string. */
export function textOption(message: string): OptionRule {
  return (v) => typeof v === "string" && v !== "" ? { ok: true, value: v } : { ok: false, message };
}

const cache = new Map<string, DriverOptions | undefined>();
/**
 * The options a device of `scheme` takes (config keys beyond address/interval/timeout, and
 * address `?key=value`), as its registered driver declares them, or undefined for a driver
 * that checks its own.
 *
 * @example
 * ```ts ignore
 * import { driverOptions } from "./options.ts";
 * Object.keys(driverOptions("ca", "X:m1")!.rules); // ["timeout", "wait"] once drivers are registered
 * ```
 */
export function driverOptions(scheme: string, target: string): DriverOptions | undefined {
  const id = scheme === "sim" ? `sim://${target.replace(/\/+$/, "").toLowerCase()}` : scheme;
  if (!cache.has(id)) cache.set(id, buildDriverOptions(scheme, target));
  return cache.get(id);
}

function buildDriverOptions(scheme: string, target: string): DriverOptions | undefined {
  // Each driver declares its own options; a driver that is not registered checks its own.
  return listDrivers().find((d) => d.scheme === scheme)?.options?.(target);
}

/**
 * What is wrong with a built-in driver's address target before any I/O (a host must be a valid
 * address, a PV name has no spaces), or undefined.
 */
export function targetProblem(address: Address): string | undefined {
  if (address.scheme === "baratron") {
    try {
      hostPort(address.target.replace(/^https?:\/\//i, "").replace(/\/+$/, ""), 80);
    } catch (err) {
      if (err instanceof UsageError) return err.message;
      throw err;
    }
  }
  if (address.scheme === "ca" && (address.target.trim() === "" || /\s/.test(address.target))) {
    return "a PV name has no spaces";
  }
  return undefined;
}

/**
 * The first problem of an address' `?key=value` options (merged over a device table's
 * `options`), worded for a person, or undefined. An unknown key comes first: a typo usually
 * explains a missing value too.
 */
export function optionsProblem(
  address: Address,
  options: Record<string, unknown> = {},
  spec: DriverOptions | undefined = driverOptions(address.scheme, address.target),
): Problem | undefined {
  if (!spec) return undefined;
  // Most addresses have no options: nothing to check, and no URLSearchParams iterator per device
  // (a read of a thousand ca:// targets checks a thousand addresses).
  if (!hasOptions(address) && isEmpty(options)) return undefined;
  const values: Record<string, unknown> = { ...options };
  for (const [k, v] of address.params) values[k] = v;
  const known = Object.keys(spec.rules);
  for (const k of Object.keys(values)) {
    if (known.includes(k)) continue;
    const takes = known.map((o) => `${o}=`).join(", ");
    return {
      key: k,
      name: k,
      message: `unknown option "${k}"; ${spec.owner} takes: ${takes}`,
      hint: didYouMean(k, known) || undefined,
    };
  }
  for (const [k, rule] of Object.entries(spec.rules)) {
    if (values[k] === undefined) continue;
    const r = rule(values[k]);
    if (!r.ok) return { key: k, message: `option ${k}: ${r.message}`, hint: r.hint };
  }
  const conflict = spec.together?.(values);
  if (conflict) {
    return {
      key: conflict.key,
      message: `option ${conflict.key}: ${conflict.message}`,
      hint: conflict.hint,
    };
  }
  return undefined;
}

/** True for a plain object (a TOML table; a TOML date is a `Date`, not a table). */
export function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/**
 * Whether a record (a device's options) has no keys, without building a key list (asked once per
 * target of a thousand-target read).
 *
 * @example
 * ```ts
 * import { isEmpty } from "./options.ts";
 * isEmpty({}); // true
 * ```
 */
export function isEmpty(record: Record<string, unknown>): boolean {
  for (const _ in record) return false;
  return true;
}

/**
 * Validates an address' `?key=value` options and a device table's other keys (`options`, also
 * checked when the file is loaded) against its driver's rules (`spec`, by default the registered
 * driver's); a mistake is a {@linkcode UsageError} naming the address and the option, with a
 * did-you-mean.
 *
 * @example
 * ```ts
 * import { checkAddressOptions, flagOption } from "./options.ts";
 * import { parseAddress } from "../device/address.ts";
 * const spec = { owner: "ca://", rules: { wait: flagOption() } };
 * checkAddressOptions(parseAddress("ca://X:m1?wiat=1"), {}, spec); // throws: unknown option "wiat" (did you mean "wait"?)
 * ```
 */
export function checkAddressOptions(
  address: Address,
  options: Record<string, unknown> = {},
  spec: DriverOptions | undefined = driverOptions(address.scheme, address.target),
): void {
  const problem = targetProblem(address);
  if (problem) {
    throw new UsageError(
      `${address.text}: ${problem}`,
      address.scheme === "baratron"
        ? "write it like baratron://10.0.0.5, baratron://10.0.0.5:8081 or baratron://[::1]:8081"
        : undefined,
    );
  }
  const p = optionsProblem(address, options, spec);
  if (p) throw new UsageError(`${address.text}: ${p.message}`, p.hint);
}

/**
 * One driver option's value, from the device's config table (`options`) or else the address'
 * `?key=`, checked by its rule; undefined when neither gives it (or no rule knows it).
 */
export function addressOption(
  key: string,
  address: Address,
  options: Record<string, unknown>,
  rules: Record<string, OptionRule>,
): unknown {
  const raw = options[key] ?? address.params.get(key) ?? undefined;
  if (raw === undefined || !(key in rules)) return undefined;
  const checked = rules[key]!(raw);
  if (!checked.ok) throw new UsageError(`${address.text}: ${key}: ${checked.message}`);
  return checked.value;
}
