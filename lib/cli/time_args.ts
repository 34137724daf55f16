/**
 * The time arguments people type, read by the one time policy (lib/output/time.ts): `--time
 * epoch|iso` for machine outputs, and `--from/--to` times.
 *
 * @module
 */
import { readDuration } from "../config/duration.ts";
import { UsageError } from "../device/errors.ts";
import type { TimeFormat } from "../output/time.ts";

/**
 * Reads `--time`: `epoch` or `iso`; anything else is a usage error.
 *
 * @example
 * ```ts
 * import { readTimeFormat } from "./time_args.ts";
 * readTimeFormat("iso"); // "iso"
 * ```
 */
export function readTimeFormat(text: string | undefined, where = "--time"): TimeFormat {
  if (text === undefined || text === "epoch") return "epoch";
  if (text === "iso") return "iso";
  throw new UsageError(
    `${where}: "${text}" is not one of epoch, iso`,
    "epoch: Unix seconds (the default); iso: ISO 8601 with the offset",
  );
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Parses a time a person typed (`--from/--to`): ISO 8601 with or without an offset (local time
 * when absent; a bare date is local midnight), Unix epoch seconds, `now`, or a duration back from
 * `now` (`-1h`, `-30m`, `-2d`). Anything else is a usage error naming the flag.
 *
 * @example
 * ```ts
 * import { parseTimeArg } from "./time_args.ts";
 * parseTimeArg("1764064800", "--from"); // 1764064800
 * parseTimeArg("-1h", "--from", 7200); // 3600
 * parseTimeArg("2025-11-25T10:00:00Z", "--from"); // 1764064800
 * ```
 */
export function parseTimeArg(text: string, flag: string, now = Date.now() / 1000): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  if (s.toLowerCase() === "now") return now;
  if (/^-\s*\d/.test(s)) {
    try {
      return now - readDuration(s.slice(1).trim(), { min: 0 }) / 1000;
    } catch (err) {
      throw new UsageError(`${flag}: "${text}" is not a time`, HINT, { cause: err });
    }
  }
  const m = ISO.exec(s);
  if (m) {
    const [y, mo, d, h, mi, sec] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const frac = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
    const valid = mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 60;
    if (valid) {
      const zone = m[8];
      let ms: number;
      if (zone === undefined) {
        ms = new Date(y, mo - 1, d, h, mi, sec, 0).getTime() + frac;
      } else {
        const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
        const offset = z ? (z[1] === "-" ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0)) : 0;
        ms = Date.UTC(y, mo - 1, d, h, mi, sec, 0) + frac - offset * 60_000;
      }
      const check = new Date(ms - frac);
      if (zone !== undefined || check.getDate() === d) return ms / 1000;
    }
  }
  throw new UsageError(`${flag}: "${text}" is not a time`, HINT);
}

const HINT =
  "write an ISO time (2026-11-25T10:00, local, or with an offset: 2026-11-25T10:00:00Z), " +
  "Unix epoch seconds, now, or a duration back from now (-1h)";
