/**
 * Settings of the CA client and where they come from: the `EPICS_CA_*` environment variables
 * (read by {@linkcode clientOptionsFromEnv}), then defaults ({@linkcode resolveClientOptions}).
 *
 * - `EPICS_CA_ADDR_LIST`: space-separated `host[:port]` search destinations;
 * - `EPICS_CA_AUTO_ADDR_LIST` (default `YES`): also broadcast on every non-loopback IPv4 interface;
 * - `EPICS_CA_SERVER_PORT` (5064): the port searches go to when an entry names none;
 * - `EPICS_CA_REPEATER_PORT` (5065): a running `caRepeater` there forwards server beacons, which
 *   make searches for lost channels start over at once when a server comes back;
 * - `EPICS_CA_CONN_TMO` (30 s): silence on a circuit before an ECHO checks it is alive;
 * - `EPICS_CA_MAX_SEARCH_PERIOD` (300 s): the plateau of the search back-off;
 * - `EPICS_CA_MAX_ARRAY_BYTES` (16 MiB here, 16384 in libca): the largest reply a server may
 *   send; a bigger one closes that circuit with an error naming the variable.
 *
 * @example
 * ```ts
 * import { clientOptionsFromEnv } from "./client_env.ts";
 * const env: Record<string, string> = { EPICS_CA_ADDR_LIST: "127.0.0.1 10.0.0.5:5070" };
 * clientOptionsFromEnv((n) => env[n]).addrList; // ["127.0.0.1", "10.0.0.5:5070"]
 * ```
 *
 * @module
 */
import { UsageError } from "../../device/errors.ts";
import { broadcastOf } from "../../device/ipv4.ts";
import {
  CA_REPEATER_PORT,
  CA_SERVER_PORT,
  CLIENT_MAX_ARRAY_BYTES,
  DEFAULT_MAX_ARRAY_BYTES,
} from "./messages.ts";

/** Settings of a CA client; {@linkcode clientOptionsFromEnv} fills them from EPICS_CA_*. */
export interface CaClientOptions {
  /** Search destinations as `host[:port]`. */
  addrList?: string[];
  /** Also broadcast searches on every non-loopback IPv4 interface (default true). */
  autoAddrList?: boolean;
  /** Port for address-list entries without one (default 5064). */
  serverPort?: number;
  /** Port of the local caRepeater for beacons (default 5065); 0 disables beacon listening. */
  repeaterPort?: number;
  /** Silence on a circuit (ms) before an ECHO is sent (default 30 s). */
  connTimeoutMs?: number;
  /** Longest gap between searches of a missing channel (ms, default 300 s). */
  maxSearchPeriodMs?: number;
  /** First retry gap of a search (ms, default 50); it doubles up to the plateau. */
  minSearchPeriodMs?: number;
  /** User name servers see for access security (default $USER). */
  clientName?: string;
  /** Host name servers see for access security (default the host name). */
  hostName?: string;
  /**
   * Largest reply payload accepted from a server, bytes (default 16 MiB: big waveforms read
   * without tuning, while a broken or hostile server still cannot grow the client unbounded).
   */
  maxArrayBytes?: number;
  /** Called with problems that concern no pending call (e.g. a failed write without notify). */
  onWarning?: (message: string) => void;
}

/** Client options with every default filled in. */
export type ResolvedClientOptions = Required<Omit<CaClientOptions, "onWarning">> & {
  onWarning?: (m: string) => void;
};

