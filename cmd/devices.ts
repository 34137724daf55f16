/**
 * `labwire devices [--config FILE] [--json]` — the devices a config declares (name, address,
 * driver, sampling interval), with each one's state when a daemon serving that config answers.
 * Nothing here talks to an instrument: listing a bench never touches its hardware.
 *
 * @module
 */
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import { boolFlag, parseFlags, stringFlag } from "../lib/cli/flags.ts";
import { formatMs } from "../lib/config/duration.ts";
import type { DeviceConfig } from "../lib/config/load.ts";
import { DeviceError, UsageError } from "../lib/device/errors.ts";
import { loadLabConfig } from "../lib/lab/setup.ts";
import { jsonDocument } from "../lib/output/record.ts";
import { alignColumns } from "../lib/output/columns.ts";
import { stdoutSink } from "../lib/output/stdout.ts";
import { stdoutIsTerminal } from "../lib/output/terminal.ts";
import { daemonUrl, NoDaemon, ServeClient } from "../lib/server/client.ts";
import { DEFAULT_SERVE_LISTEN } from "../lib/server/listen.ts";

const FLAGS = {
  server: { type: "string", short: "s" },
  "no-server": { type: "boolean" },
} as const;

/** How long the daemon gets to answer before the list is printed without states. */
const SERVER_TIMEOUT_MS = 1000;

/** The parsed options of `devices`. */
export interface DevicesOptions {
  /** `--config FILE` (or the positional CONFIG). */
  config?: string;
  /** `--demo`. */
  demo: boolean;
  /** `--json`. */
  json: boolean;
  /**
   * The daemon to ask for states (`--server URL`; `$LABWIRE_URL` is filled in by
   * {@linkcode serverOf}); undefined: the config's `[server] listen`.
   */
  server?: string;
  /** `--no-server`: do not ask any daemon. */
  noServer: boolean;
}

/** Parses `devices`' arguments (pure). */
export function parseDevicesArgs(args: string[]): DevicesOptions {
  const f = parseFlags(args, FLAGS, "devices");
  if (f.positionals.length > 1) {
    throw new UsageError(
      `one CONFIG file at most, got ${f.positionals.length}: ${f.positionals.join(" ")}`,
      "e.g. labwire devices bench.toml",
    );
  }
  const flagConfig = stringFlag(f, "config");
  if (f.positionals[0] !== undefined && flagConfig !== undefined) {
    throw new UsageError("give the config either as CONFIG or as --config, not both");
  }
  const server = stringFlag(f, "server");
  if (server !== undefined) checkServerUrl(server, "--server");
  const demo = boolFlag(f, "demo");
  if (demo && server !== undefined) {
    // The demo bench's simulators are started by this run on ports of its own, so no daemon
    // serves these devices: its states would all read "not served".
    throw new UsageError(
      "--demo and --server don't go together: the demo bench is this run's own simulators, " +
        "which no daemon serves",
      "for a daemon's states: labwire devices CONFIG --server URL (the config it serves)",
    );
  }
  return {
    config: f.positionals[0] ?? flagConfig,
    demo,
    json: boolFlag(f, "json"),
    server: server?.replace(/\/+$/, ""),
    noServer: boolFlag(f, "no-server"),
  };
}

/** A usage error unless `url` is an http:// or https:// URL; `where` names where it came from. */
function checkServerUrl(url: string, where: string): void {
  if (!/^https?:\/\/[^/]+/.test(url)) {
    throw new UsageError(
      `${where}: "${url}" is not an http:// URL`,
      "e.g. --server http://127.0.0.1:8600",
    );
  }
}

/**
 * The daemon `devices` asks, as `task` finds its own: `--server URL`, else `$LABWIRE_URL` (`env`,
 * when set and not empty), else undefined (the config's `[server] listen`). None with `--demo`
 * (its simulators are this run's) or `--no-server`.
 *
 * @example
 * ```ts
 * import { parseDevicesArgs, serverOf } from "./devices.ts";
 * serverOf(parseDevicesArgs([]), "http://10.0.0.2:8600"); // "http://10.0.0.2:8600"
 * ```
 */
export function serverOf(opts: DevicesOptions, env: string | undefined): string | undefined {
  if (opts.server !== undefined || opts.demo || opts.noServer) return opts.server;
  if (env === undefined || env === "") return undefined;
  checkServerUrl(env, "$LABWIRE_URL");
  return env.replace(/\/+$/, "");
}

