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

/** NUL strings of 0-16 characters: a message's header room, a name's NUL and its padding. */
const NULS: readonly string[] = Array.from({ length: 17 }, (_, k) => "\0".repeat(k));

/**
 * One message per name, built once, one after the other: message `k` is
 * `bytes[at[k], at[k + 1])`, a standard header then name `k` NUL-terminated and zero-padded to 8
 * bytes (the bytes {@linkcode FrameWriter.text} writes for it), its request ids (`p1`, `p2`)
 * both `k + 1`. A batch's searches are these; its CREATE_CHANs differ from them in three header
 * words ({@linkcode retagged}). Copying a run of them into a datagram or a circuit's write
 * costs one call where writing each message was a writer call per name (header, name and
 * padding; ~4 k instructions each in the interpreter and baseline code a read runs in).
 *
 * @example
 * ```ts
 * import { FrameWriter, NameFrames } from "./frame_writer.ts";
 * const searches = NameFrames.of(["XXX:m1.VAL", "XXX:m2.VAL"], 6, 5, 13);
 * const creates = searches.retagged(18, 0, 0, 13); // CREATE_CHAN of each
 * const w = new FrameWriter();
 * w.copy(creates.bytes, creates.at[1]!, creates.at[2]!); // CREATE_CHAN of XXX:m2.VAL
 * w.take().length; // 16 + 16
 * ```
 */
export class NameFrames {
  private constructor(
    /** Every message, one after the other. */
    readonly bytes: Uint8Array,
    /** Where each message starts in {@linkcode bytes}, and after the last, where they end. */
    readonly at: Uint32Array,
  ) {}

  /** The messages `command` of `names` (each header: `dataType`, `dataCount`, `k + 1` twice). */
  static of(
    names: readonly string[],
    command: number,
    dataType: number,
    dataCount: number,
  ): NameFrames {
    const n = names.length;
    const at = new Uint32Array(n + 1);
    // ASCII names (PV names are) are laid out as one string, header room and padding as NULs,
    // and encoded by one encoder call: no copy or view per name.
    const parts: string[] = new Array(3 * n);
    let end = 0;
    for (let k = 0; k < n; k++) {
      const name = names[k]!;
      const pad = 8 - (name.length & 7); // the NUL and the padding: 1-8 bytes
      parts[3 * k] = NULS[HEADER_SIZE]!;
      parts[3 * k + 1] = name;
      parts[3 * k + 2] = NULS[pad]!;
      end += HEADER_SIZE + name.length + pad;
      at[k + 1] = end;
    }
    const joined = parts.join("");
    let bytes: Uint8Array;
    if (!NOT_ASCII.test(joined)) bytes = textEncoder.encode(joined);
    else {
      const each = names.map((t) => textEncoder.encode(t));
      for (let k = 0; k < n; k++) at[k + 1] = at[k]! + HEADER_SIZE + ((each[k]!.length + 8) & ~7);
      bytes = new Uint8Array(at[n]!);
      for (let k = 0; k < n; k++) bytes.set(each[k]!, at[k]! + HEADER_SIZE);
    }
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const second = (dataType << 16) | (dataCount & 0xffff);
    for (let k = 0; k < n; k++) {
      const head = at[k]!;
      const size = at[k + 1]! - head - HEADER_SIZE;
      if (size >= 0xffff) throw tooLong(textEncoder.encode(names[k]!).length);
      v.setUint32(head, (command << 16) | size);
      v.setUint32(head + 4, second);
      v.setUint32(head + 8, k + 1);
      v.setUint32(head + 12, k + 1);
    }
    return new NameFrames(bytes, at);
  }

  /** The same messages as `command`, with `dataType`, `dataCount` and `p2` (`p1` kept). */
  retagged(command: number, dataType: number, dataCount: number, p2: number): NameFrames {
    const bytes = this.bytes.slice();
    const at = this.at;
    const v = new DataView(bytes.buffer);
    const second = (dataType << 16) | (dataCount & 0xffff);
    const n = at.length - 1;
    for (let k = 0; k < n; k++) {
      const head = at[k]!;
      v.setUint32(head, (command << 16) | (at[k + 1]! - head - HEADER_SIZE));
      v.setUint32(head + 4, second);
      v.setUint32(head + 12, p2);
    }
    return new NameFrames(bytes, at);
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
   * Appends `bytes[from, to)`, whole messages written elsewhere (a run of {@linkcode NameFrames}).
   * Returns the bytes written since the last {@linkcode take}.
   */
  copy(bytes: Uint8Array, from: number, to: number): number {
    const head = this.#at;
    const end = head + to - from;
    if (end > this.#buf.length) this.#reserve(to - from);
    this.#buf.set(bytes.subarray(from, to), head);
    return this.#at = end;
  }

  /**
   * Counts `n` more bytes written and returns where they start: the caller writes them through
   * {@linkcode view} (many headers in one loop of its own, without a call each).
   */
  claim(n: number): number {
    const head = this.#at;
    if (head + n > this.#buf.length) this.#reserve(n);
    this.#at = head + n;
    return head;
  }

  /** The buffer's view, for the bytes a {@linkcode claim} counted (valid until the next call). */
  get view(): DataView {
    return this.#view;
  }

  /** The bytes written, as one buffer; the writer starts empty again. */
  take(): Uint8Array {
    const out = this.#buf.subarray(0, this.#at);
    this.#buf = new Uint8Array(Math.max(1024, this.#at));
    this.#view = new DataView(this.#buf.buffer);
    this.#at = 0;
    return out;
  }

  /**
   * The bytes written, as a view of the writer's buffer, for a writer that is not written
   * again: unlike {@linkcode take}, no new buffer is made for writes that will not come.
   */
  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#at);
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
