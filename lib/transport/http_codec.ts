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

const EMPTY = new Uint8Array();

/** Where a message's body lies, and what it says about the connection (answers and requests). */
export class BodyFrame {
  /** The bytes holding the body: the received bytes, or a chunked body joined. */
  body: Uint8Array = EMPTY;
  /** Start of the body in {@linkcode BodyFrame.body}. */
  bodyStart = 0;
  /** End of the body in {@linkcode BodyFrame.body}. */
  bodyEnd = 0;
  /** Where the message ends in the received bytes (the next one starts there). */
  used = 0;
  /** The connection must not be reused (asked for, or HTTP/1.0 without keep-alive). */
  close = false;
}

/**
 * Where one answer lies in the bytes received, filled in place by {@linkcode scanAnswer}: a
 * client keeps one per connection, so reading an answer makes no strings and no objects — the
 * caller decodes the body straight from the bytes ({@linkcode AnswerFrame.body}).
 */
export class AnswerFrame extends BodyFrame {
  /** HTTP status code. */
  status = 0;
  /** The reason phrase: bytes [reasonStart, reasonEnd) of the received bytes. */
  reasonStart = 0;
  /** End of the reason phrase. */
  reasonEnd = 0;
  /** The header lines after the status line: bytes [headStart, headEnd), CRLF-separated. */
  headStart = 0;
  /** End of the header lines. */
  headEnd = 0;
}

/** The text of bytes [start, end) of `b`, as UTF-8. */
export function textOf(b: Uint8Array, start: number, end: number): string {
  return start === end ? "" : decoder.decode(b.subarray(start, end));
}

/** An answer as strings, from a frame that {@linkcode scanAnswer} filled from `b`. */
export function frameAnswer(b: Uint8Array, f: AnswerFrame): Answer {
  return new Answer(
    f.status,
    textOf(b, f.reasonStart, f.reasonEnd),
    textOf(f.body, f.bodyStart, f.bodyEnd),
    textOf(b, f.headStart, f.headEnd),
    f.close,
  );
}

const H = 72, T = 84, P = 80, SLASH = 47, DOT = 46, SP = 32, COLON = 58;

/** True when bytes [start, end) of `b`, ASCII-lower-cased, are `name` (lower case). */
function nameIs(b: Uint8Array, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    let c = b[start + i]!;
    if (c >= 65 && c <= 90) c += 32;
    if (c !== name.charCodeAt(i)) return false;
  }
  return true;
}

/** True when bytes [start, end) of `b` contain `word` (lower case), ignoring ASCII case. */
function hasWord(b: Uint8Array, start: number, end: number, word: string): boolean {
  for (let i = start; i + word.length <= end; i++) {
    if (nameIs(b, i, i + word.length, word)) return true;
  }
  return false;
}

const isDigit = (c: number | undefined) => c !== undefined && c >= 48 && c <= 57;
const isBlank = (c: number) => c <= 32;

/** The three headers that decide how the body is read, from one pass over the header bytes. */
interface Framing {
  /** Content-length headers seen. */
  lengths: number;
  /** The (first) content-length value: bytes [lengthStart, lengthEnd). */
  lengthStart: number;
  lengthEnd: number;
  chunked: boolean;
  close: boolean;
  keepAlive: boolean;
  /** `Expect: 100-continue` (requests only). */
  expectContinue: boolean;
}

const framing: Framing = {
  lengths: 0,
  lengthStart: 0,
  lengthEnd: 0,
  chunked: false,
  close: false,
  keepAlive: false,
  expectContinue: false,
};

