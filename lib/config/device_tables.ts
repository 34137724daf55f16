/**
 * `[devices.NAME]` tables checked without zod: the address, interval and timeout of each device,
 * its safe state and trigger, and the options its driver declares (`Driver.options`). The config
 * schema (`./devices_schema.ts`) wraps this same check, so a mistake reads the same whichever
 * path found it.
 *
 * Why no zod: a config of only devices (`labwire stream` of a thousand gauges) is checked here
 * without loading zod and the schemas of the other sections (`./lab_config.ts`); loading them
 * kept ~12 MB more resident for the whole run (their code, the schema objects and what Deno
 * keeps for the modules).
 *
 * @module
 */
import { type Address, isAddress, parseAddress } from "../device/address.ts";
import { UsageError } from "../device/errors.ts";
import type { DriverOptions, OptionRule } from "../device/registry.ts";
import { didYouMean } from "../device/suggest.ts";
import { INTERVAL_RULE, TIMEOUT_RULE } from "./duration.ts";
import {
  driverOptions,
  durationOption,
  isTable,
  optionsProblem,
  targetProblem,
} from "./options.ts";
import {
  formatKeyPath,
  type KeyPath,
  type Problem,
  type UnknownKeyParams,
  unknownKeyProblem,
} from "./problem.ts";

/** A validated `[devices.NAME]` table. */
export interface DeviceTable {
  /** The parsed address. */
  address: Address;
  /** Sampling interval, ms. */
  interval?: number;
  /** Per-call timeout, ms. */
  timeout?: number;
  /** `safe_state`: attribute and value pairs, in the order written. */
  safeState?: [string, number | boolean | string | number[]][];
  /** `safe_state_timeout`, ms. */
  safeStateTimeout?: number;
  /**
   * A detector's trigger (a scaler's count): the action written true at every scan point before
   * the device is read, and the boolean that says it is still counting (default: the trigger).
   */
  trigger?: { attr: string; done: string };
  /** Every other key, checked against the driver's options. */
  options: Record<string, unknown>;
}

/** The first mistake in the device tables: its key path (below `devices`) and what was wrong. */
export interface TableIssue {
  /** Key path below `[devices]`, e.g. `["gauge", "interval"]`. */
  path: PropertyKey[];
  /** What was expected. */
  message: string;
  /** A hint for the message (e.g. a did-you-mean), when there is one. */
  hint?: string;
  /** Set when the key itself is unknown (a typo): what its owner takes instead. */
  unknown?: UnknownKeyParams;
}

/** The device tables checked: every device by name, or the first mistake. */
export type CheckedTables =
  | { ok: true; value: Record<string, DeviceTable> }
  | { ok: false; issue: TableIssue };

/** A failed check at `path` (no exception: the caller words it for a file or a schema). */
function issue(
  path: PropertyKey[],
  message: string,
  hint?: string,
): { ok: false; issue: TableIssue } {
  return { ok: false, issue: { path, message, hint } };
}

/**
 * The problem `issue` is for a person, its key path under `base` (`["devices"]` in a file):
 * worded by the config's one formatter, as a zod schema's issue is.
 *
 * @example
 * ```ts
 * import { tableIssueProblem } from "./device_tables.ts";
 * tableIssueProblem({ path: ["g"], message: "expected a table with an address" }, ["devices"]).key;
 * // "devices.g"
 * ```
 */
export function tableIssueProblem(issue: TableIssue, base: KeyPath): Problem {
  const path = [...base, ...issue.path];
  if (issue.unknown) return unknownKeyProblem(path, issue.unknown);
  return { key: formatKeyPath(path), message: issue.message, hint: issue.hint || undefined };
}

const DEVICE_KEYS = [
  "address",
  "interval",
  "timeout",
  "safe_state",
  "safe_state_timeout",
  "trigger",
  "trigger_done",
];

/** The keys a device table of each driver takes (built once per driver, not per device). */
const knownKeys = new Map<DriverOptions | undefined, string[]>();

function keysOf(spec: DriverOptions | undefined): string[] {
  let known = knownKeys.get(spec);
  if (!known) {
    known = [...DEVICE_KEYS, ...Object.keys(spec?.rules ?? {}).filter((k) => k !== "timeout")];
    knownKeys.set(spec, known);
  }
  return known;
}

const ATTR_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;
/** Device names: what a TOML bare key and a URL path segment both take. */
const DEVICE_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const INTERVAL = durationOption(INTERVAL_RULE);
const TIMEOUT = durationOption(TIMEOUT_RULE);

/** A value a safe state writes: what a TOML value of an attribute can be. */
type SafeValue = number | boolean | string | number[];

/** The address as written, checked as its driver checks it (before any I/O). */
function checkAddress(v: unknown): { ok: true; value: Address } | { ok: false; issue: TableIssue } {
  const at = ["address"];
  if (typeof v !== "string") {
    return issue(at, 'expected address = "scheme://…" (e.g. "baratron://10.0.0.5")');
  }
  if (!isAddress(v)) return issue(at, `"${v}" is not an address like baratron://HOST`);
  let address: Address;
  try {
    address = parseAddress(v);
  } catch (err) {
    if (err instanceof UsageError) return issue(at, err.message, err.hint);
    throw err;
  }
  const problem = targetProblem(address);
  if (problem) return issue(at, `${v}: ${problem}`);
  const p = optionsProblem(address);
  if (p) return issue(at, `${v}: ${p.message}`, p.hint);
  return { ok: true, value: address };
}

/**
 * `safe_state = { attr = value, … }`: what to write, in the order written, when whoever drove the
 * device stops (the attribute names and values are checked against the device when applied).
 */
