/**
 * The byte stream contract: what the message layer and drivers call ({@linkcode ByteStream},
 * with a deadline and cancellation per call: {@linkcode IoOptions}) and what an opener hands
 * `ReopeningStream` (`stream.ts`) to pump ({@linkcode RawConn}).
 *
 * @module
 */
import type { Cancel } from "./cancel.ts";

/** Deadline and cancellation of one I/O call, like the HTTP client's. */
export interface IoOptions {
  /** Milliseconds before the call fails with a {@linkcode TimeoutError}; none when absent. */
  timeout?: number;
  /** The caller's abort (Ctrl-C, a stopped task); its reason is rethrown as is. */
  signal?: AbortSignal;
  /**
   * A cheaper abort for many short calls (the message layer's exchanges; see `cancel.ts`): its
   * reason is rethrown as is. {@linkcode ReopeningStream} honours it; a stream that does not is
   * given `signal` instead.
   */
  cancel?: Cancel;
}

/** A bidirectional byte stream that (re)opens itself on use. */
export interface ByteStream {
  /** What it is, for messages: `tcp://10.0.0.7:5025`, `serial:///dev/ttyUSB0`, `pty:///dev/pts/3`. */
  readonly label: string;
  /**
   * Where the bytes go, as errors tell the user to check it: `10.0.0.7:5025`, `/dev/ttyUSB0`
   * (absent: the label without its scheme).
   */
  readonly address?: string;
  /** True once {@linkcode ByteStream.close} was called. */
  readonly closed: boolean;
  /** True while a connection is open. */
  readonly connected: boolean;
  /**
   * How many times a connection was opened: a change means a new connection (the instrument may
   * have restarted and lost its settings), so a driver re-sends its init commands.
   */
  readonly opens?: number;
  /** Opens the connection now if it is not open (calls do this on their own). */
  connect(opts?: IoOptions): Promise<void>;
  /** Writes all of `bytes`, opening the connection first if needed. */
  write(bytes: Uint8Array, opts?: IoOptions): Promise<void>;
  /**
   * Writes all of `bytes` as {@linkcode ByteStream.write} does, then calls `ends.written()` or
   * `ends.failed(err)`: no promise of the caller's own per write (the pipeline writes this way).
   * Optional: without it, write and chain.
   */
  writeThen?(bytes: Uint8Array, opts: IoOptions, ends: WriteEnds): void;
  /**
   * The next bytes received (at least one; everything queued so far). Rejects with a
   * {@linkcode TimeoutError} after `timeout`, with the reason of an aborted signal, or with a
   * {@linkcode DeviceError} when the connection ends (it is re-opened by a later call).
   */
  read(opts?: IoOptions): Promise<Uint8Array>;
  /** Drops input received but not read yet (stale answers), here and in the OS where possible. */
  discard(): void;
  /**
   * Hands the bytes to `listener` as they arrive, until {@linkcode ByteStream.unlisten}: no read
   * call, no promise and no copy per arrival (the pipeline's requests in flight). Bytes queued
   * already are handed at once; reads get nothing meanwhile. Optional: without it, read.
   */
  listen?(listener: ByteListener): void;
  /** Stops handing bytes to the listener; what arrives next is queued for reads again. */
  unlisten?(): void;
  /** Closes the connection now (it is suspect, e.g. after a timeout); a later call re-opens it. */
  reset(): void;
  /** Closes for good; pending and later calls fail. */
  close(): void;
}

/** What a {@linkcode ByteStream.writeThen} calls when its write ends. */
export interface WriteEnds {
  /** All the bytes were written. */
  written(): void;
  /** The write failed (what {@linkcode ByteStream.write} would have rejected with). */
  failed(err: unknown): void;
}

/** What takes a stream's bytes as they arrive (see {@linkcode ByteStream.listen}). */
export interface ByteListener {
  /**
   * Bytes just received: the first `length` of `bytes` (the stream's read buffer, valid only
   * during the call: no view or copy per arrival).
   */
  data(bytes: Uint8Array, length: number): void;
  /** The connection ended or failed: what a read would have thrown. The listener stays set. */
  end(err: unknown): void;
}

/** An open connection as {@linkcode ReopeningStream} needs it (a `Deno.Conn` or `Deno.FsFile`). */
export interface RawConn {
  /** Reads into `buf`; null at end of stream. */
  read(buf: Uint8Array): Promise<number | null>;
  /** Writes some of `buf`; returns how many bytes. */
  write(buf: Uint8Array): Promise<number>;
  /** Closes; a pending read then rejects. */
  close(): void;
  /** Drops OS-side input not read yet (serial lines: tcflush); optional. */
  flushInput?(): void;
}
