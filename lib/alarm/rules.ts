/**
 * The `[[alarms]]` section of `labwire.toml`, validated into rules for the
 * {@linkcode AlarmEngine}. Two kinds of entries share the array:
 *
 * ```toml
 * # A threshold alarm (pyepics Alarm): fires when the comparison has held for `delay`,
 * # clears once the value is back past the trip point by `hysteresis`.
 * [[alarms]]
 * name = "chamber_pressure_high"  # optional; default like "gauge.pressure > 0.001"
 * device = "gauge"
 * attr = "pressure"
 * compare = ">"          # > >= < <= == != outside inside changed
 * trip = 1e-3            # number; == and != also take a string or boolean
 * delay = "5s"           # the condition must hold this long before firing (default 0)
 * hysteresis = 1e-4      # deadband before clearing (ordered comparisons, outside, inside)
 * severity = "major"     # minor | major | invalid (default major)
 * message = "pressure {value} above {trip}"  # {value} {trip} {low} {high} {device} {attr} {name}
 *
 * [[alarms]]
 * device = "oven"
 * attr = "temperature"
 * compare = "outside"    # outside and inside take low and high instead of trip
 * low = 20
 * high = 80
 *
 * # Device health (no attr): every device has these alarms with the defaults shown; an entry
 * # overrides them for one device, or for all with device = "*". 0 turns an alarm off.
 * [[alarms]]
 * device = "*"
 * error_after = 3        # consecutive failed reads → alarm "NAME error"
 * stale_after = 3        # sampling intervals without a good sample → alarm "NAME stale"
 *                        # (the interval is the device's, or the actual cadence when longer)
 * severity = "invalid"
 * ```
 *
 * Comparison semantics (v is the value, h the hysteresis):
 *
 * | compare | fires while | clears when |
 * |---|---|---|
 * | `>` / `>=` | v > trip / v ≥ trip | v ≤ trip − h / v < trip − h |
 * | `<` / `<=` | v < trip / v ≤ trip | v ≥ trip + h / v > trip + h |
 * | `==` / `!=` | v equals / differs from trip | the opposite |
 * | `outside` | v < low or v > high | low + h ≤ v ≤ high − h |
 * | `inside` | low ≤ v ≤ high | v < low − h or v > high + h |
 * | `changed` | v differs from the previous reading | a reading equals the previous one |
 *
 * Keys are named in errors like `alarms[2].compare`, counting `[[alarms]]` tables from 0.
 *
 * @module
 */
