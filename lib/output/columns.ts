/**
 * Plain aligned columns for the listings people read (`devices`, `task list`, `instruments`,
 * `session info`): each column as wide as its widest cell, two spaces apart, no trailing blanks.
 *
 * @module
 */

/** Options of {@linkcode alignColumns}. */
export interface ColumnOptions {
  /** Indexes of the columns padded on the left (numbers). */
  right?: readonly number[];
  /** Text put before every line (an indent under a section title). */
  indent?: string;
}

/**
 * The rows as aligned lines (without newlines): every cell padded to its column's widest, the
 * last column left as it is so a long free-text column (a command line) does not pad the others.
 *
 * @example
 * ```ts
 * import { alignColumns } from "./columns.ts";
 * alignColumns([["1", "done", "5/5"], ["12", "interrupted", "3/10"]], { right: [0] });
 * // [" 1  done         5/5", "12  interrupted  3/10"]
 * ```
 */
export function alignColumns(
  rows: readonly (readonly string[])[],
  opts: ColumnOptions = {},
): string[] {
  const right = new Set(opts.right ?? []);
  // One pass in a loop: `Math.max(...cells)` passes every row as an argument, and a listing of a
  // few hundred thousand rows (a session's scans, a daemon's tasks) overflowed the stack.
  const widths: number[] = [];
  for (const r of rows) {
    for (let i = 0; i < r.length; i++) {
      const w = r[i]!.length;
      if (!(w <= widths[i]!)) widths[i] = w;
    }
  }
  return rows.map((r) =>
    (opts.indent ?? "") + r.map((c, i) => {
      if (right.has(i)) return c.padStart(widths[i]!);
      return i === r.length - 1 ? c : c.padEnd(widths[i]!);
    }).join("  ").trimEnd()
  );
}
