/**
 * The JSON document command and webhook sinks receive: the {@linkcode AlarmEvent} plus the time
 * as ISO 8601 text and the host it came from, so a receiver needs no labwire knowledge.
 *
 * @module
 */
import type { AlarmEvent } from "./event.ts";

/** One alarm event as sent to sinks. */
export interface AlarmPayload extends AlarmEvent {
  /** The event time as ISO 8601 UTC text. */
  time: string;
  /** The host running labwire. */
  host: string;
  /** Always "labwire". */
  source: "labwire";
}

/**
 * Builds the JSON payload of an event.
 *
 * @example
 * ```ts
 * import { alarmPayload } from "./payload.ts";
 * alarmPayload({
 *   t: 0, name: "gauge error", kind: "error", device: "gauge", severity: "invalid",
 *   state: "active", value: null, message: "gauge: 3 failed reads in a row",
 * }).time; // "1970-01-01T00:00:00.000Z"
 * ```
 */
export function alarmPayload(event: AlarmEvent): AlarmPayload {
  return {
    ...event,
    time: new Date(Math.round(event.t * 1000)).toISOString(),
    host: hostName(),
    source: "labwire",
  };
}

let cachedHost: string | undefined;

/** The machine's host name, or "localhost" when it cannot be read. */
export function hostName(): string {
  if (cachedHost === undefined) {
    try {
      cachedHost = Deno.hostname();
    } catch {
      cachedHost = "localhost";
    }
  }
  return cachedHost;
}
