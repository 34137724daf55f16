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
 * @module
 */
import { DeviceError, TimeoutError } from "../device/errors.ts";
import { formatMs } from "../device/device.ts";

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
  status: number;
  /** Reason phrase, e.g. "OK". */
  statusText: string;
  /** Response headers, names lower-cased (repeated headers joined with ", "). */
  headers: Map<string, string>;
  /** Body decoded as UTF-8. */
  text: string;
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
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException("timeout", "TimeoutError"));
    }, opts.timeout);
    const outer = opts.signal;
    const onOuterAbort = () => controller.abort(outer?.reason);
    if (outer?.aborted) controller.abort(outer.reason);
    else outer?.addEventListener("abort", onOuterAbort, { once: true });
    // Closing the socket is what interrupts a pending read or write.
    const onAbort = () => this.#drop();
    let acquired = false;
    try {
      await this.#acquire(controller.signal);
      acquired = true;
      if (this.#closed) {
        throw new DeviceError(
          `${method} ${this.origin}${path}: the client is closed`,
          this.#device,
        );
      }
      controller.signal.addEventListener("abort", onAbort, { once: true });
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
        const conn = this.#conn ??= await Deno.connect({
          hostname: this.#hostname,
          port: this.#port,
          signal: controller.signal,
        });
        const reader = this.#reader ??= new Reader(conn);
        if (controller.signal.aborted) {
          this.#drop();
          throw controller.signal.reason;
        }
        reader.total = 0;
        try {
          await writeAll(conn, bytes);
          const res = await readResponse(reader);
          if (res.close) this.#drop();
          return res.result;
        } catch (err) {
          this.#drop();
          // A kept-alive connection the device closed while idle fails before any byte of an
          // answer (EOF, reset or broken pipe): one fresh attempt is safe.
          const nothing = err instanceof NothingReceived || reader.total === 0;
          if (reused && attempt === 0 && nothing && !controller.signal.aborted) continue;
          throw err;
        }
      }
    } catch (err) {
      if (outer?.aborted && !timedOut) throw outer.reason ?? err;
      if (err instanceof DeviceError) throw err;
      const tried = `${method} ${this.origin}${path}`;
      throw describeFailure(err, tried, this.#host, opts.timeout, this.#device, timedOut);
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onOuterAbort);
      controller.signal.removeEventListener("abort", onAbort);
      if (acquired) this.#release();
    }
  }

  /** Waits for the connection to be free; rejects (leaving the queue) if `signal` aborts first. */
  #acquire(signal: AbortSignal): Promise<void> {
    if (!this.#busy) {
      this.#busy = true;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const turn = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(turn);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal.reason);
      };
      this.#waiters.push(turn);
      signal.addEventListener("abort", onAbort, { once: true });
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

/** Buffered reads from a connection. */
class Reader {
  // Answers are a few hundred bytes; the buffer grows for larger ones.
  #buf = new Uint8Array(1024);
  #start = 0;
  #end = 0;
  /** Bytes received so far. */
  total = 0;

  constructor(readonly conn: Deno.Conn) {}

  /** Reads more bytes; false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const size = this.#end - this.#start;
      if (size >= MAX_BYTES) throw new BadAnswer(`answer larger than ${MAX_BYTES} bytes`);
      const next = new Uint8Array(size * 2 < this.#buf.length ? this.#buf.length : size * 2);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = size;
    }
    const n = await this.conn.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    this.total += n;
    return true;
  }

  /** Index of `\r\n\r\n` (or `\r\n` with `line`) in the buffered bytes, relative to start. */
  #find(seq: number[]): number {
    const b = this.#buf;
    outer: for (let i = this.#start; i + seq.length <= this.#end; i++) {
      for (let j = 0; j < seq.length; j++) if (b[i + j] !== seq[j]) continue outer;
      return i - this.#start;
    }
    return -1;
  }

  /** Reads up to and including a delimiter; returns the text before it, or null at EOF. */
  async until(seq: number[], limit: number): Promise<string | null> {
    for (;;) {
      const i = this.#find(seq);
      if (i >= 0) {
        const text = decoder.decode(this.#buf.subarray(this.#start, this.#start + i));
        this.#start += i + seq.length;
        return text;
      }
      if (this.#end - this.#start > limit) throw new BadAnswer("HTTP header block too long");
      if (!(await this.fill())) return null;
    }
  }

  /** Reads exactly `n` bytes. */
  async exact(n: number): Promise<Uint8Array> {
    if (n > MAX_BYTES) throw new BadAnswer(`answer larger than ${MAX_BYTES} bytes`);
    while (this.#end - this.#start < n) {
      if (!(await this.fill())) {
        throw new BadAnswer(`the answer broke off after ${this.#end - this.#start} of ${n} bytes`);
      }
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** Reads everything until the peer closes. */
  async rest(): Promise<Uint8Array> {
    while (await this.fill()) { /* keep reading */ }
    const out = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end;
    return out;
  }
}

const CRLF = [13, 10];
const CRLFCRLF = [13, 10, 13, 10];

async function readResponse(r: Reader): Promise<{ result: HttpResult; close: boolean }> {
  for (;;) {
    const head = await r.until(CRLFCRLF, 16384);
    if (head === null) {
      if (r.total === 0) throw new NothingReceived();
      throw new BadAnswer("the connection closed in the middle of the HTTP header");
    }
    const lines = head.split("\r\n");
    const m = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/.exec(lines[0] ?? "");
    if (!m) {
      throw new BadAnswer(`not an HTTP answer (starts ${JSON.stringify(head.slice(0, 40))})`);
    }
    const status = Number(m[3]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const c = line.indexOf(":");
      if (c <= 0) throw new BadAnswer(`bad HTTP header line ${JSON.stringify(line)}`);
      const k = line.slice(0, c).trim().toLowerCase();
      const v = line.slice(c + 1).trim();
      headers.set(k, headers.has(k) ? `${headers.get(k)}, ${v}` : v);
    }
    if (status >= 100 && status < 200) continue; // 100 Continue and friends: the real answer follows.
    const http10 = m[1] === "1" && m[2] === "0";
    const connection = (headers.get("connection") ?? "").toLowerCase();
    let close = connection.includes("close") || (http10 && !connection.includes("keep-alive"));
    let body: Uint8Array;
    const te = (headers.get("transfer-encoding") ?? "").toLowerCase();
    const cl = headers.get("content-length");
    if (status === 204 || status === 304) body = new Uint8Array();
    else if (te.includes("chunked")) body = await readChunked(r);
    else if (cl !== undefined) {
      if (!/^\d+$/.test(cl)) throw new BadAnswer(`bad content-length ${JSON.stringify(cl)}`);
      body = await r.exact(Number(cl));
    } else {
      body = await r.rest();
      close = true;
    }
    return {
      result: { status, statusText: m[4] ?? "", headers, text: decoder.decode(body) },
      close,
    };
  }
}

async function readChunked(r: Reader): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const line = await r.until(CRLF, 1024);
    if (line === null) throw new BadAnswer("the chunked answer broke off");
    const n = parseInt(line.split(";")[0]!.trim(), 16);
    if (!Number.isFinite(n) || n < 0) throw new BadAnswer(`bad chunk size ${JSON.stringify(line)}`);
    if (n === 0) {
      // Trailers until an empty line.
      for (;;) {
        const t = await r.until(CRLF, 16384);
        if (t === null || t === "") break;
      }
      break;
    }
    size += n;
    if (size > MAX_BYTES) throw new BadAnswer(`answer larger than ${MAX_BYTES} bytes`);
    parts.push(await r.exact(n));
    await r.exact(2);
  }
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
