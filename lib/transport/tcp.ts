/**
 * Raw TCP byte streams to instruments (SCPI on port 5025, Lake Shore on 7777, serial servers):
 * a connect timeout, TCP keep-alive, re-connection with exponential backoff after a failure,
 * and per-call deadlines and abort signals.
 *
 * How to use it: `openTcp(host, port)` returns a {@linkcode ByteStream} (see `byte_stream.ts`); hand
 * it to `MessageLine` (`message.ts`) to talk in lines. Half-open connections (a device rebooted
 * behind a switch, a NAT that forgot us) are caught by the message layer: an expected answer
 * that misses its deadline makes the connection suspect, `reset()` closes it, and the next
 * exchange connects afresh — so a late answer can never be taken for the next one.
 *
 * ```ts ignore
 * import { openTcp } from "./tcp.ts";
 * const s = openTcp("10.0.0.7", 5025, { connectTimeout: 2000 });
 * await s.write(new TextEncoder().encode("*IDN?\n"), { timeout: 1000 });
 * ```
 *
 * @module
 */
import { UsageError } from "../device/errors.ts";
import { describeFailure } from "./http_failure.ts";
import type { ByteStream, RawConn } from "./byte_stream.ts";
import { ReopeningStream } from "./stream.ts";

/** Options of {@linkcode openTcp}. */
export interface TcpOptions {
  /** Milliseconds a connect may take, whatever the call's deadline (default 3000). */
  connectTimeout?: number;
  /** Enable TCP keep-alive probes (default true). */
  keepAlive?: boolean;
  /** First re-connect delay after a failure, ms (default 100). */
  backoffMin?: number;
  /** Longest re-connect delay, ms (default 5000). */
  backoffMax?: number;
  /** Device name carried by errors. */
  device?: string;
  /** What the user addressed, for errors (default `tcp://HOST:PORT`; e.g. `modbus://HOST:502`). */
  label?: string;
  /** What should listen on the port, for errors (default the LAN/SCPI remote-control socket). */
  service?: string;
}

/**
 * A re-connecting TCP byte stream to `host:port`. Nothing connects until the first call.
 *
 * @example
 * ```ts ignore
 * import { openTcp } from "./tcp.ts";
 * const s = openTcp("127.0.0.1", 5025);
 * ```
 */
export function openTcp(host: string, port: number, opts: TcpOptions = {}): ByteStream {
  const hostname = host.replace(/^\[(.*)\]$/, "$1");
  const where = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  const label = opts.label ?? `tcp://${where}`;
  const connectTimeout = opts.connectTimeout ?? 3000;
  return new ReopeningStream({
    label,
    address: where,
    device: opts.device,
    backoffMin: opts.backoffMin,
    backoffMax: opts.backoffMax,
    async open(signal: AbortSignal): Promise<RawConn> {
      const own = AbortSignal.timeout(connectTimeout);
      const both = AbortSignal.any([signal, own]);
      try {
        const conn = await Deno.connect({ hostname, port, signal: both });
        conn.setNoDelay(true);
        if (opts.keepAlive !== false) conn.setKeepAlive(true);
        return conn;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        const timedOut = own.aborted;
        throw describeFailure(
          err,
          `connect to ${label}`,
          where,
          connectTimeout,
          opts.device,
          timedOut,
          opts.service ?? "remote-control socket (LAN/SCPI interface)",
        );
      }
    },
  });
}

/**
 * Splits `tcp://host:port` (IPv6 in brackets) into host and port; the port is required.
 *
 * @example
 * ```ts
 * import { parseTcpTarget } from "./tcp.ts";
 * parseTcpTarget("10.0.0.7:5025"); // { host: "10.0.0.7", port: 5025 }
 * ```
 */
export function parseTcpTarget(target: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:/\[\]]+):(\d+)\/?$/.exec(target);
  if (!m) {
    throw new UsageError(
      `"${target}" is not HOST:PORT; a raw TCP address needs its port, e.g. tcp://10.0.0.7:5025`,
    );
  }
  const port = Number(m[2]);
  if (!(port > 0 && port < 65536)) {
    throw new UsageError(`port ${m[2]} is out of range 1–65535`);
  }
  return { host: m[1]!, port };
}
