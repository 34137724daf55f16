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
