/**
 * The JSON shape of readings on stdout: one flat object per reading,
 * `{"t":…,"device":…,<attr>:<value>,…}` plus `"error"` when the read failed. Keys are the
 * attributes' snake_case names, stable across versions.
 *
 * @module
 */
import type { Reading } from "../device/device.ts";
import type { Attr, Values } from "../device/attr.ts";
import type { BatchedSink } from "./batched_sink.ts";
import { machineTime, type TimeOptions } from "./time.ts";
import {
  documentOf,
  ENTRY_PIECES,
  entryHead,
  namesKey,
  splicedBatchDocument,
} from "./batch_document.ts";

/**
 * Flattens a reading into the object printed as one NDJSON line.
 *
 * @example
 * ```ts
 * import { readingRecord } from "./record.ts";
 * readingRecord({ t: 1.5, device: "gauge", values: { pressure: 3 } }); // { t: 1.5, device: "gauge", pressure: 3 }
 * ```
 */
export function readingRecord(r: Reading, time?: TimeOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { t: machineTime(r.t, time), device: r.device };
  // for-in, not Object.entries: no pair array per value (a read of a thousand devices).
  const values = r.values;
  for (const k in values) out[k] = values[k];
  if (r.error !== undefined) out.error = r.error;
  return out;
}

/**
 * Serialises a reading as one NDJSON line (with the trailing newline); `t` as `time` says.
 * The text is the JSON of {@linkcode readingRecord}, written without building that object (a
 * stream of 10,000 devices makes 10,000 lines a second): the values' own JSON is spliced in.
 *
 * @example
 * ```ts
 * import { readingLine } from "./record.ts";
 * readingLine({ t: 1.5, device: "gauge", values: { pressure: 3 } }); // '{"t":1.5,"device":"gauge","pressure":3}\n'
 * ```
 */
export function readingLine(r: Reading, time?: TimeOptions): string {
  return recordText(r, time, true);
}

/**
 * Queues a reading's NDJSON line on `sink` — the text {@linkcode readingLine} gives, as the
 * pieces it is spliced from, so that the line itself is never made (a stream of 1,000 gauges
 * writes 2,000 lines a second; the line and its copy in the batch were a quarter of what a
 * reading allocated).
 *
 * @example
 * ```ts
 * import { BatchedSink } from "./batched_sink.ts";
 * import { writeReadingLine } from "./record.ts";
 * const lines: string[] = [];
 * const sink = new BatchedSink((text) => lines.push(text));
 * writeReadingLine(sink, { t: 1.5, device: "gauge", values: { pressure: 3 } });
 * sink.flush(); // lines: ['{"t":1.5,"device":"gauge","pressure":3}\n']
 * ```
 */
export function writeReadingLine(sink: BatchedSink, r: Reading, time?: TimeOptions): void {
  if (namesKey(r.values)) {
    sink.write(readingLine(r, time));
    return;
  }
  // Every piece is made before the first is queued: one that throws (an ISO time out of range)
  // leaves no half line in the batch for the next line to follow.
  const tText = timeText(machineTime(r.t, time));
  const name = JSON.stringify(r.device);
  const values = JSON.stringify(r.values);
  const error = r.error === undefined ? undefined : JSON.stringify(r.error);
  // The pieces of splicedRecord's text, in its order.
  sink.part('{"t":');
  sink.part(tText);
  sink.part(',"device":');
  sink.part(name);
  if (values.length > 2) {
    sink.part(",");
    sink.part(values, 1, values.length - 1);
  }
  if (error !== undefined) {
    sink.part(',"error":');
    sink.part(error);
  }
  sink.write("}\n");
}

/** The last time {@linkcode timeText} wrote, and its JSON. */
let lastTime: number | string = NaN;
let lastTimeText = "";

/**
 * A line's time as JSON: the last one's text again when the time is the same (to the
 * millisecond, the readings of a slot mostly are), not a number's text made per line.
 */
function timeText(t: number | string): string {
  if (t !== lastTime) {
    lastTimeText = JSON.stringify(t);
    lastTime = t;
  }
  return lastTimeText;
}

