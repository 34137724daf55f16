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

/** Options of one request. */
export interface RequestOptions {
  /** Milliseconds before the call fails with a {@linkcode TimeoutError} (connect to last byte). */
  timeout: number;
  /** Caller's abort (Ctrl-C, a stopped task); its reason is rethrown as is. */
  signal?: AbortSignal;
  /** Extra request headers (lower-case names recommended). */
  headers?: Record<string, string>;
}

/** An answer: status, headers (lower-case names) and the whole body as text. */
export interface HttpResult {
  /** HTTP status code. */
  readonly status: number;
  /** Reason phrase, e.g. "OK". */
  readonly statusText: string;
  /** Response headers, names lower-cased (repeated headers joined with ", "). */
  readonly headers: Map<string, string>;
  /** Body decoded as UTF-8. */
  readonly text: string;
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

/** Largest answer accepted; an instrument poll is a few hundred bytes. */
const MAX_BYTES = 1 << 20;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The connection closed before a single byte of the answer arrived (safe to retry once). */
class NothingReceived extends Error {
  constructor() {
    super("the connection closed before an answer");
    this.name = "NothingReceived";
  }
}

/** The answer broke off or did not parse as HTTP. */
class BadAnswer extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadAnswer";
  }
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
    else outer?.addEventListener("abort", cancel, { once: true });
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
      outer?.removeEventListener("abort", cancel);
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

function encodeRequest(
  method: string,
  path: string,
  host: string,
  body: string | undefined,
  headers: Record<string, string> = {},
): Uint8Array {
  const payload = body === undefined ? undefined : encoder.encode(body);
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [k, v] of Object.entries(headers)) {
    if (/[\r\n]/.test(k + v)) throw new TypeError(`header ${k} contains a line break`);
    head += `${k}: ${v}\r\n`;
  }
  if (payload) head += `content-length: ${payload.length}\r\n`;
  head += "\r\n";
  const h = encoder.encode(head);
  if (!payload) return h;
  const all = new Uint8Array(h.length + payload.length);
  all.set(h);
  all.set(payload, h.length);
  return all;
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

const CRLF = [13, 10];
const CRLFCRLF = [13, 10, 13, 10];

/** Index of `seq` in `b` from `from`, or -1. */
function indexOfSeq(b: Uint8Array, seq: readonly number[], from: number): number {
  const first = seq[0]!;
  for (let i = b.indexOf(first, from); i >= 0; i = b.indexOf(first, i + 1)) {
    if (i + seq.length > b.length) return -1;
    let j = 1;
    while (j < seq.length && b[i + j] === seq[j]) j++;
    if (j === seq.length) return i;
  }
  return -1;
}

/** An answer as read: its header block stays text until a caller asks for the headers. */
class Answer implements HttpResult {
  #headers: Map<string, string> | undefined;

  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly text: string,
    /** The header lines after the status line, CRLF-separated. */
    readonly head: string,
    /** The connection must not be reused. */
    readonly close: boolean,
  ) {}

  get headers(): Map<string, string> {
    return this.#headers ??= parseHeaders(this.head);
  }
}

/** Header lines into a map of lower-cased names (repeated headers joined with ", "). */
function parseHeaders(head: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of head === "" ? [] : head.split("\r\n")) {
    const c = line.indexOf(":");
    const k = line.slice(0, c).trim().toLowerCase();
    const v = line.slice(c + 1).trim();
    headers.set(k, headers.has(k) ? `${headers.get(k)}, ${v}` : v);
  }
  return headers;
}

/** The three headers that decide how the body is read, from one pass over the header lines. */
interface Framing {
  contentLength: string | undefined;
  transferEncoding: string;
  connection: string;
}

function scanHeaders(head: string): Framing {
  const f: Framing = { contentLength: undefined, transferEncoding: "", connection: "" };
  let start = 0;
  while (start < head.length) {
    let end = head.indexOf("\r\n", start);
    if (end < 0) end = head.length;
    const c = head.indexOf(":", start);
    if (c <= start || c > end) {
      throw new BadAnswer(`bad HTTP header line ${JSON.stringify(head.slice(start, end))}`);
    }
    // Only names of the right length are compared, so most lines cost two indexOf calls.
    const n = c - start;
    if (
      n === 14 || n === 17 || n === 10 || head.charCodeAt(start) <= 32 ||
      head.charCodeAt(c - 1) <= 32
    ) {
      const name = head.slice(start, c).trim().toLowerCase();
      const join = (old: string | undefined, v: string) => old ? `${old}, ${v}` : v;
      if (name === "content-length") {
        f.contentLength = join(f.contentLength, head.slice(c + 1, end).trim());
      } else if (name === "transfer-encoding") {
        f.transferEncoding = join(f.transferEncoding, head.slice(c + 1, end).trim());
      } else if (name === "connection") {
        f.connection = join(f.connection, head.slice(c + 1, end).trim());
      }
    }
    start = end + 2;
  }
  return f;
}