/** One line of the list (and one object of `--json`). */
export interface DeviceRow {
  /** The `[devices.NAME]` name. */
  name: string;
  /** Its address as written. */
  address: string;
  /** The driver: the daemon's when it answered, else the address scheme. */
  driver: string;
  /** The instrument definition the address names, or null. */
  instrument: string | null;
  /** Sampling interval, seconds. */
  interval_s: number;
  /** `up`, `down` or `unknown` from the daemon; null when no daemon answered. */
  state: string | null;
}

/** What a daemon says of one device it serves (`GET /api/devices`). */
export interface ServedDevice {
  /** Its name. */
  name: string;
  /** Its driver. */
  driver?: string;
  /** Its address, as its config writes it. */
  address?: string;
  /** `up`, `down` or `unknown`. */
  state?: string;
  /** Its sampling interval, seconds. */
  interval_s?: number;
}

/**
 * The device the daemon serves as `d`: same name and same address. A daemon serving another
 * config may have a device of the same name elsewhere (its `gauge` a baratron, this config's a
 * simulator); its state and driver are not this device's.
 */
function servedAs(d: DeviceConfig, served: readonly ServedDevice[] | undefined) {
  const s = served?.find((x) => x.name === d.name);
  return s && !elsewhere(d, s) ? s : undefined;
}

/** True when the daemon's device of `d`'s name has another address (one it gives none is `d`). */
function elsewhere(d: DeviceConfig, s: ServedDevice): boolean {
  return s.address !== undefined && s.address !== d.address.text;
}

/**
 * The configured devices a daemon serves under the same name at another address, as a note for
 * stderr (the daemon serves another config), or undefined.
 */
export function otherAddresses(
  devices: readonly DeviceConfig[],
  served: readonly ServedDevice[] | undefined,
): string | undefined {
  const other = devices.flatMap((d) => {
    const s = served?.find((x) => x.name === d.name);
    return s && elsewhere(d, s) ? [`${d.name} is ${s.address} there, not ${d.address.text}`] : [];
  });
  return other.length === 0
    ? undefined
    : `the daemon serves another config: ${other.join("; ")} (shown as not served)`;
}

/** The rows for configured devices, with what the daemon said about each (when it answered). */
export function deviceRows(
  devices: readonly DeviceConfig[],
  served?: readonly ServedDevice[],
): DeviceRow[] {
  return devices.map((d) => {
    const s = servedAs(d, served);
    return {
      name: d.name,
      address: d.address.text,
      driver: s?.driver ?? d.address.scheme,
      instrument: d.address.params.get("instrument"),
      interval_s: d.interval / 1000,
      state: served ? s?.state ?? "not served" : null,
    };
  });
}

/**
 * The rows for the devices a daemon serves, as it describes them: what `devices --server URL`
 * lists without a config file.
 */
