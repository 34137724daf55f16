/**
 * EPICS Channel Access data types (DBR): the native types and their STS, TIME, GR and CTRL
 * families, plus PUT_ACKT/PUT_ACKS, STSACK_STRING and CLASS_NAME. Pure encode/decode between the
 * payload bytes of READ_NOTIFY / EVENT_ADD / WRITE messages and a plain {@linkcode DbrData}
 * object, shared by the CA client and the CA server.
 *
 * Layouts follow `db_access.h` (see `../shared/protocols/epics-ca.md`): a metadata block, then the
 * value array. Everything is big-endian. Pad bytes are written as zero and ignored when read, and
 * a string ends at its first NUL (the reference server leaves garbage after it).
 *
 * @example
 * ```ts
 * import { DBR, decodeDbr, encodeDbr } from "./dbr.ts";
 * const bytes = encodeDbr(DBR.TIME_DOUBLE, { value: [1.5], severity: 1, status: 3 });
 * decodeDbr(DBR.TIME_DOUBLE, 1, bytes).value; // [1.5]
 * ```
 *
 * @module
 */

/** DBR type codes. */
export const DBR = {
  STRING: 0,
  SHORT: 1,
  FLOAT: 2,
  ENUM: 3,
  CHAR: 4,
  LONG: 5,
  DOUBLE: 6,
  STS_STRING: 7,
  STS_SHORT: 8,
  STS_FLOAT: 9,
  STS_ENUM: 10,
  STS_CHAR: 11,
  STS_LONG: 12,
  STS_DOUBLE: 13,
  TIME_STRING: 14,
  TIME_SHORT: 15,
  TIME_FLOAT: 16,
  TIME_ENUM: 17,
  TIME_CHAR: 18,
  TIME_LONG: 19,
  TIME_DOUBLE: 20,
  GR_STRING: 21,
  GR_SHORT: 22,
  GR_FLOAT: 23,
  GR_ENUM: 24,
  GR_CHAR: 25,
  GR_LONG: 26,
  GR_DOUBLE: 27,
  CTRL_STRING: 28,
  CTRL_SHORT: 29,
  CTRL_FLOAT: 30,
  CTRL_ENUM: 31,
  CTRL_CHAR: 32,
  CTRL_LONG: 33,
  CTRL_DOUBLE: 34,
  PUT_ACKT: 35,
  PUT_ACKS: 36,
  STSACK_STRING: 37,
  CLASS_NAME: 38,
} as const;

/** Highest valid DBR type code. */
export const LAST_DBR_TYPE = 38;

/** Bytes of a DBR_STRING element (MAX_STRING_SIZE), NUL included. */
export const MAX_STRING_SIZE = 40;
/** Bytes of the units field (MAX_UNITS_SIZE), NUL included. */
export const MAX_UNITS_SIZE = 8;
/** Number of enum state strings in DBR_GR_ENUM / DBR_CTRL_ENUM (MAX_ENUM_STATES). */
export const MAX_ENUM_STATES = 16;
/** Bytes of one enum state string (MAX_ENUM_STRING_SIZE), NUL included. */
export const MAX_ENUM_STRING_SIZE = 26;

/** Seconds between the Unix epoch and the EPICS epoch (1990-01-01 UTC). */
export const EPICS_EPOCH_OFFSET = 631152000;

/** The metadata family of a DBR type. */
export type DbrFamily =
  | "plain"
  | "sts"
  | "time"
  | "gr"
  | "ctrl"
  | "ackt"
  | "acks"
  | "stsack"
  | "class";

/** Names of the native types by code (index = native type 0–6). */
export const NATIVE_NAMES = ["STRING", "SHORT", "FLOAT", "ENUM", "CHAR", "LONG", "DOUBLE"] as const;

/** Names of every DBR type by code, e.g. `DBR_TYPE_NAMES[34] === "DBR_CTRL_DOUBLE"`. */
export const DBR_TYPE_NAMES: readonly string[] = Object.entries(DBR)
  .sort((a, b) => a[1] - b[1])
  .map(([k]) => `DBR_${k}`);

/** Alarm severity names, indexed by severity (0–3). */
export const SEVERITY_NAMES = ["NO_ALARM", "MINOR", "MAJOR", "INVALID"] as const;

/** Alarm condition (status) names, indexed by status (epicsAlarmConditionStrings). */
export const ALARM_STATUS_NAMES = [
  "NO_ALARM",
  "READ",
  "WRITE",
  "HIHI",
  "HIGH",
  "LOLO",
  "LOW",
  "STATE",
  "COS",
  "COMM",
  "TIMEOUT",
  "HWLIMIT",
  "CALC",
  "SCAN",
  "LINK",
  "SOFT",
  "BAD_SUB",
  "UDF",
  "DISABLE",
  "SIMM",
  "READ_ACCESS",
  "WRITE_ACCESS",
] as const;

/** Bytes of one element of each native type (index = native type). */
const ELEMENT_SIZE = [MAX_STRING_SIZE, 2, 4, 2, 1, 4, 8] as const;

/** Where the value starts, per DBR type (index = type code). */
const VALUE_OFFSET: readonly number[] = [
  // plain 0-6
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  // STS 7-13
  4,
  4,
  4,
  4,
  5,
  4,
  8,
  // TIME 14-20
  12,
  14,
  12,
  14,
  15,
  12,
  16,
  // GR 21-27
  4,
  24,
  40,
  422,
  19,
  36,
  64,
  // CTRL 28-34
  4,
  28,
  48,
  422,
  21,
  44,
  80,
  // PUT_ACKT, PUT_ACKS, STSACK_STRING, CLASS_NAME
  0,
  0,
  8,
  0,
];

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

