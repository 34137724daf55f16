/**
 * The terminal view of a scan, Spec style: a header with units, then one aligned row per point
 * (rows scroll, so the whole scan stays readable), and under it a progress bar with the ETA,
 * redrawn in place on stderr.
 *
 * @module
 */
import { formatValue } from "../output/record.ts";
import type { Paint } from "../output/terminal.ts";
import type { ScanPoint } from "../session/scan_store.ts";
import type { PeakStats } from "./peak.ts";
import type { ScanStatus } from "./run_status.ts";

/** Options of a scan table. */
export interface ScanTableOptions {
  /** Writes rows (stdout). */
  write: (text: string) => void;
  /** Writes the progress line (stderr); absent: no progress bar. */
  progress?: (text: string) => void;
  /** Colours. */
  paint: Paint;
  /** Positioners (`device.attr`). */
  positioners: readonly string[];
  /** Detectors (`device.attr`). */
  detectors: readonly string[];
  /** Units by `device.attr`. */
  units: Record<string, string>;
  /** Decimal digits by `device.attr`, when the attr declares them. */
  precision?: Record<string, number>;
  /** Points in the plan. */
  total: number;
  /** Points already recorded before this run (resume). */
  done?: number;
  /** Clock, ms (tests). */
  now?: () => number;
}

/** Formats seconds as "12 s", "3 min 05 s", "1 h 02 min". */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** Renders a progress bar line: `[#####-----] 7/21 33% · ETA 2 s`. */
export function progressLine(done: number, total: number, etaSeconds?: number, width = 24): string {
  const f = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(f * width);
  const eta = etaSeconds === undefined ? "" : ` · ETA ${formatEta(etaSeconds)}`;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ${
    Math.floor(f * 100)
  }%${eta}`;
}

/**
 * A scrolling table of scan points with a progress bar.
 *
 * @example
 * ```ts
 * import { ScanTable } from "./scan_table.ts";
 * import { paint } from "../output/terminal.ts";
 * let out = "";
 * const t = new ScanTable({ write: (s) => out += s, paint: paint(false), positioners: ["m.x"],
 *   detectors: ["d.c"], units: { "m.x": "mm" }, total: 2 });
 * t.point({ index: 0, t: 0, positions: [0], readbacks: [0], values: [5] });
 * ```
 */
export class ScanTable {
  readonly #widths: number[];
  readonly #columns: string[];
  #started = false;
  #progressShown = false;
  #done: number;
  readonly #t0: number;
  readonly #firstDone: number;
  readonly #now: () => number;

  /** Creates the table; the header is written with the first point. */
  constructor(readonly options: ScanTableOptions) {
    const refs = [...options.positioners, ...options.detectors];
    this.#columns = ["#", ...refs.map((r) => header(r, options.units[r]))];
    this.#widths = this.#columns.map((c) => Math.max(c.length, 8));
    this.#widths[0] = Math.max(String(options.total).length, 3);
    this.#done = options.done ?? 0;
    this.#firstDone = this.#done;
    this.#now = options.now ?? (() => performance.now());
    this.#t0 = this.#now();
  }

  /** Adds one point's row and updates the progress bar. */
  point(p: ScanPoint): void {
    const o = this.options;
    let text = this.#clearProgress();
    if (!this.#started) {
      this.#started = true;
      text += o.paint.bold(this.#columns.map((c, i) => c.padStart(this.#widths[i]!)).join("  ")) +
        "\n";
    }
    const cells = [String(p.index)];
    o.positioners.forEach((r, k) => cells.push(formatValue(p.readbacks[k], o.precision?.[r])));
    o.detectors.forEach((r, k) => cells.push(formatValue(p.values[k], o.precision?.[r])));
    text += cells.map((c, i) => c.padStart(this.#widths[i]!)).join("  ") + "\n";
    o.write(text);
    this.#done++;
    this.#drawProgress();
  }

  /** Removes the progress bar (before the final message). */
  finish(): void {
    const clear = this.#clearProgress();
    if (clear) this.options.progress?.(clear);
  }

  #clearProgress(): string {
    if (!this.#progressShown || !this.options.progress) return "";
    this.#progressShown = false;
    this.options.progress("\r\x1b[K");
    return "";
  }

  #drawProgress(): void {
    if (!this.options.progress) return;
    const elapsed = (this.#now() - this.#t0) / 1000;
    const doneHere = this.#done - this.#firstDone;
    const eta = doneHere > 0 ? (elapsed / doneHere) * (this.options.total - this.#done) : undefined;
    this.options.progress(
      this.options.paint.dim(progressLine(this.#done, this.options.total, eta)),
    );
    this.#progressShown = true;
  }
}

/** A column header: `motor.position (mm)`, but `det.counts`, not `det.counts (counts)`. */
function header(ref: string, units: string | undefined): string {
  const attr = ref.slice(ref.lastIndexOf(".") + 1);
  return units && units !== attr ? `${ref} (${units})` : ref;
}

/**
 * The peak statistics of a finished scan as lines for people (stderr), one per detector, Spec
 * style; then where `--goto` moved. Positions use the positioner's precision.
 *
 * @example
 * ```ts
 * import { statsLines } from "./scan_table.ts";
 * statsLines({
 *   stats: {
 *     "det.counts": {
 *       positioner: "m.x", points: 3, peak: 9, peak_position: 1, min: 1, min_position: 0,
 *       fwhm: 1, cen: 1, com: 1,
 *     },
 *   },
 * }, { "m.x": 2 });
 * // ["det.counts: peak 9 at m.x = 1.00, cen 1.00, fwhm 1.00, com 1.00 (3 points)"]
 * ```
 */
export function statsLines(
  result: { stats?: Record<string, PeakStats>; moved_to?: ScanStatus["moved_to"] },
  precision: Record<string, number> = {},
): string[] {
  const out: string[] = [];
  for (const [det, s] of Object.entries(result.stats ?? {})) {
    const at = (v: number | null) => v === null ? "none" : formatValue(v, precision[s.positioner]);
    const peak = s.peak === null ? "none" : formatValue(s.peak, precision[det]);
    out.push(
      `${det}: peak ${peak} at ${s.positioner} = ${at(s.peak_position)}, cen ${at(s.cen)}, ` +
        `fwhm ${at(s.fwhm)}, com ${at(s.com)} (${s.points} points)`,
    );
  }
  const m = result.moved_to;
  if (m) {
    out.push(
      `moved ${m.positioner} to the ${m.target}: ${
        formatValue(m.position, precision[m.positioner])
      }`,
    );
  }
  return out;
}
