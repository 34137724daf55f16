/**
 * What a `labwire://` device reads from another labwire's HTTP API, as pure functions (no
 * sockets, no timers): the address target (`HOST[:PORT]/DEVICE`), the Server-Sent Events of
 * `GET /api/stream` (parsed incrementally, chunk by chunk), a reading's JSON
 * (`{"t":…,"device":…,<attr>:…,"error"?}`), the attribute declarations of
 * `GET /api/devices/NAME` and the error answers (`{"error":{"code","message"}}`).
 *
 * @module
 */
import type { Attr, AttrType, Values } from "../../device/attr.ts";
import { hostPort } from "../../device/address.ts";
import { UsageError } from "../../device/errors.ts";

/** The port `labwire serve` listens on unless told otherwise. */
export const DEFAULT_PORT = 8600;

/** Where a remote device is: its daemon and its name there. */
export interface RemoteTarget {
  /** Host name or IP (IPv6 in brackets). */
  host: string;
  /** TCP port. */
  port: number;
  /** The device's name on the remote daemon. */
  device: string;
}

/**
 * Splits `HOST[:PORT]/DEVICE`; a missing device or a bad host is a usage error saying what an
 * address looks like.
 *
 * @example
 * ```ts
 * import { parseTarget } from "./protocol.ts";
 * parseTarget("10.0.0.7:8600/gauge"); // { host: "10.0.0.7", port: 8600, device: "gauge" }
 * ```
 */
export function parseTarget(target: string): RemoteTarget {
  const slash = target.indexOf("/");
  const device = slash < 0 ? "" : target.slice(slash + 1).replace(/\/+$/, "");
  if (slash <= 0 || device === "" || device.includes("/")) {
    throw new UsageError(
      `"${target}" does not name a device of a labwire daemon`,
      "write labwire://HOST[:PORT]/DEVICE, e.g. labwire://10.0.0.7:8600/gauge",
    );
  }
  const { host, port } = hostPort(target.slice(0, slash), DEFAULT_PORT);
  return { host, port, device };
}

/** One Server-Sent Event: its type (`message` when unnamed), data and id (when it has one). */
export interface SseEvent {
  /** `reading`, `alarm`, `task`, `scan_point`, … */
  event: string;
  /** The data lines, joined by newlines. */
  data: string;
  /** The `id:` field, when the event had one. */
  id?: string;
}

/**
 * An incremental parser of an event stream (the WHATWG format): feed it text as it arrives,
 * get the events completed so far. Comments (`: ping`) and `retry:` are skipped.
 *
 * @example
 * ```ts
 * import { SseParser } from "./protocol.ts";
 * const p = new SseParser();
 * p.push("id: 1:g\nevent: reading\nda"); // []
 * p.push('ta: {"t":1}\n\n'); // [{ event: "reading", data: '{"t":1}', id: "1:g" }]
 * ```
 */
export class SseParser {
  #buf = "";
  #event = "";
  #data: string[] = [];
  #id: string | undefined;

  /** Adds a chunk of the stream; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    this.#buf += chunk;
    const out: SseEvent[] = [];
    let start = 0;
    while (true) {
      const nl = this.#buf.indexOf("\n", start);
      if (nl < 0) break;
      let line = this.#buf.slice(start, nl);
      start = nl + 1;
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (this.#data.length > 0) {
          const ev: SseEvent = { event: this.#event || "message", data: this.#data.join("\n") };
          if (this.#id !== undefined) ev.id = this.#id;
          out.push(ev);
        }
        this.#event = "";
        this.#data = [];
        this.#id = undefined;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.#data.push(value);
      else if (field === "event") this.#event = value;
      else if (field === "id") this.#id = value;
    }
    this.#buf = this.#buf.slice(start);
    return out;
  }

  /** Characters held of an unfinished line (a bound: a stream that never ends a line is bad). */
  get pending(): number {
    return this.#buf.length;
  }
}

/** A remote reading: its time (epoch seconds), device, values and error. */
export interface RemoteReading {
  /** Epoch seconds, ms precision. */
  t: number;
  /** The remote device's name. */
  device: string;
  /** The values (empty for a failed read). */
  values: Values;
  /** Why the remote read failed. */
  error?: string;
}

/**
 * Reads a reading's JSON text (the API's and the event stream's shape); throws when it is not
 * one.
 *
 * @example
 * ```ts
 * import { parseReading } from "./protocol.ts";
 * parseReading('{"t":1.5,"device":"g","p":3}'); // { t: 1.5, device: "g", values: { p: 3 } }
 * ```
 */
export function parseReading(text: string): RemoteReading {
  return readingFrom(JSON.parse(text));
}

/** A reading from its parsed JSON (an API answer's body); throws when it is not one. */
export function readingFrom(parsed: unknown): RemoteReading {
  const o = parsed as Record<string, unknown>;
  if (typeof o !== "object" || o === null || typeof o.t !== "number") {
    throw new Error(`not a reading: ${JSON.stringify(parsed).slice(0, 80)}`);
  }
  const values: Values = {};
  let error: string | undefined;
  for (const k in o) {
    if (k === "t" || k === "device") continue;
    if (k === "error") error = String(o.error);
    else values[k] = o[k] as Values[string];
  }
  const r: RemoteReading = { t: o.t, device: String(o.device), values };
  if (error !== undefined) r.error = error;
  return r;
}

const TYPES: readonly AttrType[] = ["number", "integer", "boolean", "string", "enum", "number[]"];

/**
 * The attribute declarations of a device detail (`GET /api/devices/NAME`: `attrs`, each with
 * `default_reading`) as {@linkcode Attr}s; throws what is wrong with a malformed one.
 *
 * @example
 * ```ts
 * import { attrsFromDetail } from "./protocol.ts";
 * attrsFromDetail({ attrs: [{ name: "p", type: "number", rw: false, default_reading: true }] });
 * // [{ name: "p", type: "number", rw: false, status: true }]
 * ```
 */
export function attrsFromDetail(detail: unknown): Attr[] {
  const d = detail as { attrs?: unknown; attrs_error?: unknown };
  if (typeof d?.attrs_error === "string") throw new Error(d.attrs_error);
  if (!Array.isArray(d?.attrs)) throw new Error("the device detail has no attrs list");
  return d.attrs.map((raw) => {
    const a = raw as Record<string, unknown>;
    if (typeof a.name !== "string" || !TYPES.includes(a.type as AttrType)) {
      throw new Error(`a malformed attribute declaration: ${JSON.stringify(raw).slice(0, 80)}`);
    }
    const out: Attr = {
      name: a.name,
      type: a.type as AttrType,
      rw: a.rw === true,
      status: a.default_reading === true,
    };
    if (typeof a.units === "string") out.units = a.units;
    if (typeof a.min === "number") out.min = a.min;
    if (typeof a.max === "number") out.max = a.max;
    if (Array.isArray(a.options)) out.options = a.options.map(String);
    if (typeof a.precision === "number") out.precision = a.precision;
    if (typeof a.description === "string") out.description = a.description;
    return out;
  });
}

/** The message of an API error answer (`{"error":{"message"}}`), or undefined. */
export function errorAnswer(text: string): string | undefined {
  try {
    const m = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    return typeof m === "string" ? m : undefined;
  } catch {
    return undefined;
  }
}
