/**
 * How an HTTP/1.1 message lies in the bytes received, for answers and requests alike (sans I/O):
 * the header block's end, the framing headers (content-length, transfer-encoding, connection,
 * expect) scanned in one pass without making strings, a content-length checked, a chunked body
 * joined. `./http_codec.ts` reads status and request lines on top of it.
 *
 * @module
 */

const decoder = new TextDecoder();
const COLON = 58;

/** Largest answer accepted; an instrument poll is a few hundred bytes. */
export const MAX_BYTES = 1 << 20;

/** The answer broke off or did not parse as HTTP. */
export class BadAnswer extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadAnswer";
  }
}

/**
 * Index of the first CRLF in `b` at or after `from` (≥ 0), or -1. Loops here, not
 * `Uint8Array.indexOf`: that is a call into the runtime's C++ (~430 instructions each under
 * callgrind), made per line of a header block, where the bytes to look through are a few dozen;
 * and a loop per sequence, since one over a sequence given as an array loaded its bytes on every
 * step.
 */
export function indexOfCrlf(b: Uint8Array, from: number): number {
  const last = b.length - 1;
  for (let i = from; i < last; i++) if (b[i] === 13 && b[i + 1] === 10) return i;
  return -1;
}

/** Index of the first CRLFCRLF (a header block's end) in `b` at or after `from` (≥ 0), or -1. */
export function indexOfHeadEnd(b: Uint8Array, from: number): number {
  const last = b.length - 3;
  for (let i = from; i < last; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
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

/** The text of bytes [start, end) of `b`, as UTF-8. */
export function textOf(b: Uint8Array, start: number, end: number): string {
  return start === end ? "" : decoder.decode(b.subarray(start, end));
}

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

/** True for an ASCII digit. */
export const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 48 && c <= 57;
const isBlank = (c: number) => c <= 32;

/** The three headers that decide how the body is read, from one pass over the header bytes. */
export interface Framing {
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

/**
 * Scans the header lines in bytes [start, end) of `b`: the framing headers found, in one object
 * reused by every call (read it before the next scan).
 */
export function scanHeaders(b: Uint8Array, start: number, end: number): Framing {
  const f = framing;
  f.lengths = f.lengthStart = f.lengthEnd = 0;
  f.chunked =
    f.close =
    f.keepAlive =
    f.expectContinue =
      false;
  while (start < end) {
    // The line's end and its first colon in one pass (`end` is where a CRLF starts).
    let eol = start;
    let c = -1;
    for (; eol < end; eol++) {
      const x = b[eol];
      if (x === 13 && b[eol + 1] === 10) break;
      if (x === COLON && c < 0) c = eol;
    }
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
  return f;
}

/** The content-length values as a header map would join them, for an error message. */
function lengthsText(b: Uint8Array, start: number, end: number): string {
  const values: string[] = [];
  let at = start;
  while (at < end) {
    let eol = indexOfCrlf(b, at);
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
 * The length the one content-length header scanned into `h` gives; throws {@linkcode BadAnswer}
 * when there are several or it is not all digits (bytes [start, end) of `b`: the header lines).
 */
export function contentLength(b: Uint8Array, start: number, end: number, h: Framing): number {
  let n = 0;
  let digits = h.lengths === 1 && h.lengthEnd > h.lengthStart;
  for (let i = h.lengthStart; digits && i < h.lengthEnd; i++) {
    const c = b[i]!;
    digits = c >= 48 && c <= 57;
    n = n * 10 + c - 48;
  }
  if (!digits) {
    throw new BadAnswer(`bad content-length ${JSON.stringify(lengthsText(b, start, end))}`);
  }
  return n;
}

/** A chunked body from `pos`: undefined when more bytes are needed. */
export function parseChunked(
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
    const eol = indexOfCrlf(b, pos);
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
        const t = indexOfCrlf(b, pos);
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

/** The chunks of a body joined into one array of `size` bytes. */
function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
