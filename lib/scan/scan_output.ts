/**
 * What `labwire scan` writes while a run goes: once the run looks at its devices (units known),
 * the header — of the `--out` column file, the CSV on stdout, or the live table — then one row
 * per point as a table row, an NDJSON record or a CSV line. A closed pipe or a failed write
 * stops the run after its current point.
 *
 * @module
 */
import { errorMessage } from "../device/errors.ts";
import { PipeClosed, type TextSink } from "../output/stdout.ts";
import type { Paint } from "../output/terminal.ts";
import type { TimeOptions } from "../output/time.ts";
import { csvHeader, csvRow, pointRecord } from "../session/scan_export.ts";
import { ScanColumnFile } from "./column_file.ts";
import type { ScanRun } from "./runner.ts";
import type { ScanStatus } from "./run_status.ts";
import { ScanTable } from "./scan_table.ts";

/** Output formats of `scan` on stdout. */
export type ScanFormat = "table" | "ndjson" | "csv";

/** Where and how a {@linkcode ScanOutput} writes. */
export interface ScanOutputOptions {
  /** `table`, `ndjson` or `csv` on `stdout`. */
  format: ScanFormat;
  /** Where rows go. */
  stdout: TextSink;
  /** The table's progress line (a terminal's stderr), or none. */
  progress?: (s: string) => void;
  /** Colours of the table. */
  paint: Paint;
  /** The command line, in the headers. */
  command: string;
  /** `--out FILE.csv`, also written. */
  out?: string;
  /** True when resuming: `--out` is appended to. */
  resumed: boolean;
  /** How times are written. */
  time: Required<TimeOptions>;
  /** Called once when the run starts, before any header (says what runs where). */
  onStart?: (s: ScanStatus) => void;
}

/** The output of one run: listens to it from construction until it ends. */
export class ScanOutput {
  /** True once stdout was closed by its reader (the run was stopped quietly). */
  pipeClosed = false;
  /** The write that failed, if one did (the run was stopped). */
  outputError: unknown;
  #out: ScanColumnFile | undefined;
  #table: ScanTable | undefined;

  /** Starts listening to `run`. */
  constructor(run: ScanRun, opts: ScanOutputOptions) {
    const { format, time } = opts;
    const request = run.request;
    // headers need units, known once the run has looked at the devices: written on "running"
    let header = false;
    const recordHeader = {
      id: run.id,
      positioners: run.plan.positioners,
      detectors: request.detectors,
    };
    const head = () => {
      header = true;
      const h = {
        id: run.id,
        command: opts.command,
        started: run.status().started ?? Date.now() / 1000,
        positioners: run.plan.positioners,
        detectors: request.detectors,
        units: run.units,
        total: run.plan.length,
      };
      if (opts.out) this.#out = new ScanColumnFile(opts.out, h, opts.resumed, time);
      if (format === "csv") opts.stdout.write(csvHeader(h, time));
      if (format === "table") {
        this.#table = new ScanTable({
          write: (s) => opts.stdout.write(s),
          progress: opts.progress,
          paint: opts.paint,
          positioners: run.plan.positioners,
          detectors: request.detectors,
          units: run.units,
          precision: run.precision,
          total: run.plan.length,
          done: run.status().recorded,
        });
      }
    };
    run.onState((s) => {
      if (s.state !== "running" || header) return;
      opts.onStart?.(s);
      head();
      recordHeader.id = run.id;
    });
    run.onPoint((pt) => {
      this.#out?.point(pt);
      if (this.pipeClosed || this.outputError) return;
      try {
        if (format === "ndjson") {
          opts.stdout.write(JSON.stringify(pointRecord(recordHeader, pt, time)) + "\n");
        } else if (format === "csv") opts.stdout.write(csvRow(pt, time));
        else this.#table!.point(pt);
      } catch (err) {
        if (err instanceof PipeClosed) this.pipeClosed = true;
        else this.outputError = err;
        run.stop(this.pipeClosed ? "stdout closed" : `output failed: ${errorMessage(err)}`);
      }
    });
  }

  /** Ends the table (its progress line) once the run ended. */
  finish(): void {
    this.#table?.finish();
  }

  /** Closes the `--out` file. */
  close(): void {
    this.#out?.close();
  }
}
