/**
 * EPICS Channel Access data types (DBR): the native types and their STS, TIME, GR and CTRL
 * families, plus PUT_ACKT/PUT_ACKS, STSACK_STRING and CLASS_NAME. Pure encode/decode between the
 * payload bytes of READ_NOTIFY / EVENT_ADD / WRITE messages and a plain {@linkcode DbrData}
 * object, shared by the CA client and the CA server.
 *
 * Layouts follow `db_access.h` (see `../shared/protocols/epics-ca.md`; the type table is in
 * `dbr_types.ts`): a metadata block, then the value array. Everything is big-endian. Pad bytes are written as zero and ignored when read, and
 * a string ends at its first NUL (the reference server leaves garbage after it).
 *
 * @example
 * ```ts
 * import { decodeDbr, encodeDbr } from "./dbr.ts";
 * import { DBR } from "./dbr_types.ts";
 * const bytes = encodeDbr(DBR.TIME_DOUBLE, { value: [1.5], severity: 1, status: 3 });
 * decodeDbr(DBR.TIME_DOUBLE, 1, bytes).value; // [1.5]
 * ```
 *
 * @module
 */
import {
  DBR,
  DBR_TYPE_NAMES,
  dbrFamily,
  dbrSize,
  elementSize,
  MAX_ENUM_STATES,
  MAX_ENUM_STRING_SIZE,
  MAX_STRING_SIZE,
  MAX_UNITS_SIZE,
  NATIVE_NAMES,
  nativeOf,
  readCString,
  valueOffset,
  writeCString,
} from "./dbr_types.ts";

/** One decoded DBR payload. Which fields are present depends on the type's family. */
export interface DbrData {
  /** The elements: numbers for numeric, enum (index) and char types; strings for string types. */
  value: number[] | string[];
  /** Alarm status (condition), see {@linkcode ALARM_STATUS_NAMES}; STS and richer families. */
  status?: number;
  /** Alarm severity 0–3, see {@linkcode SEVERITY_NAMES}; STS and richer families. */
  severity?: number;
  /** Seconds since the EPICS epoch (1990-01-01 UTC); TIME family. */
  secondsPastEpoch?: number;
  /** Nanoseconds within the second; TIME family. */
  nanoseconds?: number;
  /** Engineering units; GR/CTRL of numeric types. */
  units?: string;
  /** Display precision (decimal digits); GR/CTRL of FLOAT and DOUBLE. */
  precision?: number;
  /** Upper display limit (HOPR); GR/CTRL. */
  upperDispLimit?: number;
  /** Lower display limit (LOPR); GR/CTRL. */
  lowerDispLimit?: number;
  /** Upper alarm limit (HIHI); GR/CTRL. */
  upperAlarmLimit?: number;
  /** Upper warning limit (HIGH); GR/CTRL. */
  upperWarningLimit?: number;
  /** Lower warning limit (LOW); GR/CTRL. */
  lowerWarningLimit?: number;
  /** Lower alarm limit (LOLO); GR/CTRL. */
  lowerAlarmLimit?: number;
  /** Upper control limit (DRVH); CTRL. */
  upperCtrlLimit?: number;
  /** Lower control limit (DRVL); CTRL. */
  lowerCtrlLimit?: number;
  /** Enum state strings; GR_ENUM / CTRL_ENUM. */
  enumStrings?: string[];
  /** Alarm acknowledge transient flag; STSACK_STRING. */
  ackt?: number;
  /** Alarm acknowledge severity; STSACK_STRING. */
  acks?: number;
}

/**
 * Decodes a DBR payload of `type` holding `count` elements. Extra bytes (padding) are ignored; a
 * payload too short for its metadata or count throws a RangeError.
 *
 * @example
 * ```ts
 * import { decodeDbr } from "./dbr.ts";
 * import { DBR } from "./dbr_types.ts";
 * decodeDbr(DBR.DOUBLE, 1, new Uint8Array([0x3f, 0xf8, 0, 0, 0, 0, 0, 0])).value; // [1.5]
 * ```
 */
