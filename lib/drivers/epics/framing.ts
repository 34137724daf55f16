/**
 * Channel Access framing, sans-I/O: message headers (standard 16-byte and extended 24-byte),
 * payload padding to 8 bytes, and the streaming decoder that cuts a TCP byte stream split at
 * arbitrary points (or a datagram) into framed messages. What the messages mean is in
 * `protocol.ts`.
 *
 * @example
 * ```ts
 * import { encodeHeader, MessageDecoder } from "./framing.ts";
 * const bytes = encodeHeader({ command: 23, payloadSize: 0, dataType: 0, dataCount: 0, p1: 0, p2: 0 });
 * new MessageDecoder().push(bytes)[0]!.command; // 23 (ECHO)
 * ```
 *
 * @module
 */
import {
  EXTENDED_HEADER_SIZE,
  HEADER_SIZE,
  padded,
  ProtocolError,
  textEncoder,
} from "./frame_writer.ts";

// The writer's half lives in ./frame_writer.ts (the batch reader loads it without the decoder).
export {
  EXTENDED_HEADER_SIZE,
  FrameWriter,
  HEADER_SIZE,
  padded,
  ProtocolError,
} from "./frame_writer.ts";

/** The fields of a message header (either size); `payloadSize` is the padded size. */
export interface Header {
  /** Command code, see {@linkcode CMD}. */
  command: number;
  /** Payload bytes following the header (padded to 8). */
  payloadSize: number;
  /** data_type field (DBR type, priority, port… depending on the command). */
  dataType: number;
  /** data_count field (element count, version… depending on the command). */
  dataCount: number;
  /** Parameter 1 (cid, sid, status, IP… depending on the command). */
  p1: number;
  /** Parameter 2 (ioid, subscription id, cid… depending on the command). */
  p2: number;
}

/** A framed message: its header and a view of its payload (pad bytes included). */
export interface RawMessage extends Header {
  /** The payload bytes, `payloadSize` long. */
  payload: Uint8Array;
}

/**
 * Encodes a header; the extended form is used when the payload size or count do not fit 16
 * bits (only peers of minor version ≥ 9 understand it).
 *
 * @example
 * ```ts
 * import { encodeHeader } from "./framing.ts";
 * encodeHeader({ command: 23, payloadSize: 0, dataType: 0, dataCount: 0, p1: 0, p2: 0 }).length; // 16
 * ```
 */
export function encodeHeader(h: Header): Uint8Array {
  const extended = h.payloadSize >= 0xffff || h.dataCount >= 0xffff;
  const out = new Uint8Array(extended ? EXTENDED_HEADER_SIZE : HEADER_SIZE);
  writeHeader(new DataView(out.buffer), 0, h, extended, h.payloadSize);
  return out;
}

function writeHeader(
  view: DataView,
  at: number,
  h: Omit<Header, "payloadSize">,
  extended: boolean,
  payloadSize: number,
): void {
  view.setUint16(at, h.command);
  view.setUint16(at + 2, extended ? 0xffff : payloadSize);
  view.setUint16(at + 4, h.dataType);
  view.setUint16(at + 6, extended ? 0 : h.dataCount);
  view.setUint32(at + 8, h.p1 >>> 0);
  view.setUint32(at + 12, h.p2 >>> 0);
  if (extended) {
    view.setUint32(at + 16, payloadSize);
    view.setUint32(at + 20, h.dataCount);
  }
}

/**
 * Decodes the header at `offset`, or returns undefined when the bytes end before it does.
 * Returns the header and its size (16 or 24).
 */
