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
  type Answer,
  BadAnswer,
  encodeRequest,
  type HttpResult,
  MAX_BYTES,
  NothingReceived,
  parseAnswer,
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
 * The calls waiting on each caller's signal. A sampler hands one signal to every poll of a
 * tick: an abort listener per request made `removeEventListener` scan a list of 1,000
 * listeners 1,000 times a tick. Here each signal gets one listener, and calls come and go in a
 * set.
 */
const watched = new WeakMap<AbortSignal, Set<() => void>>();

function watchAbort(signal: AbortSignal, cancel: () => void): void {
  let calls = watched.get(signal);
  if (!calls) {
    const set = calls = new Set();
    watched.set(signal, set);
    signal.addEventListener("abort", () => {
      for (const c of [...set]) c();
      set.clear();
    }, { once: true });
  }
  calls.add(cancel);
}

function unwatchAbort(signal: AbortSignal, cancel: () => void): void {
  watched.get(signal)?.delete(cancel);
}

/** What interrupts one request: its deadline or the caller's abort, in whatever phase it is. */
interface Call {
  /** The deadline passed. */
  timedOut: boolean;
  /** The deadline passed or the caller aborted. */
  cancelled: boolean;
  /** Interrupts the current phase: leave the queue, abort the connect, or close the socket. */
  stop: (() => void) | undefined;
}

/**
 * A keep-alive HTTP/1.1 client for one origin (`http://host[:port]`). Requests are sent one at
 * a time; a request that fails or times out drops the connection and the next one reconnects.
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
  #conn: Deno.TcpConn | undefined;
  #reader: Reader | undefined;
  #last:
    | { method: string; path: string; body?: string; headers?: Record<string, string> }
    | undefined;
  #lastBytes: Uint8Array = new Uint8Array();
  /** True while a request owns the connection; others wait in `#waiters`, in order. */
  #busy = false;
  #waiters: (() => void)[] = [];
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
    return this.request("POST", path, body, opts);
  }

  /** Sends one request (queued behind any in flight) within `opts.timeout` ms. */
  async request(
    method: string,
    path: string,
    body: string | undefined,
    opts: RequestOptions,
  ): Promise<HttpResult> {
    const call: Call = { timedOut: false, cancelled: false, stop: undefined };
    const cancel = () => {
      call.cancelled = true;
      call.stop?.();
    };
    const deadline = deadlines.add(opts.timeout, () => {
      call.timedOut = true;
      cancel();
    });
    const outer = opts.signal;
    if (outer?.aborted) call.cancelled = true;
    else if (outer) watchAbort(outer, cancel);
    const reason = () =>
      call.timedOut ? new DOMException("timeout", "TimeoutError") : outer?.reason;
    let acquired = false;
    try {
      if (call.cancelled) throw reason();
      await this.#acquire(call, reason);
      acquired = true;
      if (this.#closed) {
        throw new DeviceError(
          `${method} ${this.origin}${path}: the client is closed`,
          this.#device,
        );
      }
      // Instruments are polled with the same request over and over: encode it once.
      const last = this.#last;
      if (
        !last || last.method !== method || last.path !== path || last.body !== body ||
        last.headers !== opts.headers
      ) {
        this.#lastBytes = encodeRequest(method, path, this.#host, body, opts.headers);
        this.#last = { method, path, body, headers: opts.headers };
      }
      const bytes = this.#lastBytes;
      for (let attempt = 0;; attempt++) {
        const reused = this.#conn !== undefined;
        if (!this.#conn) {
          const connecting = new AbortController();
          call.stop = () => connecting.abort(reason());
          this.#conn = await Deno.connect({
            hostname: this.#hostname,
            port: this.#port,
            signal: connecting.signal,
          });
        }
        const conn = this.#conn;
        const reader = this.#reader ??= new Reader(conn);
        // Closing the socket is what interrupts a pending read or write.
        call.stop = () => this.#drop();
        if (call.cancelled) {
          this.#drop();
          throw reason();
        }
        reader.total = 0;
        try {
          const n = await conn.write(bytes);
          if (n < bytes.length) await writeAll(conn, bytes.subarray(n));
          let res: Answer | undefined;
          // One read per answer in the common case, awaited here (no async helper per read).
          while (!(res = reader.answer(false))) {
            const got = await conn.read(reader.room());
            if (got === null) {
              res = reader.answer(true)!;
              break;
            }
            reader.got(got);
          }
          if (res.close) this.#drop();
          return res;
        } catch (err) {
          this.#drop();
          // A kept-alive connection the device closed while idle fails before any byte of an
          // answer (EOF, reset or broken pipe): one fresh attempt is safe.
          const nothing = err instanceof NothingReceived || reader.total === 0;
          if (reused && attempt === 0 && nothing && !call.cancelled) continue;
          throw err;
        }
      }
    } catch (err) {
      if (outer?.aborted && !call.timedOut) throw outer.reason ?? err;
      if (err instanceof DeviceError) throw err;
      const tried = `${method} ${this.origin}${path}`;
      throw describeFailure(err, tried, this.#host, opts.timeout, this.#device, call.timedOut);
    } finally {
      call.stop = undefined;
      deadlines.remove(deadline);
      if (outer) unwatchAbort(outer, cancel);
      if (acquired) this.#release();
    }
  }

  /** Waits for the connection to be free; rejects (leaving the queue) if the call is cancelled. */
  #acquire(call: Call, reason: () => unknown): Promise<void> {
    if (!this.#busy) {
      this.#busy = true;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const turn = () => {
        call.stop = undefined;
        resolve();
      };
      call.stop = () => {
        const i = this.#waiters.indexOf(turn);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(reason());
      };
      this.#waiters.push(turn);
    });
  }

  /** Hands the connection to the next waiter, or marks it free. */
  #release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#busy = false;
  }

  #drop(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    this.#reader = undefined;
    try {
      conn?.close();
    } catch {
      // Already closed by the peer.
    }
  }

  /** Closes the connection; later requests fail. */
  close(): void {
    this.#closed = true;
    this.#drop();
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
 * The bytes received on a connection. An answer is parsed from them synchronously
 * ({@linkcode parseAnswer}) and more are read only while it is incomplete, so a poll costs one
 * read in the common case and no async call per header, chunk or body.
 */
class Reader {
  // Answers are a few hundred bytes (an eBaratron poll: 383); the buffer grows for larger ones.
  #buf = new Uint8Array(512);
  #start = 0;
  #end = 0;
  /** Bytes received so far. */
  total = 0;

  constructor(readonly conn: Deno.Conn) {}

  /** Where the next read goes: the free end of the buffer (grown when full). */
  room(): Uint8Array {
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const size = this.#end - this.#start;
      if (size >= MAX_BYTES + 16384) throw new BadAnswer(`answer larger than ${MAX_BYTES} bytes`);
      const next = new Uint8Array(size * 2 < this.#buf.length ? this.#buf.length : size * 2);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = size;
    }
    return this.#buf.subarray(this.#end);
  }

  /** Takes `n` bytes just read into {@linkcode Reader.room}. */
  got(n: number): void {
    this.#end += n;
    this.total += n;
  }

  /** The whole answer if it has arrived (`eof`: no more will), consuming its bytes. */
  answer(eof: boolean): Answer | undefined {
    const parsed = parseAnswer(this.#buf.subarray(this.#start, this.#end), eof, this.total);
    if (parsed) this.#start += parsed.used;
    return parsed?.answer;
  }
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
