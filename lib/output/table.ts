/**
 * The live table shown on a terminal by `stream` and `monitor`: one row per device, redrawn in
 * place (at most ten times a second), columns for every attribute with units in the header.
 *
 * @module
 */
import Table from "cli-table3";
import type { Attr } from "../device/attr.ts";
import type { Reading } from "../device/device.ts";
import { formatValue } from "./record.ts";
import type { Paint } from "./terminal.ts";

/** Options of a live table. */
export interface LiveTableOptions {
  /** Writes text to the terminal. */
  write: (text: string) => void;
  /** Colour functions (plain when colour is off). */
  paint: Paint;
  /** Attributes per device, for headers, units and precision. */
  attrs: Map<string, Attr[]>;
  /** Minimum ms between redraws. */
  minRedrawMs?: number;
}

/** Renders readings as a table that updates in place. */
export class LiveTable {
  readonly #rows = new Map<string, Reading>();
  readonly #counts = new Map<string, { ok: number; failed: number }>();
  #linesDrawn = 0;
  #lastDraw = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #footer = "";

  /** Creates a table; nothing is drawn until the first update. */
  constructor(readonly options: LiveTableOptions) {}

  /** Records a reading and schedules a redraw. */
  update(reading: Reading): void {
    this.#rows.set(reading.device, reading);
    const c = this.#counts.get(reading.device) ?? { ok: 0, failed: 0 };
    if (reading.error === undefined) c.ok++;
    else c.failed++;
    this.#counts.set(reading.device, c);
    this.#schedule();
  }

  /** Sets a status line shown under the table (e.g. "sample 12 · 0 missed"). */
  footer(text: string): void {
    this.#footer = text;
    this.#schedule();
  }

  /** Draws now and stops scheduled redraws (call at the end). */
  finish(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#rows.size > 0) this.#draw();
  }

  #schedule(): void {
    const wait = (this.options.minRedrawMs ?? 100) - (performance.now() - this.#lastDraw);
    if (wait <= 0) return this.#draw();
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#draw();
    }, wait);
  }

  /** Renders the current rows as text (no cursor movement); exported for tests. */
  render(): string {
    const { paint, attrs } = this.options;
    const columns: { name: string; units?: string; precision?: number }[] = [];
    const seen = new Set<string>();
    for (const device of this.#rows.keys()) {
      for (const a of attrs.get(device) ?? []) {
        if (!a.status || seen.has(a.name)) continue;
        seen.add(a.name);
        columns.push({ name: a.name, units: a.units, precision: a.precision });
      }
    }
    for (const r of this.#rows.values()) {
      for (const k of Object.keys(r.values)) {
        if (!seen.has(k)) {
          seen.add(k);
          columns.push({ name: k });
        }
      }
    }
    const head = [
      "device",
      "time",
      ...columns.map((c) => c.units ? `${c.name} (${c.units})` : c.name),
      "ok/err",
    ];
    if (columns.length === 0) head.splice(2, 0, "value");
    const table = new Table({
      head: head.map((h) => paint.bold(h)),
      style: { head: [], border: [], compact: true },
      chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
    });
    const width = Math.max(1, columns.length);
    for (const [device, r] of this.#rows) {
      const c = this.#counts.get(device)!;
      const time = new Date(r.t * 1000).toISOString().slice(11, 23);
      const cells = r.error !== undefined
        ? [paint.red(truncate(r.error, 60)), ...Array<string>(width - 1).fill("")]
        : columns.length === 0
        ? [""]
        : columns.map((col) => formatValue(r.values[col.name], col.precision));
      table.push([device, time, ...cells, `${c.ok}/${c.failed}`]);
    }
    return table.toString() + "\n" + (this.#footer ? paint.dim(this.#footer) + "\n" : "");
  }

  #draw(): void {
    this.#lastDraw = performance.now();
    const text = this.render();
    const up = this.#linesDrawn > 0 ? `\x1b[${this.#linesDrawn}A\x1b[J` : "";
    this.#linesDrawn = text.split("\n").length - 1;
    this.options.write(up + text);
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}