/**
 * A reading as the JSON every API answer and event carries — the shape of `labwire read` and of
 * each line of `stream` (`{"t":…,"device":…,<attr>:<value>,…}` plus `"error"`), epoch seconds —
 * spliced like {@linkcode readingLine}, without the newline.
 *
 * @example
 * ```ts
 * import { readingJson } from "./record.ts";
 * readingJson({ t: 1, device: "g", values: { p: 2 } }); // '{"t":1,"device":"g","p":2}'
 * ```
 */
export function readingJson(r: Reading): string {
  return recordText(r, undefined, false);
}

function recordText(r: Reading, time: TimeOptions | undefined, newline: boolean): string {
  // A value named like a record key replaces it in place: only the object does that right.
  const json = namesKey(r.values) ? JSON.stringify(readingRecord(r, time)) : splicedRecord(
    r.values,
    r.error,
    JSON.stringify(machineTime(r.t, time)),
    JSON.stringify(r.device),
  );
  return newline ? json + "\n" : json;
}

/** The JSON of {@linkcode readingRecord}, from its time's and device's JSON and the values'. */
function splicedRecord(v: Values, error: string | undefined, tText: string, name: string): string {
  let line = `{"t":${tText},"device":${name}`;
  const values = JSON.stringify(v);
  if (values.length > 2) line += "," + values.slice(1, -1);
  if (error !== undefined) line += `,"error":${JSON.stringify(error)}`;
  return line + "}";
}

/**
 * True when a document keyed by `device` must be built as an object to print as `jsonDocument`
 * does: an object orders keys that are array indexes ("7") first, and "__proto__" is no key of it.
 */
function objectKeyed(device: string): boolean {
  const c = device.charCodeAt(0);
  return (c >= 48 && c <= 57) || device === "__proto__";
}

/**
 * One compact JSON document of readings keyed by their devices' names (`labwire read` of many
 * targets), with its newline: the text `jsonDocument` gives for the object of their
 * {@linkcode readingRecord}s, spliced like {@linkcode readingLine} without building those
 * records and that object (half the cost of printing a read of a thousand PVs, in code that runs
 * once). The names must differ.
 *
 * @example
 * ```ts
 * import { readingsDocument } from "./record.ts";
 * readingsDocument([{ t: 1, device: "a", values: { p: 2 } }]); // '{"a":{"t":1,"device":"a","p":2}}\n'
 * ```
 */
export function readingsDocument(readings: readonly Reading[], time?: TimeOptions): string {
  const n = readings.length;
  // A document with such a name takes the object's way, so both ways print the same.
  for (let i = 0; i < n; i++) {
    if (objectKeyed(readings[i]!.device)) {
      const doc: Record<string, unknown> = {};
      for (let k = 0; k < n; k++) doc[readings[k]!.device] = readingRecord(readings[k]!, time);
      return jsonDocument(doc, false);
    }
  }
  const pieces = new Array<string>(ENTRY_PIECES * n + 1);
  // A batch shares one time: its text is made once.
  let lastT = NaN;
  let head = "";
  for (let i = 0; i < n; i++) {
    const r = readings[i]!;
    const at = ENTRY_PIECES * i;
    if (namesKey(r.values)) {
      pieces[at] = i === 0 ? "{" : ",";
      pieces[at + 1] = JSON.stringify(r.device);
      pieces[at + 2] = ":";
      pieces[at + 3] = JSON.stringify(readingRecord(r, time));
      pieces[at + 4] = pieces[at + 5] = "";
      continue;
    }
    if (r.t !== lastT) {
      lastT = r.t;
      head = entryHead(r.t, time);
    }
    entryPieces(pieces, at, r.device, r.values, r.error, head);
  }
  return documentOf(pieces, n);
}

/**
 * Writes a document's entry `"<device>":{<record>}` (the record {@linkcode splicedRecord}
 * splices) as its {@linkcode ENTRY_PIECES} pieces into `pieces` at `at`, the comma or the opening
 * brace before it included, `head` made once per time ({@linkcode entryHead}) and the values'
 * JSON less its opening brace: a string per entry, their join and the braces around it (which
 * the write flattened again) were ~600 bytes of young heap an entry (a read of 1,000 PVs: ~700
 * KB, ~170 fresh pages at ~12 us each).
 */
