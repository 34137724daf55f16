/**
 * The EPICS Channel Access data types (DBR) as a table: type codes, the native types and their
 * STS, TIME, GR and CTRL families, where each type's value starts and how big its elements are,
 * the names of types, severities and alarm conditions, the EPICS epoch, and fixed-size C string
 * fields. Layouts follow `db_access.h` (see `../shared/protocols/epics-ca.md`); the payload codec
 * is `dbr.ts`.
 *
 * @example
 * ```ts
 * import { DBR, dbrOf, dbrSize } from "./dbr_types.ts";
 * dbrOf("time", DBR.DOUBLE); // 20 (DBR_TIME_DOUBLE)
 * dbrSize(DBR.CTRL_DOUBLE, 1); // 88
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

/** Names of the native types by code (index = native type 0-6). */
export const NATIVE_NAMES = ["STRING", "SHORT", "FLOAT", "ENUM", "CHAR", "LONG", "DOUBLE"] as const;

/** Names of every DBR type by code, e.g. `DBR_TYPE_NAMES[34] === "DBR_CTRL_DOUBLE"`. */
export const DBR_TYPE_NAMES: readonly string[] = Object.entries(DBR)
  .sort((a, b) => a[1] - b[1])
  .map(([k]) => `DBR_${k}`);

/** Alarm severity names, indexed by severity (0-3). */
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

/** Returns true when `type` is a DBR type code this module knows (0-38). */
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
 * Returns the native type (0-6) a DBR type carries its value in.
 *
 * @example
 * ```ts
 * import { DBR, nativeOf } from "./dbr_types.ts";
 * nativeOf(DBR.CTRL_DOUBLE); // 6 (DBR_DOUBLE)
 * ```
 */
export function nativeOf(type: number): number {
  checkType(type);
  if (type < 35) return type % 7;
  return type === DBR.PUT_ACKT || type === DBR.PUT_ACKS ? DBR.SHORT : DBR.STRING;
}

/** Returns the DBR type of `family` for a native type, e.g. `dbrOf("time", DBR.DOUBLE)` -> 20. */
export function dbrOf(family: "plain" | "sts" | "time" | "gr" | "ctrl", native: number): number {
  if (!(Number.isInteger(native) && native >= 0 && native <= 6)) {
    throw new RangeError(`native DBR type ${native} is not 0\u20136`);
  }
  return native + FAMILY_BASE[family];
}

// Made once, not per call (a read of a thousand PVs asks for a thousand TIME types).
const FAMILY_BASE = { plain: 0, sts: 7, time: 14, gr: 21, ctrl: 28 } as const;

/**
 * The DBR_TIME type of each native type, by index (0-6): {@linkcode dbrOf}'s answers made once,
 * so that a read of a thousand PVs looks each up (an array load, as cheap as the sum it replaced)
 * instead of calling per PV or writing the family's base a second time.
 *
 * @example
 * ```ts
 * import { DBR, TIME_TYPES } from "./dbr_types.ts";
 * TIME_TYPES[DBR.DOUBLE]; // 20 (DBR_TIME_DOUBLE)
 * ```
 */
export const TIME_TYPES: readonly number[] = Array.from({ length: 7 }, (_, n) => dbrOf("time", n));

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
 * import { DBR, dbrSize } from "./dbr_types.ts";
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

function checkType(type: number): void {
  if (!isValidDbrType(type)) {
    throw new RangeError(`DBR type ${type} is not 0\u2013${LAST_DBR_TYPE}`);
  }
}
