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
import { DeviceError, TimeoutError } from "../device/errors.ts";
import { formatMs } from "../device/device.ts";
import { deadlines } from "./deadline.ts";
import {
  AnswerFrame,
  BadAnswer,
  encodeRequest,
  frameAnswer,
  type HttpResult,
  MAX_BYTES,
  NothingReceived,
  scanAnswer,
} from "./http_codec.ts";

/** Options of one request. */
export interface RequestOptions {
  /** Milliseconds before the call fails with a {@linkcode TimeoutError} (connect to last byte). */
  timeout: number;
  /** Caller's abort (Ctrl-C, a stopped task); its reason is rethrown as is. */
  signal?: AbortSignal;
  /** Extra request headers (lower-case names recommended). */
  headers?: Record<string, string>;
}

/**
 * Turns a whole answer into the caller's value, synchronously, before the connection's buffer
 * is reused: `f` says where the status, headers and body lie in `received` (the body in
 * `f.body`). A decoder that reads the body's bytes itself makes no strings for a poll. What it
 * throws is the request's failure (a {@linkcode DeviceError} is passed on as it is).
 */
export type AnswerDecoder<T> = (f: AnswerFrame, received: Uint8Array) => T;

/** The answer as strings: status, reason, headers (parsed on demand) and the body as text. */
export const asResult: AnswerDecoder<HttpResult> = (f, received) => frameAnswer(received, f);

/**
 * The calls waiting on each caller's signal. A sampler hands one signal to every poll of a
 * tick: an abort listener per request made `removeEventListener` scan a list of 1,000
 * listeners 1,000 times a tick. Here each signal gets one listener, and its calls form a list
 * through the calls themselves (joining and leaving it allocates nothing).
 */
const watched = new WeakMap<AbortSignal, { first: Call | undefined }>();

function watchAbort(signal: AbortSignal, call: Call): void {
  let list = watched.get(signal);
  if (!list) {
    const calls: { first: Call | undefined } = list = { first: undefined };
    watched.set(signal, calls);
    signal.addEventListener("abort", () => {
      for (let c = calls.first; c; c = calls.first) {
        unwatchAbort(signal, c);
        c.client.cancel(c);
      }
    }, { once: true });
  }
  call.watchNext = list.first;
  if (list.first) list.first.watchPrev = call;
  list.first = call;
  call.watching = true;
}

function unwatchAbort(signal: AbortSignal, call: Call): void {
  if (!call.watching) return;
  call.watching = false;
  const list = watched.get(signal)!;
  if (call.watchPrev) call.watchPrev.watchNext = call.watchNext;
  else list.first = call.watchNext;
  if (call.watchNext) call.watchNext.watchPrev = call.watchPrev;
  call.watchPrev = call.watchNext = undefined;
}

/** Where a call is: waiting for the connection, connecting, waiting for a late answer, sent. */
type Phase = "queued" | "connecting" | "behind" | "sent" | "done";

/**
 * One request: everything it needs lives here (no closure per request); it is its own deadline
 * target ({@linkcode Call.expire}).
 */
class Call {
  phase: Phase = "queued";
  timedOut = false;
  cancelled = false;
  /** Fresh connections tried after a kept-alive one turned out dead. */
  retried = false;
  /** The request went out on a connection that had answered before. */
  reused = false;
  deadline: ReturnType<typeof deadlines.add> | undefined;
  /** While behind a late answer: when to stop waiting for it and reconnect instead. */
  patience: ReturnType<typeof deadlines.add> | undefined;
  connecting: AbortController | undefined;
  /** Neighbours in the list of calls watching the same signal. */
  watchPrev: Call | undefined;
  watchNext: Call | undefined;
  watching = false;
  resolve!: (value: unknown) => void;
  reject!: (err: unknown) => void;

  constructor(
    readonly client: HttpClient,
    readonly method: string,
    readonly path: string,
    readonly body: string | undefined,
    readonly opts: RequestOptions,
    readonly decode: AnswerDecoder<unknown>,
  ) {}

  /** The deadline passed (called by the deadline timer with the call as `this`). */
  expire(this: Call): void {
    this.timedOut = true;
    this.client.cancel(this);
  }

  /** Waited half its timeout for an earlier request's late answer: reconnect instead. */
  impatient(this: Call): void {
    this.patience = undefined;
    this.client.overtake(this);
  }

  /** Why the call was cancelled: our deadline, or the caller's abort reason. */
  reason(): unknown {
    return this.timedOut ? new DOMException("timeout", "TimeoutError") : this.opts.signal?.reason;
  }
}

/**
 * Answers are a few hundred bytes (an eBaratron poll: ~500 with headers); a buffer grows for
 * larger ones. Buffers are lent to connections only while an answer is due, so 10,000 mostly
 * idle connections share a few hundred.
 */
const BUFFER_SIZE = 640;
const MAX_SPARE = 4096;
const NO_BYTES = new Uint8Array();
const spareBuffers: Uint8Array[] = [];

