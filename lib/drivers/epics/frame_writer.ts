/**
 * The writing half of Channel Access framing: header sizes, payload padding, the
 * {@linkcode FrameWriter} that packs many requests into one buffer, and the error of a message
 * that cannot be understood. The batch reader (`./client_batch.ts`) and the search socket
 * (`./client_udp.ts`) load this alone; `./framing.ts` adds the streaming decoder and re-exports
 * what is here.
 *
 * @module
 */
/** Size of a standard header. */
export const HEADER_SIZE = 16;
/** Size of an extended header. */
export const EXTENDED_HEADER_SIZE = 24;

/** Rounds a size up to the next multiple of 8 (CA payload alignment). */
export function padded(size: number): number {
  return (size + 7) & ~7;
}

/** One encoder for every non-ASCII name (rare: PV names are ASCII). */
export const textEncoder: TextEncoder = new TextEncoder();

/** Whether every character of `text` is ASCII (it is then its own UTF-8, a byte a character). */
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The error of a name of `bytes` UTF-8 bytes, too long for a CA message's payload. */
function tooLong(bytes: number): RangeError {
  return new RangeError(`a ${bytes}-byte name does not fit a CA message`);
}

/**
 * Texts encoded to UTF-8 once, one after the other, for messages that carry them more than once
 * (a batch's PV names go into its searches and its CREATE_CHANs): text `k` is
 * `bytes[at[k], at[k + 1])`. An encoder call per message allocated its result and a view of
 * the buffer (~240 bytes of young heap; a read of 1,000 PVs wrote 2,000 names).
 *
 * @example
 * ```ts
 * import { EncodedTexts, FrameWriter } from "./frame_writer.ts";
 * const names = new EncodedTexts(["XXX:m1.VAL", "XXX:m2.VAL"]);
 * const w = new FrameWriter();
 * w.encoded(18, 0, 0, 2, 13, names, 1); // CREATE_CHAN of XXX:m2.VAL
 * w.take().length; // 16 + 16
 * ```
 */
export class EncodedTexts {
  /** Every text's UTF-8, one after the other. */
  readonly bytes: Uint8Array;
  /** Where each text starts in {@linkcode bytes}, and after the last, where they end. */
  readonly at: Uint32Array;

  /** Encodes `texts`. */
  constructor(texts: readonly string[]) {
    const n = texts.length;
    const at = new Uint32Array(n + 1);
    const joined = texts.join("");
    if (!NOT_ASCII.test(joined)) {
      // A byte a character: one encoder call for all of them.
      this.bytes = textEncoder.encode(joined);
      for (let k = 0; k < n; k++) at[k + 1] = at[k]! + texts[k]!.length;
    } else {
      const each = texts.map((t) => textEncoder.encode(t));
      for (let k = 0; k < n; k++) at[k + 1] = at[k]! + each[k]!.length;
      this.bytes = new Uint8Array(at[n]!);
      for (let k = 0; k < n; k++) this.bytes.set(each[k]!, at[k]!);
    }
    this.at = at;
  }
}

/** A character past ASCII. */
const NOT_ASCII = /[\u0080-\uffff]/;

/**
 * Messages written one after another into one buffer (a datagram, or one TCP write of many
 * requests), header fields straight into place: no header object, message buffer or copy per
 * message, for the thousands of searches, CREATE_CHANs and READ_NOTIFYs of a many-PV read.
 * Standard headers only: payloads here are names (at most a few hundred bytes) or none.
 *
 * @example
 * ```ts
 * import { FrameWriter } from "./frame_writer.ts";
 * const w = new FrameWriter();
 * w.header(23, 0, 0, 0, 0); // ECHO
 * w.text(18, 0, 0, 1, 13, "XXX:m1.VAL"); // CREATE_CHAN
 * w.take().length; // 16 + 16 + 16
 * ```
 */
export class FrameWriter {
  #buf: Uint8Array;
  #view: DataView;
  #at = 0;

