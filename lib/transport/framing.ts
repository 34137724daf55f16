/**
 * Sans-I/O framing of instrument messages: text encodings, terminations, lines and IEEE 488.2
 * binary blocks (`#<n><len><data>` and the indefinite `#0…<term>`). No sockets here — bytes go
 * in with {@linkcode Framer.push}, whole messages come out — so every rule is tested on byte
 * vectors, including messages split across chunks anywhere.
 *
 * How to use it: the message layer (`message.ts`) keeps one {@linkcode Framer} per line;
 * simulators use one per client to split incoming commands, and {@linkcode encodeBlock} to
 * answer with block data.
 *
 * ```ts
 * import { Framer } from "./framing.ts";
 * const f = new Framer();
 * f.push(new TextEncoder().encode("1.23\n#14abcd\n"));
 * f.line(new Uint8Array([10])); // bytes of "1.23"
 * f.block(new Uint8Array([10])); // bytes of "abcd" (its trailing "\n" is consumed)
 * ```
 *
 * @module
 */
import { didYouMean } from "../device/suggest.ts";

/** Text encodings of message-based instruments. */
export type Encoding = "ascii" | "latin1" | "utf-8";

/** The encodings accepted in definitions and on the command line. */
export const ENCODINGS: readonly Encoding[] = ["ascii", "latin1", "utf-8"];

/** Raised for bytes that cannot be a message: a bad block header, an over-long line. */
export class FramingError extends Error {
  /** Creates a framing error. */
  constructor(message: string) {
    super(message);
    this.name = "FramingError";
  }
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8");
// "latin1" in the WHATWG decoder is windows-1252; instruments mean ISO-8859-1 (byte = code point).

/**
 * The parts as one array, for one write (the part itself when there is only one).
 *
 * @example
 * ```ts
 * import { joinBytes } from "./framing.ts";
 * joinBytes([new Uint8Array([1]), new Uint8Array([2, 3])]); // Uint8Array [1, 2, 3]
 * ```
 */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out;
}

/**
 * Encodes `text`; ascii and latin1 refuse characters they cannot carry (a `°` to an ASCII
 * instrument is a mistake to report, not to mangle).
 *
 * @example
 * ```ts
 * import { encodeText } from "./framing.ts";
 * encodeText("A\r", "ascii"); // Uint8Array [65, 13]
 * ```
 */
export function encodeText(text: string, encoding: Encoding): Uint8Array {
  if (encoding === "utf-8") return utf8.encode(text);
  const limit = encoding === "ascii" ? 0x7f : 0xff;
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > limit) {
      throw new FramingError(
        `${JSON.stringify(text[i])} cannot be sent in ${encoding} (in ${JSON.stringify(text)})`,
      );
    }
    out[i] = c;
  }
  return out;
}

/**
 * Decodes bytes; ascii and latin1 map each byte to one character, so nothing is lost.
 *
 * @example
 * ```ts
 * import { decodeText } from "./framing.ts";
 * decodeText(new Uint8Array([79, 75]), "ascii"); // "OK"
 * ```
 */
export function decodeText(bytes: Uint8Array, encoding: Encoding): string {
  if (encoding === "utf-8") return utf8Decoder.decode(bytes);
  // Plain ASCII (every answer of most instruments) reads the same in UTF-8, and the native
  // decoder allocates only the string: spreading the bytes into fromCharCode cost ~1 KB of
  // garbage per answer.
  let high = 0;
  for (let i = 0; i < bytes.length; i++) high |= bytes[i]!;
  if (high < 0x80) return utf8Decoder.decode(bytes);
  let s = "";
  // Chunked so long answers don't hit the argument limit of fromCharCode.
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return s;
}

/**
 * Reads a termination as `query --term` (`--read-term`, `--write-term`) takes it: escapes (`\n`,
 * `\r\n`, `\r`, `\x06`) or names in any case (`LF`, `CR`, `CRLF`, `LFCR`, `NONE`); any other
 * word of letters is refused as a mistyped name (letters go in as escapes).
 *
 * @example
 * ```ts
 * import { parseTermination } from "./framing.ts";
 * parseTermination("CRLF"); // "\r\n"
 * parseTermination("\\r"); // "\r"
 * ```
 */
