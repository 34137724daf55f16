/**
 * HTTP/1.1 on the wire, sans I/O: a request's bytes, and an answer parsed synchronously from the
 * bytes received (status line, the three headers that matter, content-length or chunked body),
 * its header block left as text until a caller asks; and a request read the same way for a
 * server. Where the header block and body lie is `./http_framing.ts`; `./http.ts` is the client
 * over a socket.
 *
 * @module
 */

import {
  BadAnswer,
  BodyFrame,
  contentLength,
  indexOfCrlf,
  indexOfHeadEnd,
  isDigit,
  MAX_BYTES,
  parseChunked,
  scanHeaders,
  textOf,
} from "./http_framing.ts";

const encoder = new TextEncoder();

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

/** The bytes of one request: request line, host, the given headers, a content-length body. */
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

const H = 72, T = 84, P = 80, SLASH = 47, DOT = 46, SP = 32;

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
    const headEnd = indexOfHeadEnd(b, at);
    if (headEnd < 0) {
      if (b.length - at > 16384) throw new BadAnswer("HTTP header block too long");
      if (!eof) return false;
      if (received === 0) throw new NothingReceived();
      throw new BadAnswer("the connection closed in the middle of the HTTP header");
    }
    let eol = indexOfCrlf(b, at);
    if (eol > headEnd) eol = headEnd;
    const http10 = scanStatusLine(b, at, eol, f);
    f.headStart = eol === headEnd ? headEnd : eol + 2;
    f.headEnd = headEnd;
    const framing = scanHeaders(b, f.headStart, headEnd);
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
      const n = contentLength(b, f.headStart, headEnd, framing);
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
  const headEnd = indexOfHeadEnd(view, 0);
  if (headEnd < 0) {
    if (view.length > 16384) throw new BadAnswer("HTTP header block too long");
    return false;
  }
  let eol = indexOfCrlf(view, 0);
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
  const framing = scanHeaders(view, headStart, headEnd);
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
    n = contentLength(view, headStart, headEnd, framing);
    if (n > MAX_REQUEST_BYTES) {
      throw new BadAnswer(`request larger than ${MAX_REQUEST_BYTES} bytes`);
    }
  }
  if (view.length - pos < n) return false;
  f.bodyStart = at + pos;
  f.bodyEnd = f.used = at + pos + n;
  return true;
}
