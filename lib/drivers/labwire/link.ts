/**
 * One remote `labwire serve` as its `labwire://` devices share it: its HTTP API (requests with
 * the bearer token, over TLS with a private CA when asked) and ONE event stream
 * (`GET /api/stream?devices=…`) for every device of it that is followed, so a central daemon
 * following 100 devices of a lab PC holds one connection to it, not 100. The stream resumes by
 * `Last-Event-ID` after a drop (the remote replays what was missed from its ring or its
 * session); while it is down each follower gets an error reading per attempt, and attempts back
 * off from 200 ms to 10 s.
 *
 * @module
 */
import { formatMs } from "../../device/device.ts";
import { DeviceError, NotFound, UsageError } from "../../device/errors.ts";
import { Backoff } from "../../transport/backoff.ts";
import { errorAnswer, parseReading, type RemoteReading, SseParser } from "./protocol.ts";

/** How one remote daemon is reached. */
export interface DaemonLinkOptions {
  /** `http://HOST:PORT` or `https://HOST:PORT`. */
  base: string;
  /** Bearer token sent with every request. */
  token?: string;
  /** PEM of the CA that signed the daemon's certificate (a self-signed one). */
  ca?: string;
}

/** What a follower of a remote device is handed: a reading, or why there is none. */
export type Follower = (reading: RemoteReading) => void;

/** The event stream is considered dead after this long without a byte (the remote pings each 15 s). */
const IDLE_MS = 40_000;
/** Longest unfinished event line kept, characters. */
const MAX_PENDING = 1 << 20;
/**
 * Requests in flight to one daemon at most: a central daemon fetching the attributes of 300
 * devices at start opened 300 connections (and kept them pooled) before this bound.
 */
const MAX_IN_FLIGHT = 4;

/** A remote daemon: requests, and the shared event stream of its followed devices. */
export class DaemonLink {
  readonly #opts: DaemonLinkOptions;
  readonly #client: Deno.HttpClient | undefined;
  readonly #followers = new Map<string, Set<Follower>>();
  /** The newest reading time handed on per device, so a resume's replay is not handed twice. */
  readonly #lastT = new Map<string, number>();
  readonly #backoff = new Backoff(200, 10_000);
  #lastId: string | undefined;
  #running: Promise<void> | undefined;
  #conn: AbortController | undefined;
  #wake: (() => void) | undefined;
  #resubscribe: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];
  /** Devices sharing this link (it closes with the last). */
  users = 0;
  /** True while the event stream is open. */
  connected = false;
  /**
   * Counts the event stream's openings after a failure: the daemon may have come back with
   * another config, so what was learnt from it before (attributes) is asked again.
   */
  reopened = 0;
  #failed = false;

  /** A link to the daemon at `opts.base`; nothing connects until a request or a follower. */
  constructor(opts: DaemonLinkOptions) {
    this.#opts = opts;
    this.#client = opts.ca === undefined
      ? undefined
      : Deno.createHttpClient({ caCerts: [opts.ca] });
  }

  /** The daemon's base URL. */
  get base(): string {
    return this.#opts.base;
  }