export function parseTermination(text: string): string {
  // The longer names first: a typo at equal distance from two (CRL) means the longer one.
  const named: Record<string, string> = {
    crlf: "\r\n",
    lfcr: "\n\r",
    lf: "\n",
    cr: "\r",
    none: "",
  };
  const n = named[text.toLowerCase()];
  if (n !== undefined) return n;
  const names = Object.keys(named).map((k) => k.toUpperCase());
  if (/^[A-Za-z]+$/.test(text)) {
    // A typo of a name (CRL) taken literally would wait for "CRL" and time out on every answer;
    // letters as a terminator are still possible as escapes (\x45\x4e\x44).
    const hint = didYouMean(text.toUpperCase(), names);
    throw new FramingError(
      `unknown termination name ${JSON.stringify(text)}${hint ? ` (${hint})` : ""}; ` +
        `names are ${names.join(", ")}; escapes: \\n, \\r\\n, \\r, \\xHH`,
    );
  }
  const out = text.replace(/\\(x[0-9a-fA-F]{2}|[nrt0\\])/g, (_, e: string) => {
    if (e[0] === "x") return String.fromCharCode(parseInt(e.slice(1), 16));
    return { n: "\n", r: "\r", t: "\t", "0": "\0", "\\": "\\" }[e]!;
  });
  if (out.includes("\\")) {
    throw new FramingError(
      `bad termination ${JSON.stringify(text)}; escapes are \\n, \\r\\n, \\r, \\xHH; ` +
        `names are ${names.join(", ")}`,
    );
  }
  return out;
}

/**
 * A definite-length block `#<n><len><data>` around `data`, as an instrument sends arrays.
 *
 * @example
 * ```ts
 * import { encodeBlock } from "./framing.ts";
 * new TextDecoder().decode(encodeBlock(new TextEncoder().encode("hello"))); // "#15hello"
 * ```
 */