export function servedRows(served: readonly ServedDevice[]): DeviceRow[] {
  return served.map((s) => {
    const address = s.address ?? "";
    return {
      name: s.name,
      address,
      driver: s.driver ?? address.split(":")[0] ?? "",
      instrument: /[?&]instrument=([^&#]+)/.exec(address)?.[1] ?? null,
      interval_s: s.interval_s ?? 0,
      state: s.state ?? "unknown",
    };
  });
}

/**
 * The devices the daemon at `url` serves; a {@linkcode NoDaemon} (saying what to do) when no
 * labwire daemon answers there.
 */
async function servedDevices(url: string): Promise<ServedDevice[]> {
  const client = new ServeClient(url, { timeoutMs: SERVER_TIMEOUT_MS, flag: "--server" });
  const body = await client.request<{ devices?: unknown }>("GET", "/api/devices");
  if (!Array.isArray(body.devices)) {
    throw new NoDaemon(
      url,
      "foreign",
      "GET /api/devices answered without a device list",
      "--server",
    );
  }
  return body.devices;
}

/** Renders the rows as an aligned text table. */
export function renderDevices(rows: readonly DeviceRow[], server: string | undefined): string {
  const head = ["name", "address", "driver", "interval", ...(server ? ["state"] : [])];
  const cells = rows.map((r) => [
    r.name,
    r.address,
    r.instrument ? `${r.driver} (${r.instrument})` : r.driver,
    formatMs(r.interval_s * 1000),
    ...(server ? [r.state ?? ""] : []),
  ]);
  return alignColumns([head, ...cells]).map((l) => l + "\n").join("");
}

/** Runs `devices`. */
export async function runDevices(args: string[]): Promise<number> {
  const parsed = parseDevicesArgs(args);
  const opts = { ...parsed, server: serverOf(parsed, Deno.env.get("LABWIRE_URL")) };
  const { config, cleanup } = await loadLabConfig(opts);
  try {
    // Data goes to a pipe as the --json document (the output contract); tables are for people.
    const json = opts.json || !stdoutIsTerminal();
    if (config.file === undefined && opts.server !== undefined) {
      // No config to compare with: the list is what the daemon serves.
      writeList(servedRows(await servedDevices(opts.server)), opts.server, json);
      return EXIT.ok;
    }
    if (config.devices.length === 0) {
      // Without any config file, "no devices in the config" sent a new user looking for one.
      throw new UsageError(
        config.file === undefined
          ? "no config file: ./labwire.toml is not there, and neither CONFIG, --config FILE " +
            "nor $LABWIRE_CONFIG names one"
          : `no devices in ${config.file}: add [devices.NAME] tables`,
        "try: labwire devices --demo",
      );
    }
    let server: string | undefined;
    let served: ServedDevice[] | undefined;
    if (!opts.noServer && !opts.demo) {
      let url = opts.server;
      if (url === undefined) {
        const { parseServerConfig } = await import("../lib/server/config.ts");
        url = daemonUrl(parseServerConfig(config.sections.server, config.file).listen);
      }
      try {
        served = await servedDevices(url);
        server = url;
      } catch (err) {
        // No daemon at the config's address, or one refusing the question (a 503): the list is
        // still right, only without states.
        if (!(err instanceof DeviceError) && !(err instanceof UsageError)) throw err;
        if (opts.server !== undefined) {
          console.error(`labwire devices: states unknown: ${err.message}`);
        }
      }
    }
    const rows = deviceRows(config.devices, served);
    const other = otherAddresses(config.devices, served);
    if (other) console.error(`labwire devices: ${other}`);
    writeList(rows, server, json);
    return EXIT.ok;
  } finally {
    await cleanup();
  }
}

/** Prints the list: the `--json` document, or the table and where its states come from. */
function writeList(rows: readonly DeviceRow[], server: string | undefined, json: boolean): void {
  if (json) {
    stdoutSink.write(jsonDocument({ server: server ?? null, devices: rows }, stdoutIsTerminal()));
  } else {
    stdoutSink.write(renderDevices(rows, server));
    if (server) console.error(`states from the daemon at ${server}`);
  }
}

/** The `devices` verb. */
export const devicesCommand: Command = {
  name: "devices",
  summary: "list the devices of a config (address, driver, interval; state from a daemon)",
  run: runDevices,
  help: `labwire devices — the devices a config declares

Usage: labwire devices [CONFIG] [--json] [--server URL | --no-server]
       labwire devices --server URL [--json]

Lists each [devices.NAME] of the config (./labwire.toml, --config FILE or
$LABWIRE_CONFIG): its address, driver (and instrument definition), and sampling
interval. No instrument is contacted. When a labwire daemon serving the config
answers (at --server URL, else $LABWIRE_URL, else the config's [server] listen,
default ${DEFAULT_SERVE_LISTEN}: the order task uses), each device's state (up,
down, unknown) is added: "not served" for one it does not serve, or serves at
another address (another config's; a note on stderr says so). With --server or
$LABWIRE_URL and no config file, it lists the devices that daemon serves (exit 1
when none answers). --demo and --no-server ask no daemon, $LABWIRE_URL or not.

Output: a table on a terminal; in a pipe (or with --json) one JSON document.

Flags:
  -c, --config FILE    config file (default ./labwire.toml or $LABWIRE_CONFIG)
      --demo           the built-in simulated bench (its simulators are this run's
                       own, so no daemon is asked; not with --server)
      --json           one JSON document (also on a terminal):
                       {"server": URL or null, "devices": […]}
  -s, --server URL     ask this daemon for states (e.g. http://127.0.0.1:8600);
                       before $LABWIRE_URL and the config's [server] listen
      --no-server      do not ask any daemon

Examples:
  labwire devices --demo
  labwire devices --demo --json | jq -r '.devices[].name'
  labwire devices bench.toml --server http://127.0.0.1:8600
  labwire devices --server http://127.0.0.1:8600 | jq -r '.devices[] | "\\(.name) \\(.state)"'
`,
};
