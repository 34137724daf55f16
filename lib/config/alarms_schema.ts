/**
 * `[[alarms]]` entries and the `[notify]` section (sinks, SMTP, digests) of the config schema.
 *
 * @module
 */
import { z } from "zod";
import {
  bool,
  duration,
  fail,
  finiteNumber,
  isTable,
  ONCE,
  oneOf,
  table,
  text,
  wholeNumber,
} from "./fields.ts";
import { UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import { MAX_TIMER_MS, readDuration } from "./duration.ts";

// ---------------------------------------------------------------------------------------------
// [[alarms]]

/** Alarm severities in increasing order (EPICS-like: MINOR, MAJOR, INVALID). */
export const SEVERITIES = ["minor", "major", "invalid"] as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EMAIL = /^[^\s<>@",;]+@[^\s<>@",;]+$/;

/** One `[[alarms]]` entry: a threshold alarm or a device health entry (see `lib/alarm/rules.ts`). */
export const ALARM_SCHEMA = table(
  {
    name: text("expected a non-empty string").optional(),
    device: text('expected device = "NAME" of a [devices.NAME] table').optional(),
    attr: z.unknown().optional(),
    compare: z.unknown().optional(),
    trip: z.unknown().optional(),
    low: z.unknown().optional(),
    high: z.unknown().optional(),
    delay: duration({ min: 0, max: MAX_TIMER_MS }).optional(),
    hysteresis: finiteNumber(0).optional(),
    severity: oneOf(SEVERITIES).optional(),
    message: z.custom<string>((v) => typeof v === "string", { error: "expected a string" })
      .optional(),
    error_after: wholeNumber(0, 1_000_000, "expected a whole number ≥ 0 (0 turns the alarm off)")
      .optional(),
    stale_after: wholeNumber(0, 1_000_000, "expected a whole number ≥ 0 (0 turns the alarm off)")
      .optional(),
  },
  "an [[alarms]] entry",
  "expected a table",
);

/** `[[alarms]]`: an array of tables. */
export const ALARMS_SCHEMA = z.custom<unknown[]>((v) => Array.isArray(v), {
  error: "expected [[alarms]] tables (an array of tables), one per alarm",
}).pipe(z.array(ALARM_SCHEMA));

// ---------------------------------------------------------------------------------------------
// [notify]

function envName() {
  return z.custom<string>((v) => typeof v === "string" && ENV_NAME.test(v), {
    error: "expected the NAME of an environment variable, not the secret itself",
  });
}

function emailList() {
  return z.unknown().transform((v, ctx): string[] => {
    const list = typeof v === "string" ? [v] : v;
    if (!Array.isArray(list) || list.length === 0) {
      return fail(ctx, 'expected to = ["someone@example.org", …]');
    }
    const i = list.findIndex((a) => typeof a !== "string" || !EMAIL.test(a));
    if (i >= 0) {
      return fail(ctx, 'expected an e-mail address like "lab@example.org"', undefined, [i]);
    }
    return list as string[];
  });
}

/** `[notify.smtp]`: the mail server. */
export const SMTP_SCHEMA = table(
  {
    host: z.custom<string>((v) => typeof v === "string" && v !== "" && !/[\s/]/.test(v), {
      error: 'expected host = "smtp.example.org"',
    }),
    port: wholeNumber(1, 65535, "expected a port number 1–65535").optional(),
    security: oneOf(["plain", "starttls", "tls"] as const).optional(),
    from: z.custom<string>((v) => typeof v === "string" && EMAIL.test(v), {
      error: 'expected an e-mail address like "lab@example.org"',
    }),
    user: text("expected a user name").optional(),
    password_env: envName().optional(),
    password_file: text("expected a file path").optional(),
    ca_file: text("expected a PEM file path").optional(),
    timeout: duration({ min: 1, max: 3_600_000 }).optional(),
  },
  "[notify.smtp]",
  "expected a [notify.smtp] table",
);

const SINK_COMMON = {
  type: z.string(),
  name: text("expected a non-empty string").optional(),
  min_severity: oneOf(SEVERITIES).optional(),
  cleared: bool().optional(),
  timeout: duration({ min: 1, max: 3_600_000 }).optional(),
  retries: wholeNumber(0, 100).optional(),
  queue: wholeNumber(1, 100_000).optional(),
};

/** The sink types and the keys each takes beyond the common ones. */
export const SINK_SHAPES = {
  email: { ...SINK_COMMON, to: emailList() },
  webhook: {
    ...SINK_COMMON,
    url: z.custom<string>((v) => {
      try {
        return typeof v === "string" && ["http:", "https:"].includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, { error: 'expected url = "https://host/path"' }).optional(),
    url_env: envName().optional(),
    headers: z.custom<Record<string, unknown>>(isTable, {
      error: 'expected headers = { "Name" = "value" }',
    }).pipe(
      z.record(
        z.string(),
        z.custom<string>((v) => typeof v === "string" && !/[\r\n]/.test(v), {
          error: "expected a one-line string",
        }),
      ),
    ).optional(),
    headers_env: z.custom<Record<string, unknown>>(isTable, {
      error: 'expected headers_env = { "Header-Name" = "VARIABLE" }',
    }).pipe(z.record(z.string(), envName())).optional(),
  },
  command: {
    ...SINK_COMMON,
    command: z.custom<string[]>(
      (v) =>
        Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string") && v[0] !== "",
      { error: 'expected command = ["program", "arg", …] (run directly, no shell)' },
    ),
  },
} as const;

/** The sink types of `[[notify.sinks]]`. */
export const SINK_TYPES = Object.keys(SINK_SHAPES) as (keyof typeof SINK_SHAPES)[];

/** One `[[notify.sinks]]` table: its `type` decides which keys it takes. */
export const SINK_SCHEMA = z.unknown().transform((v, ctx) => {
  if (!isTable(v)) return fail(ctx, "expected a table");
  const type = v.type;
  if (typeof type !== "string" || !(SINK_TYPES as string[]).includes(type)) {
    const hint = typeof type === "string" ? didYouMean(type, SINK_TYPES) : "";
    return fail(
      ctx,
      `expected type = one of ${SINK_TYPES.map((t) => `"${t}"`).join(", ")}`,
      hint || undefined,
      ["type"],
    );
  }
  const t = type as keyof typeof SINK_SHAPES;
  const r = table(SINK_SHAPES[t], `a "${t}" sink`).safeParse(v, ONCE);
  if (!r.success) {
    for (const issue of r.error.issues) ctx.addIssue(issue as z.core.$ZodRawIssue);
    return z.NEVER;
  }
  return r.data as Record<string, unknown>;
});

/** `[notify.digest]`: the periodic e-mail. */
export const DIGEST_SCHEMA = table(
  {
    every: z.unknown().transform((v, ctx) => {
      if (v === undefined) return fail(ctx, 'expected every = "24h"');
      try {
        return readDuration(v, { min: 1000, max: MAX_TIMER_MS });
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        return fail(
          ctx,
          /too (short|long)/.test(err.message)
            ? "expected a period between 1s and 24d"
            : err.message + (err.hint ? ` (${err.hint})` : ""),
        );
      }
    }),
    to: emailList(),
  },
  "[notify.digest]",
  "expected a [notify.digest] table",
);

/** `[notify]`: where alarm transitions go (see `lib/alarm/notify_config.ts`). */
export const NOTIFY_SCHEMA = table(
  {
    smtp: SMTP_SCHEMA.optional(),
    sinks: z.custom<unknown[]>((v) => Array.isArray(v), {
      error: "expected [[notify.sinks]] tables, one per sink",
    }).pipe(z.array(SINK_SCHEMA)).optional(),
    digest: DIGEST_SCHEMA.optional(),
  },
  "[notify]",
  "expected a [notify] table",
);