export function encodeBlock(data: Uint8Array): Uint8Array {
  const len = String(data.length);
  if (len.length > 9) throw new FramingError("a block holds at most 999,999,999 bytes");
  const head = utf8.encode(`#${len.length}${len}`);
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/** Options of a {@linkcode Framer}. */
export interface FramerOptions {
  /** Longest line accepted, bytes (default 1 MiB). */
  maxLine?: number;
  /** Largest block accepted, bytes (default 64 MiB). */
  maxBlock?: number;
}

const HASH = 0x23;

/** Splits a byte stream into lines and blocks; keeps what is not complete yet. */
export class Framer {
  /**
   * The buffer that holds the bytes, the first held one at {@linkcode Framer.offset}: a binary
   * parser reads a header and decodes an answer in place, then {@linkcode Framer.skip}s it. Valid
   * until the next `push` (no view or copy per answer). Read it, never assign it: a field, not a
   * getter, because a parser reads it for every answer, a call each while it runs cold.
   */
  buffer: Uint8Array = new Uint8Array(256);
  /** Where the first held byte is in {@linkcode Framer.buffer} (read it, never assign it). */
  offset = 0;
  #end = 0;
  /** Where the next termination search starts (bytes before were already searched). */
  #scanned = 0;
  /** A termination still expected after a block; dropped as it arrives. */
  #skip: Uint8Array | undefined;
  /** The framer's own buffer while {@linkcode Framer.buffer} is lent bytes (see `lend`). */
  #own: Uint8Array | undefined;
  readonly #maxLine: number;
  readonly #maxBlock: number;

  /** Creates an empty framer. */
  constructor(opts: FramerOptions = {}) {
    this.#own = undefined;
    this.#maxLine = opts.maxLine ?? 1 << 20;
    this.#maxBlock = opts.maxBlock ?? 64 << 20;
  }

  /** Bytes held and not yet taken. */
  get size(): number {
    return this.#end - this.offset;
  }

  /**
   * Holds the first `length` of `bytes` without copying them, when nothing is held: a caller
   * that parses every whole message at once (the pipeline, one arrival at a time) calls
   * {@linkcode Framer.keep} before `bytes` change. Held bytes are pushed as usual. A copy per
   * arrival (a view for `set`, then `set`) was ~860 instructions of a warm Modbus round trip.
   */
  lend(bytes: Uint8Array, length: number): void {
    if (this.#end !== this.offset || this.#skip !== undefined || this.#own !== undefined) {
      this.push(bytes, length);
      return;
    }
    this.#own = this.buffer;
    this.buffer = bytes;
    this.offset = this.#scanned = 0;
    this.#end = length;
  }

  /** Copies what is left of lent bytes (a message not whole yet) into the framer's own buffer. */
  keep(): void {
    const own = this.#own;
    if (own === undefined) return;
    const lent = this.buffer;
    const from = this.offset;
    const end = this.#end;
    this.#own = undefined;
    this.buffer = own;
    this.offset = this.#end = this.#scanned = 0;
    if (end > from) this.push(lent.subarray(from, end));
  }

  /** Appends received bytes: the first `length` of `bytes` (all of them by default). */
  push(bytes: Uint8Array, length: number = bytes.length): void {
    if (length === 0) return;
    if (this.#own !== undefined) this.keep();
    if (this.#end + length > this.buffer.length) {
      const size = this.#end - this.offset;
      if (size + length <= this.buffer.length && this.offset > 0) {
        this.buffer.copyWithin(0, this.offset, this.#end);
      } else {
        const next = new Uint8Array(Math.max(this.buffer.length * 2, size + length));
        next.set(this.buffer.subarray(this.offset, this.#end));
        this.buffer = next;
      }
      this.#scanned -= this.offset;
      this.offset = 0;
      this.#end = size;
    }
    const buf = this.buffer;
    const end = this.#end;
    // A view of a stream's read buffer, copied at once: one small object per arrival, where a
    // loop over an answer's bytes cost more while it runs cold (its first few hundred answers).
    buf.set(length === bytes.length ? bytes : bytes.subarray(0, length), end);
    this.#end = end + length;
    this.#dropSkip();
  }

  /** Drops everything held (stale input). */
  clear(): void {
    if (this.#own !== undefined) {
      this.buffer = this.#own;
      this.#own = undefined;
    }
    this.offset = this.#end = this.#scanned = 0;
    this.#skip = undefined;
  }

  /** Takes everything held. */
  takeAll(): Uint8Array {
    const out = this.buffer.slice(this.offset, this.#end);
    this.clear();
    return out;
  }

  /**
   * Takes one line ending in `term` (without it), or undefined if none is complete. An empty
   * `term` takes everything held. Throws {@linkcode FramingError} when a line grows too long.
   */
  line(term: Uint8Array): Uint8Array | undefined {
    const view = this.lineView(term);
    return view && view.slice();
  }

  /**
   * Like {@linkcode Framer.line}, but the line is a view into the framer's buffer, valid only
   * until the next `push`: for a caller that decodes it at once (no copy per answer).
   */
  lineView(term: Uint8Array): Uint8Array | undefined {
    if (term.length === 0) {
      if (this.size === 0) return undefined;
      const all = this.buffer.subarray(this.offset, this.#end);
      this.clear();
      return all;
    }
    const i = this.#find(term, Math.max(this.offset, this.#scanned - term.length + 1));
    if (i < 0) {
      this.#scanned = this.#end;
      if (this.size > this.#maxLine) {
        this.clear();
        throw new FramingError(`an answer longer than ${this.#maxLine} bytes without termination`);
      }
      return undefined;
    }
    const out = this.buffer.subarray(this.offset, i);
    this.offset = i + term.length;
    this.#scanned = this.offset;
    if (this.offset === this.#end) this.offset = this.#end = this.#scanned = 0;
    return out;
  }

  /**
   * The byte at `offset` of what is held (not taken), or undefined when fewer are held: a
   * binary header read field by field, without a view per answer.
   */
  byteAt(offset: number): number | undefined {
    return offset < this.size ? this.buffer[this.offset + offset] : undefined;
  }

  /**
   * The first `n` bytes held, not taken (a binary header to decide how much to take), or
   * undefined until they are here. A view: valid until the next `push`.
   */
  peek(n: number): Uint8Array | undefined {
    if (this.size < n) return undefined;
    return this.buffer.subarray(this.offset, this.offset + n);
  }

  /** Drops the first `n` held bytes (an answer read in place); at most what is held. */
  skip(n: number): void {
    this.offset = Math.min(this.#end, this.offset + n);
    if (this.#scanned < this.offset) this.#scanned = this.offset;
    if (this.offset === this.#end) this.offset = this.#end = this.#scanned = 0;
  }

  /** Takes exactly `n` bytes (binary answers of a known size), or undefined until they are here. */
  bytes(n: number): Uint8Array | undefined {
    if (this.size < n) return undefined;
    const out = this.buffer.slice(this.offset, this.offset + n);
    this.offset += n;
    this.#scanned = Math.max(this.#scanned, this.offset);
    if (this.offset === this.#end) this.offset = this.#end = this.#scanned = 0;
    return out;
  }

  /**
   * Takes one IEEE 488.2 block (`#<n><len><data>`, or `#0<data><term>`), skipping whitespace
   * before the `#`; its termination is consumed when it follows. Undefined while incomplete;
   * {@linkcode FramingError} when the bytes are not a block.
   */
  block(term: Uint8Array): Uint8Array | undefined {
    const b = this.buffer;
    let p = this.offset;
    while (p < this.#end && (b[p] === 0x20 || b[p] === 0x0a || b[p] === 0x0d || b[p] === 0x09)) p++;
    if (p >= this.#end) return undefined;
    if (b[p] !== HASH) {
      const seen = decodeText(b.subarray(p, Math.min(this.#end, p + 20)), "latin1");
      throw new FramingError(
        `expected a binary block starting with "#", got ${JSON.stringify(seen)}`,
      );
    }
    if (p + 1 >= this.#end) return undefined;
    const nd = b[p + 1]! - 0x30;
    if (nd < 0 || nd > 9) {
      throw new FramingError(
        `bad block header: "#" must be followed by a digit, got ${
          JSON.stringify(String.fromCharCode(b[p + 1]!))
        }`,
      );
    }
    if (nd === 0) {
      if (term.length === 0) {
        throw new FramingError("an indefinite block (#0) needs a read termination to end it");
      }
      const i = this.#find(term, p + 2);
      if (i < 0) {
        if (this.#end - p > this.#maxBlock) {
          this.clear();
          throw new FramingError(`an indefinite block larger than ${this.#maxBlock} bytes`);
        }
        return undefined;
      }
      const out = b.slice(p + 2, i);
      this.offset = i + term.length;
      this.#scanned = this.offset;
      return out;
    }
    if (p + 2 + nd > this.#end) return undefined;
    let len = 0;
    for (let k = 0; k < nd; k++) {
      const d = b[p + 2 + k]! - 0x30;
      if (d < 0 || d > 9) {
        throw new FramingError(`bad block header: the ${nd}-digit length has a non-digit`);
      }
      len = len * 10 + d;
    }
    if (len > this.#maxBlock) {
      this.clear();
      throw new FramingError(`a block of ${len} bytes is larger than the limit ${this.#maxBlock}`);
    }
    const from = p + 2 + nd;
    if (from + len > this.#end) return undefined;
    const out = b.slice(from, from + len);
    this.offset = from + len;
    this.#scanned = this.offset;
    if (term.length > 0) {
      this.#skip = term;
      this.#dropSkip();
    }
    return out;
  }

  /** Drops the expected post-block termination as far as it has arrived. */
  #dropSkip(): void {
    const skip = this.#skip;
    if (!skip) return;
    let k = 0;
    while (k < skip.length && this.offset + k < this.#end) {
      if (this.buffer[this.offset + k] !== skip[k]) {
        this.#skip = undefined;
        return;
      }
      k++;
    }
    if (k === skip.length) {
      this.offset += k;
      this.#scanned = Math.max(this.#scanned, this.offset);
      this.#skip = undefined;
    } else if (k > 0) {
      // Part of the termination is here: drop it and wait for the rest.
      this.offset += k;
      this.#scanned = Math.max(this.#scanned, this.offset);
      this.#skip = skip.subarray(k);
    }
  }

  #find(seq: Uint8Array, from: number): number {
    const b = this.buffer;
    const first = seq[0]!;
    const last = this.#end - seq.length;
    outer: for (let i = from; i <= last; i++) {
      if (b[i] !== first) continue;
      for (let j = 1; j < seq.length; j++) if (b[i + j] !== seq[j]) continue outer;
      return i;
    }
    return -1;
  }
}
