/**
 * Terminal detection and the colour rules of the output contract: colour only on a terminal,
 * and never under `NO_COLOR`, `TERM=dumb` or `--no-color`.
 *
 * @module
 */

/** True when stdout is a terminal (tables and colour), false in a pipe (NDJSON). */
export function stdoutIsTerminal(): boolean {
  return Deno.stdout.isTerminal();
}

/** True when colour may be used on a stream that is (or is not) a terminal. */
export function colorEnabled(noColorFlag = false, isTerminal = stdoutIsTerminal()): boolean {
  if (noColorFlag || !isTerminal) return false;
  const noColor = Deno.env.get("NO_COLOR");
  if (noColor !== undefined && noColor !== "") return false;
  if (Deno.env.get("TERM") === "dumb") return false;
  return true;
}

/** ANSI styles that turn into plain text when colour is off. */
export interface Paint {
  /** Red, for errors. */
  red(s: string): string;
  /** Yellow, for warnings. */
  yellow(s: string): string;
  /** Green, for good states. */
  green(s: string): string;
  /** Dim, for secondary text. */
  dim(s: string): string;
  /** Bold, for headers. */
  bold(s: string): string;
}

/** Returns styling functions; with `enabled` false they return their input unchanged. */
export function paint(enabled: boolean): Paint {
  const wrap = (code: number, reset: number) => (s: string) =>
    enabled ? `\x1b[${code}m${s}\x1b[${reset}m` : s;
  return {
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    green: wrap(32, 39),
    dim: wrap(2, 22),
    bold: wrap(1, 22),
  };
}

/** Size of a terminal in character cells. */
export interface TerminalSize {
  /** Characters per line. */
  columns: number;
  /** Lines on screen. */
  rows: number;
}

/** The size of the terminal stdout is on, or undefined when there is none (a pipe, a file). */
export function terminalSize(): TerminalSize | undefined {
  if (!Deno.stdout.isTerminal()) return undefined;
  try {
    const { columns, rows } = Deno.consoleSize();
    return columns > 0 && rows > 0 ? { columns, rows } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when output may move the cursor to redraw in place: stdout is a terminal that is not
 * `TERM=dumb` (Emacs shell buffers, CI logs). Otherwise tables are appended, never redrawn.
 */
export function cursorAllowed(isTerminal = stdoutIsTerminal()): boolean {
  return isTerminal && Deno.env.get("TERM") !== "dumb";
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/y;

/** Cells a code point takes: 2 for East Asian wide characters and emoji, 0 for combining marks. */
function cells(cp: number): number {
  if (cp >= 0x300 && cp <= 0x36f) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) return 2;
  return 1;
}

/**
 * Character cells `s` takes on a terminal: colour escapes take none, wide characters two.
 *
 * @example
 * ```ts
 * import { displayWidth } from "./terminal.ts";
 * displayWidth("\x1b[1mtemp ( degC)\x1b[22m"); // 9
 * ```
 */
export function displayWidth(s: string): number {
  let w = 0;
  for (let i = 0; i < s.length;) {
    if (s.charCodeAt(i) === 0x1b) {
      ANSI.lastIndex = i;
      if (ANSI.test(s)) {
        i = ANSI.lastIndex;
        continue;
      }
    }
    const cp = s.codePointAt(i)!;
    w += cells(cp);
    i += cp > 0xffff ? 2 : 1;
  }
  return w;
}

/**
 * Cuts one line to at most `width` cells, ending it with `...` when something was cut, so the
 * terminal never wraps it (a wrapped line would break an in-place redraw's line count).
 *
 * @example
 * ```ts
 * import { clipLine } from "./terminal.ts";
 * clipLine("pressure 0.0778 torr", 10); // "pressure ..."
 * ```
 */
export function clipLine(s: string, width: number): string {
  if (displayWidth(s) <= width) return s;
  if (width <= 0) return "";
  let out = "";
  let w = 0;
  let styled = false;
  for (let i = 0; i < s.length;) {
    if (s.charCodeAt(i) === 0x1b) {
      ANSI.lastIndex = i;
      if (ANSI.test(s)) {
        out += s.slice(i, ANSI.lastIndex);
        styled = true;
        i = ANSI.lastIndex;
        continue;
      }
    }
    const cp = s.codePointAt(i)!;
    const c = cells(cp);
    if (w + c > width - 1) break;
    out += String.fromCodePoint(cp);
    w += c;
    i += cp > 0xffff ? 2 : 1;
  }
  return out + "\u2026" + (styled ? "\x1b[0m" : "");
}