/** Scans the header lines in bytes [start, end) of `b` into {@linkcode framing}. */
function scanHeaders(b: Uint8Array, start: number, end: number): void {
  const f = framing;
  f.lengths = f.lengthStart = f.lengthEnd = 0;
  f.chunked =
    f.close =
    f.keepAlive =
    f.expectContinue =
      false;
  while (start < end) {
    let eol = indexOfSeq(b, CRLF, start);
    if (eol < 0 || eol > end) eol = end;
    let c = b.indexOf(COLON, start);
    if (c > eol) c = -1;
    if (c <= start) {
      throw new BadAnswer(`bad HTTP header line ${JSON.stringify(textOf(b, start, eol))}`);
    }
    let ns = start, ne = c, vs = c + 1, ve = eol;
    while (ns < ne && isBlank(b[ns]!)) ns++;
    while (ne > ns && isBlank(b[ne - 1]!)) ne--;
    while (vs < ve && isBlank(b[vs]!)) vs++;
    while (ve > vs && isBlank(b[ve - 1]!)) ve--;
    // Only names of the right length are compared, so most lines cost a few comparisons.
    const n = ne - ns;
    if (n === 14 && nameIs(b, ns, ne, "content-length")) {
      if (f.lengths++ === 0) {
        f.lengthStart = vs;
        f.lengthEnd = ve;
      }
    } else if (n === 17 && nameIs(b, ns, ne, "transfer-encoding")) {
      f.chunked ||= hasWord(b, vs, ve, "chunked");
    } else if (n === 10 && nameIs(b, ns, ne, "connection")) {
      f.close ||= hasWord(b, vs, ve, "close");
      f.keepAlive ||= hasWord(b, vs, ve, "keep-alive");
    } else if (n === 6 && nameIs(b, ns, ne, "expect")) {
      f.expectContinue ||= hasWord(b, vs, ve, "100-continue");
    }
    start = eol + 2;
  }
}

/** The content-length values as a header map would join them, for an error message. */
function lengthsText(b: Uint8Array, start: number, end: number): string {
  const values: string[] = [];
  let at = start;
  while (at < end) {
    let eol = indexOfSeq(b, CRLF, at);
    if (eol < 0 || eol > end) eol = end;
    const line = textOf(b, at, eol);
    const c = line.indexOf(":");
    if (line.slice(0, c).trim().toLowerCase() === "content-length") {
      values.push(line.slice(c + 1).trim());
    }
    at = eol + 2;
  }
  return values.join(", ");
}

/**
 * Parses the status line at bytes [at, eol) of `b` (`HTTP/d.d ddd[ reason]`) into `f`; returns
 * whether it is HTTP/1.0, or throws {@linkcode BadAnswer}.
 */
function scanStatusLine(b: Uint8Array, at: number, eol: number, f: AnswerFrame): boolean {
  const ok = eol - at >= 12 && b[at] === H && b[at + 1] === T && b[at + 2] === T &&
    b[at + 3] === P && b[at + 4] === SLASH && isDigit(b[at + 5]) && b[at + 6] === DOT &&
    isDigit(b[at + 7]) && b[at + 8] === SP && isDigit(b[at + 9]) && isDigit(b[at + 10]) &&
    isDigit(b[at + 11]) && (eol - at === 12 || b[at + 12] === SP);
  if (!ok) {
    const start = textOf(b, at, Math.min(eol, at + 160)).slice(0, 40);
    throw new BadAnswer(`not an HTTP answer (starts ${JSON.stringify(start)})`);
  }
  f.status = (b[at + 9]! - 48) * 100 + (b[at + 10]! - 48) * 10 + b[at + 11]! - 48;
  f.reasonStart = Math.min(eol, at + 13);
  f.reasonEnd = eol;
  return b[at + 5] === 49 && b[at + 7] === 48;
}

/**
 * Finds one answer from the start of `b` and fills `f` with where it lies: false when more
 * bytes are needed. `eof`: the peer closed, so nothing more will come; `received`: bytes
 * received for this request (none: the kept-alive connection was dead). Throws `BadAnswer`
 * (or `NothingReceived`) for what cannot become an answer. Makes no strings or objects for a
 * well-formed answer (a chunked body is joined into new bytes).
 */
