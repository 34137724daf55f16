/**
 * A small HTTP/1.1 client over one keep-alive TCP connection per device, with a deadline and
 * an abort signal on every request, where every failure — refused, DNS, timeout, reset, a
 * truncated answer — becomes a {@linkcode DeviceError} saying what was tried and what to check.
 *
 * Why not `fetch`: polling 1,000 gauges twice a second through `fetch` costs about five times
 * the CPU and twice the memory of this client (Request/Response/stream objects per call, a pool
 * per host); an instrument poll is one small request on a connection we own. Instruments speak
 * plain HTTP on a LAN: no TLS, no redirects, no compression, no pipelining.
 *
 * Per request the client allocates little: the request bytes are encoded once and reused, the
 * deadline is an entry in the process' one deadline timer (`./deadline.ts`; a `setTimeout` plus
 * an `AbortController` per call cost more than the parsing), the answer's header block is
 * scanned for the three headers that matter and parsed into a map only if a caller asks.
 *
 * @module
 */
import { DeviceError } from "../device/errors.ts";
import { deadlines } from "./deadline.ts";
import {
  type AnswerDecoder,
  Call,
  type RequestOptions,
  unwatchAbort,
  watchAbort,
} from "./http_call.ts";
import {
  encodeRequest,
  frameAnswer,
  type HttpResult,
  NothingReceived,
  scanAnswer,
} from "./http_codec.ts";
import { BadAnswer } from "./http_framing.ts";
import { describeFailure } from "./http_failure.ts";
import { Link } from "./http_link.ts";

export type { AnswerDecoder, RequestOptions } from "./http_call.ts";

/** Opens a TCP connection (`Deno.connect`'s signature; tests slow it down). */
export type Connector = (
  opts: Deno.ConnectOptions & { signal?: AbortSignal },
) => Promise<Deno.TcpConn>;

/** Options of an {@linkcode HttpClient}. */
export interface HttpClientOptions {
  /** The device name failures are reported for. */
  device?: string;
  /** How to open the TCP connection (default `Deno.connect`). */
  connect?: Connector;
}

const NO_BYTES = new Uint8Array();

/** The answer as strings: status, reason, headers (parsed on demand) and the body as text. */
export const asResult: AnswerDecoder<HttpResult> = (f, received) => frameAnswer(received, f);

/**
 * A keep-alive HTTP/1.1 client for one origin (`http://host[:port]`). Requests are sent one at
 * a time; a request that fails drops the connection and the next one reconnects. A request
 * that times out keeps the connection once: its answer, when it comes late, is read and
 * skipped before the next request is sent (reconnecting costs both sides more than the poll,
 * and under overload fed the next timeout). The next request waits for the late answer at most
 * half its own timeout, and only until one more timeout has passed since the request timed out:
 * a request that comes later reconnects at once. A second timeout while that answer is still
 * due drops the connection. Likewise a
 * request that times out while connecting leaves the connect running, and the next request
 * goes out on that connection once it is made; a second timeout while it is still connecting
 * abandons it.
 *
 * @example
 * ```ts ignore
 * import { HttpClient } from "./http.ts";
 * const client = new HttpClient("http://10.0.0.5");
 * const { status, text } = await client.post("/ToolWeb/Cmd", "<PollRequest/>", { timeout: 1000 });
 * client.close();
 * ```
 */
export class HttpClient {
  readonly origin: string;
  readonly #hostname: string;
  readonly #port: number;
  readonly #host: string;
  readonly #device?: string;
  #link: Link | undefined;
  #last:
    | { method: string; path: string; body?: string; headers?: Record<string, string> }
    | undefined;
  #lastBytes: Uint8Array = new Uint8Array();
  /**
   * The connect under way, if any, and how many requests ran out of time waiting for it. It
   * belongs to the client, not to the request that started it: 10,000 gauges connecting at once
   * took longer than the first poll's 1 s timeout, and a connect abandoned with its request had
   * cost both sides (~50 µs of CPU here, ~60 µs in the simulator) only to be made again by the
   * next poll under the same load (55,000 of 65,000 connects in a 40 s run were abandoned so).
   */
  #dialing: { abort: AbortController; timeouts: number } | undefined;
  readonly #connect: Connector;
  /** The call that owns the connection; others wait in `#waiters`, in order. */
  #current: Call | undefined;
  #waiters: Call[] = [];
  #closed = false;

