/**
 * A reading's JSON text (flat, as the CLI prints it), encoded once however many places send it: the reading's own answer
 * (`GET /api/devices/{name}/read`), a device's detail (its last reading), and SSE events. A
 * reading is immutable once published, so its text is memoised on the object itself (weakly:
 * it goes with the reading).
 *
 * @module
 */
import type { Reading } from "../device/device.ts";
import { readingRecord } from "../output/record.ts";

const texts = new WeakMap<Reading, string>();

/**
 * A reading as every answer and event writes it — the shape of `labwire read` and of each line of
 * `stream`: `{"t":…,"device":…,<attr>:<value>,…}` plus `"error"` — computed once per reading.
 *
 * @example
 * ```ts
 * import { readingJson } from "./reading_json.ts";
 * const r = { t: 1, device: "g", values: { p: 2 } };
 * readingJson(r); // '{"t":1,"device":"g","p":2}', the same string every call
 * ```
 */
export function readingJson(reading: Reading): string {
  let text = texts.get(reading);
  if (text === undefined) {
    text = JSON.stringify(readingRecord(reading));
    texts.set(reading, text);
  }
  return text;
}
