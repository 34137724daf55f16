/**
 * Readings as lines for a pipe: NDJSON (one reading object per line) or CSV (a header row of
 * `t`, `device`, the attribute columns and `error`, then a row per reading), the lines of one
 * tick written together. `stream` and `monitor` print readings this way.
 *
 * @module
 */
import type { Attr } from "../device/attr.ts";
import type { Reading } from "../device/device.ts";
import { CsvWriter } from "./csv.ts";
import { readingRecord, writeReadingLine } from "./record.ts";
import { BatchedSink } from "./batched_sink.ts";
import type { TimeOptions } from "./time.ts";

/**
 * How long readings gather before they are written, ms: a reading reaches the pipe at most this
 * late, far below any sampling interval a person or a logger notices.
 */
export const READINGS_WRITE_MS = 50;

/** Where readings go and how to end: what a verb's output needs. */
export interface ReadingLines {
  /** Writes one reading (throws `PipeClosed` when stdout's reader is gone). */
  emit: (r: Reading) => void;
  /** Writes what is still batched, as the last output (a held lone surrogate included). */
  finish: () => void;
}

/**
 * The CSV columns of readings of devices with `attrs`: `t`, `device`, each attribute in `only`
 * (default: every status attribute) once, in the devices' order, then `error`.
 *
 * @example
 * ```ts
 * import { attr } from "../device/attr.ts";
 * import { readingColumns } from "./readings.ts";
 * const p = attr("pressure", "number", { status: true });
 * readingColumns(new Map([["gauge", [p]]])); // ["t", "device", "pressure", "error"]
 * ```
 */
export function readingColumns(
  attrs: ReadonlyMap<string, readonly Attr[]>,
  only?: readonly string[],
): string[] {
  const columns = ["t", "device"];
  for (const list of attrs.values()) {
    for (const a of list) {
      if ((only ? only.includes(a.name) : a.status) && !columns.includes(a.name)) {
        columns.push(a.name);
      }
    }
  }
  columns.push("error");
  return columns;
}

/**
 * Writes readings to stdout (or `target`) as NDJSON or CSV; `t` as `time` says. CSV needs the
 * devices' `attrs` for its columns ({@linkcode readingColumns}).
 */
export function readingLines(
  format: "ndjson" | "csv",
  opts: {
    time: TimeOptions;
    attrs?: ReadonlyMap<string, readonly Attr[]>;
    only?: readonly string[];
    target?: (text: string) => void;
  },
): ReadingLines {
  // Lines go out together, at most one write per READINGS_WRITE_MS (not one system call per
  // device, nor one per event-loop turn: answers of 1,000 gauges arrive over ~450 turns a
  // second, and each write to a pipe wakes its reader — that cost as much as every request).
  const batched = new BatchedSink(opts.target, undefined, READINGS_WRITE_MS);
  if (format === "ndjson") {
    return {
      emit: (r) => writeReadingLine(batched, r, opts.time),
      finish: () => batched.end(),
    };
  }
  const csv = new CsvWriter(
    (s) => batched.write(s),
    readingColumns(opts.attrs ?? new Map(), opts.only),
  );
  return { emit: (r) => csv.write(readingRecord(r, opts.time)), finish: () => batched.end() };
}
