/**
 * Where `serve` listens: `--listen HOST:PORT` (default `127.0.0.1:8600`), and whether that
 * address is loopback (anything else needs a token for mutating requests).
 *
 * @module
 */
import { UsageError } from "../device/errors.ts";

/** The default listen address. */
export const DEFAULT_LISTEN = "127.0.0.1:8600";

/** A parsed listen address. */
export interface ListenAddress {
  /** Host name or IP literal (IPv6 without brackets). */
  hostname: string;
  /** TCP port; 0 picks a free one. */
  port: number;
}

/**
 * Parses `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT`.
 *
 * @example
 * ```ts
 * import { parseListen } from "./listen.ts";
 * parseListen("[::1]:8600"); // { hostname: "::1", port: 8600 }
 * ```
 */
export function parseListen(text: string): ListenAddress {
  const s = text.trim();
  let host: string;
  let port: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (v6) {
    host = v6[1]!;
    port = v6[2]!;
  } else if (/^\d+$/.test(s)) {
    host = "127.0.0.1";
    port = s;
  } else {
    const i = s.lastIndexOf(":");
    if (i < 0 || s.indexOf(":") !== i) {
      throw new UsageError(
        `--listen: "${text}" is not HOST:PORT`,
        'e.g. --listen 127.0.0.1:8600, --listen 0.0.0.0:8600 or --listen "[::1]:8600"',
      );
    }
    host = s.slice(0, i) || "127.0.0.1";
    port = s.slice(i + 1);
  }
  const n = Number(port);
  if (!/^\d+$/.test(port) || n > 65535) {
    throw new UsageError(`--listen: port "${port}" is not a number from 0 to 65535`);
  }
  return { hostname: host, port: n };
}

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

/** Formats an address as a URL origin for messages, e.g. `http://[::1]:8600`. */
export function listenUrl(addr: ListenAddress): string {
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const shown = host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host;
  return `http://${shown}:${addr.port}`;
}
