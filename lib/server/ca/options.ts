/**
 * Settings of the CA server: the EPICS server environment variables, the `[ca]` section of
 * labwire.toml and the `serve` flags `--ca` / `--ca-prefix`. Later sources win:
 * defaults < environment < `[ca]` < flags. Pure functions, so each source is tested alone.
 *
 * A `[ca]` section starts the CA server by itself (no `--ca` needed) unless it says
 * `enabled = false`.
 *
 * ```toml
 * [ca]
 * enabled = true                     # false keeps the section without serving CA
 * prefix = "LAB:"                    # PV names are <prefix><device>:<attr>
 * port = 5064                        # EPICS_CAS_SERVER_PORT
 * interfaces = ["127.0.0.1"]         # EPICS_CAS_INTF_ADDR_LIST (default loopback only)
 * write = "loopback"                 # "none" | "loopback" | "all": who may write (default loopback)
 * write_hosts = ["198.18.0.0/24"]    # addresses / CIDR blocks that may write as well
 * max_array_bytes = 16384            # EPICS_CA_MAX_ARRAY_BYTES: largest request accepted
 * beacon_addrs = ["10.0.0.255"]      # EPICS_CAS_BEACON_ADDR_LIST
 * auto_beacon = true                 # EPICS_CAS_AUTO_BEACON_ADDR_LIST
 * beacon_period = "15s"              # EPICS_CAS_BEACON_PERIOD
 * ```
 *
 * @module
 */
import { splitHostPort } from "../../device/host_port.ts";
import { ipFromString } from "../../device/ipv4.ts";
import { boolFlag, type FlagSpecs, type ParsedFlags, stringFlag } from "../../cli/flags.ts";
import type { LabConfig } from "../../config/load.ts";
import { CA_SCHEMA, type CaWriteMode, MAX_ARRAY_BYTES_LIMIT } from "../../config/schema.ts";
import { parseWith } from "../../config/fields.ts";
import { UsageError } from "../../device/errors.ts";
import {
  CA_REPEATER_PORT,
  CA_SERVER_PORT,
  DEFAULT_MAX_ARRAY_BYTES,
} from "../../drivers/epics/messages.ts";
import type { EpicsLimits } from "../../alarm/epics.ts";

/** Everything {@linkcode startCaServer} can be told; unset fields take EPICS' defaults. */
export interface CaServerOptions {
  /** Prepended to every PV name, e.g. `LAB:` (default none). */
  prefix?: string;
  /** UDP search port, also the preferred TCP port; 0 picks a free one (default 5064). */
  port?: number;
  /** Local IPv4 addresses to listen on (default loopback only, 127.0.0.1; 0.0.0.0 = every one). */
  interfaces?: string[];
  /** Who may write besides `writeHosts` (default "loopback": clients beyond it are read-only). */
  write?: CaWriteMode;
  /** IPv4 addresses and CIDR blocks whose clients may write too. */
  writeHosts?: string[];
  /** Largest array payload a client may send, bytes (default and minimum 16384, as EPICS). */
  maxArrayBytes?: number;
  /** Where beacons go, `host[:port]` (port default `beaconPort`). */
  beaconAddrs?: string[];
  /** Also send beacons to the broadcast address of every interface (default true). */
  autoBeacon?: boolean;
  /** Longest time between beacons, seconds (default 15). */
  beaconPeriod?: number;
  /** Default destination port of beacons (default 5065, the repeater port). */
  beaconPort?: number;
  /** Replies allowed to wait for a slow client before it is dropped, bytes (default 4 MiB). */
  maxQueueBytes?: number;
  /** Timeout of device calls made for clients, ms (default 5000). */
  timeoutMs?: number;
  /** Receives log lines (default: none). */
  log?: (level: "info" | "warn", message: string) => void;
  /**
   * The HIHI/HIGH/LOW/LOLO limits a PV publishes in DBR_GR/DBR_CTRL, by device and attribute
   * (`serve` derives them from the config's alarm rules with `epicsLimits`); default none.
   */
  alarmLimits?: (device: string, attr: string) => EpicsLimits;
}

/** The flags `labwire serve` takes for the CA server. */
export const CA_FLAGS: FlagSpecs = {
  ca: { type: "boolean" },
  "ca-prefix": { type: "string" },
};

