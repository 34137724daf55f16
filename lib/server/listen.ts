/**
 * Where `serve` listens by default, whether an address is loopback (anything else needs a token
 * for mutating requests), and its URL for messages. `--listen HOST:PORT` is parsed by
 * `lib/device/host_port.ts`, like every other host and port.
 *
 * @module
 */
import type { ListenAddress } from "../device/host_port.ts";

/** Where `serve` listens by default. */
export const DEFAULT_SERVE_LISTEN = "127.0.0.1:8600";

/**
 * True when `hostname` only reaches this machine: `localhost`, 127.0.0.0/8, `::1`, and the
 * IPv4-mapped form of 127.x. Everything else (including `0.0.0.0` and `::`) is "beyond loopback".
 *
 * @example
 * ```ts
 * import { isLoopback } from "./listen.ts";
 * isLoopback("127.0.0.2"); // true
 * isLoopback("0.0.0.0"); // false
 * ```
 */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v4);
  return m !== null && m[1] === "127" && m.slice(2).every((x) => Number(x) <= 255);
}

/** Formats an address as a URL origin for messages, e.g. `http://[::1]:8600` (`https` with TLS). */
export function listenUrl(addr: ListenAddress, tls = false): string {
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const shown = host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host;
  return `${tls ? "https" : "http"}://${shown}:${addr.port}`;
}