export function scanAnswer(
  b: Uint8Array,
  eof: boolean,
  received: number,
  f: AnswerFrame,
): boolean {
  let at = 0;
  for (;;) {
    const headEnd = indexOfSeq(b, CRLFCRLF, at);
    if (headEnd < 0) {
      if (b.length - at > 16384) throw new BadAnswer("HTTP header block too long");
      if (!eof) return false;
      if (received === 0) throw new NothingReceived();
      throw new BadAnswer("the connection closed in the middle of the HTTP header");
    }
    let eol = indexOfSeq(b, CRLF, at);
    if (eol > headEnd) eol = headEnd;
    const http10 = scanStatusLine(b, at, eol, f);
    f.headStart = eol === headEnd ? headEnd : eol + 2;
    f.headEnd = headEnd;
    scanHeaders(b, f.headStart, headEnd);
    const pos = headEnd + 4;
    const status = f.status;
    if (status >= 100 && status < 200) {
      at = pos; // 100 Continue and friends: the real answer follows.
      continue;
    }
    const close = framing.close || (http10 && !framing.keepAlive);
    f.close = close;
    f.body = b;
    if (status === 204 || status === 304) {
      f.bodyStart = f.bodyEnd = f.used = pos;
      return true;
    }
    if (framing.chunked) {
      const chunked = parseChunked(b, pos, eof);
      if (!chunked) return false;
      f.body = chunked.body;
      f.bodyStart = 0;
      f.bodyEnd = chunked.body.length;
      f.used = chunked.used;
      return true;
    }
    if (framing.lengths > 0) {
      let n = 0;
      let digits = framing.lengths === 1 && framing.lengthEnd > framing.lengthStart;
      for (let i = framing.lengthStart; digits && i < framing.lengthEnd; i++) {
        const c = b[i]!;
        digits = c >= 48 && c <= 57;
        n = n * 10 + c - 48;
      }
      if (!digits) {
        const cl = lengthsText(b, f.headStart, headEnd);
        throw new BadAnswer(`bad content-length ${JSON.stringify(cl)}`);
      }
      if (n > MAX_BYTES) throw new BadAnswer(`answer larger than ${MAX_BYTES} bytes`);
      if (b.length - pos < n) {
        if (!eof) return false;
        throw new BadAnswer(`the answer broke off after ${b.length - pos} of ${n} bytes`);
      }
      f.bodyStart = pos;
      f.bodyEnd = f.used = pos + n;
      return true;
    }
    // No length: the body ends when the peer closes.
    if (b.length - pos > MAX_BYTES) throw new BadAnswer(`answer larger than ${MAX_BYTES} bytes`);
    if (!eof) return false;
    f.close = true;
    f.bodyStart = pos;
    f.bodyEnd = f.used = b.length;
    return true;
  }
}

/**
 * Parses one answer from the start of `b`: undefined when more bytes are needed, else the
 * answer and how many bytes it took. `eof`: the peer closed, so nothing more will come;
 * `received`: bytes received for this request (none: the kept-alive connection was dead).
 * Throws `BadAnswer` (or `NothingReceived`) for what cannot become an answer.
 *
 * @example
 * ```ts
 * import { parseAnswer } from "./http_codec.ts";
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
  const f = new AnswerFrame();
  if (!scanAnswer(b, eof, received, f)) return undefined;
  return { answer: frameAnswer(b, f), used: f.used };
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
 * Where one request lies in the bytes received, filled in place by {@linkcode scanRequest} (a
 * server keeps one per connection): method, target and body as byte ranges, no strings made.
 */
export class RequestFrame extends BodyFrame {
  /** The method: bytes [methodStart, methodEnd) of the received bytes. */
  methodStart = 0;
  /** End of the method. */
  methodEnd = 0;
  /** The request target as sent (origin form `/path?q` or absolute form `http://h/path`). */
  targetStart = 0;
  /** End of the target. */
  targetEnd = 0;
  /** The client waits for `100 Continue` before sending its body. */
  expectContinue = false;
}

/** Longest request a server reads (a ToolWeb poll is about 200 bytes of body). */
export const MAX_REQUEST_BYTES = 64 * 1024;

