/**
 * What an `mqtt://` device's messages mean, with no sockets: the values a device declares
 * (`values.NAME = { pointer, topic, units, type, command, … }`, or one plain `value`), JSON
 * pointers (RFC 6901) into Tasmota-, ESPHome- or Shelly-style JSON payloads, plain-number
 * payloads, and the payload a write publishes on a value's command topic.
 *
 * @module
 */
import type { Attr, AttrType, Value } from "../../device/attr.ts";
import { checkValues, isTopic, VALUE_KEYS, VALUE_TYPES } from "./driver_info.ts";

// Checked when a config loads, before this module does (./driver_info.ts); exported from here too.
export { checkValues, isTopic, VALUE_KEYS, VALUE_TYPES };

/** One declared value of an `mqtt://` device. */
export interface ValueSpec {
  /** Attribute name. */
  name: string;
  /** The topic it is read from (the address' topic unless the value names its own). */
  topic: string;
  /** JSON pointer into the payload; `""` takes the whole payload (a plain number). */
  pointer: string;
  /** Its type (default number). */
  type: (typeof VALUE_TYPES)[number];
  /** Units. */
  units?: string;
  /** Lowest value a write may set. */
  min?: number;
  /** Highest value a write may set. */
  max?: number;
  /** Where a write publishes (the attribute is writable only with one). */
  command?: string;
  /** Payload written for true (default `true`), e.g. Tasmota's `ON`. */
  payloadOn: string;
  /** Payload written for false (default `false`), e.g. `OFF`. */
  payloadOff: string;
  /** What it is. */
  description?: string;
}

/**
 * The declared values of a device whose address topic is `topic`: each of `values` (checked
 * by {@linkcode checkValues}), or one plain `value` (the `pointer` and `units` of the address).
 */
export function valueSpecs(
  topic: string,
  values: Record<string, Record<string, unknown>> | undefined,
  plain: { pointer?: string; units?: string } = {},
): ValueSpec[] {
  if (values === undefined || Object.keys(values).length === 0) {
    return [{
      name: "value",
      topic,
      pointer: plain.pointer ?? "",
      type: "number",
      ...(plain.units !== undefined ? { units: plain.units } : {}),
      payloadOn: "true",
      payloadOff: "false",
    }];
  }
  return Object.entries(values).map(([name, t]) => ({
    name,
    topic: (t.topic as string | undefined) ?? topic,
    pointer: (t.pointer as string | undefined) ?? "",
    type: (t.type as ValueSpec["type"] | undefined) ?? "number",
    ...(t.units !== undefined ? { units: t.units as string } : {}),
    ...(t.min !== undefined ? { min: t.min as number } : {}),
    ...(t.max !== undefined ? { max: t.max as number } : {}),
    ...(t.command !== undefined ? { command: t.command as string } : {}),
    payloadOn: (t.payload_on as string | undefined) ?? "true",
    payloadOff: (t.payload_off as string | undefined) ?? "false",
    ...(t.description !== undefined ? { description: t.description as string } : {}),
  }));
}

/** A value's Attr: readable always, writable when it has a command topic. */
export function specAttr(s: ValueSpec): Attr {
  const a: Attr = {
    name: s.name,
    type: s.type as AttrType,
    rw: s.command !== undefined,
    status: true,
  };
  if (s.units !== undefined) a.units = s.units;
  if (s.min !== undefined) a.min = s.min;
  if (s.max !== undefined) a.max = s.max;
  a.description = s.description ?? `${s.topic}${s.pointer === "" ? "" : ` ${s.pointer}`}`;
  return a;
}

/**
 * Follows a JSON pointer (RFC 6901: `/a/0/b`, `~1` for `/`, `~0` for `~`); undefined when the
 * document has nothing there.
 *
 * @example
 * ```ts
 * import { jsonPointer } from "./protocol.ts";
 * jsonPointer({ ENERGY: { Power: 42 } }, "/ENERGY/Power"); // 42
 * ```
 */
export function jsonPointer(doc: unknown, pointer: string): unknown {
  if (pointer === "") return doc;
  let at: unknown = doc;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(at)) {
      if (!/^(0|[1-9]\d*)$/.test(key)) return undefined;
      at = at[Number(key)];
    } else if (typeof at === "object" && at !== null && Object.hasOwn(at, key)) {
      at = (at as Record<string, unknown>)[key];
    } else return undefined;
  }
  return at;
}

/** Why a payload did not give a value. */
export class PayloadError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PayloadError";
  }
}

/**
 * The value of `spec` in a payload (text): the whole payload as a plain value when the pointer
 * is `""`, else the JSON document's member. Numbers may come as numeric text (`"21.5"`), booleans
 * as `true`/`false`, `1`/`0` or `ON`/`OFF`. Throws {@linkcode PayloadError} saying what came.
 *
 * @example
 * ```ts
 * import { decodeValue, valueSpecs } from "./protocol.ts";
 * const [plain] = valueSpecs("lab/t", undefined);
 * decodeValue(plain!, "21.5"); // 21.5
 * ```
 */
export function decodeValue(spec: ValueSpec, payload: string): Value {
  let v: unknown;
  if (spec.pointer === "") {
    const text = payload.trim();
    try {
      v = JSON.parse(text);
    } catch {
      v = text;
    }
  } else {
    let doc: unknown;
    try {
      doc = JSON.parse(payload);
    } catch {
      throw new PayloadError(`${spec.topic}: the payload is not JSON: ${clip(payload)}`);
    }
    v = jsonPointer(doc, spec.pointer);
    if (v === undefined) {
      throw new PayloadError(`${spec.topic}: no ${spec.pointer} in ${clip(payload)}`);
    }
  }
  return coerce(spec, v);
}

function coerce(spec: ValueSpec, v: unknown): Value {
  const bad = () =>
    new PayloadError(
      `${spec.topic}${spec.pointer}: expected ${spec.type}, got ${clip(JSON.stringify(v) ?? "")}`,
    );
  switch (spec.type) {
    case "number":
    case "integer": {
      const n = typeof v === "number"
        ? v
        : typeof v === "string" && v.trim() !== ""
        ? Number(v)
        : NaN;
      if (v === null) return null;
      if (!Number.isFinite(n) || (spec.type === "integer" && !Number.isInteger(n))) throw bad();
      return n;
    }
    case "boolean": {
      if (typeof v === "boolean") return v;
      if (v === 1 || v === 0) return v === 1;
      if (typeof v === "string") {
        const s = v.trim();
        if (s === spec.payloadOn) return true;
        if (s === spec.payloadOff) return false;
        const l = s.toLowerCase();
        if (["true", "on", "1"].includes(l)) return true;
        if (["false", "off", "0"].includes(l)) return false;
      }
      throw bad();
    }
    case "string":
      return typeof v === "string" ? v : JSON.stringify(v);
  }
}

/**
 * The payload a write publishes on a value's command topic: numbers as plain text, booleans as
 * `payload_on`/`payload_off`, strings as they are.
 *
 * @example
 * ```ts
 * import { encodeCommand, valueSpecs } from "./protocol.ts";
 * const [relay] = valueSpecs("stat/plug/POWER", { relay: { type: "boolean", payload_on: "ON" } });
 * encodeCommand(relay!, true); // "ON"
 * ```
 */
export function encodeCommand(spec: ValueSpec, value: Value): string {
  if (typeof value === "boolean") return value ? spec.payloadOn : spec.payloadOff;
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
