/**
 * `labwire serve [CONFIG]`: the instrument server daemon. Flags → {@linkcode startDaemon}; the
 * HTTP API, dashboard, SSE, metrics and recording live in `lib/server/` and `lib/session/`.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import { dirname, isAbsolute, resolve } from "node:path";
import {
  boolFlag,
  durationFlag,
  type FlagSpecs,
  type ParsedFlags,
  parseFlags,
  stringFlag,
} from "../lib/cli/flags.ts";
import { listenForInterrupts } from "../lib/cli/interrupt.ts";
import { INTERVAL_RULE } from "../lib/config/duration.ts";
import { isTable, type LabConfig } from "../lib/config/load.ts";
import { loadConfig } from "../lib/config/file.ts";
import { registerAllFamilies } from "../lib/drivers/families.ts";
import { ConfigError, errorMessage, UsageError } from "../lib/device/errors.ts";
import type { ReloadResult } from "../lib/server/device_admin.ts";
import type { Logger } from "../lib/server/log.ts";
import { loadLabConfig } from "../lib/lab/setup.ts";
import { sessionPath } from "../lib/session/path.ts";
import { serveAddons } from "../lib/server/addon.ts";
// Registers the `--ca` add-on (the EPICS Channel Access server) with serve.
import "../lib/server/ca/addon.ts";
// Registers the `--mqtt` add-on (the MQTT publisher) with serve.
import "../lib/server/mqtt/addon.ts";
import { loadToken } from "../lib/server/auth.ts";
import { parseServerConfig } from "../lib/server/config.ts";
import { startDaemon } from "../lib/server/daemon.ts";
import { DEFAULT_SERVE_LISTEN } from "../lib/server/listen.ts";
import { type ListenAddress, parseListen } from "../lib/device/host_port.ts";
import { stderrLogger } from "../lib/server/log.ts";
import { loadTls, type TlsFiles } from "../lib/server/tls.ts";
import { HIDDEN_FROM_SERVICE, hiddenFromService, systemdUnit } from "../lib/server/systemd.ts";

const FLAGS: FlagSpecs = {
  listen: { type: "string", short: "l" },
  "token-file": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  session: { type: "string" },
  interval: { type: "string", short: "i" },
  "no-record": { type: "boolean" },
  "print-systemd-unit": { type: "boolean" },
};

const HELP = `labwire serve [CONFIG] — the instrument server: HTTP API, live dashboard, metrics

Usage: labwire serve [CONFIG] [--listen HOST:PORT] [--token-file FILE] [--session FILE]
       labwire serve --demo
       labwire serve --print-systemd-unit [CONFIG] [flags of the service]

Serves every device of the config over HTTP while recording the bench into a session
(the same engine as "labwire monitor"). Open the printed URL for the dashboard.

  GET  /api/devices                      devices, state, last reading age
  GET  /api/devices/NAME                 attrs (units, rw, limits), last reading
  GET  /api/devices/NAME/read?attrs=a,b  a fresh reading
  PUT  /api/devices/NAME/attrs/ATTR      {"value": …} validated write, answers the read-back
  POST /api/devices/NAME/tasks           {"technique", "params", "sampling_interval", "max_duration"}
                                         (queued per device; see labwire task --help)
  GET  /api/tasks, GET|DELETE /api/tasks/ID, GET /api/tasks/ID/data?since=N
  POST /api/devices, DELETE /api/devices/NAME   devices at run time ({"name", "address", "options"})
  GET  /api/stream?devices=a,b           Server-Sent Events (Last-Event-ID resumes)
  GET  /api/samples?device=&attr=&from=&to=&max_points=   recorded data, min/max-downsampled
  GET  /api/alarms, /healthz, /metrics (Prometheus), /api/openapi.json

Flags:
  -l, --listen HOST:PORT   where to listen (default ${DEFAULT_SERVE_LISTEN}; [server] listen)
      --token-file FILE    bearer token for PUT/POST/DELETE (or $LABWIRE_TOKEN); required
                           when listening beyond loopback
      --tls-cert FILE      serve HTTPS with this PEM certificate (chain) ([server] tls_cert);
      --tls-key FILE       and its PEM private key ([server] tls_key). Beyond loopback
                           without TLS, serve warns: the token would cross in clear text
      --session FILE       session file (default: beside the config, [session] path)
  -i, --interval DURATION  sample every device at this interval (default: per device)
      --no-record          serve live data without recording a session (alarms and
                           notifications stay on)
      --print-systemd-unit print a hardened systemd unit that runs this same command
                           (every flag given is kept; the config's [server] listen and
                           [session] path are left to the config) and exit
  -c, --config FILE        config file (default ./labwire.toml or $LABWIRE_CONFIG)
      --demo               serve the built-in simulated bench
ADDONS
Stopping: SIGTERM or Ctrl-C stops accepting, ends event streams, puts devices in their
safe_state, flushes the session and exits 0 within 5 s. SIGHUP (systemctl reload) re-reads
the config and applies its added, removed and changed devices without a restart.
Logs go to stderr (with <N> priorities under systemd).
A failing session (disk full) never stops serving: /healthz says "degraded" (still 200),
/metrics counts labwire_session_write_errors_total, and recording resumes by itself.

Examples:
  labwire serve --demo
  labwire serve bench.toml --listen 0.0.0.0:8600 --token-file /etc/labwire/token \\
    --tls-cert /etc/labwire/cert.pem --tls-key /etc/labwire/key.pem
  curl -s localhost:8600/api/devices | jq '.devices[].name'
  labwire serve --print-systemd-unit --config /etc/labwire/labwire.toml \\
    | sudo tee /etc/systemd/system/labwire.service
`;

function help(): string {
  const addons = serveAddons().map((a) => a.help.replace(/\n?$/, "\n")).join("");
  return HELP.replace("ADDONS\n", addons);
}

/** `serve`'s flags, its add-ons' included. */
function serveFlags(): FlagSpecs {
  const addonFlags = Object.assign({}, ...serveAddons().map((a) => a.flags)) as FlagSpecs;
  return { ...FLAGS, ...addonFlags };
}

