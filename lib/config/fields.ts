/**
 * What every section of the config schema is built of: the zod error formatter (one message
 * per problem, naming the file and key path) and the field schemas that carry the message a
 * person needs (durations with units, bounded numbers, one-of choices, tables that name their
 * unknown keys with a did-you-mean).
 *
 * @module
 */
import { z } from "zod";
import { ConfigError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import { type DurationRule, MAX_TIMER_MS } from "./duration.ts";
import {
  formatKeyPath,
  type KeyPath,
  type Problem,
  problemText,
  type UnknownKeyParams,
  unknownKeyProblem,
} from "./problem.ts";
import type { OptionRule } from "../device/registry.ts";
import { durationOption, rangeText } from "./options.ts";
import { isTable } from "./options.ts";

/**
 * Parse options for values read once (a config file, an address): zod would otherwise compile
 * a fast path for each object schema on first use, which costs far more than one parse.
 */
export const ONCE = { jitless: true } as const;

// ---------------------------------------------------------------------------------------------
// The formatter

/** Turns the first zod issue into a {@linkcode Problem}; `base` is prepended to its path. */
export function describeIssue(error: z.ZodError, base: KeyPath = []): Problem {
  const issue = error.issues[0]!;
  const path = [...base, ...issue.path];
  const params = (issue as { params?: Partial<UnknownKeyParams> }).params;
  if (params?.unknownKey !== undefined) return unknownKeyProblem(path, params as UnknownKeyParams);
  const hint = (issue as { params?: { hint?: string } }).params?.hint;
  return { key: formatKeyPath(path), message: issue.message, hint: hint || undefined };
}

/**
 * The config error of a failed parse: `FILE: KEY: expected … (did you mean …?)`.
 *
 * @example
 * ```ts
 * import { configError } from "./fields.ts";
 * import { SERVER_SCHEMA } from "./schema.ts";
 * const r = SERVER_SCHEMA.safeParse({ listn: "127.0.0.1:8600" });
 * configError(r.error!, "lab.toml", ["server"]).message;
 * // 'lab.toml: server.listn: unknown key; [server] takes: … (did you mean "listen"?)'
 * ```
 */
export function configError(error: z.ZodError, file: string | undefined, base: KeyPath = []) {
  const p = describeIssue(error, base);
  return new ConfigError(problemText(p), file, p.key || undefined, { cause: error });
}

/**
 * Validates `value` (the table at `base` in `file`) with `schema`; a mistake is a
 * {@linkcode ConfigError} naming file and key.
 *
 * @example
 * ```ts
 * import { parseWith } from "./fields.ts";
 * import { SESSION_SCHEMA } from "./schema.ts";
 * parseWith(SESSION_SCHEMA, { path: "run.sqlite" }, "lab.toml", ["session"]); // { path: "run.sqlite" }
 * ```
 */
export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  file: string | undefined,
  base: KeyPath = [],
): z.output<S> {
  const r = schema.safeParse(value, ONCE);
  if (!r.success) throw configError(r.error, file, base);
  return r.data;
}

// ---------------------------------------------------------------------------------------------
// Building blocks: each carries the message a person needs

/** Adds one issue to `ctx`, with an optional hint kept for the formatter. */
export function fail(ctx: z.RefinementCtx, message: string, hint?: string, path?: PropertyKey[]) {
  ctx.addIssue({ code: "custom", message, params: { hint }, ...(path ? { path } : {}) });
  return z.NEVER;
}

export { isTable };

/**
 * A TOML table with exactly the keys of `shape`: an unknown key is reported (with the closest
 * known one) before anything else, since a typo usually explains a missing key too.
 */
export function table<S extends z.ZodRawShape>(
  shape: S,
  owner: string,
  notTable = `expected a table: ${owner}`,
) {
  const known = Object.keys(shape);
  return z.preprocess(
    (v, ctx) => {
      if (!isTable(v)) {
        ctx.addIssue({ code: "custom", message: notTable, input: v });
        return v;
      }
      for (const k of Object.keys(v)) {
        if (!known.includes(k)) {
          ctx.addIssue({
            code: "custom",
            message: "unknown key",
            path: [k],
            input: v,
            params: { unknownKey: k, known, owner } satisfies UnknownKeyParams,
          });
        }
      }
      return v;
    },
    z.object(shape),
  );
}

/** A duration with a unit, in ms, within `rule` (default 1 ms to setTimeout's ceiling). */
export function duration(rule: DurationRule = { min: 1, max: MAX_TIMER_MS }) {
  return fromRule<number>(durationOption(rule));
}

/** The zod schema of an option rule of `./options.ts` (its message, its hint). */
export function fromRule<T = unknown>(rule: OptionRule) {
  return z.unknown().transform((v, ctx): T => {
    const r = rule(v);
    return r.ok ? r.value as T : fail(ctx, r.message, r.hint, r.path);
  });
}

/** A whole number in [min, max]. */
export function wholeNumber(min: number, max: number, message?: string) {
  return z.custom<number>(
    (v) => typeof v === "number" && Number.isInteger(v) && v >= min && v <= max,
    { error: message ?? `expected a whole number ${min}–${max}` },
  );
}

/** A finite number in [min, max]. */
export function finiteNumber(min = -Infinity, max = Infinity, message?: string) {
  return z.custom<number>(
    (v) => typeof v === "number" && Number.isFinite(v) && v >= min && v <= max,
    { error: message ?? `expected a number${rangeText(min, max)}` },
  );
}

/** A non-empty string, with `message` when it is not one. */
export function text(message: string) {
  return z.custom<string>((v) => typeof v === "string" && v !== "", { error: message });
}

/** true or false. */
export function bool() {
  return z.custom<boolean>((v) => typeof v === "boolean", { error: "expected true or false" });
}

/** One of `choices`, with a did-you-mean for a near miss. */
export function oneOf<const T extends string>(choices: readonly T[], what = "") {
  return z.unknown().transform((v, ctx): T => {
    if (typeof v === "string" && (choices as readonly string[]).includes(v)) return v as T;
    const hint = typeof v === "string" ? didYouMean(v, choices) : "";
    return fail(
      ctx,
      `expected ${what}one of ${choices.map((c) => `"${c}"`).join(", ")}`,
      hint || undefined,
    );
  });
}

/** A list of strings (a single string is taken as a list of one). */
export function stringList(message: string, item?: (s: string) => boolean) {
  return z.unknown().transform((v, ctx): string[] => {
    const list = typeof v === "string" ? [v] : v;
    if (!Array.isArray(list) || !list.every((x) => typeof x === "string" && x !== "")) {
      return fail(ctx, message);
    }
    if (item) {
      const i = list.findIndex((x) => !item(x));
      if (i >= 0) return fail(ctx, message, undefined, [i]);
    }
    return list as string[];
  });
}
