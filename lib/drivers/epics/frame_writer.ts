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
    this.#reserve(HEADER_SIZE);
    this.#head(command, 0, dataType, dataCount, p1, p2);
    this.#at += HEADER_SIZE;
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
    // An ASCII name (a PV name always, in practice) is its own UTF-8: copied in the pass that
    // checks it, not checked first and copied after (two loops per name in cold code).
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) break;
      buf[at + i] = c;
    }
    let end = at + n;
    if (i < n) {
      const bytes = textEncoder.encode(text);
      size = padded(bytes.length + 1);
      if (size >= 0xffff) throw tooLong(bytes.length);
      this.#reserve(HEADER_SIZE + size);
      buf = this.#buf;
      buf.set(bytes, at);
      end = at + bytes.length;
    }
    this.#head(command, size, dataType, dataCount, p1, p2);
    buf.fill(0, end, at + size);
    this.#at = at + size;
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

  #head(command: number, size: number, dataType: number, count: number, p1: number, p2: number) {
    const v = this.#view;
    const at = this.#at;
    v.setUint16(at, command);
    v.setUint16(at + 2, size);
    v.setUint16(at + 4, dataType);
    v.setUint16(at + 6, count);
    v.setUint32(at + 8, p1 >>> 0);
    v.setUint32(at + 12, p2 >>> 0);
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
