/**
 * The `[notify]` section of `labwire.toml`: where alarm transitions go. Each sink receives the
 * events of at least `min_severity`; a failing sink is retried with backoff and never blocks
 * sampling (see {@linkcode Notifier}).
 *
 * ```toml
 * [notify.smtp]                 # the mail server used by email sinks and the digest
 * host = "smtp.example.org"
 * port = 587                    # default 25 (plain), 587 (starttls), 465 (tls)
 * security = "starttls"         # plain | starttls | tls (default starttls)
 * from = "labwire@example.org"
 * user = "labwire"              # optional: AUTH PLAIN or LOGIN (needs starttls or tls)
 * password_env = "LABWIRE_SMTP_PASSWORD"   # or password_file = "/etc/labwire/smtp-password"
 * ca_file = "/etc/labwire/ca.pem"          # optional CA for a server with a private certificate
 * timeout = "30s"               # per e-mail (default 30 s)
 *
 * [[notify.sinks]]
 * type = "email"
 * to = ["oncall@example.org"]
 * min_severity = "major"        # minor | major | invalid (default minor: everything)
 *
 * [[notify.sinks]]
 * type = "webhook"              # POST one JSON alarm event per request
 * url = "https://chat.example.org/hooks/lab"   # or url_env = "LAB_HOOK_URL" for a secret URL
 * headers = { "X-Lab" = "B12" }
 * headers_env = { "Authorization" = "LAB_HOOK_AUTH" }   # header values from the environment
 *
 * [[notify.sinks]]
 * type = "command"              # runs the program with one JSON alarm event on stdin
 * command = ["/usr/local/bin/page", "--lab", "B12"]
 * cleared = false               # only activations (default true: cleared events too)
 *
 * [notify.digest]               # optional periodic e-mail: last values and alarm history
 * every = "24h"
 * to = ["lab@example.org"]
 * ```
 *
 * Every sink also takes `name`, `timeout` (per delivery; default 30 s, or the SMTP server's
 * timeout for e-mail), `retries` (attempts
 * after the first, default 5) and `queue` (events kept while the sink is down, default 100;
 * the oldest are dropped beyond that). Relative `password_file` and `ca_file` paths are taken
 * from the config file's folder. Secrets (the SMTP password, a webhook's secret URL or
 * token) need never be in the config, which is copied into every session: only the name of the
 * variable or file is, and the secret is read when the notifier starts.
 *
 * @module
 */
import { ConfigError } from "../device/errors.ts";
import { didYouMean } from "../cli/suggest.ts";
import { durationKey, isTable, type LabConfig } from "../config/load.ts";
import { SEVERITIES, type Severity } from "./event.ts";

/** How the SMTP connection is protected. */
export type SmtpSecurity = "plain" | "starttls" | "tls";

/** Where the SMTP password comes from; the value itself is never stored in config objects. */
export type SecretSource = { env: string } | { file: string };

/** The mail server of `[notify.smtp]`. */
export interface SmtpConfig {
  /** Server host name or address. */
  host: string;
  /** Server port. */
  port: number;
  /** Connection security. */
  security: SmtpSecurity;
  /** Envelope and header sender. */
  from: string;
  /** User for AUTH, when the server needs it. */
  user?: string;
  /** Where the password is read from. */
  password?: SecretSource;
  /** PEM file with extra CA certificates to trust. */
  caFile?: string;
  /** Milliseconds one e-mail may take, connection included. */
  timeout: number;
}

/** Settings every sink has. */
export interface SinkCommon {
  /** Name used in logs (default `TYPE` or `TYPE#i` when several share a type). */
  name: string;
  /** Config key of the sink's table, e.g. `notify.sinks[1]`, for later error messages. */
  key: string;
  /** Least severity delivered. */
  minSeverity: Severity;
  /** Whether cleared transitions are delivered too. */
  cleared: boolean;
  /** Milliseconds one delivery attempt may take, when set (see {@linkcode DEFAULT_SINK_TIMEOUT}). */
  timeout?: number;
  /** Attempts after the first failed one. */
  retries: number;
  /** Events kept while the sink is failing. */
  queue: number;
}

