/**
 * HTTP/1.1 on the wire, sans I/O: a request's bytes, and an answer parsed synchronously from the
 * bytes received (status line, the three headers that matter, content-length or chunked body),
 * its header block left as text until a caller asks. `./http.ts` is the client over a socket.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

/** The connection closed before a single byte of the answer arrived (safe to retry once). */
export class NothingReceived extends Error {
  constructor() {
    super("the connection closed before an answer");
    this.name = "NothingReceived";
  }
}

/** Largest answer accepted; an instrument poll is a few hundred bytes. */
export const MAX_BYTES = 1 << 20;

/** The answer broke off or did not parse as HTTP. */
export class BadAnswer extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadAnswer";
  }
}

export function encodeRequest(
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
export class Answer implements HttpResult {
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