import type { Attr } from "../device/attr.ts";
import { ConfigError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import type { z } from "zod";
import type { LabConfig } from "../config/load.ts";
import { ALARM_SCHEMA, ALARMS_SCHEMA } from "../config/alarms_schema.ts";
import { parseWith } from "../config/fields.ts";
import type { Severity } from "./event.ts";

/** The comparisons a threshold alarm can make. */
export type Compare = ">" | ">=" | "<" | "<=" | "==" | "!=" | "outside" | "inside" | "changed";

/** Every comparison, in documentation order. */
export const COMPARES: readonly Compare[] = [
  ">",
  ">=",
  "<",
  "<=",
  "==",
  "!=",
  "outside",
  "inside",
  "changed",
];

/** A validated threshold alarm. */
export interface ThresholdRule {
  /** Unique alarm name. */
  name: string;
  /** Config key of its table, e.g. `alarms[2]`, for later error messages. */
  key: string;
  /** Device name. */
  device: string;
  /** Attribute name. */
  attr: string;
  /** Comparison. */
  compare: Compare;
  /** Trip point of `>` `>=` `<` `<=` `==` `!=`. */
  trip?: number | string | boolean;
  /** Lower bound of `outside`/`inside`. */
  low?: number;
  /** Upper bound of `outside`/`inside`. */
  high?: number;
  /** Milliseconds the condition must hold before the alarm fires. */
  delay: number;
  /** Deadband before clearing (≥ 0). */
  hysteresis: number;
  /** Severity. */
  severity: Severity;
  /** Message template, if configured. */
  message?: string;
}

/** Health alarms of one device: repeated failed reads and stale data. */
export interface HealthRule {
  /** Device name. */
  device: string;
  /** Consecutive failed reads before the error alarm fires; 0 disables it. */
  errorAfter: number;
  /** Sampling intervals without a good sample before the stale alarm fires; 0 disables it. */
  staleAfter: number;
  /** The device's sampling interval in ms (from `[devices.NAME] interval`). */
  interval: number;
  /** Severity of both alarms. */
  severity: Severity;
}

/** Everything the `[[alarms]]` section configures. */
export interface AlarmConfig {
  /** Threshold alarms in file order. */
  rules: ThresholdRule[];
  /** Health alarms, one entry per configured device. */
  health: HealthRule[];
  /** What `device = "*"` health entries set, for devices added at run time. */
  healthAll?: Partial<HealthRule>;
}

/** Default consecutive failed reads before a device error alarm. */
export const DEFAULT_ERROR_AFTER = 3;
/** Default intervals without a good sample before a stale-data alarm. */
export const DEFAULT_STALE_AFTER = 3;
/** Default severity of threshold alarms. */
export const DEFAULT_SEVERITY: Severity = "major";
/** Default severity of device health alarms (EPICS: data that cannot be trusted is INVALID). */
export const DEFAULT_HEALTH_SEVERITY: Severity = "invalid";

const HEALTH_KEYS = ["device", "error_after", "stale_after", "severity"];
const ORDERED: readonly Compare[] = [">", ">=", "<", "<="];
/** Words people write for comparisons (Fortran, shell test, SQL), for the "did you mean" hint. */
const COMPARE_WORDS: Record<string, Compare> = {
  gt: ">",
  ge: ">=",
  gte: ">=",
  lt: "<",
  le: "<=",
  lte: "<=",
  eq: "==",
  "=": "==",
  ne: "!=",
  neq: "!=",
  "<>": "!=",
};

/**
 * Validates `config.sections.alarms`; device names must be configured devices.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../config/load.ts";
 * import { parseAlarms } from "./rules.ts";
 * const config = parseConfig(`
 * [devices.gauge]
 * address = "sim://gauge"
 * [[alarms]]
 * device = "gauge"
 * attr = "pressure"
 * compare = ">"
 * trip = 1e-3
 * `);
 * parseAlarms(config).rules[0]?.name; // "gauge.pressure > 0.001"
 * ```
 */
export function parseAlarms(config: LabConfig): AlarmConfig {
  const file = config.file;
  // Keys, types and durations: the schema. What follows depends on the entry's kind and on
  // the configured devices.
  const raw = config.sections.alarms === undefined
    ? []
    : parseWith(ALARMS_SCHEMA, config.sections.alarms, file, ["alarms"]);
  const deviceNames = config.devices.map((d) => d.name);
  const rules: ThresholdRule[] = [];
  const overrides: { all?: Partial<HealthRule>; byDevice: Map<string, Partial<HealthRule>> } = {
    byDevice: new Map(),
  };
  const names = new Map<string, string>();
  raw.forEach((entry, i) => {
    const key = `alarms[${i}]`;
    const isHealth = entry.attr === undefined && entry.compare === undefined &&
      (entry.error_after !== undefined || entry.stale_after !== undefined);
    if (isHealth) {
      const h = parseHealth(entry, key, file, deviceNames);
      if (h.device === "*") overrides.all = { ...overrides.all, ...h.values };
      else overrides.byDevice.set(h.device, { ...overrides.byDevice.get(h.device), ...h.values });
      return;
    }
    const rule = parseThreshold(entry, key, file, deviceNames);
    const previous = names.get(rule.name);
    if (previous !== undefined) {
      throw new ConfigError(
        `alarm name "${rule.name}" is already used by ${previous}; give one of them a name = "…"`,
        file,
        `${key}.name`,
      );
    }
    names.set(rule.name, key);
    rules.push(rule);
  });
  const health = config.devices.map((d): HealthRule => ({
    device: d.name,
    errorAfter: DEFAULT_ERROR_AFTER,
    staleAfter: DEFAULT_STALE_AFTER,
    interval: d.interval,
    severity: DEFAULT_HEALTH_SEVERITY,
    ...overrides.all,
    ...overrides.byDevice.get(d.name),
  }));
  return { rules, health, ...(overrides.all ? { healthAll: overrides.all } : {}) };
}

/**
 * The health alarm of `device` sampled every `interval` ms: its configured one, or for a device
 * the config does not name (added at run time) the defaults with the `device = "*"` entries.
 *
 * @example
 * ```ts
 * import { healthRuleOf } from "./rules.ts";
 * healthRuleOf({ rules: [], health: [] }, "g2", 200).staleAfter; // 3
 * ```
 */
export function healthRuleOf(config: AlarmConfig, device: string, interval: number): HealthRule {
  return config.health.find((h) => h.device === device) ?? {
    device,
    errorAfter: DEFAULT_ERROR_AFTER,
    staleAfter: DEFAULT_STALE_AFTER,
    interval,
    severity: DEFAULT_HEALTH_SEVERITY,
    ...config.healthAll,
  };
}

/** An `[[alarms]]` entry as the schema leaves it. */
type Entry = z.output<typeof ALARM_SCHEMA>;

function parseHealth(
  entry: Entry,
  key: string,
  file: string | undefined,
  deviceNames: string[],
): { device: string; values: Partial<HealthRule> } {
  for (const k of Object.keys(entry)) {
    if (!HEALTH_KEYS.includes(k)) {
      throw new ConfigError(
        `a device health entry (error_after/stale_after, no attr) takes only ${
          HEALTH_KEYS.join(", ")
        }`,
        file,
        `${key}.${k}`,
      );
    }
  }
  const device = deviceKey(entry.device, key, file, deviceNames, true);
  const values: Partial<HealthRule> = {};
  if (entry.error_after !== undefined) values.errorAfter = entry.error_after;
  if (entry.stale_after !== undefined) values.staleAfter = entry.stale_after;
  if (entry.severity !== undefined) values.severity = entry.severity;
  return { device, values };
}

function parseThreshold(
  entry: Entry,
  key: string,
  file: string | undefined,
  deviceNames: string[],
): ThresholdRule {
  for (const k of ["error_after", "stale_after"] as const) {
    if (entry[k] !== undefined) {
      throw new ConfigError(
        "error_after and stale_after belong in a device health entry (one without attr/compare)",
        file,
        `${key}.${k}`,
      );
    }
  }
  const device = deviceKey(entry.device, key, file, deviceNames, false);
  if (typeof entry.attr !== "string" || entry.attr === "") {
    throw new ConfigError(
      'expected attr = "NAME", the attribute to watch (or error_after/stale_after for device health)',
      file,
      `${key}.attr`,
    );
  }
  const attr = entry.attr;
  const compare = entry.compare;
  if (typeof compare !== "string" || !(COMPARES as readonly string[]).includes(compare)) {
    const got = compare === undefined ? "nothing" : JSON.stringify(compare);
    const word = typeof compare === "string" ? COMPARE_WORDS[compare.toLowerCase()] : undefined;
    const hint = word
      ? `did you mean "${word}"?`
      : typeof compare === "string"
      ? didYouMean(compare, COMPARES)
      : "";
    throw new ConfigError(
      `expected compare = one of ${COMPARES.map((c) => `"${c}"`).join(", ")}; got ${got}${
        hint ? ` (${hint})` : ""
      }`,
      file,
      `${key}.compare`,
    );
  }
  const c = compare as Compare;
  const rule: ThresholdRule = {
    name: "",
    key,
    device,
    attr,
    compare: c,
    delay: entry.delay ?? 0,
    hysteresis: entry.hysteresis ?? 0,
    severity: entry.severity ?? DEFAULT_SEVERITY,
  };
  const forbid = (k: keyof Entry, why: string) => {
    if (entry[k] !== undefined) throw new ConfigError(why, file, `${key}.${k}`);
  };
  if (ORDERED.includes(c) || c === "==" || c === "!=") {
    forbid("low", `compare "${c}" takes trip, not low/high`);
    forbid("high", `compare "${c}" takes trip, not low/high`);
    const trip = entry.trip;
    if (ORDERED.includes(c)) {
      if (typeof trip !== "number" || !Number.isFinite(trip)) {
        throw new ConfigError(`compare "${c}" needs a number: trip = 1.5`, file, `${key}.trip`);
      }
    } else {
      forbid("hysteresis", `hysteresis applies to ordered comparisons, not "${c}"`);
      if (
        !(typeof trip === "number" && Number.isFinite(trip)) && typeof trip !== "string" &&
        typeof trip !== "boolean"
      ) {
        throw new ConfigError(
          `compare "${c}" needs trip = a number, a string or true/false`,
          file,
          `${key}.trip`,
        );
      }
    }
    rule.trip = trip as number | string | boolean;
  } else if (c === "outside" || c === "inside") {
    forbid("trip", `compare "${c}" takes low and high, not trip`);
    const low = boundKey(entry.low, c, file, `${key}.low`);
    const high = boundKey(entry.high, c, file, `${key}.high`);
    if (!(low < high)) {
      throw new ConfigError(`expected low < high, got low = ${low}`, file, `${key}.high`);
    }
    if (c === "outside" && high - low < 2 * rule.hysteresis) {
      throw new ConfigError(
        `the band ${low}…${high} is narrower than twice the hysteresis, so the alarm could never clear`,
        file,
        `${key}.hysteresis`,
      );
    }
    rule.low = low;
    rule.high = high;
  } else {
    for (const k of ["trip", "low", "high", "hysteresis"] as const) {
      forbid(k, `compare "changed" takes no ${k}: it fires when the value changes`);
    }
  }
  if (entry.message !== undefined) rule.message = entry.message;
  if (entry.name !== undefined) {
    if (entry.name.trim() === "") {
      throw new ConfigError("expected a non-empty string", file, `${key}.name`);
    }
    rule.name = entry.name;
  } else {
    rule.name = `${device}.${attr} ${describeCondition(rule)}`;
  }
  return rule;
}

/** Describes a rule's condition: `> 0.001`, `outside [20, 80]`, `changed`. */
export function describeCondition(rule: ThresholdRule): string {
  switch (rule.compare) {
    case "outside":
    case "inside":
      return `${rule.compare} [${rule.low}, ${rule.high}]`;
    case "changed":
      return "changed";
    default:
      return `${rule.compare} ${JSON.stringify(rule.trip)}`;
  }
}

function deviceKey(
  v: unknown,
  key: string,
  file: string | undefined,
  deviceNames: string[],
  allowStar: boolean,
): string {
  if (typeof v !== "string" || v === "") {
    throw new ConfigError(
      'expected device = "NAME" of a [devices.NAME] table',
      file,
      `${key}.device`,
    );
  }
  if (allowStar && v === "*") return v;
  if (!deviceNames.includes(v)) {
    const hint = didYouMean(v, deviceNames);
    const known = deviceNames.length ? deviceNames.join(", ") : "none configured";
    throw new ConfigError(
      `no device "${v}" in [devices]${hint ? ` (${hint})` : ""}; devices: ${known}`,
      file,
      `${key}.device`,
    );
  }
  return v;
}

function boundKey(v: unknown, compare: string, file: string | undefined, key: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new ConfigError(`compare "${compare}" needs numbers low and high`, file, key);
  }
  return v;
}

