/**
 * CSV output (RFC 4180 quoting) for `--format csv`: a header row, then one row per record.
 *
 * @module
 */

/** Quotes one CSV field when it needs it. */
export function csvField(v: unknown): string {
  if (v === undefined || v === null) return "";
  const s = Array.isArray(v) ? v.join(" ") : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Joins fields into one CSV line with its newline. */
export function csvLine(fields: readonly unknown[]): string {
  return fields.map(csvField).join(",") + "\n";
}

/**
 * Writes records as CSV with a fixed column set, learnt from the first record unless given;
 * later records' unknown keys are ignored so columns never shift under a reader.
 *
 * @example
 * ```ts
 * import { CsvWriter } from "./csv.ts";
 * const out: string[] = [];
 * const csv = new CsvWriter((s) => out.push(s));
 * csv.write({ t: 1, device: "gauge", pressure: 3 });
 * out.join(""); // "t,device,pressure\n1,gauge,3\n"
 * ```
 */
export class CsvWriter {
  #columns: string[] | undefined;

  /** Creates a writer sending text to `emit`, optionally with fixed columns. */
  constructor(readonly emit: (text: string) => void, columns?: string[]) {
    this.#columns = columns;
  }

  /** Writes one record (and the header before the first). */
  write(record: Record<string, unknown>): void {
    if (!this.#columns) {
      this.#columns = Object.keys(record);
      if (!this.#columns.includes("error")) this.#columns.push("error");
    }
    if (!this.#headerDone) {
      this.emit(csvLine(this.#columns));
      this.#headerDone = true;
    }
    this.emit(csvLine(this.#columns.map((c) => record[c])));
  }

  #headerDone = false;
}