/** Reads the EPICS_CA_* environment variables into client options. */
export function clientOptionsFromEnv(
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): CaClientOptions {
  const num = (name: string) => {
    const v = env(name);
    if (v === undefined || v.trim() === "") return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) {
      throw new UsageError(`${name}="${v}" is not a number`, `unset ${name} or give a number`);
    }
    return n;
  };
  const list = env("EPICS_CA_ADDR_LIST");
  const auto = env("EPICS_CA_AUTO_ADDR_LIST");
  const conn = num("EPICS_CA_CONN_TMO");
  const maxSearch = num("EPICS_CA_MAX_SEARCH_PERIOD");
  const maxArray = num("EPICS_CA_MAX_ARRAY_BYTES");
  return {
    maxArrayBytes: maxArray === undefined
      ? undefined
      : Math.max(DEFAULT_MAX_ARRAY_BYTES, Math.floor(maxArray)),
    addrList: list ? list.split(/\s+/).filter((s) => s !== "") : [],
    autoAddrList: auto === undefined ? true : !/^no$/i.test(auto.trim()),
    serverPort: num("EPICS_CA_SERVER_PORT") ?? CA_SERVER_PORT,
    repeaterPort: num("EPICS_CA_REPEATER_PORT") ?? CA_REPEATER_PORT,
    connTimeoutMs: conn === undefined ? undefined : Math.max(0.1, conn) * 1000,
    // libca never lets the plateau fall under 60 s.
    maxSearchPeriodMs: maxSearch === undefined ? undefined : Math.max(60, maxSearch) * 1000,
  };
}

/** Fills in the defaults of every option not given. */
export function resolveClientOptions(options: CaClientOptions): ResolvedClientOptions {
  return {
    addrList: options.addrList ?? [],
    autoAddrList: options.autoAddrList ?? true,
    serverPort: options.serverPort ?? CA_SERVER_PORT,
    repeaterPort: options.repeaterPort ?? CA_REPEATER_PORT,
    connTimeoutMs: options.connTimeoutMs ?? 30_000,
    maxSearchPeriodMs: options.maxSearchPeriodMs ?? 300_000,
    minSearchPeriodMs: options.minSearchPeriodMs ?? 50,
    clientName: options.clientName ?? (Deno.env.get("USER") || Deno.env.get("LOGNAME") ||
      "labwire"),
    hostName: options.hostName ?? safeHostname(),
    maxArrayBytes: options.maxArrayBytes ?? CLIENT_MAX_ARRAY_BYTES,
    onWarning: options.onWarning,
  };
}

function safeHostname(): string {
  try {
    return Deno.hostname();
  } catch {
    // No permission or no name: servers only show it in their logs and access rules.
    return "localhost";
  }
}

/** Where a search goes. */
export interface Destination {
  /** Host name or IPv4 address. */
  host: string;
  /** UDP port. */
  port: number;
}

/** An interface address as `Deno.networkInterfaces()` lists it. */
export interface InterfaceAddress {
  /** "IPv4" or "IPv6". */
  family: string;
  /** The interface's address. */
  address: string;
  /** Its netmask. */
  netmask: string;
}

/**
 * The search destinations: every `host[:port]` of `addrList` (port `serverPort` when absent), then
 * with `autoAddrList` the broadcast address of every non-loopback IPv4 interface; duplicates once.
 * Entries that are not `host[:port]` are reported to `warn` and skipped.
 *
 * @example
 * ```ts
 * import { searchDestinations } from "./client_env.ts";
 * searchDestinations(["127.0.0.1", "10.0.0.5:5070"], 5064, false, [], () => {});
 * // [{ host: "127.0.0.1", port: 5064 }, { host: "10.0.0.5", port: 5070 }]
 * ```
 */
export function searchDestinations(
  addrList: readonly string[],
  serverPort: number,
  autoAddrList: boolean,
  interfaces: readonly InterfaceAddress[],
  warn: (message: string) => void,
): Destination[] {
  const out: Destination[] = [];
  for (const entry of addrList) {
    const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(entry);
    if (!m) {
      warn(`EPICS_CA_ADDR_LIST: "${entry}" is not host[:port]; ignored`);
      continue;
    }
    out.push({ host: m[1]!, port: m[2] ? Number(m[2]) : serverPort });
  }
  if (autoAddrList) {
    for (const iface of interfaces) {
      if (iface.family !== "IPv4" || iface.address.startsWith("127.")) continue;
      const host = broadcastOf(iface.address, iface.netmask);
      if (host !== undefined) out.push({ host, port: serverPort });
    }
  }
  const seen = new Set<string>();
  return out.filter((d) => {
    const k = `${d.host}:${d.port}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
