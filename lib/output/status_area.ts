/**
 * The status area under the live table (`table.ts`): the active alarms, the last few events
 * (alarm transitions and notes, the newest 50 kept) and a footer line, fitted to a share of the
 * terminal's height.
 *
 * @module
 */
import type { Attr, Value } from "../device/attr.ts";
import { formatValue } from "./record.ts";
import { clipLine, type Paint } from "./terminal.ts";
import { clockTime } from "./time.ts";

/**
 * An active alarm as the status area shows it (the alarm engine's `ActiveAlarm` fits; output
 * sits below lib/alarm in the layers, so it names only what it shows).
 */
export interface StatusAlarm {
  /** Alarm name. */
  name: string;
  /** Device name. */
  device: string;
  /** Attribute, for threshold alarms. */
  attr?: string;
  /** minor, major or invalid. */
  severity: string;
  /** When it became active, epoch seconds. */
  since: number;
  /** The latest value (null for device alarms). */
  value: Value;
}

/** An alarm transition as the events list shows it (the engine's `AlarmEvent` fits). */
export interface StatusEvent {
  /** When, epoch seconds. */
  t: number;
  /** Alarm name. */
  name: string;
  /** Device name. */
  device: string;
  /** Attribute, for threshold alarms. */
  attr?: string;
  /** minor, major or invalid. */
  severity: string;
  /** The transition. */
  state: "active" | "cleared";
  /** One human line saying what happened. */
  message: string;
}

/** What the status area reads: colours, units and precision, the time zone, the alarms. */
export interface StatusAreaOptions {
  /** Colour functions (plain when colour is off). */
  paint: Paint;
  /** Attributes per device, for headers, units and precision. */
  attrs: Map<string, Attr[]>;
  /** Show times in UTC instead of local time. */
  utc?: boolean;
  /** Active alarms, shown under the table; absent: no alarm area. */
  alarms?: () => StatusAlarm[];
  /** Events kept under the table (default 3). */
  events?: number;
}

/** One line of the events list under the table. */
interface EventLine {
  t: number;
  text: string;
  severity?: string;
}

/** Active alarms, the last events and a footer, as lines under the table. */
export class StatusArea {
  readonly #events: EventLine[] = [];
  /** The footer line ("" for none). */
  footer = "";

  /** Creates an empty area. */
  constructor(readonly options: StatusAreaOptions) {}

  /** Adds an alarm transition to the events. */
  alarm(e: StatusEvent): void {
    this.#pushEvent({
      t: e.t,
      severity: e.state === "active" ? e.severity : undefined,
      // A default name ("thermo.temperature > 24.9") says what the message says again.
      text: `${e.state === "active" ? e.severity.toUpperCase() : "cleared"} ${
        e.attr !== undefined && e.name.startsWith(`${e.device}.${e.attr}`) ? "" : `${e.name}: `
      }${e.message}`,
    });
  }

  /** Adds a line to the events (store failures, notifier messages). */
  note(text: string, t: number): void {
    this.#pushEvent({ t, text });
  }

  #pushEvent(line: EventLine): void {
    this.#events.push(line);
    if (this.#events.length > 50) this.#events.splice(0, this.#events.length - 50);
  }

  /**
   * The lines, none wider than `width`, within `maxLines` (a third of it at most): active
   * alarms, the last events, the footer.
   */
  lines(width: number, maxLines: number): string[] {
    const { paint } = this.options;
    const out: string[] = [];
    const budget = Number.isFinite(maxLines) ? Math.max(1, Math.floor(maxLines / 3)) : Infinity;
    if (this.options.alarms) {
      const active = this.options.alarms();
      if (active.length === 0) {
        out.push(paint.green("alarms: none active"));
      } else {
        out.push(paint.bold(`alarms: ${active.length} active`));
        const room = Math.max(1, budget - 1 - (this.footer ? 1 : 0));
        const shown = active.length > room ? active.slice(0, room - 1) : active;
        for (const a of shown) out.push(this.#alarmLine(a));
        if (shown.length < active.length) {
          out.push(paint.dim(`  … and ${active.length - shown.length} more`));
        }
      }
    }
    const eventRoom = Math.min(
      this.options.events ?? 3,
      Math.max(0, budget - out.length - (this.footer ? 1 : 0)),
    );
    for (const e of eventRoom > 0 ? this.#events.slice(-eventRoom) : []) {
      const text = `${clockTime(e.t, { utc: this.options.utc })} ${e.text}`;
      out.push(e.severity ? this.#severityPaint(e.severity)(text) : paint.dim(text));
    }
    if (this.footer) out.push(paint.dim(this.footer));
    return width === Infinity ? out : out.map((l) => clipLine(l, width));
  }

  #severityPaint(severity: string): (s: string) => string {
    const { paint } = this.options;
    return severity === "minor" ? paint.yellow : paint.red;
  }

  #alarmLine(a: StatusAlarm): string {
    const attr = a.attr
      ? this.options.attrs.get(a.device)?.find((x) => x.name === a.attr)
      : undefined;
    const units = attr?.units && attr.units !== attr.name ? ` ${attr.units}` : "";
    const value = a.value === null || a.value === undefined
      ? ""
      : ` = ${formatValue(a.value, attr?.precision)}${units}`;
    const where = a.attr ? `${a.device}.${a.attr}` : a.device;
    const since = clockTime(a.since, { utc: this.options.utc });
    return this.#severityPaint(a.severity)(
      `  ${a.severity.toUpperCase().padEnd(7)} ${where}${value}  since ${since}  ${
        a.name.startsWith(where) ? a.name.slice(where.length).trim() : a.name
      }`,
    );
  }
}
