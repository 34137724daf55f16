/**
 * `HOST:PORT` text, parsed one way for every place that takes it: device addresses
 * (`baratron://10.0.0.5:8081`), listen addresses (`serve --listen`, `sim --listen`,
 * `[server] listen`) and the CA server's beacon addresses. IPv6 hosts are written in brackets.
 *
 * @module
 */
import { UsageError } from "./errors.ts";

/** A host and port: `host` as written (IPv6 in brackets), `hostname` without brackets. */
export interface HostPort {
  /** The host as written, e.g. `[::1]` or `10.0.0.5`. */
  host: string;
  /** The host without brackets, as sockets take it, e.g. `::1`. */
  hostname: string;
  /** The port. */
  port: number;
}

/** What a place that takes `HOST:PORT` fills in or allows. */
export interface HostPortRule {
  /** The port when none is written (`10.0.0.5`); without one, a port must be written. */
  defaultPort?: number;
  /** The host when none is written (`:8600`, or a bare `8600` when a port must be written). */
  defaultHost?: string;
  /** The lowest port taken: 1 for a peer (default), 0 for a listener (any free port). */
  minPort?: number;
}

/** Why a text is not `HOST:PORT`: its shape, or a port out of range (`port` as written). */
export type HostPortProblem = { problem: "shape" } | { problem: "port"; port: string };

const HOST_PORT = /^(\[[^\]]+\]|[^:[\]/]*)(?::(\d+))?$/;

/**
 * Splits `HOST[:PORT]` (IPv6 in brackets) by `rule`, or says why it cannot.
 *
 * @example
 * ```ts
 * import { splitHostPort } from "./host_port.ts";
 * splitHostPort("[::1]:8081", {}); // { host: "[::1]", hostname: "::1", port: 8081 }
 * splitHostPort("10.0.0.5", { defaultPort: 80 }); // { host: "10.0.0.5", hostname: "10.0.0.5", port: 80 }
 * splitHostPort("9000", { defaultHost: "127.0.0.1" }); // { host: "127.0.0.1", ..., port: 9000 }
 * ```
 */
export function splitHostPort(text: string, rule: HostPortRule): HostPort | HostPortProblem {
  const s = text.trim();
  let host: string;
  let port: string | undefined;
  if (rule.defaultPort === undefined && /^\d+$/.test(s)) {
    // a bare number where a port is needed is the port (`--listen 8600`)
    host = "";
    port = s;
  } else {
    const m = HOST_PORT.exec(s);
    if (!m) return { problem: "shape" };
    host = m[1]!;
    port = m[2];
  }
  if (host === "") host = rule.defaultHost ?? "";
  if (host === "" || (port === undefined && rule.defaultPort === undefined)) {
    return { problem: "shape" };
  }
  const n = port === undefined ? rule.defaultPort! : Number(port);
  if (n < (rule.minPort ?? 1) || n > 65535) return { problem: "port", port: port ?? String(n) };
  return { host, hostname: host.replace(/^\[(.*)\]$/, "$1"), port: n };
}

/** A listen address: host name or IP literal (IPv6 without brackets) and TCP port (0 = any). */
export interface ListenAddress {
  /** Host name or IP literal (IPv6 without brackets). */
  hostname: string;
  /** TCP port; 0 picks a free one. */
  port: number;
}

/**
 * Parses a listen address: `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT` (host 127.0.0.1);
 * port 0 means any free one. `example` is the address the error's hint shows.
 *
 * @example
 * ```ts
 * import { parseListen } from "./host_port.ts";
 * parseListen("[::1]:8600"); // { hostname: "::1", port: 8600 }
 * ```
 */
export function parseListen(text: string, example = "127.0.0.1:8600"): ListenAddress {
  const r = splitHostPort(text, { defaultHost: "127.0.0.1", minPort: 0 });
  if ("problem" in r) {
    const port = example.slice(example.lastIndexOf(":") + 1);
    const why = r.problem === "port" ? `: port ${r.port} is not a number from 0 to 65535` : "";
    throw new UsageError(
      `--listen: "${text}" is not HOST:PORT${why}`,
      `e.g. --listen ${example}, --listen 0.0.0.0:${port}, --listen "[::1]:${port}", or port 0 for any free port`,
    );
  }
  return { hostname: r.hostname, port: r.port };
}
