/**
 * Alarm state in EPICS terms, the one mapping the Channel Access server uses: each PV (device.attr) carries an
 * alarm severity (0 NO_ALARM, 1 MINOR, 2 MAJOR, 3 INVALID) and an alarm status (epicsAlarmCondition:
 * HIHI, HIGH, LOLO, LOW, STATE, COS, COMM, TIMEOUT, …), and its GR/CTRL metadata carries alarm and
 * warning limits. Severity and status change only on alarm events, so a server can recompute them
 * in an `AlarmEngine.on` listener instead of per sample.
 *
 * @module
 */
import type { ActiveAlarm } from "./engine.ts";
import { SEVERITY_LEVEL } from "./event.ts";
import type { AlarmConfig, ThresholdRule } from "./rules.ts";

/** epicsAlarmCondition values (EPICS base `alarm.h`). */
export const EPICS_STATUS = {
  NO_ALARM: 0,
  READ: 1,
  WRITE: 2,
  HIHI: 3,
  HIGH: 4,
  LOLO: 5,
  LOW: 6,
  STATE: 7,
  COS: 8,
  COMM: 9,
  TIMEOUT: 10,
  UDF: 17,
} as const;

/** Severity and status of one PV. */
export interface EpicsAlarm {
  /** 0 NO_ALARM, 1 MINOR, 2 MAJOR, 3 INVALID. */
  severity: 0 | 1 | 2 | 3;
  /** An {@linkcode EPICS_STATUS} value. */
  status: number;
}

/**
 * The EPICS alarm of `device.attr`: the most severe of its active threshold alarms and its
 * device's error/stale alarms (which cover every attribute). `rules` finds a threshold rule by
 * alarm name (e.g. a Map built from `AlarmConfig.rules`).
 *
 * @example
 * ```ts
 * import { epicsAlarm } from "./epics.ts";
 * epicsAlarm([{
 *   name: "oven error", kind: "error", device: "oven", severity: "invalid", since: 0,
 *   value: null, message: "…",
 * }], new Map(), "oven", "temp"); // { severity: 3, status: 9 } (INVALID, COMM)
 * ```
 */
export function epicsAlarm(
  active: readonly ActiveAlarm[],
  rules: ReadonlyMap<string, ThresholdRule>,
  device: string,
  attr: string,
): EpicsAlarm {
  let best: EpicsAlarm = { severity: 0, status: EPICS_STATUS.NO_ALARM };
  for (const a of active) {
    if (a.device !== device || (a.attr !== undefined && a.attr !== attr)) continue;
    const severity = SEVERITY_LEVEL[a.severity];
    if (severity <= best.severity) continue;
    best = { severity, status: epicsStatus(a, rules.get(a.name)) };
  }
  return best;
}

/**
 * The EPICS alarm status of one alarm (active or a transition): a failing device is COMM, a
 * silent one TIMEOUT; a threshold is HIHI/HIGH above its trip point and LOLO/LOW below (major or
 * invalid / minor), HIHI/HIGH when its rule is not known; `changed` is COS, other comparisons
 * STATE.
 *
 * @example
 * ```ts
 * import { epicsStatus } from "./epics.ts";
 * epicsStatus({ kind: "stale", severity: "invalid", value: null }); // 10 (TIMEOUT)
 * ```
 */
export function epicsStatus(
  a: Pick<ActiveAlarm, "kind" | "severity" | "value">,
  rule?: ThresholdRule,
): number {
  if (a.kind === "error") return EPICS_STATUS.COMM;
  if (a.kind === "stale") return EPICS_STATUS.TIMEOUT;
  const major = a.severity !== "minor";
  if (rule === undefined) return major ? EPICS_STATUS.HIHI : EPICS_STATUS.HIGH;
  switch (rule.compare) {
    case ">":
    case ">=":
      return major ? EPICS_STATUS.HIHI : EPICS_STATUS.HIGH;
    case "<":
    case "<=":
      return major ? EPICS_STATUS.LOLO : EPICS_STATUS.LOW;
    case "outside": {
      const low = typeof a.value === "number" && a.value < rule.low!;
      if (low) return major ? EPICS_STATUS.LOLO : EPICS_STATUS.LOW;
      return major ? EPICS_STATUS.HIHI : EPICS_STATUS.HIGH;
    }
    case "changed":
      return EPICS_STATUS.COS;
    default:
      return EPICS_STATUS.STATE;
  }
}

/** Alarm and warning limits of a PV, as GR/CTRL metadata carries them. */
export interface EpicsLimits {
  /** HIHI: the lowest major (or invalid) upper trip point. */
  upperAlarm?: number;
  /** HIGH: the lowest minor upper trip point. */
  upperWarning?: number;
  /** LOW: the highest minor lower trip point. */
  lowerWarning?: number;
  /** LOLO: the highest major (or invalid) lower trip point. */
  lowerAlarm?: number;
}

/**
 * Derives a PV's alarm/warning limits from the threshold rules on `device.attr`
 * (`>`/`>=` and the high side of `outside` give upper limits; `<`/`<=` and its low side, lower).
 *
 * @example
 * ```ts
 * import { epicsLimits } from "./epics.ts";
 * epicsLimits({ health: [], rules: [{ name: "hot", key: "alarms[0]", device: "oven",
 *   attr: "temp", compare: ">", trip: 300, delay: 0, hysteresis: 0, severity: "major" }] },
 *   "oven", "temp"); // { upperAlarm: 300 }
 * ```
 */
export function epicsLimits(config: AlarmConfig, device: string, attr: string): EpicsLimits {
  const out: EpicsLimits = {};
  const upper = (v: number, major: boolean) => {
    const k = major ? "upperAlarm" : "upperWarning";
    out[k] = out[k] === undefined ? v : Math.min(out[k]!, v);
  };
  const lower = (v: number, major: boolean) => {
    const k = major ? "lowerAlarm" : "lowerWarning";
    out[k] = out[k] === undefined ? v : Math.max(out[k]!, v);
  };
  for (const r of config.rules) {
    if (r.device !== device || r.attr !== attr) continue;
    const major = r.severity !== "minor";
    if ((r.compare === ">" || r.compare === ">=") && typeof r.trip === "number") {
      upper(r.trip, major);
    }
    if ((r.compare === "<" || r.compare === "<=") && typeof r.trip === "number") {
      lower(r.trip, major);
    }
    if (r.compare === "outside") {
      upper(r.high!, major);
      lower(r.low!, major);
    }
  }
  return out;
}