/** A configured sink. */
export type SinkConfig =
  | SinkCommon & { type: "email"; to: string[] }
  | SinkCommon & {
    type: "webhook";
    /** The URL, unless it is read from the environment variable `urlEnv`. */
    url?: string;
    /** Name of the environment variable holding the URL. */
    urlEnv?: string;
    /** Literal headers. */
    headers: Record<string, string>;
    /** Header name → name of the environment variable holding its value. */
    headersEnv: Record<string, string>;
  }
  | SinkCommon & { type: "command"; command: string[] };

/** The periodic digest e-mail. */
export interface DigestConfig {
  /** Milliseconds between digests. */
  every: number;
  /** Recipients. */
  to: string[];
}

/** Everything `[notify]` configures. */
export interface NotifyConfig {
  /** The mail server, when configured. */
  smtp?: SmtpConfig;
  /** Sinks in file order. */
  sinks: SinkConfig[];
  /** The digest, when configured. */
  digest?: DigestConfig;
}

const NOTIFY_KEYS = ["smtp", "sinks", "digest"];
const SMTP_KEYS = [
  "host",
  "port",
  "security",
  "from",
  "user",
  "password_env",
  "password_file",
  "ca_file",
  "timeout",
];
/** Default time one delivery attempt may take, ms (e-mail: the `[notify.smtp]` timeout). */
export const DEFAULT_SINK_TIMEOUT = 30_000;

const COMMON_KEYS = ["type", "name", "min_severity", "cleared", "timeout", "retries", "queue"];
const TYPE_KEYS: Record<SinkConfig["type"], string[]> = {
  email: ["to"],
  webhook: ["url", "url_env", "headers", "headers_env"],
  command: ["command"],
};
const SINK_TYPES = Object.keys(TYPE_KEYS) as SinkConfig["type"][];
const DEFAULT_PORT: Record<SmtpSecurity, number> = { plain: 25, starttls: 587, tls: 465 };
/** setTimeout's ceiling: a digest period beyond it would fire at once. */
const MAX_DIGEST_MS = 2 ** 31 - 1;

/**
 * Validates `config.sections.notify`; an absent section gives no sinks.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../config/load.ts";
 * import { parseNotify } from "./notify_config.ts";
 * const config = parseConfig(`
 * [[notify.sinks]]
 * type = "webhook"
 * url = "http://127.0.0.1:8080/alarm"
 * min_severity = "major"
 * `);
 * parseNotify(config).sinks[0]?.minSeverity; // "major"
 * ```
 */
export function parseNotify(config: LabConfig): NotifyConfig {
  const file = config.file;
  const raw = config.sections.notify;
  if (raw === undefined) return { sinks: [] };
  if (!isTable(raw)) throw new ConfigError("expected a [notify] table", file, "notify");
  rejectUnknown(raw, NOTIFY_KEYS, file, "notify");
  const out: NotifyConfig = { sinks: [] };
  if (raw.smtp !== undefined) out.smtp = parseSmtp(raw.smtp, file);
  const sinks = raw.sinks ?? [];
  if (!Array.isArray(sinks)) {
    throw new ConfigError("expected [[notify.sinks]] tables, one per sink", file, "notify.sinks");
  }
  sinks.forEach((s, i) => out.sinks.push(parseSink(s, `notify.sinks[${i}]`, file, out.smtp)));
  const counts = new Map<string, number>();
  for (const s of out.sinks) counts.set(s.type, (counts.get(s.type) ?? 0) + 1);
  out.sinks.forEach((s, i) => {
    if (s.name === "") s.name = counts.get(s.type)! > 1 ? `${s.type}#${i}` : s.type;
  });
  if (raw.digest !== undefined) {
    const d = raw.digest;
    if (!isTable(d)) {
      throw new ConfigError("expected a [notify.digest] table", file, "notify.digest");
    }
    rejectUnknown(d, ["every", "to"], file, "notify.digest");
    if (!out.smtp) {
      throw new ConfigError(
        "the digest is an e-mail: configure [notify.smtp] too",
        file,
        "notify.digest",
      );
    }
    if (d.every === undefined) {
      throw new ConfigError('expected every = "24h"', file, "notify.digest.every");
    }
    const every = durationKey(d.every, file, "notify.digest.every");
    if (every < 1000 || every > MAX_DIGEST_MS) {
      throw new ConfigError("expected a period between 1s and 24d", file, "notify.digest.every");
    }
    out.digest = { every, to: addressList(d.to, file, "notify.digest.to") };
  }
  return out;
}

