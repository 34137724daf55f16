/**
 * labwire's one time policy. Time as people read it (tables, `session info`, e-mails, the
 * dashboard): local 24-hour time with its zone (`05:34:12 CET`), or UTC when asked (`--utc`).
 * Machine output (NDJSON, CSV, JSON, the API) carries epoch seconds with millisecond precision,
 * or ISO 8601 with offset under `--time iso` / `?time=iso` ({@linkcode machineTime}). Times people
 * type (`--from/--to`) are ISO with or without an offset (local when absent), epoch seconds,
 * `now`, or a duration back from now (`-1h`) (`parseTimeArg` in lib/cli/time_args.ts).
 *
 * @module
 */

/** Options of the human time formatters. */
export interface HumanTimeOptions {
  /** Show UTC instead of local time (`--utc`). */
  utc?: boolean;
  /** Show milliseconds (`05:34:12.345`). */
  ms?: boolean;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Zone names by offset minutes: Intl is slow enough to matter when a table redraws 10x/s. */
const zoneCache = new Map<string, string>();

/**
 * The process's time zone (IANA name), looked up once: constructing an `Intl.DateTimeFormat`
 * costs ~0.6 ms, and the daemon formats a line per alarm transition (a stale burst over 100
 * devices is 200 of them in one timer callback).
 */
let localZone: string | undefined;

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
  const tz = localZone ??= Intl.DateTimeFormat().resolvedOptions().timeZone ?? "";
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
 * `2026-12-01T05:34:12.345+01:00`; with `utc`, `...Z`.
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