/**
 * One TCP connection and the bytes received on it. Its callbacks are bound once per connection
 * (not per request); an answer is scanned synchronously from the bytes ({@linkcode scanAnswer})
 * and more are read only while it is incomplete, so a poll costs one read in the common case.
 */
class Link {
  /** Received bytes; a pooled buffer while an answer is due, none while idle. */
  buf: Uint8Array = NO_BYTES;
  start = 0;
  end = 0;
  /** Bytes received for the request in flight. */
  total = 0;
  /** A read is in flight. */
  reading = false;
  /** Answers still due to requests that timed out, skipped when they come. */
  owed = 0;
  /** Answers received on this connection. */
  answered = 0;
  dead = false;
  readonly frame = new AnswerFrame();

  constructor(readonly conn: Deno.TcpConn, readonly client: HttpClient) {}

  readonly onRead = (n: number | null): void => this.client.received(this, n);
  readonly onFail = (err: unknown): void => this.client.failed(this, err);
  readonly onWritten = (n: number): void => this.client.written(this, n);

  /** Where the next read goes: the free end of the buffer (grown when full). */
  room(): Uint8Array {
    if (this.buf === NO_BYTES) this.buf = spareBuffers.pop() ?? new Uint8Array(BUFFER_SIZE);
    if (this.start > 0 && this.start === this.end) this.start = this.end = 0;
    if (this.end === this.buf.length) {
      const size = this.end - this.start;
      if (size >= MAX_BYTES + 16384) throw new BadAnswer(`answer larger than ${MAX_BYTES} bytes`);
      const next = new Uint8Array(size * 2 < this.buf.length ? this.buf.length : size * 2);
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
      this.start = 0;
      this.end = size;
    }
    // The common case reads into the whole buffer: no view to make.
    return this.end === 0 ? this.buf : this.buf.subarray(this.end);
  }

  /**
   * Gives the buffer back to the pool when everything received is consumed and no read is in
   * flight (a read in flight still writes into it).
   */
  rest(): void {
    if (this.reading || this.start !== this.end || this.buf === NO_BYTES) return;
    if (this.buf.length === BUFFER_SIZE && spareBuffers.length < MAX_SPARE) {
      spareBuffers.push(this.buf);
    }
    this.buf = NO_BYTES;
    this.start = this.end = 0;
  }

  /** The bytes received and not yet consumed. */
  window(): Uint8Array {
    return this.start === 0 && this.end === this.buf.length
      ? this.buf
      : this.buf.subarray(this.start, this.end);
  }
}

