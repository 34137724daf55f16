/**
 * A reading's JSON text, encoded once however many places send it: the reading's own answer
 * (`GET /api/devices/{name}/read`), a device's detail (its last reading), and SSE events. A
 * reading is immutable once published, so its text is memoised on the object itself (weakly:
 * it goes with the reading).
 *
 * @module
 */
import type { Reading } from "../device/device.ts";

const texts = new WeakMap<Reading, string>();

/**
 * `JSON.stringify(reading)`, computed once per reading object.
 *
 * @example
 * ```ts
 * import { readingJson } from "./reading_json.ts";
 * const r = { t: 1, device: "g", values: { p: 2 } };
 * readingJson(r) === readingJson(r); // true: the same string, encoded once
 * ```
 */
export function readingJson(reading: Reading): string {
  let text = texts.get(reading);
  if (text === undefined) {
    text = JSON.stringify(reading);
    texts.set(reading, text);
  }
  return text;
}