/** What `serve`'s command line says (pure: no file is read). */
export interface ServeOptions {
  /** CONFIG, from `--config` or the positional argument, as given. */
  config?: string;
  /** `--demo`. */
  demo: boolean;
  /** `--listen`, as given (validated). */
  listen?: string;
  /** `--token-file`. */
  tokenFile?: string;
  /** `--tls-cert`. */
  tlsCert?: string;
  /** `--tls-key`. */
  tlsKey?: string;
  /** `--session`. */
  session?: string;
  /** `--interval` in ms. */
  interval?: number;
  /** `--no-record`. */
  noRecord: boolean;
  /** `--print-systemd-unit`. */
  printUnit: boolean;
  /** Every parsed flag (add-ons read theirs from here). */
  flags: ParsedFlags;
}

/**
 * Parses `serve`'s arguments; every value is checked here, so a mistake is a usage error
 * (exit 2) before any file is read.
 *
 * @example
 * ```ts
 * import { parseServeArgs } from "./serve.ts";
 * parseServeArgs(["bench.toml", "--interval", "500ms"]).interval; // 500
 * ```
 */
export function parseServeArgs(args: string[]): ServeOptions {
  const flags = parseFlags(args, serveFlags(), "serve");
  if (flags.positionals.length > 1) {
    throw new UsageError(
      `one CONFIG file at most, got ${flags.positionals.length}: ${flags.positionals.join(" ")}`,
      "see: labwire serve --help",
    );
  }
  const flagConfig = stringFlag(flags, "config");
  if (flags.positionals[0] !== undefined && flagConfig !== undefined) {
    throw new UsageError("give the config either as CONFIG or as --config, not both");
  }
  const listen = stringFlag(flags, "listen");
  if (listen !== undefined) parseListen(listen);
  return {
    config: flagConfig ?? flags.positionals[0],
    demo: boolFlag(flags, "demo"),
    listen,
    tokenFile: stringFlag(flags, "token-file"),
    tlsCert: stringFlag(flags, "tls-cert"),
    tlsKey: stringFlag(flags, "tls-key"),
    session: stringFlag(flags, "session"),
    interval: durationFlag(flags, "interval", INTERVAL_RULE),
    noRecord: boolFlag(flags, "no-record"),
    printUnit: boolFlag(flags, "print-systemd-unit"),
    flags,
  };
}

/** The settings a `serve` process runs with, once its config is read. */
export interface EffectiveServe {
  /** The config file (absolute), or the demo bench. */
  config: string;
  /** Where HTTP listens. */
  listen: ListenAddress;
  /** The token file, when one is needed. */
  tokenFile?: string;
  /** The TLS certificate and key files (flags over `[server]`). */
  tls: TlsFiles;
  /** The session file, or false under `--no-record`. */
  session: string | false;
  /** The sampling interval override, ms. */
  interval?: number;
  /** Each wanted add-on's flags (e.g. `--ca`, `--ca-prefix`), by add-on name. */
  addons: Record<string, Record<string, unknown>>;
}

/**
 * Resolves what `serve` will run with: flags over the config's `[server]` and `[session]`,
 * defaults last. `runServe` starts exactly this, and the systemd unit must reproduce it.
 */