export function decodeHeader(
  bytes: Uint8Array,
  offset = 0,
): { header: Header; size: number } | undefined {
  if (bytes.length - offset < HEADER_SIZE) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const command = view.getUint16(offset);
  let payloadSize = view.getUint16(offset + 2);
  const dataType = view.getUint16(offset + 4);
  let dataCount = view.getUint16(offset + 6);
  const p1 = view.getUint32(offset + 8);
  const p2 = view.getUint32(offset + 12);
  let size = HEADER_SIZE;
  if (payloadSize === 0xffff && dataCount === 0) {
    if (bytes.length - offset < EXTENDED_HEADER_SIZE) return undefined;
    payloadSize = view.getUint32(offset + 16);
    dataCount = view.getUint32(offset + 20);
    size = EXTENDED_HEADER_SIZE;
  }
  return { header: { command, payloadSize, dataType, dataCount, p1, p2 }, size };
}

/**
 * Frames a header and payload: the payload is zero-padded to a multiple of 8 and the header's
 * `payloadSize` is set to the padded size.
 */
export function frame(h: Omit<Header, "payloadSize">, payload?: Uint8Array): Uint8Array {
  const size = payload ? padded(payload.length) : 0;
  const extended = size >= 0xffff || h.dataCount >= 0xffff;
  const hs = extended ? EXTENDED_HEADER_SIZE : HEADER_SIZE;
  const out = new Uint8Array(hs + size);
  writeHeader(new DataView(out.buffer), 0, h, extended, size);
  if (payload) out.set(payload, hs);
  return out;
}

/**
 * Frames a header and a NUL-terminated string payload (a PV, client or host name), padded to 8.
 * An ASCII string is written straight into the message: no encoder call and no intermediate
 * buffer for each of the thousands of names a many-PV read searches and creates.
 */
export function frameText(h: Omit<Header, "payloadSize">, text: string): Uint8Array {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (!ascii) {
    const bytes = textEncoder.encode(text);
    const payload = new Uint8Array(bytes.length + 1);
    payload.set(bytes);
    return frame(h, payload);
  }
  const size = padded(text.length + 1);
  const extended = size >= 0xffff || h.dataCount >= 0xffff;
  const hs = extended ? EXTENDED_HEADER_SIZE : HEADER_SIZE;
  const out = new Uint8Array(hs + size);
  writeHeader(new DataView(out.buffer), 0, h, extended, size);
  for (let i = 0; i < text.length; i++) out[hs + i] = text.charCodeAt(i);
  return out;
}

/** Concatenates encoded messages into one buffer (one TCP write or one UDP datagram). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Limits a {@linkcode MessageDecoder} enforces. */
export interface DecoderOptions {
  /** Largest payload accepted, in bytes (default 64 MiB); bigger means a broken stream. */
  maxPayload?: number;
}

/** Counters of a {@linkcode MessageDecoder}, for tests and metrics. */
export interface DecoderStats {
  /** Bytes copied by the decoder (only bytes of messages split across reads, about twice each). */
  bytesCopied: number;
  /** Messages put together from more than one read. */
  assembled: number;
}

/**
 * Largest block of a partial message's storage, bytes. A message split across reads is kept in
 * blocks allocated as its bytes arrive: the first of up to 64 KiB (a message that fits is
 * delivered from it without being put together), each next one as large as what has arrived so
 * far, up to this size. What is held is thus at most about twice what has arrived, and one
 * allocation serves many reads.
 */
export const DECODER_BLOCK_BYTES = 1024 * 1024;

/**
 * Size of a partial message's first block, bytes: a socket read buffer's, so that announcing a
 * large message costs a client no more than its reads do.
 */
const FIRST_BLOCK_BYTES = 64 * 1024;