function parseSmtp(raw: unknown, file: string | undefined): SmtpConfig {
  const key = "notify.smtp";
  if (!isTable(raw)) throw new ConfigError("expected a [notify.smtp] table", file, key);
  rejectUnknown(raw, SMTP_KEYS, file, key);
  const host = raw.host;
  if (typeof host !== "string" || host === "" || /[\s/]/.test(host)) {
    throw new ConfigError('expected host = "smtp.example.org"', file, `${key}.host`);
  }
  const security = raw.security ?? "starttls";
  if (security !== "plain" && security !== "starttls" && security !== "tls") {
    throw new ConfigError('expected "plain", "starttls" or "tls"', file, `${key}.security`);
  }
  const port = raw.port ?? DEFAULT_PORT[security];
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError("expected a port number 1–65535", file, `${key}.port`);
  }
  const smtp: SmtpConfig = {
    host,
    port,
    security,
    from: address(raw.from, file, `${key}.from`),
    timeout: raw.timeout === undefined ? 30_000 : durationKey(raw.timeout, file, `${key}.timeout`),
  };
  if (raw.user !== undefined) {
    if (typeof raw.user !== "string" || raw.user === "") {
      throw new ConfigError("expected a user name", file, `${key}.user`);
    }
    smtp.user = raw.user;
    if (security === "plain") {
      throw new ConfigError(
        'AUTH over a plain connection would send the password in clear; use security = "starttls" or "tls"',
        file,
        `${key}.security`,
      );
    }
    if ((raw.password_env === undefined) === (raw.password_file === undefined)) {
      throw new ConfigError(
        "expected one of password_env (an environment variable name) or password_file (a path)",
        file,
        `${key}.password_env`,
      );
    }
    if (raw.password_env !== undefined) {
      smtp.password = { env: envName(raw.password_env, file, `${key}.password_env`) };
    } else {
      if (typeof raw.password_file !== "string" || raw.password_file === "") {
        throw new ConfigError("expected a file path", file, `${key}.password_file`);
      }
      smtp.password = { file: raw.password_file };
    }
  } else if (raw.password_env !== undefined || raw.password_file !== undefined) {
    throw new ConfigError('a password needs a user = "…" too', file, `${key}.user`);
  }
  if (raw.ca_file !== undefined) {
    if (typeof raw.ca_file !== "string" || raw.ca_file === "") {
      throw new ConfigError("expected a PEM file path", file, `${key}.ca_file`);
    }
    smtp.caFile = raw.ca_file;
  }
  return smtp;
}