/**
 * A keep-alive HTTP/1.1 client for one origin (`http://host[:port]`). Requests are sent one at
 * a time; a request that fails drops the connection and the next one reconnects. A request
 * that times out keeps the connection once: its answer, when it comes late, is read and
 * skipped before the next request is sent (reconnecting costs both sides more than the poll,
 * and under overload fed the next timeout); a second timeout while that answer is still due
 * drops it.
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
  /** The call that owns the connection; others wait in `#waiters`, in order. */
  #current: Call | undefined;
  #waiters: Call[] = [];
  #closed = false;

  /** Creates a client; no connection is made until the first request. */
  constructor(origin: string, opts: { device?: string } = {}) {
    const url = new URL(origin);
    if (url.protocol !== "http:") {
      throw new DeviceError(`${origin}: only plain http:// is supported`, opts.device);
    }
    this.origin = url.origin;
    this.#host = url.host;
    this.#hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    this.#port = url.port === "" ? 80 : Number(url.port);
    this.#device = opts.device;
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
    const call = new Call(this, method, path, body, opts, decode);
    const promise = new Promise<T>((resolve, reject) => {
      call.resolve = resolve as (value: unknown) => void;
      call.reject = reject;
    });
    const outer = opts.signal;
    if (outer?.aborted) {
      call.cancelled = true;
      this.#fail(call, call.reason());
      return promise;
    }
    call.deadline = deadlines.add(opts.timeout, call.expire, call);
    if (outer) watchAbort(outer, call);
    if (this.#current) this.#waiters.push(call);
    else this.#start(call);
    return promise;
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
    if (!link) this.#connect(call);
    else if (link.owed > 0) {
      call.phase = "behind";
      call.patience = deadlines.add(call.opts.timeout / 2, call.impatient, call);
    } else this.#send(call, link);
  }

  /**
   * The answer `call` waits behind is too late: the connection goes and `call` reconnects
   * (internal: called by the call's patience deadline).
   */
  overtake(call: Call): void {
    if (call.phase !== "behind" || this.#current !== call) return;
    if (this.#link) this.#drop(this.#link);
    this.#start(call);
  }

  #connect(call: Call): void {
    call.phase = "connecting";
    const connecting = call.connecting = new AbortController();
    Deno.connect({ hostname: this.#hostname, port: this.#port, signal: connecting.signal })
      .then((conn) => {
        call.connecting = undefined;
        if (call.phase !== "connecting" || this.#closed) {
          conn.close();
          return;
        }
        const link = this.#link = new Link(conn, this);
        this.#send(call, link);
      }, (err) => {
        call.connecting = undefined;
        if (call.phase === "connecting") this.#fail(call, err);
      });
  }

  #send(call: Call, link: Link): void {
    if (call.patience) deadlines.remove(call.patience);
    call.patience = undefined;
    call.phase = "sent";
    call.reused = link.answered > 0;
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
    link.conn.write(this.#lastBytes).then(link.onWritten, link.onFail);
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
    link.conn.read(room).then(link.onRead, link.onFail);
  }

  /** A write finished (internal: called by the connection). */
  written(link: Link, n: number): void {
    const bytes = this.#lastBytes;
    if (link.dead || n >= bytes.length) return;
    writeAll(link.conn, bytes.subarray(n)).catch(link.onFail);
  }

  /** Bytes arrived, or the end of the stream (internal: called by the connection). */
  received(link: Link, n: number | null): void {
    link.reading = false;
    if (link.dead) return;
    if (n !== null) {
      link.end += n;
      link.total += n;
    }
    this.#receive(link, n === null);
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
      let whole: boolean;
      try {
        whole = scanAnswer(link.window(), eof, mine ? link.total : 1, f);
      } catch (err) {
        this.failed(link, err);
        return;
      }
      if (!whole) {
        if (!eof && (mine || link.owed > 0)) this.#read(link);
        else if (!eof) this.failed(link, new BadAnswer("bytes arrived that answer no request"));
        return;
      }
      const bytes = link.window();
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
      }
      this.#done(call);
      call.resolve(value);
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
      call.connecting?.abort(call.reason());
    } else if (call.phase === "sent" && call.timedOut && this.#link && this.#link.owed === 0) {
      // Keep the connection: the answer may only be late; it is skipped when it comes.
      this.#link.owed++;
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
      call.reject(outer.reason ?? err);
    } else if (err instanceof DeviceError) {
      call.reject(err);
    } else {
      const tried = `${call.method} ${this.origin}${call.path}`;
      call.reject(
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
    if (call) {
      call.connecting?.abort(closed(call));
      this.#fail(call, closed(call));
    }
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

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/**
 * Turns a network failure into a DeviceError naming what was tried, why it failed and what to
 * check; `timedOut` marks our own deadline; `service` is what should be listening.
 *
 * @example
 * ```ts
 * import { describeFailure } from "./http.ts";
 * const e = describeFailure(new Deno.errors.ConnectionRefused("refused"), "POST http://h/x", "h", 1000);
 * e.message; // "POST http://h/x: connection refused; nothing listens on h; …"
 * ```
 */
export function describeFailure(
  err: unknown,
  tried: string,
  where: string,
  timeoutMs: number,
  device?: string,
  timedOut = false,
  service = "web server",
): DeviceError {
  if (timedOut) {
    return new TimeoutError(
      `${tried}: no answer within ${formatMs(timeoutMs)}; check that ${where} is powered, ` +
        `on this network and not overloaded, or allow more time with ?timeout=`,
      device,
      { cause: err },
    );
  }
  const name = err instanceof Error ? err.name : "";
  const detail = err instanceof Error ? err.message : String(err);
  const lower = detail.toLowerCase();
  let why: string;
  let check: string;
  if (name === "ConnectionRefused" || lower.includes("refused")) {
    why = "connection refused";
    check = `nothing listens on ${where}; check the address and port, and that the device's ` +
      `${service} is on`;
  } else if (lower.includes("lookup") || lower.includes("dns") || lower.includes("resolve")) {
    why = "the host name does not resolve";
    check = `check the spelling of the host, or use the device's IP address`;
  } else if (
    name === "NothingReceived" || name === "ConnectionReset" || name === "BrokenPipe" ||
    name === "UnexpectedEof" || name === "ConnectionAborted" || lower.includes("reset")
  ) {
    why = "the connection was dropped before an answer";
    check = `${where} closed the connection; check it is the right device and not rebooting`;
  } else if (name === "BadAnswer") {
    why = `bad HTTP answer: ${detail}`;
    check = `check that ${where} is the device you meant`;
  } else if (lower.includes("unreachable") || lower.includes("no route")) {
    why = "the network is unreachable";
    check = `check cabling, VLAN and this computer's route to ${where}`;
  } else if (name === "TimedOut") {
    why = "the operating system gave up connecting";
    check = `check that ${where} is powered and on this network`;
  } else if (name === "NotCapable" || name === "PermissionDenied") {
    why = "network access is not permitted";
    check = "run with network permission (deno run -A, or the compiled labwire)";
  } else {
    why = detail || "request failed";
    check = `check that ${where} is reachable`;
  }
  return new DeviceError(`${tried}: ${why}; ${check}`, device, { cause: err });
}
