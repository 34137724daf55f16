/**
 * How attribute values live in the narrow `samples` table: numbers and booleans in the REAL
 * `value` column (the fast path), strings and enums as `text`, arrays as JSON `text`.
 *
 * @module
 */
import type { AttrType, Value } from "../device/attr.ts";

/**
 * Turns a stored `(value, text)` pair back into the attribute's value, using its declared type.
 *
 * @example
 * ```ts
 * import { decodeValue } from "./value_codec.ts";
 * decodeValue("boolean", 1, null); // true
 * decodeValue("number[]", null, "[1,2]"); // [1, 2]
 * ```
 */
export function decodeValue(
  type: AttrType | string,
  value: number | null,
  text: string | null,
): Value {
  if (text !== null) {
    if (type === "number[]") {
      try {
        return JSON.parse(text) as number[];
      } catch {
        return text;
      }
    }
    return text;
  }
  if (value === null) return null;
  return type === "boolean" ? value !== 0 : value;
}

/** The stored text of a non-numeric value, or undefined when it goes in the REAL column. */
export function textOf(v: Value): string | undefined {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return JSON.stringify(v);
  return undefined;
}

/** Infers an attribute type from a value, for attrs a device did not declare. */
export function typeOf(v: Value): AttrType {
  if (typeof v === "boolean") return "boolean";
  if (typeof v === "string") return "string";
  if (Array.isArray(v)) return "number[]";
  return "number";
}
