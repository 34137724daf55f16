/**
 * The one schema of `labwire.toml`, with one error formatter (`./problem.ts`): this module has
 * `[session]`, `[server]`, `[ca]`, `[mqtt]`, `[instruments]` and the whole file; `./devices_schema.ts` the
 * device tables (wrapping each driver's options, declared zod-free with `./options.ts` so that
 * a driver checks its address without loading zod); `./alarms_schema.ts` `[[alarms]]` and
 * `[notify]`; `./fields.ts` the field schemas they are built of. The modules that own a section
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
import { ALARMS_SCHEMA, NOTIFY_SCHEMA } from "./alarms_schema.ts";
import { DEVICES_SCHEMA } from "./devices_schema.ts";
import { DERIVED_SCHEMA } from "./derived_schema.ts";
import {
  bool,
  duration,
  fail,
  isTable,
  oneOf,
  stringList,
  table,
  text,
  wholeNumber,
} from "./fields.ts";
import { UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import { readDuration } from "./duration.ts";
import { formatKeyPath, type KeyPath, type Problem } from "./problem.ts";
import { parseListen } from "../device/host_port.ts";
import { ipFromString, parseHostRule } from "../device/ipv4.ts";

export { formatKeyPath, type KeyPath, type Problem };
// ---------------------------------------------------------------------------------------------
// [session], [server]

/** `[session]`: where recordings go. */
export const SESSION_SCHEMA = table(
  {
    path: text('expected a file path like "bench.session.sqlite"').optional(),
    parameters: z.unknown().transform((v, ctx): Record<string, string | number | boolean> => {
      if (!isTable(v)) {
        return fail(ctx, 'expected a table: [session.parameters] sample = "Cu-12", flow_sccm = 20');
      }
      for (const [k, x] of Object.entries(v)) {
        if (
          typeof x !== "string" && typeof x !== "boolean" &&
          !(typeof x === "number" && Number.isFinite(x))
        ) {
          return fail(ctx, "expected a number, a string or true/false", undefined, [k]);
        }
      }
      return v as Record<string, string | number | boolean>;
    }).optional(),
  },
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
    tls_cert: text("expected the path of a PEM certificate (chain) file").optional(),
    tls_key: text("expected the path of a PEM private key file").optional(),
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
// [mqtt]

/** Most messages `[mqtt] buffer` may keep while the broker is away. */
export const MAX_MQTT_BUFFER = 1_000_000;

/** `[mqtt]`: what `serve` publishes to an MQTT broker (see `lib/server/mqtt/options.ts`). */
export const MQTT_SCHEMA = table(
  {
    enabled: bool().optional(),
    url: z.custom<string>((v) => typeof v === "string" && /^mqtts?:\/\/[^/\s]+\/?$/.test(v), {
      error: 'expected a broker URL like "mqtt://broker.lab:1883" or "mqtts://broker.lab:8883"',
    }).optional(),
    client_id: z.custom<string>(
      (v) => typeof v === "string" && v.length >= 1 && v.length <= 128 && !/\s/.test(v),
      { error: "expected a client id of 1–128 characters without spaces" },
    ).optional(),
    prefix: z.custom<string>(
      (v) =>
        typeof v === "string" && v !== "" && !/[#+\s]/.test(v) && !v.startsWith("/") &&
        !v.endsWith("/") && !v.startsWith("$"),
      {
        error:
          'expected a topic prefix like "labwire" or "lab/pc1" (no #, +, spaces, or / at either end)',
      },
    ).optional(),
    username: text("expected the broker username").optional(),
    password_file: text("expected the path of a file holding the broker password").optional(),
    ca_file: text(
      "expected the path of a PEM file with the CA that signed the broker's certificate",
    )
      .optional(),
    qos: z.custom<0 | 1>((v) => v === 0 || v === 1, {
      error: "expected 0 (at most once) or 1 (at least once)",
    }).optional(),
    retain: bool().optional(),
    writes: bool().optional(),
    buffer: wholeNumber(
      1,
      MAX_MQTT_BUFFER,
      `expected a number of messages from 1 to ${MAX_MQTT_BUFFER}`,
    )
      .optional(),
  },
  "[mqtt]",
  'expected a table: [mqtt] url = "mqtt://HOST"',
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

/** `[positions]`: groups of attributes saved and restored together (`labwire position save NAME GROUP`). */
export const POSITIONS_SCHEMA = z.unknown().transform((v, ctx): Record<string, string[]> => {
  if (!isTable(v)) return fail(ctx, 'expected a table: [positions] stage = ["stage.x", "stage.y"]');
  for (const [k, list] of Object.entries(v)) {
    if (
      !Array.isArray(list) || list.length === 0 ||
      !list.every((r) => typeof r === "string" && /^[^.\s]+\.[^\s]+$/.test(r))
    ) {
      return fail(ctx, 'expected a list of device.attr like ["stage.x", "stage.y"]', undefined, [
        k,
      ]);
    }
  }
  return v as Record<string, string[]>;
});

/** Every section of the file and its schema, in the order the README documents them. */
export const SECTIONS = {
  devices: DEVICES_SCHEMA,
  derived: DERIVED_SCHEMA,
  positions: POSITIONS_SCHEMA,
  session: SESSION_SCHEMA,
  alarms: ALARMS_SCHEMA,
  notify: NOTIFY_SCHEMA,
  server: SERVER_SCHEMA,
  ca: CA_SCHEMA,
  mqtt: MQTT_SCHEMA,
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
    derived: DERIVED_SCHEMA.optional(),
    positions: POSITIONS_SCHEMA.optional(),
    session: SESSION_SCHEMA.optional(),
    alarms: ALARMS_SCHEMA.optional(),
    notify: NOTIFY_SCHEMA.optional(),
    server: SERVER_SCHEMA.optional(),
    ca: CA_SCHEMA.optional(),
    mqtt: MQTT_SCHEMA.optional(),
    instruments: INSTRUMENTS_SCHEMA.optional(),
  }),
);