function parseSink(
  raw: unknown,
  key: string,
  file: string | undefined,
  smtp: SmtpConfig | undefined,
): SinkConfig {
  if (!isTable(raw)) throw new ConfigError("expected a table", file, key);
  const type = raw.type;
  if (typeof type !== "string" || !(SINK_TYPES as string[]).includes(type)) {
    const hint = typeof type === "string" ? didYouMean(type, SINK_TYPES) : "";
    throw new ConfigError(
      `expected type = one of ${SINK_TYPES.map((t) => `"${t}"`).join(", ")}${
        hint ? ` (${hint})` : ""
      }`,
      file,
      `${key}.type`,
    );
  }
  const t = type as SinkConfig["type"];
  rejectUnknown(raw, [...COMMON_KEYS, ...TYPE_KEYS[t]], file, key);
  const common: SinkCommon = {
    name: "",
    key,
    minSeverity: "minor",
    cleared: true,
    retries: 5,
    queue: 100,
  };
  if (raw.name !== undefined) {
    if (typeof raw.name !== "string" || raw.name === "") {
      throw new ConfigError("expected a non-empty string", file, `${key}.name`);
    }
    common.name = raw.name;
  }
  if (raw.min_severity !== undefined) {
    const s = raw.min_severity;
    if (typeof s !== "string" || !(SEVERITIES as readonly string[]).includes(s)) {
      const hint = typeof s === "string" ? didYouMean(s, SEVERITIES) : "";
      throw new ConfigError(
        `expected one of ${SEVERITIES.map((x) => `"${x}"`).join(", ")}${hint ? ` (${hint})` : ""}`,
        file,
        `${key}.min_severity`,
      );
    }
    common.minSeverity = s as Severity;
  }
  if (raw.cleared !== undefined) {
    if (typeof raw.cleared !== "boolean") {
      throw new ConfigError("expected true or false", file, `${key}.cleared`);
    }
    common.cleared = raw.cleared;
  }
  if (raw.timeout !== undefined) common.timeout = durationKey(raw.timeout, file, `${key}.timeout`);
  if (raw.retries !== undefined) {
    common.retries = count(raw.retries, 0, 100, file, `${key}.retries`);
  }
  if (raw.queue !== undefined) common.queue = count(raw.queue, 1, 100_000, file, `${key}.queue`);
  switch (t) {
    case "email":
      if (!smtp) {
        throw new ConfigError("an email sink needs a [notify.smtp] server", file, `${key}.type`);
      }
      return { ...common, type: t, to: addressList(raw.to, file, `${key}.to`) };
    case "webhook": {
      const url = raw.url;
      if ((url === undefined) === (raw.url_env === undefined)) {
        throw new ConfigError(
          'expected one of url = "https://host/path" or url_env = "VARIABLE" (a secret URL)',
          file,
          `${key}.url`,
        );
      }
      if (url !== undefined) {
        let ok = false;
        try {
          ok = typeof url === "string" && ["http:", "https:"].includes(new URL(url).protocol);
        } catch {
          ok = false;
        }
        if (!ok) {
          throw new ConfigError('expected url = "https://host/path"', file, `${key}.url`);
        }
      }
      const urlEnv = raw.url_env === undefined
        ? undefined
        : envName(raw.url_env, file, `${key}.url_env`);
      const headersEnv: Record<string, string> = {};
      if (raw.headers_env !== undefined) {
        if (!isTable(raw.headers_env)) {
          throw new ConfigError(
            'expected headers_env = { "Header-Name" = "VARIABLE" }',
            file,
            `${key}.headers_env`,
          );
        }
        for (const [k, v] of Object.entries(raw.headers_env)) {
          headersEnv[k] = envName(v, file, `${key}.headers_env.${k}`);
        }
      }
      const headers: Record<string, string> = {};
      if (raw.headers !== undefined) {
        if (!isTable(raw.headers)) {
          throw new ConfigError('expected headers = { "Name" = "value" }', file, `${key}.headers`);
        }
        for (const [k, v] of Object.entries(raw.headers)) {
          if (typeof v !== "string" || /[\r\n]/.test(v)) {
            throw new ConfigError("expected a one-line string", file, `${key}.headers.${k}`);
          }
          headers[k] = v;
        }
      }
      return {
        ...common,
        type: t,
        ...(url === undefined ? {} : { url: url as string }),
        ...(urlEnv === undefined ? {} : { urlEnv }),
        headers,
        headersEnv,
      };
    }
    case "command": {
      const cmd = raw.command;
      if (
        !Array.isArray(cmd) || cmd.length === 0 ||
        !cmd.every((x): x is string => typeof x === "string") || cmd[0] === ""
      ) {
        throw new ConfigError(
          'expected command = ["program", "arg", …] (run directly, no shell)',
          file,
          `${key}.command`,
        );
      }
      return { ...common, type: t, command: cmd };
    }
  }
}

function rejectUnknown(
  table: Record<string, unknown>,
  allowed: string[],
  file: string | undefined,
  key: string,
): void {
  for (const k of Object.keys(table)) {
    if (!allowed.includes(k)) {
      const hint = didYouMean(k, allowed);
      throw new ConfigError(
        `unknown key; expected one of ${allowed.join(", ")}${hint ? ` (${hint})` : ""}`,
        file,
        `${key}.${k}`,
      );
    }
  }
}

function envName(v: unknown, file: string | undefined, key: string): string {
  if (typeof v !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) {
    throw new ConfigError(
      "expected the NAME of an environment variable, not the secret itself",
      file,
      key,
    );
  }
  return v;
}

function count(v: unknown, min: number, max: number, file: string | undefined, key: string) {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`expected a whole number ${min}–${max}`, file, key);
  }
  return v;
}

const ADDRESS = /^[^\s<>@",;]+@[^\s<>@",;]+$/;

function address(v: unknown, file: string | undefined, key: string): string {
  if (typeof v !== "string" || !ADDRESS.test(v)) {
    throw new ConfigError('expected an e-mail address like "lab@example.org"', file, key);
  }
  return v;
}

function addressList(v: unknown, file: string | undefined, key: string): string[] {
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError('expected to = ["someone@example.org", …]', file, key);
  }
  return list.map((a, i) => address(a, file, `${key}[${i}]`));
}