/** Lines for `serve --help`. */
export const CA_HELP =
  `      --ca                 also serve every device attr as an EPICS Channel Access PV
                           <prefix><device>:<attr> (caget, camonitor, caput, pyepics…);
                           (a [ca] section alone starts it too); listens on
                           127.0.0.1 unless [ca] interfaces / EPICS_CAS_INTF_ADDR_LIST;
                           beyond loopback read-only unless [ca] write / write_hosts
      --ca-prefix PREFIX   PV name prefix, e.g. LAB: (default none, or [ca] prefix)
`;

function splitList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  return text.split(/\s+/).filter((s) => s !== "");
}

function yesNo(text: string | undefined, name: string): boolean | undefined {
  if (text === undefined) return undefined;
  const t = text.trim().toUpperCase();
  if (t === "YES" || t === "Y" || t === "TRUE" || t === "1") return true;
  if (t === "NO" || t === "N" || t === "FALSE" || t === "0") return false;
  throw new UsageError(`${name}="${text}": expected YES or NO`);
}

function portNumber(text: string | undefined, name: string): number | undefined {
  if (text === undefined || text.trim() === "") return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new UsageError(`${name}="${text}": expected a port number 0–65535`);
  }
  return n;
}

/**
 * Reads the EPICS server variables (falling back to the client ones, as rsrv does):
 * `EPICS_CAS_SERVER_PORT`, `EPICS_CAS_INTF_ADDR_LIST`, `EPICS_CAS_BEACON_ADDR_LIST`,
 * `EPICS_CAS_AUTO_BEACON_ADDR_LIST`, `EPICS_CAS_BEACON_PERIOD`, `EPICS_CAS_BEACON_PORT`.
 *
 * @example
 * ```ts
 * import { caEnvOptions } from "./options.ts";
 * const env: Record<string, string> = { EPICS_CAS_INTF_ADDR_LIST: "127.0.0.1" };
 * caEnvOptions((k) => env[k]).interfaces; // ["127.0.0.1"]
 * ```
 */
export function caEnvOptions(
  get: (name: string) => string | undefined = (n) => Deno.env.get(n),
): CaServerOptions {
  const pick = (cas: string, ca: string) => get(cas) ?? get(ca);
  const out: CaServerOptions = {};
  const port = portNumber(
    pick("EPICS_CAS_SERVER_PORT", "EPICS_CA_SERVER_PORT"),
    "EPICS_CAS_SERVER_PORT",
  );
  if (port !== undefined) out.port = port;
  const intf = splitList(get("EPICS_CAS_INTF_ADDR_LIST"));
  if (intf && intf.length > 0) {
    const bad = intf.find((a) => ipFromString(a) === undefined);
    if (bad !== undefined) {
      throw new UsageError(
        `EPICS_CAS_INTF_ADDR_LIST: "${bad}" is not an IPv4 address of this host, e.g. 127.0.0.1`,
      );
    }
    out.interfaces = intf;
  }
  const maxArray = get("EPICS_CA_MAX_ARRAY_BYTES");
  if (maxArray !== undefined && maxArray.trim() !== "") {
    out.maxArrayBytes = arrayBytes(Number(maxArray), () =>
      new UsageError(
        `EPICS_CA_MAX_ARRAY_BYTES="${maxArray}": expected a number of bytes, e.g. 16384`,
      ));
  }
  const beacons = splitList(pick("EPICS_CAS_BEACON_ADDR_LIST", "EPICS_CA_ADDR_LIST"));
  if (beacons) out.beaconAddrs = beacons;
  const auto = yesNo(
    pick("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "EPICS_CA_AUTO_ADDR_LIST"),
    "EPICS_CAS_AUTO_BEACON_ADDR_LIST",
  );
  if (auto !== undefined) out.autoBeacon = auto;
  const period = pick("EPICS_CAS_BEACON_PERIOD", "EPICS_CA_BEACON_PERIOD");
  if (period !== undefined) {
    const p = Number(period);
    if (!Number.isFinite(p) || p <= 0) {
      throw new UsageError(`EPICS_CAS_BEACON_PERIOD="${period}": expected seconds > 0`);
    }
    out.beaconPeriod = p;
  }
  const bport = portNumber(
    pick("EPICS_CAS_BEACON_PORT", "EPICS_CA_REPEATER_PORT"),
    "EPICS_CAS_BEACON_PORT",
  );
  if (bport !== undefined) out.beaconPort = bport;
  return out;
}

/** Largest EPICS_CA_MAX_ARRAY_BYTES taken: beyond it one client could hold too much memory. */
export { MAX_ARRAY_BYTES_LIMIT };

/** Checks a max-array-bytes figure; below EPICS' 16384 it is raised to 16384, as EPICS does. */
function arrayBytes(n: number, error: () => Error): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_ARRAY_BYTES_LIMIT) throw error();
  return Math.max(DEFAULT_MAX_ARRAY_BYTES, n);
}

