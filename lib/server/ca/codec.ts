/**
 * How the CA server shows a labwire attribute as a process variable: its native DBR type and
 * element count, its DBR_GR/CTRL metadata, conversion of a value to any requested DBR type, and
 * conversion of a client's write payload back to a value for `DeviceManager.write` (which then
 * validates it exactly like the HTTP API). Pure functions, no I/O.
 *
 * Type mapping: number → DOUBLE, integer → LONG, boolean → ENUM with states "false"/"true",
 * enum → ENUM with the options as states (STRING when there are more than 16 options or one
 * is longer than 25 bytes, the limits of DBR_CTRL_ENUM), string → STRING (40-byte values),
 * number[] → DOUBLE array.
 *
 * @example
 * ```ts
 * import { pvShape, toDbrData } from "./codec.ts";
 * import { DBR } from "../../drivers/epics/dbr_types.ts";
 * const a = { name: "t", type: "number", rw: false, status: true, units: "K", precision: 2 } as const;
 * const shape = pvShape(a, 21.5);
 * toDbrData(shape, { value: 21.5, t: 0, severity: 0, status: 0 }, DBR.STRING, 1).value; // ["21.50"]
 * ```
 *
 * @module
 */
import type { EpicsLimits } from "../../alarm/epics.ts";
import type { Attr, Value } from "../../device/attr.ts";
import { type DbrData, decodeDbr } from "../../drivers/epics/dbr.ts";
import {
  cStringBytes,
  DBR,
  dbrFamily,
  dbrSize,
  MAX_ENUM_STATES,
  MAX_ENUM_STRING_SIZE,
  MAX_STRING_SIZE,
  nativeOf,
  unixToEpics,
} from "../../drivers/epics/dbr_types.ts";

/** How one attribute looks on the wire. */
export interface PvShape {
  /** The attribute it serves. */
  attr: Attr;
  /** Native DBR type 0–6. */
  native: number;
  /** Native element count (arrays: the length when the channel was created, at least 1). */
  count: number;
  /** ENUM state strings, when native is ENUM. */
  enumStrings?: string[];
  /** HIHI/HIGH/LOW/LOLO from labwire's alarm rules (else the attribute's own `limits`). */
  alarmLimits?: EpicsLimits;
}

/** One value of a PV with its timestamp and alarm, as monitors and reads see it. */
export interface PvSnapshot {
  /** The value (null: none yet, or the attribute failed). */
  value: Value;
  /** Unix epoch seconds of the reading. */
  t: number;
  /** Alarm severity 0–3. */
  severity: number;
  /** Alarm status (condition), see ALARM_STATUS_NAMES. */
  status: number;
}

const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;

/** Decides the native type, count and enum states of an attribute (given a current value). */
export function pvShape(attr: Attr, value?: Value): PvShape {
  switch (attr.type) {
    case "number":
      return { attr, native: DBR.DOUBLE, count: 1 };
    case "integer":
      return { attr, native: DBR.LONG, count: 1 };
    case "boolean":
      return { attr, native: DBR.ENUM, count: 1, enumStrings: ["false", "true"] };
    case "enum": {
      const options = attr.options ?? [];
      const fits = options.length <= MAX_ENUM_STATES &&
        options.every((o) => cStringBytes(o) < MAX_ENUM_STRING_SIZE);
      return fits
        ? { attr, native: DBR.ENUM, count: 1, enumStrings: options }
        : { attr, native: DBR.STRING, count: 1 };
    }
    case "string":
      return { attr, native: DBR.STRING, count: 1 };
    case "number[]":
      return {
        attr,
        native: DBR.DOUBLE,
        count: Math.max(1, Array.isArray(value) ? value.length : 1),
      };
  }
}

/** The value as native elements: numbers for numeric/enum PVs, strings for STRING PVs. */
function nativeElements(shape: PvShape, value: Value): number[] | string[] {
  if (value === null) return shape.native === DBR.STRING ? [""] : [0];
  if (Array.isArray(value)) return value;
  switch (typeof value) {
    case "boolean":
      return [value ? 1 : 0];
    case "number":
      return [value];
    default:
      if (shape.enumStrings) return [Math.max(0, shape.enumStrings.indexOf(value))];
      return [value];
  }
}

/** Formats one number as text the way a record with this precision would. */
function formatNumber(attr: Attr, n: number): string {
  if (attr.type === "integer") return String(Math.trunc(n));
  if (attr.precision !== undefined && Number.isFinite(n) && Math.abs(n) < 1e21) {
    return n.toFixed(Math.max(0, Math.min(17, attr.precision)));
  }
  return String(n);
}

/** The value as text elements (DBR_STRING requests): enum states, formatted numbers. */
function stringElements(shape: PvShape, value: Value): string[] {
  if (value === null) return [""];
  if (Array.isArray(value)) return value.map((n) => formatNumber(shape.attr, n));
  if (typeof value === "boolean") return [value ? "true" : "false"];
  if (typeof value === "number") return [formatNumber(shape.attr, value)];
  return [value];
}

/** A conversion the server cannot make (e.g. a non-numeric string read as DOUBLE). */
export class ConversionError extends Error {
  /** Creates a conversion error. */
  constructor(message: string) {
    super(message);
    this.name = "ConversionError";
  }
}

/**
 * Builds the DBR data of a read or monitor update of `dbrType` with `count` elements (0 = the
 * current length): the value converted to the requested native type, alarm, timestamp and
 * GR/CTRL metadata. Throws {@linkcode ConversionError} when text cannot become a number.
 */
