/**
 * A client of a running `labwire serve`'s HTTP API, for verbs that drive a daemon (`labwire task`).
 * The daemon's error answers become the CLI's errors: a request the daemon refused as malformed,
 * unknown or over a limit (400, 404, 422) and a missing or wrong token (401) are usage errors
 * (exit 2); a conflict or an unavailable device (409, 503) is a device error (exit 1); no daemon
 * listening is a {@linkcode NoDaemon}.
 *
 * @module
 */
import { DeviceError, NotFound, UsageError } from "../device/errors.ts";
import { type ListenAddress, parseListen } from "../device/host_port.ts";
import { DEFAULT_SERVE_LISTEN } from "./listen.ts";

/** Nothing listens at the daemon's URL. */
export class NoDaemon extends DeviceError {
  /** Creates the error for `url`. */
  constructor(readonly url: string, options?: ErrorOptions) {
    super(
      `no labwire serve answers at ${url}; start one (labwire serve) or point --url at one`,
      undefined,
      options,
    );
    this.name = "NoDaemon";
  }
}

/** The base URL of the daemon serving a config: its `[server] listen`, loopback for a wildcard. */
export function daemonUrl(listen: ListenAddress | undefined): string {
  const l = listen ?? parseListen(DEFAULT_SERVE_LISTEN);
  const wildcard = l.hostname === "0.0.0.0" || l.hostname === "::" || l.hostname === "";
  const host = wildcard ? "127.0.0.1" : l.hostname;
  return `http://${host.includes(":") ? `[${host}]` : host}:${l.port}`;
}

/** Options of a {@linkcode ServeClient}. */
export interface ServeClientOptions {
  /** Bearer token for PUT/POST/DELETE. */
  token?: string;
  /** Time a request may take, ms (default 10 s). */
  timeoutMs?: number;
}

/** Calls one daemon's API. */
export class ServeClient {
  /** A client of the daemon at `url` (e.g. `http://127.0.0.1:8600`). */
  constructor(readonly url: string, readonly options: ServeClientOptions = {}) {
    this.url = url.replace(/\/+$/, "");
  }

  /** Sends a request and answers the JSON body; throws the CLI's error for an error answer. */
  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.options.token !== undefined && method !== "GET") {
      headers.authorization = `Bearer ${this.options.token}`;
    }
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      if (err instanceof TypeError) throw new NoDaemon(this.url, { cause: err });
      throw new DeviceError(
        `${method} ${this.url}${path}: ${(err as Error).message}`,
        undefined,
        { cause: err },
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new DeviceError(
        `${this.url} answered ${res.status} with something that is not JSON: is it labwire serve?`,
      );
    }
    if (res.ok) return parsed as T;
    const message = (parsed as { error?: { message?: string } }).error?.message ??
      `${res.status} ${res.statusText}`;
    if (res.status === 404) throw new NotFound(message);
    if (res.status === 401) {
      throw new UsageError(message, "give --token-file FILE or set LABWIRE_TOKEN");
    }
    if (res.status === 400 || res.status === 422 || res.status === 405) {
      throw new UsageError(message);
    }
    throw new DeviceError(message);
  }
}