/**
 * Frames a byte stream into messages, whatever the split of the reads: bytes of an incomplete
 * message are kept until the rest arrives.
 *
 * Memory is bounded by the largest legal message (`maxPayload` + the 24-byte extended header):
 * a header announcing more is a {@linkcode ProtocolError} at once, before its payload arrives.
 * Complete messages are framed straight from the caller's chunk. The bytes of a message split
 * across reads go into blocks allocated as they fill, growing with what has arrived up to
 * {@linkcode DECODER_BLOCK_BYTES} (a peer that announces 15 MB and sends 100 bytes costs a 64
 * KiB block, as much as a read buffer), and the blocks are joined once when the last byte
 * arrives, if there are several. A
 * slow large message thus costs O(size) copying and no reallocation garbage, never O(size²),
 * and one allocation per block rather than a zeroed piece per read.
 *
 * `push()` returns messages whose payloads stay valid for good (views of `chunk`, or the
 * decoder's own blocks); `feed()` calls back with views that are only valid during the
 * callback, so the caller may reuse its read buffer (the fast path).
 *
 * @example
 * ```ts
 * import { encodeMessage } from "./protocol.ts";
 * import { MessageDecoder } from "./framing.ts";
 * const bytes = encodeMessage({ kind: "echo" });
 * const d = new MessageDecoder();
 * d.push(bytes.subarray(0, 5)).length; // 0
 * d.push(bytes.subarray(5)).length; // 1
 * ```
 */
export class MessageDecoder {
  /** Filled pieces of the one partial message, in order (the last may be of #block). */
  #parts: Uint8Array[] = [];
  /** The block being filled, once the partial message's size is known. */
  #block: Uint8Array | undefined;
  /** Bytes of #block filled. */
  #blockUsed = 0;
  /** Bytes of the blocks allocated for the partial message. */
  #reserved = 0;
  /** Bytes in #parts. */
  #have = 0;
  /** Total size (header + payload) of the partial message once its header is known, else 0. */
  #need = 0;
  #maxPayload: number;
  readonly #stats: DecoderStats = { bytesCopied: 0, assembled: 0 };

  /** Creates a decoder. */
  constructor(options: DecoderOptions = {}) {
    this.#maxPayload = options.maxPayload ?? 64 * 1024 * 1024;
  }

  /** Bytes held back waiting for the rest of a message. */
  get buffered(): number {
    return this.#have;
  }

  /** Bytes allocated for the partial message (its blocks), filled or not. */
  get reserved(): number {
    return this.#reserved;
  }

  /** Copy counters since creation. */
  get stats(): Readonly<DecoderStats> {
    return this.#stats;
  }

  /** Adds bytes and returns every message they complete (payloads are stable views). */
  push(chunk: Uint8Array): RawMessage[] {
    const out: RawMessage[] = [];
    this.#run(chunk, (m) => out.push(m));
    return out;
  }

  /** Adds bytes and calls `onMessage` for every message they complete (payloads are transient). */
  feed(chunk: Uint8Array, onMessage: (m: RawMessage) => void): void {
    this.#run(chunk, onMessage);
  }

  /** Forgets any partial message (after a reconnect). */
  reset(): void {
    this.#parts = [];
    this.#block = undefined;
    this.#blockUsed = 0;
    this.#reserved = 0;
    this.#have = 0;
    this.#need = 0;
  }

