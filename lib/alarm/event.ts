/**
 * Alarm severities and transition events, shared by the engine, the notifier, the session store
 * and the server. Severities follow EPICS: `minor` < `major` < `invalid` (data not trustworthy:
 * a failing or silent device), numbered 1, 2, 3 as EPICS alarm severities; 0 is "no alarm".
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import type { Reading } from "../device/device.ts";
// Type only: the names a config file may use are the schema's; zod is not loaded by this.
import type { SEVERITIES } from "../config/alarms_schema.ts";
import { humanDateTime } from "../output/time.ts";

/** Alarm severity, EPICS-like, from least to most severe (the config schema lists them). */
export type Severity = (typeof SEVERITIES)[number];

/** EPICS alarm severity numbers: NO_ALARM 0, MINOR 1, MAJOR 2, INVALID 3. */
export const SEVERITY_LEVEL: Readonly<Record<Severity, 1 | 2 | 3>> = {
  minor: 1,
  major: 2,
  invalid: 3,
};

/** What raised an alarm: a threshold rule, repeated failed reads, or no good sample for too long. */
export type AlarmKind = "threshold" | "error" | "stale";

/** One alarm transition: it became `active`, or it `cleared`. */
export interface AlarmEvent {
  /** When the transition happened, Unix epoch seconds with millisecond precision (like Reading.t). */
  t: number;
  /** The alarm's name (from config, or derived like `gauge.pressure>0.001`). */
  name: string;
  /** What kind of alarm it is. */
  kind: AlarmKind;
  /** Device name. */
  device: string;
  /** Attribute name; absent for device alarms (`error`, `stale`). */
  attr?: string;
  /** Severity of the alarm. */
  severity: Severity;
  /** The transition. */
  state: "active" | "cleared";
  /** The value that caused the transition (null for device alarms or when unknown). */
  value: Value;
  /** One human line saying what happened. */
  message: string;
}

/** True when `s` is at least as severe as `min`. */
export function atLeast(s: Severity, min: Severity): boolean {
  return SEVERITY_LEVEL[s] >= SEVERITY_LEVEL[min];
}

/**
 * Formats an event as the single stderr line every transition produces.
 *
 * @example
 * ```ts
 * import { formatEvent } from "./event.ts";
 * formatEvent({
 *   t: 0, name: "hot", kind: "threshold", device: "oven", attr: "temp", severity: "major",
 *   state: "active", value: 301, message: "oven.temp > 300 (value 301)",
 * });
 * // "1970-01-01 00:00:00 UTC alarm MAJOR active hot: oven.temp > 300 (value 301)" (in UTC)
 * ```
 */
export function formatEvent(e: AlarmEvent): string {
  // People read this (stderr, e-mails): local time with its zone.
  const when = humanDateTime(e.t);
  return `${when} alarm ${e.severity.toUpperCase()} ${e.state} ${e.name}: ${e.message}`;
}

/** What {@linkcode formatEvent} writes before the name, whatever the time's form (local, UTC, ISO). */
const EVENT_LINE =
  /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z| [A-Z]{2,5}| UTC[+-]\d\d:\d\d) alarm (MINOR|MAJOR|INVALID) (active|cleared) /;

/**
 * True when `line` is a transition line made by {@linkcode formatEvent} (a live table shows the
 * transitions itself and keeps only the other log lines).
 *
 * @example
 * ```ts
 * import { isEventLine } from "./event.ts";
 * isEventLine("1970-01-01 00:00:00 UTC alarm MAJOR active hot: oven.temp > 300"); // true
 * isEventLine("alarm rule for oven cannot apply: no attribute temp"); // false
 * ```
 */
export function isEventLine(line: string): boolean {
  return EVENT_LINE.test(line);
}

/** An alarm that is currently active. */
export interface ActiveAlarm {
  /** Alarm name. */
  name: string;
  /** Kind of alarm. */
  kind: AlarmKind;
  /** Device name. */
  device: string;
  /** Attribute, for threshold alarms. */
  attr?: string;
  /** Severity. */
  severity: Severity;
  /** When it became active, epoch seconds. */
  since: number;
  /** The latest value seen for the attribute (null for device alarms). */
  value: Value;
  /** The message of its activation. */
  message: string;
  /** When an operator acknowledged it (epoch seconds); absent until then. */
  acknowledged?: number;
}

/** Anything with the engine's read side, e.g. for the digest e-mail or the server. */
export interface AlarmSource {
  /** Alarms active now. */
  active(): ActiveAlarm[];
  /** Recent transitions, oldest first. */
  history(): AlarmEvent[];
  /** The last reading of each device. */
  lastReadings(): Reading[];
}