/** Returns true when `type` is a DBR type code this module knows (0–38). */
export function isValidDbrType(type: number): boolean {
  return Number.isInteger(type) && type >= 0 && type <= LAST_DBR_TYPE;
}

/** Returns the family of a DBR type code. */
export function dbrFamily(type: number): DbrFamily {
  checkType(type);
  if (type < 7) return "plain";
  if (type < 14) return "sts";
  if (type < 21) return "time";
  if (type < 28) return "gr";
  if (type < 35) return "ctrl";
  return (["ackt", "acks", "stsack", "class"] as const)[type - 35]!;
}

/**
 * Returns the native type (0–6) a DBR type carries its value in.
 *
 * @example
 * ```ts
 * import { DBR, nativeOf } from "./dbr.ts";
 * nativeOf(DBR.CTRL_DOUBLE); // 6 (DBR_DOUBLE)
 * ```
 */
export function nativeOf(type: number): number {
  checkType(type);
  if (type < 35) return type % 7;
  return type === DBR.PUT_ACKT || type === DBR.PUT_ACKS ? DBR.SHORT : DBR.STRING;
}

/** Returns the DBR type of `family` for a native type, e.g. `dbrOf("time", DBR.DOUBLE)` → 20. */
export function dbrOf(family: "plain" | "sts" | "time" | "gr" | "ctrl", native: number): number {
  if (!(Number.isInteger(native) && native >= 0 && native <= 6)) {
    throw new RangeError(`native DBR type ${native} is not 0–6`);
  }
  return native + { plain: 0, sts: 7, time: 14, gr: 21, ctrl: 28 }[family];
}

/** Byte offset of the value array within a payload of `type`. */
export function valueOffset(type: number): number {
  checkType(type);
  return VALUE_OFFSET[type]!;
}

/** Bytes of one value element of `type` (40 for strings). */
export function elementSize(type: number): number {
  return ELEMENT_SIZE[nativeOf(type)]!;
}

/**
 * Unpadded size in bytes of a `type` payload with `count` elements (`dbr_size_n`); a count of 0
 * still carries the metadata block.
 *
 * @example
 * ```ts
 * import { DBR, dbrSize } from "./dbr.ts";
 * dbrSize(DBR.CTRL_DOUBLE, 1); // 88
 * ```
 */
export function dbrSize(type: number, count: number): number {
  return valueOffset(type) + elementSize(type) * count;
}

/** Converts EPICS seconds+nanoseconds to Unix epoch seconds. */
export function epicsToUnix(secondsPastEpoch: number, nanoseconds = 0): number {
  return secondsPastEpoch + EPICS_EPOCH_OFFSET + nanoseconds / 1e9;
}

/** Converts Unix epoch seconds to EPICS `{secondsPastEpoch, nanoseconds}`. */
export function unixToEpics(
  unixSeconds: number,
): { secondsPastEpoch: number; nanoseconds: number } {
  const whole = Math.floor(unixSeconds);
  const ns = Math.min(999_999_999, Math.round((unixSeconds - whole) * 1e9));
  return { secondsPastEpoch: Math.max(0, whole - EPICS_EPOCH_OFFSET), nanoseconds: ns };
}

const utf8 = new TextDecoder("utf-8");
const utf8Encoder = new TextEncoder();

/** Reads a NUL-terminated string from a fixed-size field, ignoring whatever follows the NUL. */
export function readCString(bytes: Uint8Array, offset: number, size: number): string {
  const end = Math.min(bytes.length, offset + size);
  let i = offset;
  let ascii = true;
  while (i < end && bytes[i] !== 0) {
    if (bytes[i]! > 0x7f) ascii = false;
    i++;
  }
  if (i === offset) return "";
  if (ascii && i - offset < 64) {
    // Short ASCII strings are the common case (PV values, units); avoid TextDecoder's overhead.
    return String.fromCharCode.apply(null, bytes.subarray(offset, i) as unknown as number[]);
  }
  return utf8.decode(bytes.subarray(offset, i));
}

/** Writes `text` into a fixed-size field as UTF-8, truncated to leave room for the NUL. */
export function writeCString(bytes: Uint8Array, offset: number, size: number, text: string): void {
  const encoded = utf8Encoder.encode(text);
  let n = Math.min(encoded.length, size - 1);
  // Never cut a multi-byte UTF-8 sequence in half.
  while (n > 0 && n < encoded.length && (encoded[n]! & 0xc0) === 0x80) n--;
  bytes.set(encoded.subarray(0, n), offset);
  bytes.fill(0, offset + n, offset + size);
}

/** Returns the UTF-8 byte length of a string, for checking that it fits a field. */
export function cStringBytes(text: string): number {
  return utf8Encoder.encode(text).length;
}

/**
 * Decodes a DBR payload of `type` holding `count` elements. Extra bytes (padding) are ignored; a
 * payload too short for its metadata or count throws a RangeError.
 *
 * @example
 * ```ts
 * import { DBR, decodeDbr } from "./dbr.ts";
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
  const size = ELEMENT_SIZE[native]!;
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
 * import { DBR, encodeDbr } from "./dbr.ts";
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
  const size = ELEMENT_SIZE[native]!;
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
  const size = ELEMENT_SIZE[native]!;
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

function checkType(type: number): void {
  if (!isValidDbrType(type)) throw new RangeError(`DBR type ${type} is not 0–${LAST_DBR_TYPE}`);
}