export function toDbrData(
  shape: PvShape,
  snap: PvSnapshot,
  dbrType: number,
  count: number,
): DbrData {
  const want = nativeOf(dbrType);
  let elements: number[] | string[];
  if (want === DBR.STRING) {
    elements = stringElements(shape, snap.value);
  } else {
    const native = nativeElements(shape, snap.value);
    elements = native.map((e) => {
      if (typeof e === "number") return e;
      const n = Number(e);
      if (e.trim() === "" || Number.isNaN(n)) {
        throw new ConversionError(`"${e}" is not a number`);
      }
      return n;
    }) as number[];
  }
  const n = count === 0 ? Math.max(1, elements.length) : count;
  if (elements.length !== n) {
    const filler = want === DBR.STRING ? "" : 0;
    const out = (elements as (number | string)[]).slice(0, n);
    while (out.length < n) out.push(filler);
    elements = out as number[] | string[];
  }
  const data: DbrData = { value: elements };
  const family = dbrFamily(dbrType);
  if (family === "plain") return data;
  data.status = snap.status;
  data.severity = snap.severity;
  if (family === "time") {
    // Readings carry ms (at most µs) precision: round away the float noise of t × 1e9.
    const us = Math.round(snap.t * 1e6);
    const { secondsPastEpoch } = unixToEpics(Math.floor(us / 1e6));
    data.secondsPastEpoch = secondsPastEpoch;
    data.nanoseconds = (us % 1e6) * 1000;
  } else if (family === "gr" || family === "ctrl") {
    addMetadata(shape, want, data);
  }
  return data;
}

function addMetadata(shape: PvShape, want: number, data: DbrData): void {
  const a = shape.attr;
  if (want === DBR.ENUM) {
    data.enumStrings = shape.enumStrings ?? [];
    return;
  }
  data.units = a.units ?? "";
  data.precision = a.type === "number" || a.type === "number[]" ? a.precision ?? 6 : 0;
  // Integer types cannot hold every double: clamp like a C cast would not (wrapping would lie).
  const integral = want === DBR.LONG || want === DBR.SHORT || want === DBR.CHAR ||
    want === DBR.ENUM;
  const lim = (v: number | undefined) => {
    if (v === undefined) return 0;
    return integral ? Math.max(INT32_MIN, Math.min(INT32_MAX, v)) : v;
  };
  let hi = lim(a.max);
  let lo = lim(a.min);
  if (a.type === "boolean" || (a.type === "enum" && shape.enumStrings)) {
    lo = 0;
    hi = Math.max(0, (shape.enumStrings?.length ?? 1) - 1);
  }
  data.upperDispLimit = hi;
  data.lowerDispLimit = lo;
  data.upperCtrlLimit = hi;
  data.lowerCtrlLimit = lo;
  // A limit not in force is NaN, as EPICS 7 records publish one whose severity is NO_ALARM (an
  // integer type cannot carry NaN: 0 there, as older records did).
  const rule = shape.alarmLimits ?? {};
  const own = a.limits;
  const alarmLimit = (v: number | undefined, fallback: number | null | undefined) => {
    const n = v ?? fallback ?? undefined;
    return n === undefined ? (integral ? 0 : NaN) : lim(n);
  };
  data.upperAlarmLimit = alarmLimit(rule.upperAlarm, own?.alarm.high);
  data.upperWarningLimit = alarmLimit(rule.upperWarning, own?.warning.high);
  data.lowerWarningLimit = alarmLimit(rule.lowerWarning, own?.warning.low);
  data.lowerAlarmLimit = alarmLimit(rule.lowerAlarm, own?.alarm.low);
}

/** DBR types a client may write with (the plain native types). */
export function isWritableType(dbrType: number): boolean {
  return Number.isInteger(dbrType) && dbrType >= 0 && dbrType <= DBR.DOUBLE;
}

/**
 * Turns a write payload into the value handed to `DeviceManager.write`, which validates it
 * (limits, enum options, read-only) like the HTTP API does. Text for non-text attributes is
 * passed on as text, so the manager's parser gives the same errors as `labwire write`.
 * Throws {@linkcode ConversionError} when the payload cannot mean a value of the attribute.
 */
export function fromWrite(
  shape: PvShape,
  dbrType: number,
  count: number,
  payload: Uint8Array,
): unknown {
  // libca sends a single DBR_STRING as its text and NUL only (padded to 8), not 40 bytes: only
  // the last string may be short. A count the payload cannot hold is refused before anything is
  // allocated for it (a 32-byte put claiming 10^8 strings must not build 10^8 strings).
  const need = dbrSize(dbrType, count);
  let bytes = payload;
  if (payload.length < need && nativeOf(dbrType) === DBR.STRING) {
    if (need - payload.length >= MAX_STRING_SIZE) {
      throw new ConversionError(
        `a put of ${count} string(s) needs ${need} bytes, got ${payload.length}`,
      );
    }
    bytes = new Uint8Array(need);
    bytes.set(payload);
  }
  const data = decodeDbr(dbrType, count, bytes);
  const values = data.value;
  const a = shape.attr;
  if (a.type === "number[]") {
    return (values as (number | string)[]).map((v) => typeof v === "number" ? v : Number(v));
  }
  if (values.length < 1) throw new ConversionError("a write of 0 elements carries no value");
  const v = values[0]!;
  switch (a.type) {
    case "boolean":
      if (typeof v === "number") return v !== 0;
      return v;
    case "enum":
      if (typeof v === "number") return v;
      // A number typed at caput for an enum PV means a state index, as with EPICS records.
      if (!(a.options ?? []).includes(v) && /^\s*\d+\s*$/.test(v)) return Number(v);
      return v;
    case "string":
      return typeof v === "string" ? v : String(v);
    default:
      return v;
  }
}

/** Largest element count the server answers with (beyond: ECA_TOLARGE). */
export const MAX_ELEMENTS = 1 << 22;