export function decodeDbr(type: number, count: number, bytes: Uint8Array): DbrData {
  const need = dbrSize(type, count);
  if (bytes.length < need) {
    throw new RangeError(
      `${DBR_TYPE_NAMES[type]} with ${count} element(s) needs ${need} bytes, got ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const native = nativeOf(type);
  const family = dbrFamily(type);
  const out: DbrData = { value: [] };
  if (family !== "plain" && family !== "ackt" && family !== "acks" && family !== "class") {
    out.status = view.getInt16(0);
    out.severity = view.getInt16(2);
  }
  if (family === "time") {
    out.secondsPastEpoch = view.getUint32(4);
    out.nanoseconds = view.getUint32(8);
  } else if (family === "stsack") {
    out.ackt = view.getUint16(4);
    out.acks = view.getUint16(6);
  } else if ((family === "gr" || family === "ctrl") && native !== DBR.STRING) {
    decodeGraphic(view, bytes, native, family === "ctrl", out);
  }
  out.value = readValues(view, bytes, native, valueOffset(type), count);
  return out;
}

function decodeGraphic(
  view: DataView,
  bytes: Uint8Array,
  native: number,
  ctrl: boolean,
  out: DbrData,
): void {
  if (native === DBR.ENUM) {
    const n = Math.max(0, Math.min(MAX_ENUM_STATES, view.getInt16(4)));
    const strs: string[] = [];
    for (let i = 0; i < n; i++) {
      strs.push(readCString(bytes, 6 + i * MAX_ENUM_STRING_SIZE, MAX_ENUM_STRING_SIZE));
    }
    out.enumStrings = strs;
    return;
  }
  let at: number;
  if (native === DBR.FLOAT || native === DBR.DOUBLE) {
    out.precision = view.getInt16(4);
    out.units = readCString(bytes, 8, MAX_UNITS_SIZE);
    at = 16;
  } else {
    out.units = readCString(bytes, 4, MAX_UNITS_SIZE);
    at = 12;
  }
  const size = elementSize(native);
  const limits = ctrl ? 8 : 6;
  const read = (i: number) => readNumber(view, native, at + i * size);
  out.upperDispLimit = read(0);
  out.lowerDispLimit = read(1);
  out.upperAlarmLimit = read(2);
  out.upperWarningLimit = read(3);
  out.lowerWarningLimit = read(4);
  out.lowerAlarmLimit = read(5);
  if (limits === 8) {
    out.upperCtrlLimit = read(6);
    out.lowerCtrlLimit = read(7);
  }
}

function readNumber(view: DataView, native: number, at: number): number {
  switch (native) {
    case DBR.SHORT:
      return view.getInt16(at);
    case DBR.FLOAT:
      return view.getFloat32(at);
    case DBR.ENUM:
      return view.getUint16(at);
    case DBR.CHAR:
      return view.getUint8(at);
    case DBR.LONG:
      return view.getInt32(at);
    default:
      return view.getFloat64(at);
  }
}

function readValues(
  view: DataView,
  bytes: Uint8Array,
  native: number,
  at: number,
  count: number,
): number[] | string[] {
  if (native === DBR.STRING) {
    const out: string[] = new Array(count);
    for (let i = 0; i < count; i++) {
      out[i] = readCString(bytes, at + i * MAX_STRING_SIZE, MAX_STRING_SIZE);
    }
    return out;
  }
  const out: number[] = new Array(count);
  switch (native) {
    case DBR.SHORT:
      for (let i = 0; i < count; i++) out[i] = view.getInt16(at + 2 * i);
      break;
    case DBR.FLOAT:
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(at + 4 * i);
      break;
    case DBR.ENUM:
      for (let i = 0; i < count; i++) out[i] = view.getUint16(at + 2 * i);
      break;
    case DBR.CHAR:
      for (let i = 0; i < count; i++) out[i] = bytes[at + i]!;
      break;
    case DBR.LONG:
      for (let i = 0; i < count; i++) out[i] = view.getInt32(at + 4 * i);
      break;
    default:
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(at + 8 * i);
  }
  return out;
}

/**
 * Encodes `data` as a payload of `type` (unpadded; the message encoder pads it). The element
 * count is `data.value.length`. Numbers written to integer types are truncated and wrap like C
 * casts; strings longer than their field are truncated; numbers are written to string types in
 * their shortest form and strings to numeric types must parse as numbers.
 *
 * @example
 * ```ts
 * import { encodeDbr } from "./dbr.ts";
 * import { DBR } from "./dbr_types.ts";
 * encodeDbr(DBR.STRING, { value: ["hello"] }).length; // 40
 * ```
 */
export function encodeDbr(type: number, data: DbrData): Uint8Array {
  const count = data.value.length;
  const bytes = new Uint8Array(dbrSize(type, count));
  const view = new DataView(bytes.buffer);
  const native = nativeOf(type);
  const family = dbrFamily(type);
  if (family !== "plain" && family !== "ackt" && family !== "acks" && family !== "class") {
    view.setInt16(0, data.status ?? 0);
    view.setInt16(2, data.severity ?? 0);
  }
  if (family === "time") {
    view.setUint32(4, data.secondsPastEpoch ?? 0);
    view.setUint32(8, data.nanoseconds ?? 0);
  } else if (family === "stsack") {
    view.setUint16(4, data.ackt ?? 0);
    view.setUint16(6, data.acks ?? 0);
  } else if ((family === "gr" || family === "ctrl") && native !== DBR.STRING) {
    encodeGraphic(view, bytes, native, family === "ctrl", data);
  }
  writeValues(view, bytes, native, valueOffset(type), data.value);
  return bytes;
}

function encodeGraphic(
  view: DataView,
  bytes: Uint8Array,
  native: number,
  ctrl: boolean,
  data: DbrData,
): void {
  if (native === DBR.ENUM) {
    const strs = (data.enumStrings ?? []).slice(0, MAX_ENUM_STATES);
    view.setInt16(4, strs.length);
    strs.forEach((s, i) =>
      writeCString(bytes, 6 + i * MAX_ENUM_STRING_SIZE, MAX_ENUM_STRING_SIZE, s)
    );
    return;
  }
  let at: number;
  if (native === DBR.FLOAT || native === DBR.DOUBLE) {
    view.setInt16(4, data.precision ?? 0);
    writeCString(bytes, 8, MAX_UNITS_SIZE, data.units ?? "");
    at = 16;
  } else {
    writeCString(bytes, 4, MAX_UNITS_SIZE, data.units ?? "");
    at = 12;
  }
  const limits = [
    data.upperDispLimit,
    data.lowerDispLimit,
    data.upperAlarmLimit,
    data.upperWarningLimit,
    data.lowerWarningLimit,
    data.lowerAlarmLimit,
  ];
  if (ctrl) limits.push(data.upperCtrlLimit, data.lowerCtrlLimit);
  const size = elementSize(native);
  limits.forEach((v, i) => writeNumber(view, native, at + i * size, v ?? 0));
}

function writeNumber(view: DataView, native: number, at: number, v: number): void {
  switch (native) {
    case DBR.SHORT:
      return view.setInt16(at, toInt(v));
    case DBR.FLOAT:
      return view.setFloat32(at, v);
    case DBR.ENUM:
      return view.setUint16(at, toInt(v));
    case DBR.CHAR:
      return view.setUint8(at, toInt(v));
    case DBR.LONG:
      return view.setInt32(at, toInt(v));
    default:
      return view.setFloat64(at, v);
  }
}

/** C-cast-like conversion: truncates toward zero; NaN and infinities become 0. */
function toInt(v: number): number {
  return Number.isFinite(v) ? Math.trunc(v) : 0;
}

function writeValues(
  view: DataView,
  bytes: Uint8Array,
  native: number,
  at: number,
  values: number[] | string[],
): void {
  const size = elementSize(native);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (native === DBR.STRING) {
      writeCString(bytes, at + i * size, size, typeof v === "string" ? v : String(v));
    } else {
      const n = typeof v === "number" ? v : Number(v);
      if (typeof v === "string" && (v.trim() === "" || Number.isNaN(n))) {
        throw new TypeError(`"${v}" is not a number (writing ${NATIVE_NAMES[native]})`);
      }
      writeNumber(view, native, at + i * size, n);
    }
  }
}
