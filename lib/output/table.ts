/**
 * The live table shown on a terminal by `stream` and `monitor`: one row per device, redrawn in
 * place (at most ten times a second), with a status area under it (active alarms, the last few
 * events, a footer).
 *
 * It always fits the terminal: when the bordered table (a column per attribute, units in the
 * header) is wider than the terminal, a compact layout takes over — devices as rows, abbreviated
 * headers with the units on a line of their own, numbers right-aligned, and the columns that do
 * not fit dropped with a note naming them and `--attrs`. Every line is cut to the width, so the
 * terminal never wraps a line the redraw does not count; a resize (SIGWINCH) clears and redraws.
 * Without cursor movement (`TERM=dumb`, not a terminal) each redraw is appended instead.
 * The status area is `status_area.ts`.
 *
 * @module
 */
import type { Reading } from "../device/device.ts";
import { formatValue } from "./record.ts";
import { clipLine, displayWidth, type TerminalSize } from "./terminal.ts";
import { clockTime, zoneName } from "./time.ts";
import { StatusArea, type StatusAreaOptions, type StatusEvent } from "./status_area.ts";

/** Options of a live table (the status area's, and how to draw). */
export interface LiveTableOptions extends StatusAreaOptions {
  /** Writes text to the terminal. */
  write: (text: string) => void;
  /** Minimum ms between redraws (default 100; 1000 when the cursor cannot move). */
  minRedrawMs?: number;
  /** The terminal's size now; undefined (or absent) = no terminal: no width or height limit. */
  size?: () => TerminalSize | undefined;
  /** Redraw in place with cursor movement; false appends every redraw (default true). */
  cursor?: boolean;
  /** Columns to show (`--attrs`), in this order; default: each device's status attributes. */
  only?: readonly string[];
}

/** cli-table3, loaded on first use: it costs ~50 ms of start-up that `read` should not pay. */
type TableCtor = typeof import("cli-table3");
let TableClass: TableCtor | undefined;

/** Loads the table renderer; call once before the first {@linkcode LiveTable.render}. */
export async function loadTableRenderer(): Promise<void> {
  TableClass ??= (await import("cli-table3")).default;
}

interface Column {
  name: string;
  units: string;
  precision?: number;
}

/** The separator between compact columns. */
const GAP = "  ";
/** Widest a compact value column gets; longer strings are cut with "…". */
const MAX_CELL = 16;
/** Longest a compact header gets before it is abbreviated. */
const MAX_HEADER = 10;

/**
 * Shortens an attribute name for a narrow column: each word cut to 4 letters
 * (`full_scale_pressure` → `full_scal_pres`), then cut with "…" if still too long.
 *
 * @example
 * ```ts
 * import { abbreviate } from "./table.ts";
 * abbreviate("full_scale_pressure", 10); // "full_scal…"
 * abbreviate("temperature", 10); // "temp"
 * ```
 */
export function abbreviate(name: string, max = MAX_HEADER): string {
  if (name.length <= max) return name;
  const short = name.split("_").map((w) => w.slice(0, 4)).join("_");
  return short.length <= max ? short : short.slice(0, max - 1) + "…";
}

/** Renders readings as a table that updates in place, with alarms and events under it. */
export class LiveTable {
  readonly #rows = new Map<string, Reading>();
  readonly #counts = new Map<string, { ok: number; failed: number }>();
  readonly #status: StatusArea;
  #linesDrawn = 0;
  #lastDraw = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastColumns: number | undefined;
  #resized = false;
  #onResize: (() => void) | undefined;

  /** Creates a table; nothing is drawn until the first update. Listens for SIGWINCH on a terminal. */
  constructor(readonly options: LiveTableOptions) {
    this.#status = new StatusArea(options);
    if (this.#cursor && options.size?.() !== undefined) {
      this.#onResize = () => {
        this.#resized = true;
        this.#schedule();
      };
      try {
        Deno.addSignalListener("SIGWINCH", this.#onResize);
      } catch {
        // No SIGWINCH (Windows): the size is still read at every redraw.
        this.#onResize = undefined;
      }
    }
  }

