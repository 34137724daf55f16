/**
 * Durations as people write them: `250ms`, `1s`, `1.5s`, `2m`, `1h`, `7d`. In config files and
 * address options a duration must carry its unit (`interval = 100` could mean 100 ms or 100 s);
 * on the command line a bare number is taken in the flag's default unit.
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

/** How to read one duration: its bounds, and the unit of a bare number (none: a unit is required). */
export interface DurationRule {
  /** Smallest accepted value, ms (default 0). */
  min?: number;
  /** Largest accepted value, ms (default none). */
  max?: number;
  /** Unit of a bare number; when absent a bare number is refused with a hint to add a unit. */
  bareUnit?: "ms" | "s";
}

/** The longest duration a timer here waits: 24 days, under setTimeout's ceiling (~24.8 days). */
export const MAX_TIMER_MS = 24 * 86_400_000;

/** Bounds of a sampling interval: 1 ms to the longest a timer waits (24 days). */
export const INTERVAL_RULE: DurationRule = { min: 1, max: MAX_TIMER_MS };
/** Bounds of a per-call timeout: 1 ms to 1 hour. */
export const TIMEOUT_RULE: DurationRule = { min: 1, max: 3_600_000 };

const HINT = "write it like 250ms, 1s, 2m or 1h";

/**
 * Formats milliseconds in the largest unit that divides them, for messages: `1ms`, `5s`, `24d`.
 *
 * @example
 * ```ts
 * import { formatMs } from "./duration.ts";
 * formatMs(90_000); // "90s"
 * ```
 */
export function formatMs(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]]) {
    if (ms >= (size as number) && ms % (size as number) === 0) {
      return `${ms / (size as number)}${unit}`;
    }
  }
  return `${ms}ms`;
}

/**
 * Reads a duration in milliseconds under `rule`; a mistake is a {@linkcode UsageError} saying
 * what was expected (the caller adds where the value came from).
 *
 * @example
 * ```ts
 * import { readDuration } from "./duration.ts";
 * readDuration("250ms", { min: 1 }); // 250
 * readDuration(2, { bareUnit: "s" }); // 2000
 * ```
 */
export function readDuration(value: unknown, rule: DurationRule = {}): number {
  let ms: number;
  if (typeof value === "number" || (typeof value === "string" && /^\s*-?[\d.]+\s*$/.test(value))) {
    const n = Number(value);
    if (!Number.isFinite(n)) {
      throw new UsageError(`${JSON.stringify(value)} is not a duration`, HINT);
    }
    if (rule.bareUnit === undefined) {
      const shown = String(value).trim();
      throw new UsageError(
        `${shown} has no unit: write "${shown}ms" or "${shown}s"`,
        "durations carry a unit: us, ms, s, m, h or d",
      );
    }
    ms = n * UNIT_MS[rule.bareUnit]!;
  } else if (typeof value === "string") {
    const m = /^\s*(-?)(\d+(?:\.\d*)?|\.\d+)\s*(us|ms|s|min|m|h|d)\s*$/.exec(value);
    if (!m) throw new UsageError(`"${value}" is not a duration`, HINT);
    ms = Number(m[1]! + m[2]!) * UNIT_MS[m[3]!]!;
  } else {
    throw new UsageError(`expected a duration like "250ms", "1s" or "2m"`, HINT);
  }
  const shown = typeof value === "string" ? `"${value.trim()}"` : String(value);
  // Hundreds of digits overflow to Infinity, which no timer or deadline can use.
  if (!Number.isFinite(ms)) throw new UsageError(`${shown} is too long a duration`);
  if (ms < 0) {
    throw new UsageError(
      `${shown} is negative: expected a duration \u2265 ${formatMs(rule.min ?? 0)}`,
    );
  }
  if (rule.min !== undefined && ms < rule.min) {
    throw new UsageError(`${shown} is too short: expected a duration \u2265 ${formatMs(rule.min)}`);
  }
  if (rule.max !== undefined && ms > rule.max) {
    throw new UsageError(`${shown} is too long: expected a duration \u2264 ${formatMs(rule.max)}`);
  }
  return ms;
}

/**
 * Parses a duration into milliseconds; a bare number is taken in `bareUnit` (command-line flags).
 * Errors start with `what` (e.g. `--interval`).
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
  rule: Omit<DurationRule, "bareUnit"> = {},
): number {
  try {
    return readDuration(text, { ...rule, bareUnit });
  } catch (err) {
    if (!(err instanceof UsageError) || !what) throw err;
    throw new UsageError(`${what}: ${err.message}`, err.hint, { cause: err });
  }
}
