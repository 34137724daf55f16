/**
 * Durations as people write them: `250ms`, `1s`, `1.5s`, `2m`, `1h`, `7d`, or a bare number in a
 * default unit.
 *
 * @module
 */
import { UsageError } from "../device/errors.ts";

const UNIT_MS: Record<string, number> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a duration into milliseconds; a bare number is taken in `bareUnit`.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * parseDuration("250ms"); // 250
 * parseDuration("2", "s"); // 2000
 * ```
 */
export function parseDuration(
  text: string | number,
  bareUnit: "ms" | "s" = "s",
  what = "duration",
): number {
  if (typeof text === "number") {
    if (!Number.isFinite(text) || text < 0) {
      throw new UsageError(`${what ? what + ": " : ""}expected a duration ≥ 0, got ${text}`);
    }
    return finite(text * UNIT_MS[bareUnit]!, text, what);
  }
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|ms|s|min|m|h|d)?\s*$/.exec(text);
  if (!m) {
    throw new UsageError(
      `${what ? what + ": " : ""}"${text}" is not a duration`,
      "write it like 250ms, 1s, 2m or 1h",
    );
  }
  return finite(Number(m[1]) * UNIT_MS[m[2] ?? bareUnit]!, text, what);
}

// Hundreds of digits overflow to Infinity, which no timer or deadline can use.
function finite(ms: number, text: string | number, what: string): number {
  if (!Number.isFinite(ms)) {
    throw new UsageError(`${what ? what + ": " : ""}${text} is too long a duration`);
  }
  return ms;
}
