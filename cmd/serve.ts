/**
 * `labwire serve [CONFIG]`: the instrument server daemon. Flags → {@linkcode startDaemon}; the
 * HTTP API, dashboard, SSE, metrics and recording live in `lib/server/` and `lib/session/`.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import { boolFlag, type FlagSpecs, parseFlags, stringFlag } from "../lib/cli/flags.ts";
import { listenForInterrupts } from "../lib/cli/interrupt.ts";
import { parseDuration } from "../lib/config/duration.ts";
import { UsageError } from "../lib/device/errors.ts";
import { loadLabConfig } from "../lib/lab/setup.ts";
import { sessionPath } from "../lib/session/path.ts";
import { serveAddons } from "../lib/server/addon.ts";
// Registers the `--ca` add-on (the EPICS Channel Access server) with serve.
import "../lib/drivers/epics/server_addon.ts";
import { loadToken } from "../lib/server/auth.ts";
import { parseServerConfig } from "../lib/server/config.ts";
import { startDaemon } from "../lib/server/daemon.ts";
import { DEFAULT_LISTEN, parseListen } from "../lib/server/listen.ts";
import { stderrLogger } from "../lib/server/log.ts";
import { systemdUnit } from "../lib/server/systemd.ts";

const FLAGS: FlagSpecs = {
  listen: { type: "string", short: "l" },
  "token-file": { type: "string" },
  session: { type: "string" },
  interval: { type: "string", short: "i" },
  "no-record": { type: "boolean" },
  "print-systemd-unit": { type: "boolean" },
};

const HELP = `labwire serve [CONFIG] — the instrument server: HTTP API, live dashboard, metrics

Usage: labwire serve [CONFIG] [--listen HOST:PORT] [--token-file FILE] [--session FILE]
       labwire serve --demo
       labwire serve --print-systemd-unit [--config FILE] [--listen HOST:PORT]

Serves every device of the config over HTTP while recording the bench into a session
(the same engine as "labwire monitor"). Open the printed URL for the dashboard.

  GET  /api/devices                      devices, state, last reading age
  GET  /api/devices/NAME                 attrs (units, rw, limits), last reading
  GET  /api/devices/NAME/read?attrs=a,b  a fresh reading
  PUT  /api/devices/NAME/attrs/ATTR      {"value": …} validated write, answers the read-back
  POST /api/devices/NAME/tasks           {"technique", "params", "sampling_interval", "max_duration"}
  GET|DELETE /api/tasks/ID, GET /api/tasks/ID/data
  GET  /api/stream?devices=a,b           Server-Sent Events (Last-Event-ID resumes)
  GET  /api/samples?device=&attr=&from=&to=&max_points=   recorded data, min/max-downsampled
  GET  /api/alarms, /healthz, /metrics (Prometheus), /api/openapi.json

Flags:
  -l, --listen HOST:PORT   where to listen (default ${DEFAULT_LISTEN}; [server] listen)
      --token-file FILE    bearer token for PUT/POST/DELETE (or $LABWIRE_TOKEN); required
                           when listening beyond loopback
      --session FILE       session file (default: beside the config, [session] path)
  -i, --interval DURATION  sample every device at this interval (default: per device)
      --no-record          serve live data without recording a session (alarms and
                           notifications stay on)
      --print-systemd-unit print a hardened systemd unit for this config and exit
  -c, --config FILE        config file (default ./labwire.toml or $LABWIRE_CONFIG)
      --demo               serve the built-in simulated bench
ADDONS
Stopping: SIGTERM or Ctrl-C stops accepting, ends event streams, flushes the session and
exits 0 within 5 s. Logs go to stderr (with <N> priorities under systemd).
A failing session (disk full) never stops serving: /healthz says "degraded" (still 200),
/metrics counts labwire_session_write_errors_total, and recording resumes by itself.

Examples:
  labwire serve --demo
  labwire serve bench.toml --listen 0.0.0.0:8600 --token-file /etc/labwire/token
  curl -s localhost:8600/api/devices | jq '.devices[].name'
  labwire serve --print-systemd-unit --config /etc/labwire/labwire.toml \\
    | sudo tee /etc/systemd/system/labwire.service
`;

function help(): string {
  const addons = serveAddons().map((a) => a.help.replace(/\n?$/, "\n")).join("");
  return HELP.replace("ADDONS\n", addons);
}

/** Runs `serve` with its arguments; resolves to the exit code once stopped. */
export async function runServe(args: string[]): Promise<number> {
  const addonFlags = Object.assign({}, ...serveAddons().map((a) => a.flags)) as FlagSpecs;
  const flags = parseFlags(args, { ...FLAGS, ...addonFlags }, "serve");
  if (boolFlag(flags, "help")) {
    console.log(help());
    return EXIT.ok;
  }
  if (flags.positionals.length > 1) {
    throw new UsageError(
      `serve takes one CONFIG file, got ${flags.positionals.length} arguments`,
      "see: labwire serve --help",
    );
  }
  const configFlag = stringFlag(flags, "config") ?? flags.positionals[0];
  const demo = boolFlag(flags, "demo");
  const log = stderrLogger();

  if (boolFlag(flags, "print-systemd-unit")) {
    const exec = Deno.build.standalone ? Deno.execPath() : "/usr/local/bin/labwire";
    const config = configFlag
      ? await Deno.realPath(configFlag).catch(() => configFlag)
      : "/etc/labwire/labwire.toml";
    console.log(systemdUnit({
      exec,
      config,
      listen: stringFlag(flags, "listen") ?? DEFAULT_LISTEN,
      tokenFile: stringFlag(flags, "token-file"),
    }));
    return EXIT.ok;
  }

  const interrupts = listenForInterrupts({
    onFirst: (sig) => log.log("notice", `${sig}: stopping`),
  });
  try {
    const { config, cleanup } = await loadLabConfig({ config: configFlag, demo });
    try {
      const server = parseServerConfig(config.sections.server, config.file);
      const listenText = stringFlag(flags, "listen");
      const listen = listenText !== undefined
        ? parseListen(listenText)
        : server.listen ?? parseListen(DEFAULT_LISTEN);
      const token = await loadToken(
        stringFlag(flags, "token-file") ?? server.tokenFile,
        Deno.env.get("LABWIRE_TOKEN"),
      );
      if (config.devices.length === 0) {
        throw new UsageError(
          "no devices: give a config file with [devices.NAME] tables",
          "try: labwire serve --demo   or   labwire serve bench.toml",
        );
      }
      const intervalText = stringFlag(flags, "interval");
      const interval = intervalText === undefined
        ? undefined
        : parseDuration(intervalText, "s", "--interval");
      const daemon = await startDaemon({
        config,
        listen,
        token,
        cors: server.cors,
        maxBody: server.maxBody,
        maxScanPoints: server.maxScanPoints,
        maxTaskDurationS: server.maxTaskDurationS,
        session: boolFlag(flags, "no-record")
          ? false
          : sessionPath(config, stringFlag(flags, "session"), demo),
        interval,
        argv: ["labwire", "serve", ...args],
        version: denoJson.version,
        log,
        addons: serveAddons().filter((a) => a.wanted(flags, config)).map((addon) => ({
          addon,
          flags,
        })),
      });
      const what = demo ? "the demo bench" : `${daemon.lab.managers.length} devices`;
      log.log(
        "notice",
        `serving ${what} on ${daemon.url}${token ? " (token required for changes)" : ""}` +
          (daemon.recording ? `, recording into ${daemon.recording.store.path}` : ""),
      );
      if (demo) console.error(`labwire serve: dashboard: ${daemon.url}/`);
      await new Promise<void>((resolve) => {
        if (interrupts.signal.aborted) resolve();
        interrupts.signal.addEventListener("abort", () => resolve(), { once: true });
        daemon.done.then(resolve);
      });
      await daemon.stop(interrupts.received ?? "stopped");
      return EXIT.ok;
    } finally {
      await cleanup();
    }
  } finally {
    interrupts.dispose();
  }
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
