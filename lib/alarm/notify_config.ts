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
import type { z } from "zod";
import { ConfigError } from "../device/errors.ts";
import type { LabConfig } from "../config/load.ts";
import { NOTIFY_SCHEMA, type SMTP_SCHEMA } from "../config/alarms_schema.ts";
import { parseWith } from "../config/fields.ts";
import type { Severity } from "./event.ts";

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

/** Default time one delivery attempt may take, ms (e-mail: the `[notify.smtp]` timeout). */
export const DEFAULT_SINK_TIMEOUT = 30_000;

const DEFAULT_PORT: Record<SmtpSecurity, number> = { plain: 25, starttls: 587, tls: 465 };

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
  // Keys, types, ranges and durations: the schema. What follows needs several keys at once.
  const n = parseWith(NOTIFY_SCHEMA, raw, file, ["notify"]);
  const out: NotifyConfig = { sinks: [] };
  if (n.smtp !== undefined) out.smtp = smtpConfig(n.smtp, file);
  (n.sinks ?? []).forEach((s, i) =>
    out.sinks.push(sinkConfig(s, `notify.sinks[${i}]`, file, out.smtp))
  );
  const counts = new Map<string, number>();
  for (const s of out.sinks) counts.set(s.type, (counts.get(s.type) ?? 0) + 1);
  out.sinks.forEach((s, i) => {
    if (s.name === "") s.name = counts.get(s.type)! > 1 ? `${s.type}#${i}` : s.type;
  });
  if (n.digest !== undefined) {
    if (!out.smtp) {
      throw new ConfigError(
        "the digest is an e-mail: configure [notify.smtp] too",
        file,
        "notify.digest",
      );
    }
    out.digest = { every: n.digest.every, to: n.digest.to };
  }
  return out;
}

function smtpConfig(
  raw: z.output<typeof SMTP_SCHEMA>,
  file: string | undefined,
): SmtpConfig {
  const key = "notify.smtp";
  const security = raw.security ?? "starttls";
  const smtp: SmtpConfig = {
    host: raw.host,
    port: raw.port ?? DEFAULT_PORT[security],
    security,
    from: raw.from,
    timeout: raw.timeout ?? 30_000,
  };
  if (raw.user !== undefined) {
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
    smtp.password = raw.password_env !== undefined
      ? { env: raw.password_env }
      : { file: raw.password_file! };
  } else if (raw.password_env !== undefined || raw.password_file !== undefined) {
    throw new ConfigError('a password needs a user = "…" too', file, `${key}.user`);
  }
  if (raw.ca_file !== undefined) smtp.caFile = raw.ca_file;
  return smtp;
}

function sinkConfig(
  raw: Record<string, unknown>,
  key: string,
  file: string | undefined,
  smtp: SmtpConfig | undefined,
): SinkConfig {
  const t = raw.type as SinkConfig["type"];
  const common: SinkCommon = {
    name: (raw.name as string | undefined) ?? "",
    key,
    minSeverity: (raw.min_severity as Severity | undefined) ?? "minor",
    cleared: (raw.cleared as boolean | undefined) ?? true,
    retries: (raw.retries as number | undefined) ?? 5,
    queue: (raw.queue as number | undefined) ?? 100,
  };
  if (raw.timeout !== undefined) common.timeout = raw.timeout as number;
  switch (t) {
    case "email":
      if (!smtp) {
        throw new ConfigError("an email sink needs a [notify.smtp] server", file, `${key}.type`);
      }
      return { ...common, type: t, to: raw.to as string[] };
    case "webhook": {
      const url = raw.url as string | undefined;
      const urlEnv = raw.url_env as string | undefined;
      if ((url === undefined) === (urlEnv === undefined)) {
        throw new ConfigError(
          'expected one of url = "https://host/path" or url_env = "VARIABLE" (a secret URL)',
          file,
          `${key}.url`,
        );
      }
      return {
        ...common,
        type: t,
        ...(url === undefined ? {} : { url }),
        ...(urlEnv === undefined ? {} : { urlEnv }),
        headers: { ...(raw.headers as Record<string, string> | undefined) },
        headersEnv: { ...(raw.headers_env as Record<string, string> | undefined) },
      };
    }
    case "command":
      return { ...common, type: t, command: raw.command as string[] };
  }
}