function entryPieces(
  pieces: string[],
  at: number,
  device: string,
  v: Values,
  error: string | undefined,
  head: string,
): void {
  const name = JSON.stringify(device);
  const values = JSON.stringify(v);
  pieces[at] = at === 0 ? "{" : ",";
  pieces[at + 1] = name;
  pieces[at + 2] = head;
  pieces[at + 3] = name;
  if (error === undefined) {
    pieces[at + 4] = values.length > 2 ? "," : "";
    pieces[at + 5] = values.length > 2 ? values.slice(1) : "}";
  } else {
    pieces[at + 4] = values.length > 2 ? "," + values.slice(1, -1) : "";
    pieces[at + 5] = `,"error":${JSON.stringify(error)}}`;
  }
}

/**
 * {@linkcode readingsDocument} of readings that share one time `t`, given as each device's name
 * and values: a batch's outcomes printed without a reading object made for each where it can be
 * spliced (`./batch_document.ts`). The names must differ.
 *
 * @example
 * ```ts
 * import { batchDocument } from "./record.ts";
 * batchDocument(1, ["a", "b"], [{ p: 2 }, { p: 3 }]);
 * // '{"a":{"t":1,"device":"a","p":2},"b":{"t":1,"device":"b","p":3}}\n'
 * ```
 */
export function batchDocument(
  t: number,
  names: readonly string[],
  values: readonly Values[],
  time?: TimeOptions,
): string {
  return splicedBatchDocument(t, names, values, time) ?? readingsOf(t, names, values, time);
}

/** {@linkcode readingsDocument} of a batch's names and values: the way for what it splices not. */
function readingsOf(
  t: number,
  names: readonly string[],
  values: readonly Values[],
  time: TimeOptions | undefined,
): string {
  const n = names.length;
  const readings = new Array<Reading>(n);
  for (let k = 0; k < n; k++) readings[k] = { t, device: names[k]!, values: values[k]! };
  return readingsDocument(readings, time);
}

/** Rounds epoch seconds to milliseconds so JSON shows `1764088800.123`, not float noise. */
export function round3(t: number): number {
  return Math.round(t * 1000) / 1000;
}

/** Serialises a document for stdout: indented on a terminal, compact in a pipe. */
export function jsonDocument(value: unknown, pretty: boolean): string {
  return (pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value)) + "\n";
}

/** Formats one value for a table cell with an optional number of decimals. */
export function formatValue(v: Values[string] | undefined, precision?: number): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "number") {
    if (precision !== undefined && Number.isFinite(v)) return v.toFixed(precision);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e7) ? v.toExponential(4) : String(+v.toPrecision(7));
  }
  if (Array.isArray(v)) {
    return v.length > 6 ? `[${v.slice(0, 6).join(", ")}, … ${v.length}]` : `[${v.join(", ")}]`;
  }
  return String(v);
}

/**
 * An attribute's declaration as JSON output writes it (`read --describe`, the HTTP API): snake_case
 * keys, no undefined ones, and `default_reading` for whether it is part of the default reading
 * (a key called `status` would read as an attribute of that name).
 *
 * @example
 * ```ts
 * import { attrRecord } from "./record.ts";
 * attrRecord({ name: "p", type: "number", rw: false, status: true, units: "torr" });
 * // { name: "p", type: "number", rw: false, units: "torr", default_reading: true }
 * ```
 */
export function attrRecord(a: Attr): Record<string, unknown> {
  const out: Record<string, unknown> = { name: a.name, type: a.type, rw: a.rw };
  const keys = [
    "units",
    "min",
    "max",
    "options",
    "precision",
    "description",
    "limits",
    "elements",
  ] as const;
  for (const key of keys) {
    if (a[key] !== undefined) out[key] = a[key];
  }
  out.default_reading = a.status;
  return out;
}
