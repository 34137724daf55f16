/**
 * The one schema of `labwire.toml`, with one error formatter (`./problem.ts`). Every section's
 * keys, types, ranges and durations are declared here, and each driver's options
 * (`sim://gauge?seed=3`, `ca://PV?wait=1`, `baratron://HOST?timeout=2s`) in `./options.ts`,
 * zod-free so that a driver checks its address without loading zod; this module wraps those
 * same rules for device tables. The modules that own a section
 * (`lib/server/config.ts`, `lib/alarm/rules.ts`, …) validate with these schemas and keep only
 * the checks that need more than the section itself (a device named by an alarm must exist).
 *
 * An error names the file, the key path, what was expected and, for a typo, the closest key:
 *
 * ```text
 * lab.toml: devices.gauge.intervall: unknown key; a baratron:// device takes: address, interval, timeout (did you mean "interval"?)
 * ```
 *
 * @module
 */
import { z } from "zod";
import { type Address, isAddress, parseAddress } from "../device/address.ts";
import { ConfigError, UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import {
  type DurationRule,
  INTERVAL_RULE,
  MAX_TIMER_MS,
  readDuration,
  TIMEOUT_RULE,
} from "./duration.ts";
import {
  formatKeyPath,
  type KeyPath,
  type Problem,
  problemText,
  type UnknownKeyParams,
  unknownKeyProblem,
} from "./problem.ts";
import type { DriverOptions, OptionRule } from "../device/registry.ts";
import {
  driverOptions,
  durationOption,
  optionsProblem,
  rangeText,
  targetProblem,
} from "./options.ts";
import { parseListen } from "../device/host_port.ts";
import { ipFromString, parseHostRule } from "../device/ipv4.ts";

export { formatKeyPath, type KeyPath, type Problem };

/**
 * Parse options for values read once (a config file, an address): zod would otherwise compile
 * a fast path for each object schema on first use, which costs far more than one parse.
 */
const ONCE = { jitless: true } as const;

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
 * import { configError, SERVER_SCHEMA } from "./schema.ts";
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
 * import { parseWith, SESSION_SCHEMA } from "./schema.ts";
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
function fail(ctx: z.RefinementCtx, message: string, hint?: string, path?: PropertyKey[]) {
  ctx.addIssue({ code: "custom", message, params: { hint }, ...(path ? { path } : {}) });
  return z.NEVER;
}

/** True for a plain object (a TOML table). */
export function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

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

// ---------------------------------------------------------------------------------------------
// Devices and driver options (config tables and address query parameters alike)

/** The zod schemas of a built-in driver's options, built once per driver (and sim kind). */
interface ZodOptions {
  /** The rules themselves. */
  spec: DriverOptions;
  /** The options a device table may add beside address/interval/timeout. */
  extra: z.ZodType<Record<string, unknown>, unknown>;
}

const zodOptions = new Map<DriverOptions, ZodOptions>();

/** {@linkcode driverOptions} with the zod schema of a device table's extra keys. */
function deviceOptions(address: Address): ZodOptions | undefined {
  const spec = driverOptions(address.scheme, address.target);
  if (!spec) return undefined;
  let z1 = zodOptions.get(spec);
  if (!z1) {
    // Built once per driver: building a zod schema costs more than using it.
    const shape = Object.entries(spec.rules).filter(([k]) => k !== "timeout")
      .map(([k, rule]) => [k, fromRule(rule).optional()]);
    z1 = { spec, extra: z.object(Object.fromEntries(shape)) };
    zodOptions.set(spec, z1);
  }
  return z1;
}

const DEVICE_KEYS = ["address", "interval", "timeout"];

const ADDRESS = z.unknown().transform((v, ctx): Address => {
  if (typeof v !== "string") {
    return fail(ctx, 'expected address = "scheme://…" (e.g. "baratron://10.0.0.5")');
  }
  if (!isAddress(v)) return fail(ctx, `"${v}" is not an address like baratron://HOST`);
  let address: Address;
  try {
    address = parseAddress(v);
  } catch (err) {
    if (err instanceof UsageError) return fail(ctx, err.message, err.hint);
    throw err;
  }
  const problem = targetProblem(address);
  if (problem) return fail(ctx, `${v}: ${problem}`);
  const p = optionsProblem(address);
  if (p) return fail(ctx, `${v}: ${p.message}`, p.hint);
  return address;
});

/** A validated `[devices.NAME]` table. */
export interface DeviceTable {
  /** The parsed address. */
  address: Address;
  /** Sampling interval, ms. */
  interval?: number;
  /** Per-call timeout, ms. */
  timeout?: number;
  /** Every other key, checked against the driver's options. */
  options: Record<string, unknown>;
}

/** One `[devices.NAME]` table: address, interval, timeout and the options its driver takes. */
export const DEVICE_SCHEMA: z.ZodType<DeviceTable, unknown> = z.preprocess(
  (v, ctx) => {
    if (!isTable(v)) {
      ctx.addIssue({ code: "custom", message: "expected a table with an address", input: v });
      return v;
    }
    // The keys a device takes depend on its driver, so typos are found once the address is known.
    const address = typeof v.address === "string" && isAddress(v.address)
      ? (() => {
        try {
          return parseAddress(v.address as string);
        } catch {
          return undefined;
        }
      })()
      : undefined;
    const spec = address ? driverOptions(address.scheme, address.target) : undefined;
    // Without an address the driver is unknown: only a key that looks like "address" is a typo.
    const mistyped = (k: string) => v.address === undefined && didYouMean(k, ["address"]) !== "";
    if (spec || v.address === undefined) {
      const known = [
        ...DEVICE_KEYS,
        ...Object.keys(spec?.rules ?? {}).filter((k) => k !== "timeout"),
      ];
      for (const k of Object.keys(v)) {
        if (!known.includes(k) && (spec || mistyped(k))) {
          ctx.addIssue({
            code: "custom",
            message: "unknown key",
            path: [k],
            input: v,
            params: {
              unknownKey: k,
              known,
              owner: spec ? `a ${spec.owner} device` : "a device",
            } satisfies UnknownKeyParams,
          });
        }
      }
    }
    return v;
  },
  z.looseObject({
    address: ADDRESS,
    interval: duration(INTERVAL_RULE).optional(),
    timeout: duration(TIMEOUT_RULE).optional(),
  }).transform((d, ctx): DeviceTable => {
    const { address, interval, timeout, ...options } = d;
    const zo = deviceOptions(address);
    if (zo) {
      const r = zo.extra.safeParse(options, ONCE);
      if (!r.success) {
        for (const issue of r.error.issues) {
          ctx.addIssue({ ...issue, path: issue.path } as z.core.$ZodRawIssue);
        }
        return z.NEVER;
      }
    }
    return { address, interval, timeout, options };
  }),
);

/** Device names: what a TOML bare key and a URL path segment both take. */
const DEVICE_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const DEVICES_SCHEMA = z.unknown().transform((v, ctx): Record<string, DeviceTable> => {
  if (!isTable(v)) return fail(ctx, "expected a table of [devices.NAME]");
  const out: Record<string, DeviceTable> = {};
  for (const [name, entry] of Object.entries(v)) {
    if (!DEVICE_NAME.test(name)) {
      return fail(ctx, "device names use letters, digits, _ and -", undefined, [name]);
    }
    const r = DEVICE_SCHEMA.safeParse(entry, ONCE);
    if (!r.success) {
      for (const issue of r.error.issues) {
        ctx.addIssue({ ...issue, path: [name, ...issue.path] } as z.core.$ZodRawIssue);
      }
      return z.NEVER;
    }
    out[name] = r.data;
  }
  return out;
});

// ---------------------------------------------------------------------------------------------
// [session], [server]

/** `[session]`: where recordings go. */
export const SESSION_SCHEMA = table(
  { path: text('expected a file path like "bench.session.sqlite"').optional() },
  "[session]",
  'expected a table: [session] path = "FILE"',
);

function isOrigin(origin: string): boolean {
  try {
    const u = new URL(origin);
    return (u.protocol === "http:" || u.protocol === "https:") &&
      u.origin === origin.replace(/\/$/, "");
  } catch {
    return false;
  }
}

/** `[server]`: the HTTP listener of `serve`. */
export const SERVER_SCHEMA = table(
  {
    listen: z.unknown().transform((v, ctx) => {
      if (typeof v !== "string") return fail(ctx, 'expected "HOST:PORT", e.g. "127.0.0.1:8600"');
      try {
        return parseListen(v);
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        return fail(ctx, err.message.replace(/^--listen: /, ""), err.hint);
      }
    }).optional(),
    token_file: text("expected the path of a file holding the token").optional(),
    cors: z.unknown().transform((v, ctx): string[] => {
      const list = typeof v === "string" ? [v] : v;
      if (!Array.isArray(list) || !list.every((o) => typeof o === "string")) {
        return fail(ctx, 'expected a list of origins like ["https://lab.example.org"]');
      }
      const bad = (list as string[]).find((o) => !isOrigin(o));
      if (bad !== undefined) {
        return fail(
          ctx,
          `"${bad}" is not an origin like "https://lab.example.org" (scheme and host, no path)`,
        );
      }
      return (list as string[]).map((o) => o.replace(/\/$/, ""));
    }).optional(),
    max_body: wholeNumber(
      1024,
      64 * 1024 * 1024,
      "expected a number of bytes from 1024 to 67108864",
    ).optional(),
    max_scan_points: wholeNumber(
      1,
      100_000_000,
      "expected a whole number of points from 1 to 100000000",
    ).optional(),
    max_task_duration: z.unknown().transform((v, ctx) => {
      try {
        return readDuration(v, { min: 1000, max: 366 * 86_400_000 });
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        return fail(
          ctx,
          `expected a duration with a unit from "1s" to "366d", e.g. "7d" or "12h": ${err.message}`,
        );
      }
    }).optional(),
  },
  "[server]",
);

// ---------------------------------------------------------------------------------------------
// [ca]

/** Who may write through the CA server regardless of `[ca] write_hosts`. */
export type CaWriteMode = "none" | "loopback" | "all";

/** The `[ca] write` modes, in the order help texts list them. */
export const WRITE_MODES: readonly CaWriteMode[] = ["none", "loopback", "all"];

/** Largest `[ca] max_array_bytes` (and EPICS_CA_MAX_ARRAY_BYTES) taken, bytes. */
export const MAX_ARRAY_BYTES_LIMIT = 256 * 1024 * 1024;

/** `[ca]`: the Channel Access server of `serve` (see `lib/server/ca/options.ts`). */
export const CA_SCHEMA = table(
  {
    enabled: bool().optional(),
    prefix: z.custom<string>((v) => typeof v === "string" && !/\s/.test(v), {
      error: 'expected a PV name prefix without spaces, e.g. "LAB:"',
    }).optional(),
    port: wholeNumber(0, 65535, "expected a port number 0–65535").optional(),
    interfaces: z.unknown().transform((v, ctx): string[] => {
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && x !== "")) {
        return fail(ctx, 'expected a list of addresses, e.g. ["127.0.0.1"]');
      }
      const bad = (v as string[]).find((a) => ipFromString(a) === undefined);
      if (bad !== undefined) {
        return fail(
          ctx,
          `expected IPv4 addresses of this host, e.g. ["127.0.0.1", "198.18.0.1"]; got "${bad}"`,
        );
      }
      return v as string[];
    }).optional(),
    write: oneOf(WRITE_MODES).optional(),
    write_hosts: z.unknown().transform((v, ctx): string[] => {
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
        return fail(
          ctx,
          'expected a list of addresses or CIDR blocks, e.g. ["198.18.0.2", "198.18.0.0/24"]',
        );
      }
      for (const h of v as string[]) {
        const r = parseHostRule(h);
        if (typeof r === "string") return fail(ctx, r);
      }
      return v as string[];
    }).optional(),
    max_array_bytes: z.unknown().transform((v, ctx): number => {
      if (
        typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_ARRAY_BYTES_LIMIT
      ) {
        return fail(ctx, `expected a number of bytes up to ${MAX_ARRAY_BYTES_LIMIT}, e.g. 16384`);
      }
      return v;
    }).optional(),
    beacon_addrs: stringList('expected a list of addresses, e.g. ["10.0.0.255"]').optional(),
    auto_beacon: bool().optional(),
    beacon_period: duration({ min: 1, max: 3_600_000 }).optional(),
  },
  "[ca]",
  "expected a [ca] table",
);

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