  /** An empty writer; it grows as needed. */
  constructor(capacity = 1024) {
    this.#buf = new Uint8Array(capacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes written since the last {@linkcode take}. */
  get length(): number {
    return this.#at;
  }

  /** Appends a message without payload. */
  header(command: number, dataType: number, dataCount: number, p1: number, p2: number): void {
    // The header is written out here and in `text`, not by a method of its own: a read of 1,000
    // PVs writes ~3,000 headers, calls enough for V8 to compile such a method with TurboFan on a
    // helper thread (its first compile: ~300 fresh pages, milliseconds of a core) in a process
    // that ends before the compiled code would pay (docs/benchmarks.md, many PVs, ninth round).
    // The room is checked here and `#reserve` called only to grow: each private field read and
    // call is an inline-cache call in the interpreter and baseline code these run in.
    const head = this.#at;
    if (head + HEADER_SIZE > this.#buf.length) this.#reserve(HEADER_SIZE);
    const v = this.#view;
    // Two 16-bit fields a call (each DataView call costs more than the shifts).
    v.setUint32(head, command << 16);
    v.setUint32(head + 4, (dataType << 16) | (dataCount & 0xffff));
    v.setUint32(head + 8, p1);
    v.setUint32(head + 12, p2);
    this.#at = head + HEADER_SIZE;
  }

  /** Appends a message whose payload is `text`, NUL-terminated and zero-padded to 8 bytes. */
  text(
    command: number,
    dataType: number,
    dataCount: number,
    p1: number,
    p2: number,
    text: string,
  ): void {
    const n = text.length;
    let size = padded(n + 1);
    // UTF-8 is never shorter than UTF-16: too long here is too long as bytes (counted for the
    // message, which names the bytes).
    if (size >= 0xffff) throw tooLong(isAscii(text) ? n : textEncoder.encode(text).length);
    this.#reserve(HEADER_SIZE + size);
    const at = this.#at + HEADER_SIZE;
    let buf = this.#buf;
    // Copied by the encoder's builtin, not by a loop over the characters here: the loop made
    // `text` the hottest bytecode of a read of 1,000 PVs and earned it a TurboFan compile (13-29
    // ms of a helper thread) that the read ended before using. Room is left for the NUL; a name
    // whose bytes do not fit in the room its characters ask for is encoded whole below.
    const r = textEncoder.encodeInto(text, buf.subarray(at, at + size - 1));
    let end = at + r.written;
    if (r.read === n) size = (r.written + 8) & ~7;
    else {
      const bytes = textEncoder.encode(text);
      size = padded(bytes.length + 1);
      if (size >= 0xffff) throw tooLong(bytes.length);
      this.#reserve(HEADER_SIZE + size);
      buf = this.#buf;
      buf.set(bytes, at);
      end = at + bytes.length;
    }
    const v = this.#view;
    const head = this.#at;
    v.setUint32(head, (command << 16) | size);
    v.setUint32(head + 4, (dataType << 16) | (dataCount & 0xffff));
    v.setUint32(head + 8, p1);
    v.setUint32(head + 12, p2);
    buf.fill(0, end, at + size);
    this.#at = at + size;
  }

  /**
   * Appends a message whose payload is text `k` of `texts`, NUL-terminated and zero-padded to 8
   * bytes: the bytes {@linkcode text} writes for that text, copied from where they were encoded
   * once (no encoder call and its result per message). Returns the bytes written since the last
   * {@linkcode take} (what {@linkcode length} says next, without the getter's call).
   */
  encoded(
    command: number,
    dataType: number,
    dataCount: number,
    p1: number,
    p2: number,
    texts: EncodedTexts,
    k: number,
  ): number {
    const offsets = texts.at;
    const from = offsets[k]!;
    const to = offsets[k + 1]!;
    const size = (to - from + 8) & ~7; // NUL-terminated, padded to 8
    if (size >= 0xffff) throw tooLong(to - from);
    const head = this.#at;
    if (head + HEADER_SIZE + size > this.#buf.length) this.#reserve(HEADER_SIZE + size);
    const at = head + HEADER_SIZE;
    const v = this.#view;
    // The NUL and the padding are the payload's last 1-8 bytes: its last 8 zeroed, then the
    // name copied over their start (one call where a fill was one more).
    v.setFloat64(at + size - 8, 0);
    this.#buf.set(texts.bytes.subarray(from, to), at);
    v.setUint32(head, (command << 16) | size);
    v.setUint32(head + 4, (dataType << 16) | (dataCount & 0xffff));
    v.setUint32(head + 8, p1);
    v.setUint32(head + 12, p2);
    return this.#at = at + size;
  }

  /**
   * Drops what was written after the first `length` bytes (a message that turned out not to fit
   * where it was written, e.g. a datagram: writing it and taking it back once costs less than
   * measuring every name first).
   */
  truncate(length: number): void {
    if (length < 0 || length > this.#at) throw new RangeError(`cannot truncate to ${length}`);
    this.#at = length;
  }

  /** The bytes written, as one buffer; the writer starts empty again. */
  take(): Uint8Array {
    const out = this.#buf.subarray(0, this.#at);
    this.#buf = new Uint8Array(Math.max(1024, this.#at));
    this.#view = new DataView(this.#buf.buffer);
    this.#at = 0;
    return out;
  }

  #reserve(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#at + n));
    grown.set(this.#buf.subarray(0, this.#at));
    this.#buf = grown;
    this.#view = new DataView(grown.buffer);
  }
}

/** A message that cannot be understood; the circuit it came from should be closed. */
export class ProtocolError extends Error {
  /** Creates a protocol error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
  }
}