export function effectiveServe(opts: ServeOptions, config: LabConfig): EffectiveServe {
  const server = parseServerConfig(config.sections.server, config.file);
  const addons: Record<string, Record<string, unknown>> = {};
  for (const a of serveAddons()) {
    if (!a.wanted(opts.flags, config)) continue;
    addons[a.name] = Object.fromEntries(
      Object.keys(a.flags).map((k) => [k, opts.flags.values[k]]).filter(([, v]) => v !== undefined),
    );
  }
  return {
    config: opts.demo || config.file === undefined ? "<demo bench>" : resolve(config.file),
    listen: opts.listen !== undefined
      ? parseListen(opts.listen)
      : server.listen ?? parseListen(DEFAULT_SERVE_LISTEN),
    tokenFile: opts.tokenFile ?? server.tokenFile,
    tls: {
      cert: maybeResolve(opts.tlsCert ?? server.tlsCert),
      key: maybeResolve(opts.tlsKey ?? server.tlsKey),
    },
    session: opts.noRecord ? false : resolve(sessionPath(config, opts.session, opts.demo)),
    interval: opts.interval,
    addons,
  };
}

function maybeResolve(path: string | undefined): string | undefined {
  return path === undefined ? undefined : resolve(path);
}

/** Flags the unit writes itself (paths made absolute, the token as a credential) or drops. */
const UNIT_HANDLED = new Set([
  "help",
  "print-systemd-unit",
  "config",
  "listen",
  "session",
  "token-file",
  "tls-cert",
  "tls-key",
]);

/**
 * The systemd unit of the command that printed it: the config and `--session` made absolute,
 * `--token-file` handed over as a credential, every other flag given passed on as written, and
 * nothing added that would override the config's `[server] listen` or `[session] path`. Each
 * file or folder the hardened service could not see (under `HIDDEN_FROM_SERVICE`) is told to
 * `warn`, since the unit would fail only when the service starts.
 */
export async function serviceUnit(
  opts: ServeOptions,
  exec: string,
  warn: (message: string) => void = () => {},
): Promise<string> {
  const abs = (p: string) => isAbsolute(p) ? p : resolve(p);
  const configFile = opts.config === undefined
    ? "/etc/labwire/labwire.toml"
    : await Deno.realPath(opts.config).catch(() => abs(opts.config!));
  // The config is validated now (exit 2 on a mistake), not when the service first starts.
  const config = await loadConfig(configFile, registerAllFamilies).catch((err) => {
    if (err instanceof ConfigError && /file not found/.test(err.message)) return undefined;
    throw err;
  });
  const session = opts.session === undefined ? undefined : abs(opts.session);
  const server = config ? parseServerConfig(config.sections.server, config.file) : undefined;
  const tokenFile = opts.tokenFile ?? server?.tokenFile;
  const sessionInConfig = config !== undefined && !opts.noRecord && opts.session === undefined &&
    isTable(config.sections.session) && config.sections.session.path !== undefined;
  const recordsAt = opts.noRecord
    ? undefined
    : session ?? (sessionInConfig ? sessionPath(config!) : undefined);
  const args: string[] = [];
  const tls: string[] = [];
  // The unit runs in its own folder, so certificate paths given as flags are made absolute.
  // Those the config's [server] names (relative to the config file, so already where the service
  // looks) go into no argument, but the service must be able to see them all the same.
  const certs = [["tls-cert", server?.tlsCert], ["tls-key", server?.tlsKey]] as const;
  for (const [name, fromConfig] of certs) {
    const v = stringFlag(opts.flags, name);
    const path = v ?? fromConfig;
    if (path !== undefined) tls.push(abs(path));
    if (v !== undefined) args.push(`--${name}=${abs(v)}`);
  }
  for (const [name, spec] of Object.entries(serveFlags())) {
    const v = opts.flags.values[name];
    if (UNIT_HANDLED.has(name) || v === undefined || v === false) continue;
    if (spec.type === "boolean") args.push(`--${name}`);
    else for (const x of Array.isArray(v) ? v : [v]) args.push(`--${name}=${x}`);
  }
  const readWritePaths = recordsAt && !recordsAt.startsWith("/var/lib/labwire/")
    ? [dirname(recordsAt)]
    : [];
  for (const p of hiddenFromService([configFile, ...readWritePaths, ...tls])) {
    warn(
      `the service cannot see ${p}: the unit's ProtectHome=yes and PrivateTmp=yes hide ` +
        `${HIDDEN_FROM_SERVICE.join(", ")}; move it (e.g. to /etc/labwire or /var/lib/labwire) ` +
        `and print the unit again`,
    );
  }
  return systemdUnit({
    exec,
    config: configFile,
    listen: opts.listen,
    session,
    // Under --no-record no session is opened, so none needs a place.
    sessionInConfig: sessionInConfig || opts.noRecord,
    // The dynamic user may not read the token where it lies: systemd hands it over.
    tokenFile: tokenFile === undefined ? undefined : abs(tokenFile),
    args,
    readWritePaths,
  });
}