// ---------------------------------------------------------------------------------------------
// [instruments]

/** `[instruments]`: where the bench's own instrument definitions live. */
export const INSTRUMENTS_SCHEMA = table(
  {
    path: stringList('expected a folder or file, or a list of them: path = "instruments"')
      .refine((l) => l.length > 0, {
        error: 'expected a folder or file, or a list of them: path = "instruments"',
      }),
  },
  "[instruments]",
  'expected a table: [instruments] path = "DIR"',
);

// ---------------------------------------------------------------------------------------------
// The whole file

/** Every section of the file and its schema, in the order the README documents them. */
export const SECTIONS = {
  devices: DEVICES_SCHEMA,
  session: SESSION_SCHEMA,
  alarms: ALARMS_SCHEMA,
  notify: NOTIFY_SCHEMA,
  server: SERVER_SCHEMA,
  ca: CA_SCHEMA,
  instruments: INSTRUMENTS_SCHEMA,
} as const;

/** The schema of a whole `labwire.toml`. */
export const CONFIG_SCHEMA = z.preprocess(
  (v, ctx) => {
    if (!isTable(v)) return v;
    const known = Object.keys(SECTIONS);
    for (const k of Object.keys(v)) {
      if (!known.includes(k)) {
        ctx.addIssue({
          code: "custom",
          message: `unknown section; expected one of ${known.join(", ")}`,
          path: [k],
          input: v,
          params: { hint: didYouMean(k, known) },
        });
      }
    }
    return v;
  },
  z.object({
    devices: DEVICES_SCHEMA.optional(),
    session: SESSION_SCHEMA.optional(),
    alarms: ALARMS_SCHEMA.optional(),
    notify: NOTIFY_SCHEMA.optional(),
    server: SERVER_SCHEMA.optional(),
    ca: CA_SCHEMA.optional(),
    instruments: INSTRUMENTS_SCHEMA.optional(),
  }),
);
