/**
 * The `#`-headed column file of `scan --out FILE.csv`: created (or truncated) for a new scan,
 * appended to when the scan is resumed, with the header written once.
 *
 * @module
 */
import { csvHeader, csvRow, type ScanHeader } from "../session/scan_export.ts";
import type { ScanPoint } from "../session/scan_store.ts";
import type { TimeOptions } from "../output/time.ts";

/** An open column file; write points as they come, close at the end. */
export class ScanColumnFile {
  readonly #file: Deno.FsFile;
  readonly #encoder = new TextEncoder();
  readonly #time: TimeOptions | undefined;

  /**
   * Opens `path`: a new scan truncates it; a resumed one appends and writes the header only
   * when the file is new or empty.
   */
  constructor(path: string, header: ScanHeader, resuming: boolean, time?: TimeOptions) {
    this.#time = time;
    const existed = resuming && exists(path);
    this.#file = Deno.openSync(path, {
      write: true,
      create: true,
      append: existed,
      truncate: !resuming,
    });
    if (!resuming || Deno.statSync(path).size === 0) this.#write(csvHeader(header, time));
  }

  /** Appends one point's row. */
  point(p: ScanPoint): void {
    this.#write(csvRow(p, this.#time));
  }

  /** Closes the file. */
  close(): void {
    this.#file.close();
  }

  #write(text: string): void {
    this.#file.writeSync(this.#encoder.encode(text));
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    // not there (or not visible): a resumed scan then starts the file afresh
    return false;
  }
}