/**
 * Validates the `[ca]` section of the config with {@linkcode CA_SCHEMA}; errors name the file
 * and key.
 *
 * @example
 * ```ts
 * import { parseCaSection } from "./options.ts";
 * parseCaSection({ prefix: "LAB:", beacon_period: "5s" }); // { prefix: "LAB:", beaconPeriod: 5 }
 * ```
 */
export function parseCaSection(section: unknown, file?: string): CaServerOptions {
  if (section === undefined) return {};
  const s = parseWith(CA_SCHEMA, section, file, ["ca"]);
  const out: CaServerOptions = {};
  // `enabled` is read by caWanted; the schema has checked it with the other keys.
  if (s.write !== undefined) out.write = s.write;
  if (s.write_hosts !== undefined) out.writeHosts = s.write_hosts;
  if (s.max_array_bytes !== undefined) {
    // Below EPICS' 16384 it is raised to 16384, as EPICS does.
    out.maxArrayBytes = Math.max(DEFAULT_MAX_ARRAY_BYTES, s.max_array_bytes);
  }
  if (s.prefix !== undefined) out.prefix = s.prefix;
  if (s.port !== undefined) out.port = s.port;
  if (s.interfaces !== undefined) out.interfaces = s.interfaces;
  if (s.beacon_addrs !== undefined) out.beaconAddrs = s.beacon_addrs;
  if (s.auto_beacon !== undefined) out.autoBeacon = s.auto_beacon;
  if (s.beacon_period !== undefined) out.beaconPeriod = s.beacon_period / 1000;
  return out;
}

/** True when `serve` should run the CA server: `--ca`, `--ca-prefix`, or a `[ca]` section
 * that does not say `enabled = false`. Throws a ConfigError for a malformed section, on or off. */
export function caWanted(flags: ParsedFlags, config?: LabConfig): boolean {
  if (boolFlag(flags, "ca") || stringFlag(flags, "ca-prefix") !== undefined) return true;
  const section = config?.sections.ca;
  if (section === undefined) return false;
  // Checked even when switched off: a typo must not wait for the day it is switched on.
  parseCaSection(section, config?.file);
  return (section as Record<string, unknown>).enabled !== false;
}

/**
 * The CA server settings of `serve`: environment, then `[ca]`, then `--ca-prefix`.
 * Returns undefined when the CA server is not wanted (see {@linkcode caWanted}).
 */
export function caServeOptions(
  flags: ParsedFlags,
  config: LabConfig,
  get: (name: string) => string | undefined = (n) => Deno.env.get(n),
): CaServerOptions | undefined {
  if (!caWanted(flags, config)) return undefined;
  const out = { ...caEnvOptions(get), ...parseCaSection(config.sections.ca, config.file) };
  const prefix = stringFlag(flags, "ca-prefix");
  if (prefix !== undefined) {
    if (/\s/.test(prefix)) throw new UsageError(`--ca-prefix "${prefix}" must not contain spaces`);
    out.prefix = prefix;
  }
  return out;
}

/** Parses a beacon address `host[:port]` with a default port (the host as sockets take it). */
export function hostAndPort(text: string, defaultPort: number): { host: string; port: number } {
  const r = splitHostPort(text, { defaultPort, minPort: 0 });
  if ("problem" in r) throw new UsageError(`"${text}" is not an address like 10.0.0.255[:5065]`);
  return { host: r.hostname, port: r.port };
}

/** EPICS default ports, re-exported for the server. */
export const DEFAULT_PORTS = { server: CA_SERVER_PORT, beacon: CA_REPEATER_PORT } as const;