const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/;

/**
 * Parses one answer from the start of `b`: undefined when more bytes are needed, else the
 * answer and how many bytes it took. `eof`: the peer closed, so nothing more will come;
 * `received`: bytes received for this request (none: the kept-alive connection was dead).
 * Throws `BadAnswer` (or `NothingReceived`) for what cannot become an answer.
 *
 * @example
 * ```ts
 * import { parseAnswer } from "./http.ts";
 * const bytes = new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
 * parseAnswer(bytes, false, bytes.length)?.answer.text; // "hi"
 * parseAnswer(bytes.subarray(0, 20), false, 20); // undefined: more bytes needed
 * ```
 */
export function parseAnswer(
  b: Uint8Array,
  eof: boolean,
  received: number,
): { answer: Answer; used: number } | undefined {
  let at = 0;
  for (;;) {
    const headEnd = indexOfSeq(b, CRLFCRLF, at);
    if (headEnd < 0) {
      if (b.length - at > 16384) throw new BadAnswer("HTTP header block too long");
      if (!eof) return undefined;
      if (received === 0) throw new NothingReceived();
      throw new BadAnswer("the connection closed in the middle of the HTTP header");
    }
    const block = decoder.decode(b.subarray(at, headEnd));
    const eol = block.indexOf("\r\n");
    const m = STATUS_LINE.exec(eol < 0 ? block : block.slice(0, eol));
    if (!m) {
      throw new BadAnswer(`not an HTTP answer (starts ${JSON.stringify(block.slice(0, 40))})`);
    }
    const status = Number(m[3]);
    const head = eol < 0 ? "" : block.slice(eol + 2);
    const framing = scanHeaders(head);
    const pos = headEnd + 4;
    if (status >= 100 && status < 200) {
      at = pos; // 100 Continue and friends: the real answer follows.
      continue;
    }
    const http10 = m[1] === "1" && m[2] === "0";
    const connection = framing.connection.toLowerCase();
    const close = connection.includes("close") || (http10 && !connection.includes("keep-alive"));
    const done = (body: Uint8Array, used: number, closed = close) => ({
      answer: new Answer(status, m[4] ?? "", decoder.decode(body), head, closed),
      used,
    });
    const cl = framing.contentLength;
    if (status === 204 || status === 304) return done(b.subarray(pos, pos), pos);
    if (framing.transferEncoding.toLowerCase().includes("chunked")) {
      const chunked = parseChunked(b, pos, eof);
      return chunked && done(chunked.body, chunked.used);
    }
    if (cl !== undefined) {
      if (!/^\d+$/.test(cl)) throw new BadAnswer(`bad content-length ${JSON.stringify(cl)}`);
      const n = Number(cl);
      if (n > MAX_BYTES) throw new BadAnswer(`answer larger than ${MAX_BYTES} bytes`);
      if (b.length - pos < n) {
        if (!eof) return undefined;
        throw new BadAnswer(`the answer broke off after ${b.length - pos} of ${n} bytes`);
      }
      return done(b.subarray(pos, pos + n), pos + n);
    }
    // No length: the body ends when the peer closes.
    if (b.length - pos > MAX_BYTES) throw new BadAnswer(`answer larger than ${MAX_BYTES} bytes`);
    if (!eof) return undefined;
    return done(b.subarray(pos), b.length, true);
  }
}

/** A chunked body from `pos`: undefined when more bytes are needed. */
function parseChunked(
  b: Uint8Array,
  pos: number,
  eof: boolean,
): { body: Uint8Array; used: number } | undefined {
  const parts: Uint8Array[] = [];
  let size = 0;
  const more = () => {
    if (eof) throw new BadAnswer("the chunked answer broke off");
    return undefined;
  };
  for (;;) {
    const eol = indexOfSeq(b, CRLF, pos);
    if (eol < 0) {
      if (b.length - pos > 1024) throw new BadAnswer("HTTP header block too long");
      return more();
    }
    const line = decoder.decode(b.subarray(pos, eol));
    const n = parseInt(line.split(";")[0]!.trim(), 16);
    if (!Number.isFinite(n) || n < 0) throw new BadAnswer(`bad chunk size ${JSON.stringify(line)}`);
    pos = eol + 2;
    if (n === 0) {
      // Trailers until an empty line (or the end of the stream).
      for (;;) {
        const t = indexOfSeq(b, CRLF, pos);
        if (t < 0) {
          if (b.length - pos > 16384) throw new BadAnswer("HTTP header block too long");
          if (!eof) return undefined;
          return { body: concat(parts, size), used: b.length };
        }
        const empty = t === pos;
        pos = t + 2;
        if (empty) return { body: concat(parts, size), used: pos };
      }
    }
    size += n;
    if (size > MAX_BYTES) throw new BadAnswer(`answer larger than ${MAX_BYTES} bytes`);
    if (b.length - pos < n + 2) return more();
    parts.push(b.subarray(pos, pos + n));
    pos += n + 2;
  }
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
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
