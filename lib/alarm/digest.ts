/**
 * The periodic digest e-mail (pymanip's `send_email` of a running session): active alarms, the
 * last value of every device and the alarm transitions since the previous digest. Pure text
 * formatting; the {@linkcode Notifier} schedules and sends it.
 *
 * @module
 */
import type { Reading } from "../device/device.ts";
import type { ActiveAlarm } from "./engine.ts";
import { type AlarmEvent, formatEvent } from "./event.ts";
import type { AlarmMail } from "./email_sink.ts";
import { humanDateTime } from "../output/time.ts";

/** What a digest reports. */
export interface DigestInput {
  /** Host name for the subject. */
  host: string;
  /** Start of the period, epoch seconds. */
  since: number;
  /** End of the period, epoch seconds. */
  now: number;
  /** Alarms active now. */
  active: ActiveAlarm[];
  /** The last reading of each device. */
  readings: Reading[];
  /** Transitions during the period, oldest first. */
  history: AlarmEvent[];
  /** Units of an attribute, when known. */
  units?: (device: string, attr: string) => string | undefined;
}

/**
 * Formats the digest e-mail.
 *
 * @example
 * ```ts
 * import { buildDigest } from "./digest.ts";
 * const mail = buildDigest({
 *   host: "lab-pc", since: 0, now: 86400, active: [], history: [],
 *   readings: [{ t: 86399, device: "gauge", values: { pressure: 0.0012 } }],
 *   units: () => "torr",
 * });
 * mail.subject; // "[labwire lab-pc] digest: no active alarms, 0 transitions in 24 h"
 * ```
 */
export function buildDigest(input: DigestInput): AlarmMail {
  const { active, history, readings } = input;
  const hours = +((input.now - input.since) / 3600).toFixed(1);
  const state = active.length === 0
    ? "no active alarms"
    : `${active.length} active alarm${active.length > 1 ? "s" : ""}`;
  const subject = `[labwire ${input.host}] digest: ${state}, ${history.length} transition${
    history.length === 1 ? "" : "s"
  } in ${hours} h`;
  const iso = (t: number) => humanDateTime(t);
  const out: string[] = [`labwire digest for ${iso(input.since)} … ${iso(input.now)}`, ""];
  out.push(`Active alarms (${active.length}):`);
  if (active.length === 0) out.push("  none");
  for (const a of active) {
    out.push(`  ${a.severity.toUpperCase()} ${a.name} since ${iso(a.since)}: ${a.message}`);
  }
  out.push("", "Last values:");
  if (readings.length === 0) out.push("  no readings yet");
  for (const r of [...readings].sort((a, b) => a.device.localeCompare(b.device))) {
    if (r.error !== undefined) {
      out.push(`  ${r.device} at ${iso(r.t)}: error: ${r.error}`);
      continue;
    }
    const values = Object.entries(r.values).map(([k, v]) => {
      const u = input.units?.(r.device, k);
      return `${k} = ${JSON.stringify(v)}${u ? ` ${u}` : ""}`;
    });
    out.push(`  ${r.device} at ${iso(r.t)}: ${values.join(", ")}`);
  }
  out.push("", `Alarm history (${history.length} transitions):`);
  if (history.length === 0) out.push("  none");
  for (const e of history) out.push(`  ${formatEvent(e)}`);
  out.push("", "-- ", `labwire on ${input.host}`, "");
  return { subject, text: out.join("\n") };
}
