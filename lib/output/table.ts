/**
 * The live table shown on a terminal by `stream` and `monitor`: one row per device, redrawn in
 * place (at most ten times a second), columns for every attribute with units in the header.
 *
 * @module
 */
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

/** cli-table3, loaded on first use: it costs ~50 ms of start-up that `read` should not pay. */
type TableCtor = typeof import("cli-table3");
let TableClass: TableCtor | undefined;

/** Loads the table renderer; call once before the first {@linkcode LiveTable.render}. */
export async function loadTableRenderer(): Promise<void> {
  TableClass ??= (await import("cli-table3")).default;
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

  /**
   * Renders the current rows as text (no cursor movement). Devices with the same attributes
   * share one table (1,000 gauges make one table, not 1,000 columns); at most `maxLines` lines
   * are drawn so the table fits the terminal.
   */
  render(maxLines = Infinity): string {
    const groups = new Map<string, string[]>();
    for (const [device, r] of this.#rows) {
      const names = (this.options.attrs.get(device) ?? []).filter((a) => a.status).map((a) =>
        a.name
      );
      const key = (names.length ? names : Object.keys(r.values)).join(",");
      const list = groups.get(key) ?? [];
      list.push(device);
      groups.set(key, list);
    }
    let text = "";
    let shown = 0;
    let lines = 0;
    for (const devices of groups.values()) {
      // A group costs its rows plus a header line and two border lines.
      const room = maxLines - lines - 4;
      if (room < 1) break;
      const visible = devices.slice(0, room);
      shown += visible.length;
      lines += visible.length + 3;
      text += this.#renderGroup(visible);
      if (visible.length < devices.length) {
        text += this.options.paint.dim(`… and ${devices.length - visible.length} more devices`) +
          "\n";
      }
    }
    const hidden = this.#rows.size - shown;
    if (hidden > 0 && !text.includes("more devices")) {
      text += this.options.paint.dim(`… and ${hidden} more devices`) + "\n";
    }
    return text + (this.#footer ? this.options.paint.dim(this.#footer) + "\n" : "");
  }

  #renderGroup(devices: string[]): string {
    const { paint, attrs } = this.options;
    const first = devices[0]!;
    let columns: { name: string; units?: string; precision?: number }[] = (attrs.get(first) ?? [])
      .filter((a) => a.status)
      .map((a) => ({ name: a.name, units: a.units, precision: a.precision }));
    if (columns.length === 0) {
      columns = Object.keys(this.#rows.get(first)?.values ?? {}).map((name) => ({ name }));
    }
    const head = [
      "device",
      "time",
      ...columns.map((c) => c.units ? `${c.name} (${c.units})` : c.name),
      "ok/err",
    ];
    if (columns.length === 0) head.splice(2, 0, "value");
    if (!TableClass) throw new Error("loadTableRenderer() must be awaited before rendering");
    const table = new TableClass({
      head: head.map((h) => paint.bold(h)),
      style: { head: [], border: [], compact: true },
      chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
    });
    const width = Math.max(1, columns.length);
    for (const device of devices) {
      const r = this.#rows.get(device)!;
      const c = this.#counts.get(device)!;
      const time = new Date(r.t * 1000).toISOString().slice(11, 23);
      const cells = r.error !== undefined
        ? [paint.red(truncate(r.error, 60)), ...Array<string>(width - 1).fill("")]
        : columns.length === 0
        ? [""]
        : columns.map((col) => formatValue(r.values[col.name], col.precision));
      table.push([device, time, ...cells, `${c.ok}/${c.failed}`]);
    }
    return table.toString() + "\n";
  }

  #draw(): void {
    this.#lastDraw = performance.now();
    let rows = Infinity;
    try {
      rows = Math.max(6, Deno.consoleSize().rows - 2);
    } catch {
      // Not a terminal (tests): show every row.
    }
    const text = this.render(rows);
    const up = this.#linesDrawn > 0 ? `\x1b[${this.#linesDrawn}A\x1b[J` : "";
    this.#linesDrawn = text.split("\n").length - 1;
    this.options.write(up + text);
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}
