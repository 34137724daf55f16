/**
 * Exporting samples as text, streamed: NDJSON is one line per sample
 * (`{"t","device","attr","value"}`); CSV is wide — a `t` column then one column per
 * `device.attr`, a second header line with each column's units, and one row per timestamp
 * (the values of one reading share its `t`; columns without a value at that time are empty).
 *
 * @module
 */
import { csvLine } from "../output/csv.ts";
import { machineTime, type TimeOptions } from "../output/time.ts";
import type { Value } from "../device/attr.ts";
import type { SessionReader } from "./reader.ts";

/** What to export. */
export interface ExportOptions {
  /** `csv` or `ndjson`. */
  format: "csv" | "ndjson";
  /** Earliest time, epoch seconds. */
  from?: number;
  /** Latest time, epoch seconds. */
  to?: number;
  /** `device.attr` (or `device`) selections; default every column. */
  attrs?: readonly string[];
  /** How `t` is written: epoch seconds (default) or ISO 8601 (`--time iso`). */
  time?: TimeOptions;
}

/** Units cell of the `t` column in the CSV units line. */
export const TIME_UNITS = "s";

/**
 * One sample as an NDJSON line, the shape of `session export --format ndjson` and
 * `session tail --json`; `t` is already in its machine form (`machineTime`). Written by hand
 * because it is the hot loop of an export.
 *
 * @example
 * ```ts
 * import { sampleLine } from "./export.ts";
 * sampleLine(1.5, "gauge", "pressure", 3); // '{"t":1.5,"device":"gauge","attr":"pressure","value":3}\n'
 * ```
 */
export function sampleLine(
  t: number | string,
  device: string,
  attr: string,
  value: Value,
): string {
  return `{"t":${JSON.stringify(t)},"device":${JSON.stringify(device)},"attr":${
    JSON.stringify(attr)
  },"value":${JSON.stringify(value)}}\n`;
}

/**
 * Writes the export through `emit` (called with text pieces of about 64 kB), returning the
 * number of samples exported.
 */
export function exportSession(
  reader: SessionReader,
  options: ExportOptions,
  emit: (text: string) => void,
): number {
  // Without a selection, columns that never got a value (attrs outside the default reading)
  // would only add empty columns.
  const columns = options.attrs?.length
    ? reader.select(options.attrs)
    : reader.select().filter((c) => c.count > 0);
  const ids = columns.map((c) => c.id);
  const query = { from: options.from, to: options.to, attrIds: ids };
  let buf = "";
  const out = (s: string) => {
    buf += s;
    if (buf.length >= 65536) {
      emit(buf);
      buf = "";
    }
  };
  let n = 0;
  if (options.format === "ndjson") {
    const byId = new Map(columns.map((c) => [c.id, c]));
    for (const s of reader.samples(query)) {
      const c = byId.get(s.attrId)!;
      out(sampleLine(machineTime(s.t, options.time), c.device, c.attr, s.value));
      n++;
    }
  } else {
    const index = new Map(columns.map((c, i) => [c.id, i]));
    out(csvLine(["t", ...columns.map((c) => `${c.device}.${c.attr}`)]));
    out(
      csvLine([
        options.time?.time === "iso" ? "" : TIME_UNITS,
        ...columns.map((c) => c.units ?? ""),
      ]),
    );
    let rowT: number | undefined;
    let row: (Value | undefined)[] = new Array(columns.length);
    const flushRow = () => {
      if (rowT === undefined) return;
      out(csvLine([machineTime(rowT, options.time), ...row.map(csvValue)]));
      row = new Array(columns.length);
    };
    for (const s of reader.samples(query)) {
      const i = index.get(s.attrId)!;
      // A new timestamp, or a second value of the same column at the same time, starts a row.
      if (s.t !== rowT || row[i] !== undefined) {
        flushRow();
        rowT = s.t;
      }
      row[i] = s.value;
      n++;
    }
    flushRow();
  }
  if (buf) emit(buf);
  return n;
}

function csvValue(v: Value | undefined): unknown {
  if (Array.isArray(v)) return JSON.stringify(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  return v;
}
