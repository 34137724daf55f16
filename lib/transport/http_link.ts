/**
 * One keep-alive TCP connection of the HTTP client and its receive buffer, lent from a pool of
 * spare buffers only while an answer is due.
 *
 * @module
 */
import { AnswerFrame } from "./http_codec.ts";
import { BadAnswer, MAX_BYTES } from "./http_framing.ts";
import { SocketOps } from "./socket_ops.ts";

/** What a connection reports to: the client that owns it (callbacks bound once per connection). */
export interface LinkOwner {
  /** `n` bytes arrived; 0 is the end of the stream ({@linkcode SocketOps.read}'s convention). */
  received(link: Link, n: number): void;
  /** The connection failed. */
  failed(link: Link, err: unknown): void;
  /** A write finished after `n` bytes. */
  written(link: Link, n: number): void;
}

/**
 * Answers are a few hundred bytes (an eBaratron poll: ~500 with headers); a buffer grows for
 * larger ones. Buffers are lent to connections only while an answer is due, so 10,000 mostly
 * idle connections share a few hundred. The pool keeps what steady polling has in flight at
 * once (10,000 gauges at 1 Hz with 20 ms answers: ~200), not the burst of a start where every
 * device is asked at once (that kept a buffer per device for the rest of the run).
 */
const BUFFER_SIZE = 640;
const MAX_SPARE = 512;
const NO_BYTES = new Uint8Array();
const spareBuffers: Uint8Array[] = [];
const FRAME = new AnswerFrame();

/**
 * One TCP connection and the bytes received on it. Its callbacks are bound once per connection
 * (not per request); an answer is scanned synchronously from the bytes ({@linkcode scanAnswer})
 * and more are read only while it is incomplete, so a poll costs one read in the common case.
 */
export class Link {
  /** Received bytes; a pooled buffer while an answer is due, none while idle. */
  buf: Uint8Array = NO_BYTES;
  start = 0;
  end = 0;
  /** Bytes received for the request in flight. */
  total = 0;
  /** A read is in flight. */
  reading = false;
  /** Answers still due to requests that timed out, skipped when they come. */
  owed = 0;
  /** Until when the owed answer is waited for (`performance.now()` time); later, it is lost. */
  owedUntil = 0;
  /** Answers received on this connection. */
  answered = 0;
  /** Made for a request that ran out of time first: it waited idle for the next one. */
  waited = false;
  dead = false;
  /**
   * Where the answer being scanned lies. One for every connection: an answer is scanned and
   * decoded synchronously, from its bytes, in one turn (not ~100 bytes per connection).
   */
  get frame(): AnswerFrame {
    return FRAME;
  }

  /** The connection's reads and writes, without `Conn`'s wrappers where the runtime allows. */
  readonly io: SocketOps;

  constructor(readonly conn: Deno.TcpConn, readonly client: LinkOwner) {
    this.io = new SocketOps(conn);
  }

  /** A read finished: `n` bytes, 0 at the end of the stream (see {@linkcode SocketOps.read}). */
  readonly onRead = (n: number): void => this.client.received(this, n);
  readonly onFail = (err: unknown): void => this.client.failed(this, err);
  readonly onWritten = (n: number): void => this.client.written(this, n);

  /** Where the next read goes: the free end of the buffer (grown when full). */
  room(): Uint8Array {
    if (this.buf === NO_BYTES) this.buf = spareBuffers.pop() ?? new Uint8Array(BUFFER_SIZE);
    if (this.start > 0 && this.start === this.end) this.start = this.end = 0;
    if (this.end === this.buf.length) {
      const size = this.end - this.start;
      if (size >= MAX_BYTES + 16384) throw new BadAnswer(`answer larger than ${MAX_BYTES} bytes`);
      const next = new Uint8Array(size * 2 < this.buf.length ? this.buf.length : size * 2);
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
      this.start = 0;
      this.end = size;
    }
    // The common case reads into the whole buffer: no view to make.
    return this.end === 0 ? this.buf : this.buf.subarray(this.end);
  }

  /**
   * Gives the buffer back to the pool when everything received is consumed and no read is in
   * flight (a read in flight still writes into it).
   */
  rest(): void {
    if (this.reading || this.start !== this.end || this.buf === NO_BYTES) return;
    if (this.buf.length === BUFFER_SIZE && spareBuffers.length < MAX_SPARE) {
      spareBuffers.push(this.buf);
    }
    this.buf = NO_BYTES;
    this.start = this.end = 0;
  }

  /** The bytes received and not yet consumed. */
  window(): Uint8Array {
    return this.start === 0 && this.end === this.buf.length
      ? this.buf
      : this.buf.subarray(this.start, this.end);
  }
}