function checkSafeState(v: unknown) {
  const at = ["safe_state"];
  if (!isTable(v)) {
    return issue(
      at,
      "expected a table of attribute = value",
      "e.g. safe_state = { heater = false }",
    );
  }
  const out: [string, SafeValue][] = [];
  for (const [k, x] of Object.entries(v)) {
    const ok = typeof x === "number" ? Number.isFinite(x) : typeof x === "boolean" ||
      typeof x === "string" ||
      (Array.isArray(x) && x.every((n) => typeof n === "number" && Number.isFinite(n)));
    if (!ok) return issue([...at, k], "expected a number, boolean, string or list of numbers");
    out.push([k, x as SafeValue]);
  }
  if (out.length > 64) return issue(at, "at most 64 attributes");
  return { ok: true as const, value: out };
}

/** Key `key` of `table` by `rule` (absent: undefined); a mistake names the key. */
function byRule(table: Record<string, unknown>, key: string, rule: OptionRule) {
  const v = table[key];
  if (v === undefined) return { ok: true as const, value: undefined };
  const r = rule(v);
  return r.ok ? r : issue([key, ...(r.path ?? [])], r.message, r.hint);
}

/** An attribute name (`trigger`, `trigger_done`), when given. */
function attrName(table: Record<string, unknown>, key: string) {
  const v = table[key];
  if (v === undefined || (typeof v === "string" && ATTR_NAME.test(v))) {
    return { ok: true as const, value: v as string | undefined };
  }
  return issue([key], 'expected an attribute name like "count"');
}

/**
 * One `[devices.NAME]` table: address, interval, timeout, safe state, trigger and the options its
 * driver takes. An unknown key is reported first (a typo usually explains a missing key too),
 * then the keys in the order above, then the driver's options in the order it declares them.
 */
function checkDeviceTable(
  v: unknown,
): { ok: true; value: DeviceTable } | { ok: false; issue: TableIssue } {
  if (!isTable(v)) return issue([], "expected a table with an address");
  // The keys a device takes depend on its driver, so typos are found once the address is known.
  let parsed: Address | undefined;
  if (typeof v.address === "string" && isAddress(v.address)) {
    try {
      parsed = parseAddress(v.address);
    } catch {
      parsed = undefined;
    }
  }
  const spec = parsed ? driverOptions(parsed.scheme, parsed.target) : undefined;
  if (spec || v.address === undefined) {
    const known = keysOf(spec);
    for (const k of Object.keys(v)) {
      if (known.includes(k)) continue;
      // Without an address the driver is unknown: only a key that looks like "address" is a typo.
      if (!spec && didYouMean(k, ["address"]) === "") continue;
      const owner = spec ? `a ${spec.owner} device` : "a device";
      return {
        ok: false,
        issue: { path: [k], message: "unknown key", unknown: { unknownKey: k, known, owner } },
      };
    }
  }
  const address = checkAddress(v.address);
  if (!address.ok) return address;
  const interval = byRule(v, "interval", INTERVAL);
  if (!interval.ok) return interval;
  const timeout = byRule(v, "timeout", TIMEOUT);
  if (!timeout.ok) return timeout;
  const safeState = v.safe_state === undefined ? undefined : checkSafeState(v.safe_state);
  if (safeState && !safeState.ok) return safeState;
  const safeStateTimeout = byRule(v, "safe_state_timeout", TIMEOUT);
  if (!safeStateTimeout.ok) return safeStateTimeout;
  const trigger = attrName(v, "trigger");
  if (!trigger.ok) return trigger;
  const done = attrName(v, "trigger_done");
  if (!done.ok) return done;
  if (done.value !== undefined && trigger.value === undefined) {
    return issue(
      ["trigger_done"],
      'trigger_done names what ends a trigger: give trigger = "ATTR" too',
    );
  }
  const options: Record<string, unknown> = {};
  for (const k in v) if (!DEVICE_KEYS.includes(k)) options[k] = v[k];
  if (spec) {
    for (const [k, rule] of Object.entries(spec.rules)) {
      if (k === "timeout") continue;
      const r = byRule(options, k, rule);
      if (!r.ok) return r;
    }
    const conflict = spec.together?.(options);
    if (conflict) return issue([conflict.key], conflict.message, conflict.hint);
  }
  return {
    ok: true,
    value: {
      address: address.value,
      interval: interval.value as number | undefined,
      timeout: timeout.value as number | undefined,
      safeState: safeState?.value,
      safeStateTimeout: safeStateTimeout.value as number | undefined,
      ...(trigger.value
        ? { trigger: { attr: trigger.value, done: done.value ?? trigger.value } }
        : {}),
      options,
    },
  };
}

/**
 * The `[devices]` section: a table of `[devices.NAME]` tables, each checked (see the module
 * doc); the first mistake, with its key path below `devices`, or every device by name.
 *
 * @example
 * ```ts
 * import "../drivers/mod.ts";
 * import { checkDeviceTables } from "./device_tables.ts";
 * const r = checkDeviceTables({ g: { address: "sim://gauge", intervl: "1s" } });
 * r.ok ? "" : r.issue.unknown?.unknownKey; // "intervl"
 * ```
 */
export function checkDeviceTables(v: unknown): CheckedTables {
  if (!isTable(v)) return issue([], "expected a table of [devices.NAME]");
  const out: Record<string, DeviceTable> = {};
  for (const [name, entry] of Object.entries(v)) {
    if (!DEVICE_NAME.test(name)) {
      return issue([name], "device names use letters, digits, _ and -");
    }
    const r = checkDeviceTable(entry);
    if (!r.ok) return { ok: false, issue: { ...r.issue, path: [name, ...r.issue.path] } };
    out[name] = r.value;
  }
  return { ok: true, value: out };
}
