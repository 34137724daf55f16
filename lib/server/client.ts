/**
 * A client of a running `labwire serve`'s HTTP API, for verbs that ask or drive a daemon
 * (`labwire task`, `labwire devices --server`).
 * The daemon's error answers become the CLI's errors: a request the daemon refused as malformed,
 * unknown or over a limit (400, 404, 422) and a missing or wrong token (401) are usage errors
 * (exit 2); a conflict or an unavailable device (409, 503) is a device error (exit 1); no daemon
 * listening, none answering in time and an answer that is not labwire's are a
 * {@linkcode NoDaemon}, whose message says what to do.
 *
 * @module
 */
import { DeviceError, NotFound, UsageError } from "../device/errors.ts";
import { type ListenAddress, parseListen } from "../device/host_port.ts";
import { DEFAULT_SERVE_LISTEN } from "./listen.ts";

/** How a daemon failed to answer: nothing listening, no answer in time, or not labwire's. */
export type NoDaemonReason = "refused" | "timeout" | "foreign";

/**
 * No labwire daemon answered at a URL: the message says what happened there and, on a line of
 * its own, what to do (is it running, which flag or config key names another address).
 */
export class NoDaemon extends DeviceError {
  /**
   * Creates the error for `url`; `detail` says what happened (`connection refused`), `flag` is
   * the verb's flag naming the daemon (`--url`, `--server`).
   */
  constructor(
    readonly url: string,
    readonly reason: NoDaemonReason,
    detail: string,
    flag: string,
    options?: ErrorOptions,
  ) {
    super(
      `no labwire daemon answered at ${url} (${detail})\n  ` +
        (reason === "foreign"
          ? `something else listens there: give labwire serve's URL with ${flag} URL or ` +
            "$LABWIRE_URL, or set [server] listen in the config"
          : "is it running? systemctl status labwire (or start one: labwire serve); another " +
            `address: ${flag} URL, $LABWIRE_URL, or [server] listen in the config`),
      undefined,
      options,
    );
    this.name = "NoDaemon";
  }
}

/**
 * Sends one request to a daemon within `timeoutMs` and answers the response with its body parsed
 * as JSON; what is no labwire daemon answering (nothing listening, no answer in time, an answer
 * that is not JSON) is a {@linkcode NoDaemon} naming `flag`.
 *
 * @example
 * ```ts ignore
 * import { askDaemon } from "./client.ts";
 * const { status, body } = await askDaemon("http://127.0.0.1:8600", "/api/devices", {}, 10_000, "--server");
 * ```
 */
export async function askDaemon(
  url: string,
  path: string,
  init: RequestInit,
  timeoutMs: number,
  flag: string,
): Promise<{ status: number; statusText: string; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url + path, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const name = (err as Error).name;
    if (name === "TimeoutError" || name === "AbortError") {
      throw new NoDaemon(url, "timeout", `no answer within ${timeoutMs / 1000} s`, flag, {
        cause: err,
      });
    }
    const cause = (err as Error).cause as Error | undefined;
    const refused = /refused/i.test(`${cause?.message ?? ""} ${(err as Error).message}`);
    throw new NoDaemon(
      url,
      "refused",
      refused ? "connection refused" : (cause?.message ?? (err as Error).message),
      flag,
      { cause: err },
    );
  }
  const text = await res.text();
  try {
    return { status: res.status, statusText: res.statusText, body: JSON.parse(text) };
  } catch {
    throw new NoDaemon(
      url,
      "foreign",
      `${init.method ?? "GET"} ${path} answered HTTP ${res.status} with something that is not ` +
        "labwire's JSON",
      flag,
    );
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
  /** The verb's flag that names the daemon, for messages (default `--url`). */
  flag?: string;
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
    const { status, statusText, body: parsed } = await askDaemon(
      this.url,
      path,
      { method, headers, body: body === undefined ? undefined : JSON.stringify(body) },
      this.options.timeoutMs ?? 10_000,
      this.options.flag ?? "--url",
    );
    if (status >= 200 && status < 300) return parsed as T;
    const message = (parsed as { error?: { message?: unknown } } | null)?.error?.message;
    if (typeof message !== "string") {
      // labwire answers every error as {"error": {"code", "message"}}: someone else answered
      throw new NoDaemon(
        this.url,
        "foreign",
        `${method} ${path} answered HTTP ${status} ${statusText}, not as labwire serve does`,
        this.options.flag ?? "--url",
      );
    }
    if (status === 404) throw new NotFound(message);
    if (status === 401) {
      throw new UsageError(
        `${this.url}: ${message}`,
        "give --token-file FILE or set LABWIRE_TOKEN (the daemon's [server] token_file)",
      );
    }
    if (status === 400 || status === 422 || status === 405) {
      throw new UsageError(message);
    }
    throw new DeviceError(message);
  }
}
