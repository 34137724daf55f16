/**
 * Flag parsing for every verb: parseArgs' strict mode (`./argv.ts`, the rules and messages of
 * `node:util`'s without loading Node's compatibility layer at start-up), with unknown flags turned
 * into a usage error that suggests the closest known flag. Each verb declares its flags as data
 * and gets a pure parse function it can test on its own.
 *
 * @module
 */
import { parseStrictArgs } from "./argv.ts";
import { UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import { type DurationRule, readDuration } from "../config/duration.ts";
import type { TimeOptions } from "../output/time.ts";
import { readTimeFormat } from "./time_args.ts";

/** The declaration of one flag. */
export interface FlagSpec {
  /** `string` flags take a value; `boolean` flags do not. */
  type: "string" | "boolean";
  /** One-letter alias. */
  short?: string;
  /** May be given several times (values collected into an array). */
  multiple?: boolean;
}

/** The flag table of a verb. */
export type FlagSpecs = Record<string, FlagSpec>;

/** Parsed flags and positionals. */
export interface ParsedFlags {
  /** Flag values keyed by long name. */
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  /** Positional arguments in order. */
  positionals: string[];
}

/** Flags every verb accepts. */
export const COMMON_FLAGS: FlagSpecs = {
  help: { type: "boolean", short: "h" },
  config: { type: "string", short: "c" },
  demo: { type: "boolean" },
  json: { type: "boolean" },
  "no-color": { type: "boolean" },
  time: { type: "string" },
  utc: { type: "boolean" },
};

/**
 * Parses `args` against `specs` (plus the common flags); unknown or malformed flags become a
 * {@linkcode UsageError} with a "did you mean" hint.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./flags.ts";
 * parseFlags(["--interval", "2s", "sim://gauge"], { interval: { type: "string" } }).positionals; // ["sim://gauge"]
 * ```
 */
export function parseFlags(args: string[], specs: FlagSpecs, verb = "labwire"): ParsedFlags {
  const options = { ...COMMON_FLAGS, ...specs };
  // No argument starts with "-": every one is a positional, and both passes below would copy
  // them one by one in cold code (a read of a thousand targets); one native search instead.
  if (!startsAnyWithDash(args)) return { values: Object.create(null), positionals: args.slice() };
  try {
    const { values, positionals } = parseStrictArgs(attachNegativeValues(args, options), options);
    return { values: values as ParsedFlags["values"], positionals };
  } catch (err) {
    const msg = (err as Error).message;
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(msg);
    if (unknown) {
      const flag = unknown[1]!.replace(/^-+/, "");
      const hint = didYouMean(flag, Object.keys(options));
      throw new UsageError(
        `unknown flag ${unknown[1]}`,
        (hint ? hint.replace(/"([^"]+)"/g, '"--$1"') + " " : "") + `see: labwire ${verb} --help`,
      );
    }
    const missing = /Option '(-{1,2}[^']+)(?: [^']*)?' argument missing/.exec(msg);
    if (missing) {
      throw new UsageError(`${missing[1]} needs a value`, `see: labwire ${verb} --help`);
    }
    throw new UsageError(msg.split("\n")[0]!, `see: labwire ${verb} --help`);
  }
}

/** True when some argument starts with "-" (a newline inside one may say so wrongly: harmless). */
function startsAnyWithDash(args: readonly string[]): boolean {
  return args.length > 0 && (args[0]!.startsWith("-") || args.join("\n").includes("\n-"));
}

/**
 * Joins a flag that takes a value with a following value that looks negative (`--timeout -1s`
 * -> `--timeout=-1s`): parseArgs would call it "ambiguous", while the flag's own validation can
 * say what is wrong with it.
 */
function attachNegativeValues(args: string[], options: FlagSpecs): string[] {
  const takesValue = (a: string): "long" | "short" | undefined => {
    if (a.startsWith("--") && !a.includes("=")) {
      return options[a.slice(2)]?.type === "string" ? "long" : undefined;
    }
    if (/^-[A-Za-z]$/.test(a)) {
      const spec = Object.values(options).find((o) => o.short === a[1]);
      return spec?.type === "string" ? "short" : undefined;
    }
    return undefined;
  };
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    // Only a flag can take a value: a target (most of a long command line) is copied as it is.
    if (a.length === 0 || a[0] !== "-") {
      out.push(a);
      continue;
    }
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    const kind = takesValue(a);
    if (kind && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(kind === "long" ? `${a}=${next}` : `${a}${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/**
 * Reads a duration flag in ms (a bare number is in `bareUnit`, seconds by default); a value
 * outside `rule` is a usage error naming the flag.
 *
 * @example
 * ```ts
 * import { durationFlag, parseFlags } from "./flags.ts";
 * durationFlag(parseFlags(["--timeout", "2s"], { timeout: { type: "string" } }), "timeout"); // 2000
 * ```
 */
export function durationFlag(
  flags: ParsedFlags,
  name: string,
  rule: DurationRule = { min: 1 },
): number | undefined {
  const v = stringFlag(flags, name);
  if (v === undefined) return undefined;
  try {
    return readDuration(v, { bareUnit: "s", ...rule });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    throw new UsageError(`--${name}: ${err.message}`, err.hint, { cause: err });
  }
}

/** Returns a string flag's value, or undefined. */
export function stringFlag(flags: ParsedFlags, name: string): string | undefined {
  const v = flags.values[name];
  if (Array.isArray(v)) return v.at(-1) as string | undefined;
  return typeof v === "string" ? v : undefined;
}

/** Returns a boolean flag's value (false when absent). */
export function boolFlag(flags: ParsedFlags, name: string): boolean {
  return flags.values[name] === true;
}

/** Parses an integer flag, with a usage error naming the flag when it is not one. */
export function intFlag(flags: ParsedFlags, name: string, min = 0): number | undefined {
  const v = stringFlag(flags, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name}: expected an integer \u2265 ${min}, got "${v}"`);
  }
  return n;
}

/** Splits a comma-separated list flag (`--attrs a,b`) into its items. */
export function listFlag(flags: ParsedFlags, name: string): string[] | undefined {
  const v = flags.values[name];
  const all = Array.isArray(v) ? v as string[] : typeof v === "string" ? [v] : undefined;
  return all?.flatMap((s) => s.split(",")).map((s) => s.trim()).filter((s) => s !== "");
}

/**
 * Reads the time flags every verb takes: `--time epoch|iso` (machine outputs) and `--utc`
 * (times people read, and the offset `--time iso` writes).
 *
 * @example
 * ```ts
 * import { parseFlags, timeFlags } from "./flags.ts";
 * timeFlags(parseFlags(["--time", "iso", "--utc"], {})); // { time: "iso", utc: true }
 * ```
 */
export function timeFlags(flags: ParsedFlags): Required<TimeOptions> {
  return { time: readTimeFormat(stringFlag(flags, "time")), utc: boolFlag(flags, "utc") };
}

/**
 * Reads `--format` of a verb that prints records: one of `choices`, where `json` (and `--json`
 * without `--format`) mean `ndjson`, one JSON object per line. Undefined when neither is given
 * (the verb then picks by terminal). Another value is a usage error naming the choices.
 *
 * @example
 * ```ts
 * import { formatFlag, parseFlags } from "./flags.ts";
 * formatFlag(parseFlags(["--json"], {}), ["table", "ndjson", "csv"]); // "ndjson"
 * ```
 */
export function formatFlag<F extends string>(
  flags: ParsedFlags,
  choices: readonly F[],
): F | undefined {
  const format = stringFlag(flags, "format");
  if (format === "json" || (format === undefined && boolFlag(flags, "json"))) {
    return "ndjson" as F;
  }
  if (format !== undefined && !(choices as readonly string[]).includes(format)) {
    throw new UsageError(`--format: "${format}" is not one of ${choices.join(", ")}`);
  }
  return format as F | undefined;
}