  get #cursor(): boolean {
    return this.options.cursor ?? true;
  }

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
    this.#status.footer = text;
    this.#schedule();
  }

  /** Adds an alarm transition to the events under the table. */
  alarm(e: StatusEvent): void {
    this.#status.alarm(e);
    this.#schedule();
  }

  /** Adds a line to the events under the table (store failures, notifier messages). */
  note(text: string, t = Date.now() / 1000): void {
    this.#status.note(text, t);
    this.#schedule();
  }

  /** Draws now and stops scheduled redraws and the resize listener (call at the end). */
  finish(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#onResize) Deno.removeSignalListener("SIGWINCH", this.#onResize);
    this.#onResize = undefined;
    if (this.#rows.size > 0) this.#draw();
  }

  #schedule(): void {
    const min = this.options.minRedrawMs ?? (this.#cursor ? 100 : 1000);
    const wait = min - (performance.now() - this.#lastDraw);
    if (wait <= 0 && !this.#timer) return this.#draw();
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#draw();
    }, Math.max(0, wait));
  }

  /**
   * Renders the current rows and the status area as text (no cursor movement) for a terminal of
   * `size` (no limit when absent): at most `size.rows - 1` lines, none wider than `size.columns`.
   * Devices with the same attributes share one table (1,000 gauges make one table, not 1,000
   * columns).
   */
  render(size?: TerminalSize): string {
    const width = size?.columns ?? Infinity;
    // The cursor ends on the line after the last one drawn: that line must stay on screen too.
    const maxLines = size ? Math.max(3, size.rows - 1) : Infinity;
    const status = this.#status.lines(width, maxLines);
    const room = Math.max(2, maxLines - status.length);
    let table = this.#bordered(room);
    if (table.some((l) => displayWidth(l) > width)) table = this.#compact(width, room);
    const lines = [...table, ...status].slice(0, maxLines);
    return lines.map((l) => width === Infinity ? l : clipLine(l, width)).join("\n") + "\n";
  }

  /** Devices grouped by their column set, in arrival order. */
  #groups(): { columns: Column[]; devices: string[] }[] {
    const groups = new Map<string, { columns: Column[]; devices: string[] }>();
    for (const [device, r] of this.#rows) {
      const list = this.options.attrs.get(device) ?? [];
      const only = this.options.only;
      const chosen = only
        ? only.flatMap((n) => list.filter((a) => a.name === n))
        : list.filter((a) => a.status);
      let columns: Column[] = chosen
        .map((a) => ({
          name: a.name,
          // "counts (counts)" says nothing twice.
          units: a.units && a.units !== a.name ? a.units : "",
          precision: a.precision,
        }));
      if (columns.length === 0) {
        columns = Object.keys(r.values).filter((n) => !only || only.includes(n))
          .map((name) => ({ name, units: "" }));
      }
      const key = columns.map((c) => c.name).join(",");
      const g = groups.get(key) ?? { columns, devices: [] };
      g.devices.push(device);
      groups.set(key, g);
    }
    return [...groups.values()];
  }

  #time(r: Reading, ms: boolean): string {
    return clockTime(r.t, { utc: this.options.utc, ms });
  }

  #zone(): string {
    const first = this.#rows.values().next().value;
    return zoneName(first?.t ?? Date.now() / 1000, { utc: this.options.utc });
  }

  /** Each device group's cells: the values as strings, or the error. */
  #cells(device: string, columns: Column[]): { values: string[]; error?: string } {
    const r = this.#rows.get(device)!;
    if (r.error !== undefined) return { values: [], error: r.error };
    return { values: columns.map((c) => formatValue(r.values[c.name], c.precision)) };
  }

  /** The bordered layout (cli-table3): one column per attribute, `name (units)` headers. */
  #bordered(maxLines: number): string[] {
    const { paint } = this.options;
    if (!TableClass) throw new Error("loadTableRenderer() must be awaited before rendering");
    const out: string[] = [];
    let shown = 0;
    for (const { columns, devices } of this.#groups()) {
      // A group costs its rows plus a header line and two border lines.
      const room = maxLines - out.length - 4;
      if (room < 1) break;
      const visible = devices.slice(0, room);
      shown += visible.length;
      const head = [
        "device",
        `time (${this.#zone()})`,
        ...columns.map((c) => c.units ? `${c.name} (${c.units})` : c.name),
        "ok/err",
      ];
      if (columns.length === 0) head.splice(2, 0, "value");
      const table = new TableClass({
        head: head.map((h) => paint.bold(h)),
        style: { head: [], border: [], compact: true },
        chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
      });
      const span = Math.max(1, columns.length);
      for (const device of visible) {
        const c = this.#counts.get(device)!;
        const { values, error } = this.#cells(device, columns);
        const cells = error !== undefined
          ? [paint.red(clipLine(error, 60)), ...Array<string>(span - 1).fill("")]
          : columns.length === 0
          ? [""]
          : values;
        table.push([
          device,
          this.#time(this.#rows.get(device)!, true),
          ...cells,
          `${c.ok}/${c.failed}`,
        ]);
      }
      out.push(...table.toString().split("\n"));
    }
    return this.#withHidden(out, shown);
  }

  #withHidden(out: string[], shown: number): string[] {
    const hidden = this.#rows.size - shown;
    if (hidden > 0) out.push(this.options.paint.dim(`… and ${hidden} more devices`));
    return out;
  }

  /**
   * The compact layout for a terminal narrower than the bordered table: per group a header line
   * of abbreviated names, a line of units, right-aligned numbers; columns that do not fit are
   * dropped (named in a note).
   */
  #compact(width: number, maxLines: number): string[] {
    const { paint } = this.options;
    const out: string[] = [];
    const dropped = new Set<string>();
    let shown = 0;
    for (const { columns, devices } of this.#groups()) {
      const hasUnits = columns.some((c) => c.units);
      const room = maxLines - out.length - 1 - (hasUnits ? 1 : 0);
      if (room < 1) break;
      const visible = devices.slice(0, room);
      shown += visible.length;
      const rows = visible.map((d) => ({ device: d, ...this.#cells(d, columns) }));
      const deviceW = Math.max(6, ...visible.map((d) => displayWidth(d)));
      const timeW = 8;
      const counts = visible.map((d) => {
        const c = this.#counts.get(d)!;
        return `${c.ok}/${c.failed}`;
      });
      const countW = Math.max(6, ...counts.map((s) => s.length));
      let used = deviceW + GAP.length + timeW + GAP.length + countW;
      const kept: { col: Column; index: number; w: number; numeric: boolean }[] = [];
      columns.forEach((col, index) => {
        const header = abbreviate(col.name);
        const cellsW = rows.map((r) => displayWidth(r.values[index] ?? ""));
        const w = Math.min(MAX_CELL, Math.max(header.length, displayWidth(col.units), ...cellsW));
        if (used + GAP.length + w > width) {
          dropped.add(col.name);
          return;
        }
        used += GAP.length + w;
        const numeric = rows.every((r) => {
          const v = this.#rows.get(r.device)!.values[col.name];
          return v === undefined || v === null || typeof v === "number";
        });
        kept.push({ col, index, w, numeric });
      });
      const pad = (s: string, w: number, right: boolean) => {
        const cut = displayWidth(s) > w ? clipLine(s, w) : s;
        const fill = " ".repeat(Math.max(0, w - displayWidth(cut)));
        return right ? fill + cut : cut + fill;
      };
      const line = (device: string, time: string, cells: string[], count: string) =>
        [pad(device, deviceW, false), pad(time, timeW, false), ...cells, pad(count, countW, true)]
          .join(GAP);
      out.push(paint.bold(line(
        "device",
        "time",
        kept.map((k) => pad(abbreviate(k.col.name), k.w, k.numeric)),
        "ok/err",
      )));
      if (hasUnits) {
        out.push(paint.dim(
          line(
            "",
            this.#zone(),
            kept.map((k) => pad(k.col.units, k.w, k.numeric)),
            "",
          ).trimEnd(),
        ));
      }
      rows.forEach((r, i) => {
        const time = this.#time(this.#rows.get(r.device)!, false);
        if (r.error !== undefined) {
          const rest = Math.max(1, width - deviceW - timeW - 2 * GAP.length);
          out.push(
            [pad(r.device, deviceW, false), time, paint.red(clipLine(r.error, rest))].join(GAP),
          );
          return;
        }
        out.push(line(
          r.device,
          time,
          kept.map((k) => pad(r.values[k.index] ?? "", k.w, k.numeric)),
          counts[i]!,
        ));
      });
    }
    this.#withHidden(out, shown);
    if (dropped.size > 0) {
      const names = [...dropped];
      // The hint comes first: on a very narrow terminal the names are what gets cut.
      out.push(paint.dim(
        `+${names.length} columns (--attrs NAME,… picks them, or widen the terminal): ` +
          names.join(", "),
      ));
    }
    return out;
  }

  #draw(): void {
    this.#lastDraw = performance.now();
    const size = this.options.size?.();
    const cursor = this.#cursor && size !== undefined;
    // A resize re-wraps what is on screen in ways no count can follow: start from a clear screen.
    const resized = cursor &&
      (this.#resized || (this.#lastColumns !== undefined && size.columns !== this.#lastColumns));
    this.#resized = false;
    this.#lastColumns = size?.columns;
    const text = this.render(cursor ? size : size && { columns: size.columns, rows: Infinity });
    let prefix = "";
    if (cursor && resized) prefix = "\x1b[H\x1b[2J";
    else if (cursor && this.#linesDrawn > 0) prefix = `\x1b[${this.#linesDrawn}A\x1b[J`;
    else if (!cursor && this.#linesDrawn > 0) prefix = "\n";
    this.#linesDrawn = text.split("\n").length - 1;
    this.options.write(prefix + text);
  }
}
