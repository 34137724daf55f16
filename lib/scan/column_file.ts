/**
 * The `#`-headed column file of `scan --out FILE.csv`: created (or truncated) for a new scan,
 * appended to when the scan is resumed, with the header written once.
 *
 * @module
 */
import { csvHeader, csvRow, type ScanHeader } from "../session/scan_export.ts";
import type { ScanPoint } from "../session/scan_store.ts";
import type { TimeOptions } from "../output/time.ts";
import { dirname } from "node:path";
import { UsageError } from "../device/errors.ts";

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

/**
 * Checks before a scan starts that `scan --out FILE` can be written: its folder exists and the
 * file, when it is there, opens for writing (nothing is created or truncated). The file is opened
 * once the scan runs; a folder that was not there failed only then, with the system's words,
 * after the scan was recorded as started, and left it "running" in the session for good.
 *
 * @example
 * ```ts ignore
 * checkColumnFile("/nonexistent/scan.csv"); // UsageError: --out /nonexistent/scan.csv: no folder /nonexistent
 * ```
 */
export function checkColumnFile(path: string): void {
  const folder = dirname(path);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(folder);
  } catch {
    throw new UsageError(
      `--out ${path}: no folder ${folder}`,
      "create it first, or give another path",
    );
  }
  if (!info.isDirectory) throw new UsageError(`--out ${path}: ${folder} is not a folder`);
  if (!exists(path)) return;
  try {
    Deno.openSync(path, { write: true }).close();
  } catch (err) {
    throw new UsageError(
      `--out ${path}: cannot write it (${
        err instanceof Deno.errors.PermissionDenied ? "permission denied" : (err as Error).message
      })`,
    );
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