/**
 * Finds one request (`METHOD TARGET HTTP/1.x`, headers, a content-length or chunked body) in
 * bytes [at, end) of `b` and fills `f`: false when more bytes are needed (then
 * `f.expectContinue` says whether the client waits for `100 Continue`). Throws {@linkcode BadAnswer}
 * (the server answers 400 and closes) for what cannot become a request. Makes no strings or
 * objects for a well-formed request (a chunked body is joined into new bytes).
 *
 * @example
 * ```ts
 * import { RequestFrame, scanRequest } from "./http_codec.ts";
 * const b = new TextEncoder().encode("POST /x HTTP/1.1\r\ncontent-length: 2\r\n\r\nhi");
 * const f = new RequestFrame();
 * scanRequest(b, 0, b.length, f); // true; bytes [f.bodyStart, f.bodyEnd) are "hi"
 * ```
 */
export function scanRequest(b: Uint8Array, at: number, end: number, f: RequestFrame): boolean {
  f.expectContinue = false;
  // Empty lines before a request are allowed (RFC 9112 §2.2).
  while (end - at >= 2 && b[at] === 13 && b[at + 1] === 10) at += 2;
  const view = at === 0 && end === b.length ? b : b.subarray(at, end);
  const headEnd = indexOfSeq(view, CRLFCRLF, 0);
  if (headEnd < 0) {
    if (view.length > 16384) throw new BadAnswer("HTTP header block too long");
    return false;
  }
  let eol = indexOfSeq(view, CRLF, 0);
  if (eol > headEnd) eol = headEnd;
  const sp1 = view.indexOf(SP);
  const sp2 = sp1 < 0 ? -1 : view.indexOf(SP, sp1 + 1);
  const v = sp2 + 1;
  const ok = sp1 > 0 && sp2 > sp1 + 1 && sp2 < eol && eol - v === 8 && view[v] === H &&
    view[v + 1] === T && view[v + 2] === T && view[v + 3] === P && view[v + 4] === SLASH &&
    view[v + 5] === 49 && view[v + 6] === DOT && isDigit(view[v + 7]);
  if (!ok) {
    const start = textOf(view, 0, Math.min(eol, 160)).slice(0, 40);
    throw new BadAnswer(`not an HTTP/1.x request line (starts ${JSON.stringify(start)})`);
  }
  f.methodStart = at;
  f.methodEnd = at + sp1;
  f.targetStart = at + sp1 + 1;
  f.targetEnd = at + sp2;
  const http10 = view[v + 7] === 48;
  const headStart = eol === headEnd ? headEnd : eol + 2;
  scanHeaders(view, headStart, headEnd);
  f.expectContinue = framing.expectContinue;
  f.close = framing.close || (http10 && !framing.keepAlive);
  const pos = headEnd + 4;
  f.body = b;
  if (framing.chunked) {
    const chunked = parseChunked(view, pos, false);
    if (!chunked) return false;
    f.body = chunked.body;
    f.bodyStart = 0;
    f.bodyEnd = chunked.body.length;
    f.used = at + chunked.used;
    return true;
  }
  let n = 0;
  if (framing.lengths > 0) {
    let digits = framing.lengths === 1 && framing.lengthEnd > framing.lengthStart;
    for (let i = framing.lengthStart; digits && i < framing.lengthEnd; i++) {
      const c = view[i]!;
      digits = c >= 48 && c <= 57;
      n = n * 10 + c - 48;
    }
    if (!digits) {
      const cl = lengthsText(view, headStart, headEnd);
      throw new BadAnswer(`bad content-length ${JSON.stringify(cl)}`);
    }
    if (n > MAX_REQUEST_BYTES) {
      throw new BadAnswer(`request larger than ${MAX_REQUEST_BYTES} bytes`);
    }
  }
  if (view.length - pos < n) return false;
  f.bodyStart = at + pos;
  f.bodyEnd = f.used = at + pos + n;
  return true;
}