  /**
   * Sends a request and answers the parsed JSON body. An error answer becomes the error a user
   * can act on: 401 a usage error naming the token, 404 a {@linkcode NotFound}, 400/422 a usage
   * error, anything else a {@linkcode DeviceError}; no daemon answering is a DeviceError.
   */
  async request(
    method: string,
    path: string,
    opts: { body?: unknown; timeout: number; signal?: AbortSignal; device?: string },
  ): Promise<unknown> {
    // a finished request hands its slot straight to the next waiting one
    if (this.#inFlight >= MAX_IN_FLIGHT) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else this.#inFlight++;
    try {
      return await this.#request(method, path, opts);
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#inFlight--;
    }
  }

  async #request(
    method: string,
    path: string,
    opts: { body?: unknown; timeout: number; signal?: AbortSignal; device?: string },
  ): Promise<unknown> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    if (this.#opts.token !== undefined) headers.authorization = `Bearer ${this.#opts.token}`;
    const timeout = AbortSignal.timeout(opts.timeout);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal,
        client: this.#client,
      });
      text = await res.text();
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw new DeviceError(
        timeout.aborted
          ? `${method} ${this.base}${path}: no answer within ${formatMs(opts.timeout)}; ` +
            "check that the labwire serve there is running and not overloaded, or allow more " +
            "time with ?timeout="
          : unreachable(this.base, err),
        opts.device,
        { cause: err },
      );
    }
    if (res.ok) {
      try {
        return JSON.parse(text);
      } catch {
        throw new DeviceError(
          `${this.base} answered ${path} with something that is not JSON: is it labwire serve?`,
          opts.device,
        );
      }
    }
    const message = `${this.base}: ${errorAnswer(text) ?? `${res.status} ${res.statusText}`}`;
    if (res.status === 401) {
      throw new UsageError(
        message,
        this.#opts.token === undefined
          ? "the remote daemon needs its token: give token_file = FILE in the device's table " +
            "(or ?token_file=FILE) or set LABWIRE_TOKEN"
          : "the token given (token_file or LABWIRE_TOKEN) is not the remote daemon's",
      );
    }
    if (res.status === 404) throw new NotFound(message);
    if (res.status === 400 || res.status === 422) throw new UsageError(message);
    throw new DeviceError(message, opts.device);
  }

  /**
   * Hands every reading of the remote `device` to `fn` as it arrives on the shared event stream
   * (and an error reading per failed attempt while the stream is down); returns the unfollow.
   */
  follow(device: string, fn: Follower): () => void {
    let set = this.#followers.get(device);
    const added = set === undefined;
    if (!set) this.#followers.set(device, set = new Set());
    set.add(fn);
    if (added) this.#changed();
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.#followers.get(device) === set) {
        this.#followers.delete(device);
        this.#changed();
      }
    };
  }

  /** The followed set changed: reconnect with the new device list (coalesced over 10 ms). */
  #changed(): void {
    if (this.#closed) return;
    clearTimeout(this.#resubscribe);
    this.#resubscribe = setTimeout(() => {
      this.#resubscribe = undefined;
      if (this.#running) {
        // the stream open asks for the old list: start again from where it was
        this.#conn?.abort("resubscribe");
        this.#wake?.();
      } else if (this.#followers.size > 0) {
        this.#running = this.#run().finally(() => (this.#running = undefined));
      }
    }, 10);
  }

  async #run(): Promise<void> {
    while (!this.#closed && this.#followers.size > 0) {
      const conn = new AbortController();
      this.#conn = conn;
      try {
        await this.#stream(conn.signal);
        throw new Error("the event stream ended (the daemon stopped?)");
      } catch (err) {
        this.connected = false;
        if (this.#closed || this.#followers.size === 0) break;
        if (conn.signal.aborted && conn.signal.reason === "resubscribe") continue;
        this.#failed = true;
        const delay = this.#backoff.fail(performance.now());
        this.#down(`${describe(this.base, err)}; retrying in ${(delay / 1000).toFixed(1)} s`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    }
  }

  /** Reads the event stream until it ends or fails. */
  async #stream(signal: AbortSignal): Promise<void> {
    const devices = [...this.#followers.keys()].sort().map(encodeURIComponent).join(",");
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (this.#opts.token !== undefined) headers.authorization = `Bearer ${this.#opts.token}`;
    if (this.#lastId !== undefined) headers["last-event-id"] = this.#lastId;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const conn = new AbortController();
    const onAbort = () => conn.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () => conn.abort(new Error(`nothing from ${this.base} for ${IDLE_MS / 1000} s`)),
        IDLE_MS,
      );
    };
    try {
      arm();
      const res = await fetch(`${this.base}/api/stream?devices=${devices}`, {
        headers,
        signal: conn.signal,
        client: this.#client,
      });
      if (!res.ok) {
        throw new Error(errorAnswer(await res.text()) ?? `${res.status} ${res.statusText}`);
      }
      this.connected = true;
      if (this.#failed) {
        this.#failed = false;
        this.reopened++;
      }
      this.#backoff.succeed();
      const parser = new SseParser();
      const decoder = new TextDecoder();
      const reader = res.body!.getReader();
      // an abort alone does not always end a read in progress: cancelling the reader does
      conn.signal.addEventListener("abort", () => reader.cancel().catch(() => {}), { once: true });
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        arm();
        for (const ev of parser.push(decoder.decode(value, { stream: true }))) this.#event(ev);
        if (parser.pending > MAX_PENDING) throw new Error(`${this.base} sent an endless line`);
      }
      if (conn.signal.aborted) throw conn.signal.reason;
    } catch (err) {
      throw conn.signal.aborted ? conn.signal.reason : err;
    } finally {
      clearTimeout(idle);
      signal.removeEventListener("abort", onAbort);
    }
  }

  #event(ev: { event: string; data: string; id?: string }): void {
    if (ev.event !== "reading") return;
    if (ev.id !== undefined) this.#lastId = ev.id;
    let r: RemoteReading;
    try {
      r = parseReading(ev.data);
    } catch {
      return;
    }
    const set = this.#followers.get(r.device);
    if (!set) return;
    // a resume replays from the last id's millisecond: what was handed on already is skipped
    if (r.t <= (this.#lastT.get(r.device) ?? 0)) return;
    this.#lastT.set(r.device, r.t);
    for (const fn of set) fn(r);
  }

  /** Tells every follower the stream is down, as an error reading now. */
  #down(message: string): void {
    const t = Date.now() / 1000;
    for (const [device, set] of this.#followers) {
      for (const fn of set) fn({ t, device, values: {}, error: message });
    }
  }

  /** Ends the event stream and the HTTP client. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#resubscribe);
    this.#conn?.abort("closed");
    this.#wake?.();
    await this.#running;
    this.#client?.close();
  }
}

/** What a failed connection to `base` tells the user. */
function unreachable(base: string, err: unknown): string {
  // fetch says "fetch failed"; its cause says why ("error sending request for url (…): client
  // error (Connect): tcp connect error: Connection refused (os error 111)")
  const e = err as Error & { cause?: Error };
  const why = (e?.cause?.message ?? e?.message ?? String(err))
    .replace(/^error sending request for url \([^)]*\): /, "")
    .replace(/^client error \(Connect\): /, "");
  if (/certificate|UnknownIssuer|tls/i.test(why)) {
    return `${base}: the TLS certificate is not trusted (${why}); give ca_file = the PEM that ` +
      "signed the daemon's certificate";
  }
  return `no labwire serve answers at ${base} (${why}); is it running and listening there?`;
}

/** An event stream failure as a reading's error. */
function describe(base: string, err: unknown): string {
  if (err instanceof TypeError) return unreachable(base, err);
  return `${base}: ${(err as Error)?.message ?? String(err)}`;
}