  /** Creates a client; no connection is made until the first request. */
  constructor(origin: string, opts: HttpClientOptions = {}) {
    const url = new URL(origin);
    if (url.protocol !== "http:") {
      throw new DeviceError(`${origin}: only plain http:// is supported`, opts.device);
    }
    this.origin = url.origin;
    this.#host = url.host;
    this.#hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    this.#port = url.port === "" ? 80 : Number(url.port);
    this.#device = opts.device;
    this.#connect = opts.connect ?? Deno.connect;
  }

  /** POSTs `body` to `path` and reads the whole answer; any status is returned to the caller. */
  post(path: string, body: string, opts: RequestOptions): Promise<HttpResult> {
    return this.exchange("POST", path, body, opts, asResult);
  }

  /** Sends one request (queued behind any in flight) within `opts.timeout` ms. */
  request(
    method: string,
    path: string,
    body: string | undefined,
    opts: RequestOptions,
  ): Promise<HttpResult> {
    return this.exchange(method, path, body, opts, asResult);
  }

  /**
   * Sends one request (queued behind any in flight) within `opts.timeout` ms and hands the
   * answer to `decode` (any status; see {@linkcode AnswerDecoder}).
   */
  exchange<T>(
    method: string,
    path: string,
    body: string | undefined,
    opts: RequestOptions,
    decode: AnswerDecoder<T>,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.exchangeTo(method, path, body, opts, decode, resolve, reject)
    );
  }

  /**
   * Sends one request like {@linkcode exchange}, but hands what `decode` makes of the answer to
   * `done`, or the request's failure to `failed`, instead of settling a promise: a poller's way
   * (thousands of requests a second), each without a promise, its resolving functions and a
   * reaction of its own. Exactly one of them is called, once, in the turn the answer (or the
   * failure) comes, possibly before this returns (a caller's signal already aborted, a closed
   * client). One that throws is a bug of its own: its error is reported as uncaught (the
   * process' last resort logs it) and the other calls settled in the same turn still get theirs.
   * `at`, the caller's `performance.now()` of the request's start if it has just read it, is
   * where its timeout counts from (else from now).
   */
  exchangeTo<T>(
    method: string,
    path: string,
    body: string | undefined,
    opts: RequestOptions,
    decode: AnswerDecoder<T>,
    done: (value: T) => void,
    failed: (err: unknown) => void,
    at?: number,
  ): void {
    const call = new Call(
      this,
      method,
      path,
      body,
      opts,
      decode,
      done as (value: unknown) => void,
      failed,
    );
    const outer = opts.signal;
    if (outer?.aborted) {
      call.cancelled = true;
      this.#fail(call, call.reason());
      return;
    }
    call.deadline = deadlines.add(opts.timeout, call.expire, call, at);
    if (outer) watchAbort(outer, call);
    if (this.#current) this.#waiters.push(call);
    else this.#start(call);
  }

  /** Gives `call` the connection: connects, waits for a late answer, or sends. */
  #start(call: Call): void {
    this.#current = call;
    if (this.#closed) {
      this.#fail(
        call,
        new DeviceError(
          `${call.method} ${this.origin}${call.path}: the client is closed`,
          this.#device,
        ),
      );
      return;
    }
    const link = this.#link;
    if (!link) this.#dial(call);
    else if (link.owed > 0) {
      // The late answer is waited for until one more timeout has passed since its request timed
      // out, and at most half this call's timeout (the other half is left to reconnect and
      // poll, so that a device gone off the network is told apart in one poll). A call that
      // comes after that window does not wait at all: the answer is lost.
      const wait = Math.min(link.owedUntil - performance.now(), call.opts.timeout / 2);
      if (wait <= 0) {
        // The device lost that request: no use waiting.
        this.#drop(link);
        this.#dial(call);
        return;
      }
      call.phase = "behind";
      call.patience = deadlines.add(wait, call.impatient, call);
    } else this.#send(call, link);
  }

  /**
   * The answer `call` waits behind did not come within its request's timeout after that
   * timed out: the connection goes and `call` reconnects (internal: called by the call's
   * patience deadline).
   */
  overtake(call: Call): void {
    if (call.phase !== "behind" || this.#current !== call) return;
    if (this.#link) this.#drop(this.#link);
    this.#start(call);
  }

  /** `call` waits for a connection: the one under way, or a new one. */
  #dial(call: Call): void {
    call.phase = "connecting";
    if (this.#dialing) return;
    const dialing = this.#dialing = { abort: new AbortController(), timeouts: 0 };
    this.#connect({ hostname: this.#hostname, port: this.#port, signal: dialing.abort.signal })
      .then((conn) => {
        if (this.#dialing !== dialing || this.#closed) {
          conn.close();
          return;
        }
        this.#dialing = undefined;
        const link = this.#link = new Link(conn, this);
        // The request that started the connect may have run out of time: the connection
        // waits for the next one.
        const call = this.#current;
        if (call?.phase === "connecting") this.#send(call, link);
        else link.waited = true;
      }, (err) => {
        if (this.#dialing !== dialing) return;
        this.#dialing = undefined;
        const call = this.#current;
        if (call?.phase === "connecting") this.#fail(call, err);
      });
  }

  /** Stops the connect under way (its connection, if it is made, is closed at once). */
  #hangUp(reason: unknown): void {
    const dialing = this.#dialing;
    this.#dialing = undefined;
    dialing?.abort.abort(reason);
  }

  #send(call: Call, link: Link): void {
    if (call.patience) deadlines.remove(call.patience);
    call.patience = undefined;
    call.phase = "sent";
    // A connection that sat idle may have been closed by the device meanwhile (see `failed`).
    call.reused = link.answered > 0 || link.waited;
    const { method, path, body } = call;
    const headers = call.opts.headers;
    // Instruments are polled with the same request over and over: encode it once.
    const last = this.#last;
    if (
      !last || last.method !== method || last.path !== path || last.body !== body ||
      last.headers !== headers
    ) {
      this.#lastBytes = encodeRequest(method, path, this.#host, body, headers);
      this.#last = { method, path, body, headers };
    }
    link.total = 0;
    link.io.write(this.#lastBytes).then(link.onWritten, link.onFail);
    this.#read(link);
  }

  /** Reads more into the link's buffer unless a read is already in flight. */
  #read(link: Link): void {
    if (link.reading) return;
    let room: Uint8Array;
    try {
      room = link.room();
    } catch (err) {
      this.failed(link, err);
      return;
    }
    link.reading = true;
    link.io.read(room).then(link.onRead, link.onFail);
  }

  /** A write finished (internal: called by the connection). */
  written(link: Link, n: number): void {
    const bytes = this.#lastBytes;
    if (link.dead || n >= bytes.length) return;
    writeAll(link.conn, bytes.subarray(n)).catch(link.onFail);
  }

  /** `n` bytes arrived, 0 at the end of the stream (internal: called by the connection). */
  received(link: Link, n: number): void {
    link.reading = false;
    if (link.dead) return;
    link.end += n;
    link.total += n;
    this.#receive(link, n === 0);
    link.rest();
  }

  #receive(link: Link, eof: boolean): void {
    for (;;) {
      const call = this.#current;
      const mine = call !== undefined && call.phase === "sent";
      const f = link.frame;
      if (link.start === link.end && !eof) {
        // Everything received is consumed: read on only while an answer is due.
        if (mine || link.owed > 0) this.#read(link);
        return;
      }
      // One view of the received bytes per answer, scanned and then decoded.
      const bytes = link.window();
      let whole: boolean;
      try {
        whole = scanAnswer(bytes, eof, mine ? link.total : 1, f);
      } catch (err) {
        this.failed(link, err);
        return;
      }
      if (!whole) {
        if (!eof && (mine || link.owed > 0)) this.#read(link);
        else if (!eof) this.failed(link, new BadAnswer("bytes arrived that answer no request"));
        return;
      }
      link.start += f.used;
      link.answered++;
      if (f.close || eof) this.#drop(link);
      if (link.owed > 0) {
        // The late answer of a request that timed out: skipped.
        link.owed--;
        if (link.dead) {
          if (call?.phase === "behind") this.#start(call);
          return;
        }
        if (link.owed === 0 && call?.phase === "behind") {
          this.#send(call, link);
          return;
        }
        continue;
      }
      if (!mine) {
        this.failed(link, new BadAnswer("an answer came that no request asked for"));
        return;
      }
      let value: unknown;
      try {
        value = call.decode(f, bytes);
      } catch (err) {
        this.#fail(call, err);
        return;
      } finally {
        // The frame outlives the answer: it must not keep the buffer (pooled, or reused by
        // another connection) alive while the device is idle.
        f.body = NO_BYTES;
      }
      this.#done(call);
      deliver(call.resolve, value);
      return;
    }
  }

  /** The connection failed (internal: called by the connection). */
  failed(link: Link, err: unknown): void {
    if (link.dead) return;
    this.#drop(link);
    const call = this.#current;
    if (!call) return;
    if (call.phase === "behind") {
      // It never went out on this connection: it goes out on a fresh one.
      this.#start(call);
      return;
    }
    if (call.phase !== "sent") return;
    // A kept-alive connection the device closed while idle fails before any byte of an
    // answer (EOF, reset or broken pipe): one fresh attempt is safe.
    const nothing = err instanceof NothingReceived || link.total === 0;
    if (call.reused && !call.retried && nothing && !call.cancelled) {
      call.retried = true;
      this.#start(call);
      return;
    }
    this.#fail(call, err);
  }

  /**
   * Cancels a call (its deadline passed or its caller aborted), in whatever phase it is
   * (internal: called by the deadline timer and the abort watcher).
   */
  cancel(call: Call): void {
    if (call.phase === "done") return;
    call.cancelled = true;
    if (call.phase === "queued") {
      const i = this.#waiters.indexOf(call);
      if (i >= 0) this.#waiters.splice(i, 1);
    } else if (call.phase === "connecting") {
      // Timed out: the connect goes on for the next request, unless it already outlived an
      // earlier request's timeout too. A caller that gives up takes the connect with it.
      const dialing = this.#dialing;
      if (dialing && (!call.timedOut || dialing.timeouts++ > 0)) this.#hangUp(call.reason());
    } else if (call.phase === "sent" && call.timedOut && this.#link && this.#link.owed === 0) {
      // Keep the connection: the answer may only be late; it is skipped when it comes.
      this.#link.owed++;
      this.#link.owedUntil = performance.now() + call.opts.timeout;
    } else if (this.#link) {
      // The device did not answer the earlier request within this one's whole timeout either,
      // or the caller gave up: the connection goes.
      this.#drop(this.#link);
    }
    this.#fail(call, call.reason());
  }

  /** Ends `call` with `err` (mapped to a device error) and hands the connection on. */
  #fail(call: Call, err: unknown): void {
    if (call.phase === "done") return;
    this.#done(call);
    const outer = call.opts.signal;
    if (outer?.aborted && !call.timedOut) {
      deliver(call.reject, outer.reason ?? err);
    } else if (err instanceof DeviceError) {
      deliver(call.reject, err);
    } else {
      const tried = `${call.method} ${this.origin}${call.path}`;
      deliver(
        call.reject,
        describeFailure(err, tried, this.#host, call.opts.timeout, this.#device, call.timedOut),
      );
    }
  }

  /** Marks `call` finished: its deadline and abort watch go, the next waiter starts. */
  #done(call: Call): void {
    call.phase = "done";
    if (call.deadline) deadlines.remove(call.deadline);
    if (call.patience) deadlines.remove(call.patience);
    const outer = call.opts.signal;
    if (outer) unwatchAbort(outer, call);
    if (this.#current !== call) return;
    this.#current = undefined;
    const next = this.#waiters.shift();
    if (next) this.#start(next);
  }

  #drop(link: Link): void {
    if (link.dead) return;
    link.dead = true;
    if (this.#link === link) this.#link = undefined;
    try {
      link.conn.close();
    } catch {
      // Already closed by the peer.
    }
  }

  /** Closes the connection; a request in flight and later ones fail. */
  close(): void {
    this.#closed = true;
    if (this.#link) this.#drop(this.#link);
    const closed = (c: Call) =>
      new DeviceError(`${c.method} ${this.origin}${c.path}: the client is closed`, this.#device);
    for (const c of this.#waiters.splice(0)) this.#fail(c, closed(c));
    const call = this.#current;
    this.#hangUp(call ? closed(call) : undefined);
    if (call) this.#fail(call, closed(call));
  }
}

/**
 * One POST on a fresh connection, closed afterwards (for one-off calls; devices keep an
 * {@linkcode HttpClient}).
 *
 * @example
 * ```ts ignore
 * import { httpPost } from "./http.ts";
 * const { status } = await httpPost("http://10.0.0.5/ToolWeb/Cmd", "<PollRequest/>", { timeout: 1000 });
 * ```
 */
export async function httpPost(
  url: string,
  body: string,
  opts: RequestOptions & { device?: string },
): Promise<HttpResult> {
  const u = new URL(url);
  const client = new HttpClient(u.origin, { device: opts.device });
  try {
    return await client.post(`${u.pathname}${u.search}`, body, opts);
  } finally {
    client.close();
  }
}

/**
 * Hands a call's outcome to its callback so that a throw stays that callback's own: it is
 * reported as an uncaught error, not thrown on into the turn, which may be settling other calls
 * too (one deadline tick fails every device's call that timed out, one abort cancels them all,
 * a read hands the connection on to the next waiter): those would never be settled.
 */
function deliver(callback: (value: unknown) => void, value: unknown): void {
  try {
    callback(value);
  } catch (err) {
    reportError(err);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}