  /** The header at `at` of `bytes`, checked against the limit; undefined when incomplete. */
  #header(bytes: Uint8Array, at: number): { header: Header; size: number } | undefined {
    const head = decodeHeader(bytes, at);
    if (head && head.header.payloadSize > this.#maxPayload) {
      throw new ProtocolError(
        `message of ${head.header.payloadSize} bytes exceeds the ${this.#maxPayload}-byte limit` +
          " (EPICS_CA_MAX_ARRAY_BYTES)",
      );
    }
    return head;
  }

  /**
   * Unfilled storage for up to `max` more bytes of the partial message (size known): the rest
   * of the current block, or a new block (see {@linkcode DECODER_BLOCK_BYTES}).
   */
  #room(max: number): Uint8Array {
    if (!this.#block || this.#blockUsed === this.#block.length) {
      const size = Math.min(
        this.#need - this.#have,
        Math.max(FIRST_BLOCK_BYTES, Math.min(this.#have, DECODER_BLOCK_BYTES)),
      );
      this.#block = new Uint8Array(size);
      this.#blockUsed = 0;
      this.#reserved += size;
    }
    const end = Math.min(this.#block.length, this.#blockUsed + max);
    return this.#block.subarray(this.#blockUsed, end);
  }

  /** Counts `n` bytes written into the current block's room as held. */
  #filled(n: number): void {
    const block = this.#block!;
    const fresh = this.#blockUsed === 0;
    this.#blockUsed += n;
    this.#have += n;
    const piece = block.subarray(0, this.#blockUsed);
    if (fresh) this.#parts.push(piece);
    else this.#parts[this.#parts.length - 1] = piece;
  }

  /** Keeps a copy of `bytes` (the caller's buffer is reused for the next read). */
  #keep(bytes: Uint8Array): void {
    this.#stats.bytesCopied += bytes.length;
    if (this.#need === 0) {
      // Less than a header: its size, hence its storage, is not known yet.
      this.#parts.push(bytes.slice());
      this.#have += bytes.length;
      return;
    }
    for (let at = 0; at < bytes.length;) {
      const room = this.#room(bytes.length - at);
      room.set(bytes.subarray(at, at + room.length));
      this.#filled(room.length);
      at += room.length;
    }
  }

  /** Delivers the partial message, now whole, and starts afresh. */
  #complete(onMessage: (m: RawMessage) => void): void {
    const whole = this.#parts.length === 1 ? this.#parts[0]! : concatBytes(this.#parts);
    if (this.#parts.length > 1) this.#stats.bytesCopied += whole.length;
    this.#stats.assembled++;
    this.reset();
    const head = decodeHeader(whole, 0)!;
    const msg = head.header as RawMessage;
    msg.payload = whole.subarray(head.size);
    onMessage(msg);
  }

  #run(chunk: Uint8Array, onMessage: (m: RawMessage) => void): void {
    let at = 0;
    if (this.#have > 0) {
      if (this.#need === 0) {
        // The header is still incomplete, so what is held is under 24 bytes: join it with up
        // to a full extended header's worth of the chunk and look again.
        const take = Math.min(EXTENDED_HEADER_SIZE - this.#have, chunk.length);
        const head = concatBytes([...this.#parts, chunk.subarray(0, take)]);
        this.#stats.bytesCopied += head.length;
        const h = this.#header(head, 0);
        if (!h) {
          // Only possible when the chunk ran out before a full extended header.
          this.#parts = [head];
          this.#have = head.length;
          return;
        }
        // Bytes past this message's end belong to the next one: leave them in the chunk.
        const need = h.size + h.header.payloadSize;
        const own = Math.min(need, head.length);
        at = own - this.#have;
        this.reset();
        this.#need = need;
        this.#keep(head.subarray(0, own));
      }
      const take = Math.min(this.#need - this.#have, chunk.length - at);
      if (take > 0) this.#keep(chunk.subarray(at, at + take));
      at += take;
      if (this.#have < this.#need) return;
      this.#complete(onMessage);
    }
    while (true) {
      const head = this.#header(chunk, at);
      if (!head) break;
      const end = at + head.size + head.header.payloadSize;
      if (end > chunk.length) {
        this.#need = end - at;
        break;
      }
      const msg = head.header as RawMessage;
      msg.payload = chunk.subarray(at + head.size, end);
      onMessage(msg);
      at = end;
    }
    if (at < chunk.length) this.#keep(chunk.subarray(at));
  }
}

/**
 * Splits a complete datagram into its messages; a trailing partial message is an error (UDP
 * never splits a message across datagrams).
 */
export function decodeDatagram(datagram: Uint8Array): RawMessage[] {
  const out: RawMessage[] = [];
  let at = 0;
  while (at < datagram.length) {
    const head = decodeHeader(datagram, at);
    const end = head ? at + head.size + head.header.payloadSize : Infinity;
    if (!head || end > datagram.length) {
      throw new ProtocolError(`datagram of ${datagram.length} bytes ends inside a message`);
    }
    // The header object becomes the message (as MessageDecoder does): no copy per message.
    const msg = head.header as RawMessage;
    msg.payload = datagram.subarray(at + head.size, end);
    out.push(msg);
    at = end;
  }
  return out;
}