/**
 * Checks that every threshold alarm's attribute exists on its device and fits the comparison,
 * once devices are open and their attrs known. `attrsOf` returns undefined for a device whose
 * attrs are unknown (e.g. unreachable at start); those rules are not checked.
 */
export function checkAlarmAttrs(
  config: AlarmConfig,
  attrsOf: (device: string) => readonly Attr[] | undefined,
  file?: string,
): void {
  for (const rule of config.rules) {
    const attrs = attrsOf(rule.device);
    if (attrs === undefined) continue;
    const a = attrs.find((x) => x.name === rule.attr);
    if (!a) {
      const names = attrs.map((x) => x.name);
      const hint = didYouMean(rule.attr, names);
      throw new ConfigError(
        `device "${rule.device}" has no attribute "${rule.attr}"${
          hint ? ` (${hint})` : ""
        }; it has: ${names.join(", ")}`,
        file,
        `${rule.key}.attr`,
      );
    }
    const numeric = a.type === "number" || a.type === "integer";
    if (
      (ORDERED.includes(rule.compare) || rule.compare === "outside" ||
        rule.compare === "inside") && !numeric
    ) {
      throw new ConfigError(
        `compare "${rule.compare}" needs a numeric attribute; ${rule.device}.${rule.attr} is ${a.type}`,
        file,
        `${rule.key}.compare`,
      );
    }
  }
}