/** Runs `serve` with its arguments; resolves to the exit code once stopped. */
export async function runServe(args: string[]): Promise<number> {
  const opts = parseServeArgs(args);
  if (boolFlag(opts.flags, "help")) {
    console.log(help());
    return EXIT.ok;
  }
  const log = stderrLogger();

  if (opts.printUnit) {
    const exec = Deno.build.standalone ? Deno.execPath() : "/usr/local/bin/labwire";
    console.log(await serviceUnit(opts, exec, (m) => log.log("warn", m)));
    return EXIT.ok;
  }

  const interrupts = listenForInterrupts({
    onFirst: (sig) => log.log("notice", `${sig}: stopping`),
  });
  try {
    const { config, cleanup } = await loadLabConfig({ config: opts.config, demo: opts.demo });
    try {
      const run = effectiveServe(opts, config);
      const server = parseServerConfig(config.sections.server, config.file);
      const token = await loadToken(run.tokenFile, Deno.env.get("LABWIRE_TOKEN"));
      const tls = await loadTls(run.tls);
      if (config.devices.length === 0) {
        throw new UsageError(
          "no devices: give a config file with [devices.NAME] tables",
          "try: labwire serve --demo   or   labwire serve bench.toml",
        );
      }
      const daemon = await startDaemon({
        config,
        listen: run.listen,
        token,
        tls,
        cors: server.cors,
        maxBody: server.maxBody,
        maxScanPoints: server.maxScanPoints,
        maxTaskDurationS: server.maxTaskDurationS,
        session: run.session,
        interval: run.interval,
        argv: ["labwire", "serve", ...args],
        version: denoJson.version,
        log,
        addons: serveAddons().filter((a) => a.wanted(opts.flags, config)).map((addon) => ({
          addon,
          flags: opts.flags,
        })),
      });
      const what = opts.demo ? "the demo bench" : `${daemon.lab.managers.length} devices`;
      log.log(
        "notice",
        `serving ${what} on ${daemon.url}${token ? " (token required for changes)" : ""}` +
          (daemon.recording ? `, recording into ${daemon.recording.store.path}` : ""),
      );
      if (opts.demo) console.error(`labwire serve: dashboard: ${daemon.url}/`);
      const stopReloading = reloadOnHangup(config.file, daemon.reload, log);
      try {
        await new Promise<void>((resolve) => {
          if (interrupts.signal.aborted) resolve();
          interrupts.signal.addEventListener("abort", () => resolve(), { once: true });
          daemon.done.then(resolve);
        });
      } finally {
        stopReloading();
      }
      await daemon.stop(interrupts.received ?? "stopped");
      return EXIT.ok;
    } finally {
      await cleanup();
    }
  } finally {
    interrupts.dispose();
  }
}

/**
 * SIGHUP (`systemctl reload labwire`) re-reads the config file and applies its device changes
 * without a restart; a config that does not load keeps the devices as they are (and says why).
 * Returns a function that stops listening.
 */
function reloadOnHangup(
  file: string | undefined,
  reload: (config: LabConfig) => Promise<ReloadResult>,
  log: Logger,
): () => void {
  let queue = Promise.resolve();
  const onHup = () => {
    if (file === undefined) {
      log.log("warn", "SIGHUP: this bench has no config file to re-read; nothing changed");
      return;
    }
    // one reload at a time, in the order the signals came
    queue = queue.then(async () => {
      try {
        const r = await reload(await loadConfig(file, registerAllFamilies));
        const part = (what: string, names: string[]) =>
          names.length > 0 ? `${what} ${names.join(", ")}` : "";
        const done = [
          part("added", r.added),
          part("removed", r.removed),
          part("changed", r.changed),
        ].filter(Boolean).join("; ");
        log.log("notice", `SIGHUP: ${file} re-read: ${done || "no device changed"}`);
        for (const s of r.skipped) {
          log.log("warn", `SIGHUP: ${s.device} left as it was: ${s.reason}`);
        }
      } catch (err) {
        log.log(
          "error",
          `SIGHUP: ${
            errorMessage(err)
          }; the devices stay as they were (fix the file and send SIGHUP again)`,
        );
      }
    });
  };
  Deno.addSignalListener("SIGHUP", onHup);
  return () => Deno.removeSignalListener("SIGHUP", onHup);
}

/** The `serve` verb. */
export const serveCommand: Command = {
  name: "serve",
  summary: "serve every device over HTTP with a live dashboard and metrics, while recording",
  get help() {
    return help();
  },
  run: runServe,
};
