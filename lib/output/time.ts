/**
 * labwire's one time policy. Time as people read it (tables, `session info`, e-mails, the
 * dashboard): local 24-hour time with its zone (`05:34:12 CET`), or UTC when asked (`--utc`).
 * Machine output (NDJSON, CSV, JSON, the API) carries epoch seconds with millisecond precision,
 * or ISO 8601 with offset under `--time iso` / `?time=iso` ({@linkcode machineTime}). Times people
 * type (`--from/--to`) are ISO with or without an offset (local when absent), epoch seconds,
 * `now`, or a duration back from now (`-1h`) ({@linkcode parseTimeArg}).
 *
 * @module
 */
import { readDuration } from "../config/duration.ts";
import { UsageError } from "../device/errors.ts";

/** Options of the human time formatters. */
export interface HumanTimeOptions {
  /** Show UTC instead of local time (`--utc`). */
  utc?: boolean;
  /** Show milliseconds (`05:34:12.345`). */
  ms?: boolean;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Zone names by offset minutes: Intl is slow enough to matter when a table redraws 10×/s. */
const zoneCache = new Map<string, string>();

/**
 * The short name of the zone in effect at `t` (epoch seconds): `CET`, `CEST`, `UTC`, or
 * `UTC+05:30` where the zone has no abbreviation.
 *
 * @example
 * ```ts
 * import { zoneName } from "./time.ts";
 * zoneName(0, { utc: true }); // "UTC"
 * ```
 */
export function zoneName(t: number, opts: HumanTimeOptions = {}): string {
  if (opts.utc) return "UTC";
  const d = new Date(t * 1000);
  const offset = -d.getTimezoneOffset();
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone ?? "";
  const key = `${tz}|${offset}`;
  const cached = zoneCache.get(key);
  if (cached !== undefined) return cached;
  // en-US knows American abbreviations (EST), en-GB European ones (CET, BST); both say "GMT"
  // for London in winter, which is its name.
  const named = ["en-US", "en-GB"].map((locale) =>
    new Intl.DateTimeFormat(locale, { timeZoneName: "short" }).formatToParts(d)
      .find((p) => p.type === "timeZoneName")?.value ?? ""
  ).find((part) => /^[A-Z]{2,5}$/.test(part));
  // Elsewhere ("GMT+9") say the offset the way ISO 8601 does.
  const name = named ?? (offset === 0 ? "UTC" : `UTC${offsetText(offset)}`);
  zoneCache.set(key, name);
  return name;
}

function offsetText(minutes: number): string {
  const sign = minutes < 0 ? "-" : "+";
  const a = Math.abs(minutes);
  return `${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

function parts(t: number, utc: boolean) {
  const d = new Date(Math.round(t * 1000));
  return utc
    ? {
      y: d.getUTCFullYear(),
      mo: d.getUTCMonth() + 1,
      d: d.getUTCDate(),
      h: d.getUTCHours(),
      mi: d.getUTCMinutes(),
      s: d.getUTCSeconds(),
      ms: d.getUTCMilliseconds(),
    }
    : {
      y: d.getFullYear(),
      mo: d.getMonth() + 1,
      d: d.getDate(),
      h: d.getHours(),
      mi: d.getMinutes(),
      s: d.getSeconds(),
      ms: d.getMilliseconds(),
    };
}

/**
 * Clock time of `t` (epoch seconds), 24-hour, without the zone: `05:34:12` (`.345` with `ms`).
 * Pair it with {@linkcode zoneName} in a header, or use {@linkcode humanTime}.
 *
 * @example
 * ```ts
 * import { clockTime } from "./time.ts";
 * clockTime(1.5, { utc: true, ms: true }); // "00:00:01.500"
 * ```
 */
export function clockTime(t: number, opts: HumanTimeOptions = {}): string {
  const p = parts(t, opts.utc ?? false);
  const base = `${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
  return opts.ms ? `${base}.${pad(p.ms, 3)}` : base;
}

/**
 * Clock time with its zone: `05:34:12 CET`.
 *
 * @example
 * ```ts
 * import { humanTime } from "./time.ts";
 * humanTime(0, { utc: true }); // "00:00:00 UTC"
 * ```
 */
export function humanTime(t: number, opts: HumanTimeOptions = {}): string {
  return `${clockTime(t, opts)} ${zoneName(t, opts)}`;
}

/**
 * Date and clock time with its zone: `2026-12-01 05:34:12 CET`.
 *
 * @example
 * ```ts
 * import { humanDateTime } from "./time.ts";
 * humanDateTime(0, { utc: true }); // "1970-01-01 00:00:00 UTC"
 * ```
 */
export function humanDateTime(t: number, opts: HumanTimeOptions = {}): string {
  const p = parts(t, opts.utc ?? false);
  return `${p.y}-${pad(p.mo)}-${pad(p.d)} ${clockTime(t, opts)} ${zoneName(t, opts)}`;
}

/**
 * ISO 8601 with the local offset (machine output under `--time iso`):
 * `2026-12-01T05:34:12.345+01:00`; with `utc`, `…Z`.
 *
 * @example
 * ```ts
 * import { isoWithOffset } from "./time.ts";
 * isoWithOffset(0, { utc: true }); // "1970-01-01T00:00:00.000Z"
 * ```
 */
export function isoWithOffset(t: number, opts: { utc?: boolean } = {}): string {
  const d = new Date(Math.round(t * 1000));
  if (opts.utc) return d.toISOString();
  const p = parts(t, false);
  return `${p.y}-${pad(p.mo)}-${pad(p.d)}T${clockTime(t, { ms: true })}${
    offsetText(-d.getTimezoneOffset())
  }`;
}

/** How machine outputs write a time: epoch seconds (the default) or ISO 8601 with offset. */
export type TimeFormat = "epoch" | "iso";

/** The time options every verb takes: `--time epoch|iso` and `--utc`. */
export interface TimeOptions {
  /** Machine outputs: epoch seconds or ISO 8601 (default epoch). */
  time?: TimeFormat;
  /** Show and write times in UTC instead of the local zone. */
  utc?: boolean;
}

/**
 * Reads `--time`: `epoch` or `iso`; anything else is a usage error.
 *
 * @example
 * ```ts
 * import { readTimeFormat } from "./time.ts";
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

/**
 * A time for machine output: epoch seconds rounded to milliseconds, or ISO 8601 under `iso`.
 *
 * @example
 * ```ts
 * import { machineTime } from "./time.ts";
 * machineTime(1764064800.12345, { time: "epoch" }); // 1764064800.123
 * ```
 */
export function machineTime(t: number, opts: TimeOptions = {}): number | string {
  return opts.time === "iso" ? isoWithOffset(t, opts) : Math.round(t * 1000) / 1000;
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
 * import { parseTimeArg } from "./time.ts";
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
