/**
 * Byte streams that re-open themselves: the common ground of TCP connections, serial lines and
 * pseudo-terminal masters, on which `message.ts` frames lines and blocks.
 *
 * How to use it: get a {@linkcode ByteStream} from `openTcp` (`tcp.ts`), `openSerial`
 * (`serial.ts`) or `openPty` (`pty.ts`) — or build one from any opener with
 * {@linkcode ReopeningStream} — then `write(bytes, {timeout, signal})` and
 * `read({timeout, signal})`. Nothing is opened until the first call; a failed open is retried
 * on a later call after an exponential backoff; a dropped connection is re-opened by the next
 * call. A background pump reads the connection into a queue, so a timed-out `read` never leaves
 * an OS read pending, and `discard()` drops whatever arrived unasked.
 *
 * The contract is in `byte_stream.ts`, the open backoff in `backoff.ts`, signal-aware waits in
 * `abortable.ts`.
 *
 * ```ts ignore
 * const s = openTcp("10.0.0.7", 5025);
 * await s.write(new TextEncoder().encode("*IDN?\n"), { timeout: 1000 });
 * const chunk = await s.read({ timeout: 1000 }); // some bytes, not necessarily a whole line
 * s.close();
 * ```
 *
 * @module
 */
import { DeviceError, TimeoutError } from "../device/errors.ts";
import { formatMs } from "../device/device.ts";
import { Cancel } from "./cancel.ts";
import type { ByteListener, ByteStream, IoOptions, RawConn, WriteEnds } from "./byte_stream.ts";
import { Backoff } from "./backoff.ts";
import { raceSignal } from "./abortable.ts";
import { connectTimeoutError } from "./line_errors.ts";

/** Options of a {@linkcode ReopeningStream}. */
export interface ReopeningOptions {
  /** Label for messages, e.g. `tcp://host:port`. */
  label: string;
  /** Where it connects, as errors name it (`host:port`; default the label without its scheme). */
  address?: string;
  /** Opens a connection; must honour `signal` (the caller's deadline). */
  open(signal: AbortSignal): Promise<RawConn>;
  /** First delay before re-trying a failed open, ms (default 100). */
  backoffMin?: number;
  /** Longest delay between open attempts, ms (default 5000). */
  backoffMax?: number;
  /** Device name carried by errors. */
  device?: string;
  /** Turns an open failure into a user-facing error (default: the error as is, if a DeviceError). */
  describeOpenError?(err: unknown): DeviceError;
  /** Turns a failed read/write (`err`) or an end of stream (`err` null) into a user-facing error. */
  describeLost?(err: unknown | null, doing: string): DeviceError;
  /** Re-open after the connection ends (false for a PTY master: once gone, gone). */
  reopen?: boolean;
}

/** What the write slot holds when no write is in flight. */
const NO_BYTES = new Uint8Array(0);
const NO_CANCEL = new Cancel();

/** Largest amount of unread input kept; beyond it the oldest input is dropped. */
const MAX_QUEUED = 4 << 20;

/**
 * A {@linkcode ByteStream} over any opener: opens lazily, pumps input into a queue, re-opens
 * after a drop with exponential backoff between failed attempts.
 */
export class ReopeningStream implements ByteStream {
  readonly label: string;
  readonly address: string | undefined;
  readonly #opts: ReopeningOptions;
  readonly #backoff: Backoff;
  #conn: RawConn | undefined;
  #opening: Promise<RawConn> | undefined;
  #lastOpenError: DeviceError | undefined;
  #chunks: Uint8Array[] = [];
  #queued = 0;
  /** Why the current connection ended, for a reader waiting on it. */
  #ended: DeviceError | undefined;
  #wake: (() => void) | undefined;
  /** Takes arriving bytes instead of the queue (see `listen`). */
  #listener: ByteListener | undefined;
  #closed = false;
  #opens = 0;

  /** Creates the stream; nothing is opened yet. */
  constructor(opts: ReopeningOptions) {
    this.label = opts.label;
    this.address = opts.address;
    this.#opts = opts;
    this.#backoff = new Backoff(opts.backoffMin, opts.backoffMax);
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True while a connection is open. */
  get connected(): boolean {
    return this.#conn !== undefined;
  }

  /** How many times a connection was opened (a new one after every drop). */
  get opens(): number {
    return this.#opens;
  }

  /** Opens the connection if needed, within the caller's deadline. */
  async connect(opts: IoOptions = {}): Promise<void> {
    await this.#withDeadline("open", opts, (cancel) => this.#ensure(cancel.signal));
  }

  /** Writes all of `bytes`; a failed write drops the connection. */
  write(bytes: Uint8Array, opts: IoOptions = {}): Promise<void> {
    // The message layer's exchanges carry their deadline in `cancel`: no wrapper, no timer.
    if (opts.cancel && opts.timeout === undefined && !opts.signal) {
      return this.#write(bytes, opts.cancel);
    }
    return this.#withDeadline("write", opts, (cancel) => this.#write(bytes, cancel));
  }

  /** Writes all of `bytes`, then calls `ends` (see {@linkcode ByteStream.writeThen}). */
  writeThen(bytes: Uint8Array, opts: IoOptions, ends: WriteEnds): void {
    const cancel = opts.cancel;
    const conn = this.#conn;
    const w = this.#w;
    // The short way (#shortWay and #startWrite, spelled out: every pipelined write comes here,
    // cold for its first few hundred, when each call costs more than its work).
    if (
      cancel === undefined || opts.timeout !== undefined || opts.signal || conn === undefined ||
      cancel.aborted || w.conn !== undefined
    ) {
      this.write(bytes, opts).then(ends.written, ends.failed);
      return;
    }
    w.conn = conn;
    w.bytes = bytes;
    w.cancel = cancel;
    w.ends = ends;
    cancel.hook(this.#onWriteAbort);
    conn.write(bytes).then(this.#onWritten, this.#onWriteFailed);
  }

  #write(bytes: Uint8Array, cancel: Cancel): Promise<void> {
    if (!this.#shortWay(cancel)) return this.#writeAll(bytes, cancel);
    return this.#startWrite(bytes, cancel, undefined).then(this.#onWritten, this.#onWriteFailed);
  }

  /**
   * The common case, an open connection that takes the whole command at once and no other
   * write pending: the write's state in fields and handlers made once, not an async frame or
   * three closures per write (garbage per exchange); anything else goes the long way.
   */
  #shortWay(cancel: Cancel): boolean {
    return this.#conn !== undefined && !cancel.aborted && this.#w.conn === undefined;
  }

  /** Starts a short-way write (see #shortWay). */
  #startWrite(bytes: Uint8Array, cancel: Cancel, ends: WriteEnds | undefined): Promise<number> {
    const w = this.#w;
    const conn = this.#conn!;
    w.conn = conn;
    w.bytes = bytes;
    w.cancel = cancel;
    w.ends = ends;
    cancel.hook(this.#onWriteAbort);
    return conn.write(bytes);
  }

  /** The one write in flight on the short way (see #write); `conn` undefined when none. */
  readonly #w: {
    conn: RawConn | undefined;
    bytes: Uint8Array;
    cancel: Cancel;
    /** Told how the write ended (writeThen), instead of its promise. */
    ends: WriteEnds | undefined;
  } = {
    conn: undefined,
    bytes: new Uint8Array(0),
    cancel: NO_CANCEL,
    ends: undefined,
  };

  /** Takes the short-way write's state and frees the slot for the next write. */
  #endWrite(): { conn: RawConn; bytes: Uint8Array; cancel: Cancel; ends: WriteEnds | undefined } {
    const w = this.#w;
    const ended = { conn: w.conn!, bytes: w.bytes, cancel: w.cancel, ends: w.ends };
    w.conn = undefined;
    w.bytes = NO_BYTES;
    w.cancel = NO_CANCEL;
    w.ends = undefined;
    ended.cancel.unhook(this.#onWriteAbort);
    return ended;
  }

  // A write cannot be taken back: an abort closes the connection under it.
  readonly #onWriteAbort = () => {
    if (this.#w.conn) this.#drop(this.#w.conn);
  };

  // The whole write (every write but a partial one) returns at the end of the function: V8
  // counts a call's weight towards optimizing it by where it returns, so an early return on the
  // common path kept this interpreted for ~1,000 writes, against ~500 for the rest of the path.
  readonly #onWritten = (n: number): Promise<void> | undefined => {
    const w = this.#w;
    if (n < w.bytes.length) return this.#writeRest(n);
    const ends = w.ends;
    w.conn = undefined;
    w.bytes = NO_BYTES;
    w.cancel.unhook(this.#onWriteAbort);
    w.cancel = NO_CANCEL;
    w.ends = undefined;
    ends?.written();
    return undefined;
  };

  /** A short-way write the connection took only `n` bytes of: the rest goes the long way. */
  #writeRest(n: number): Promise<void> | undefined {
    const { bytes, cancel, ends } = this.#endWrite();
    const rest = this.#writeAll(bytes.subarray(n), cancel);
    if (ends === undefined) return rest;
    rest.then(ends.written, ends.failed);
    return undefined;
  }

  readonly #onWriteFailed = (err: unknown): undefined => {
    const { conn, cancel, ends } = this.#endWrite();
    this.#drop(conn);
    const e = cancel.aborted ? cancel.reason : this.#lost(err, "writing");
    if (ends === undefined) throw e;
    ends.failed(e);
    return undefined;
  };

  async #writeAll(bytes: Uint8Array, cancel: Cancel): Promise<void> {
    const conn = this.#conn ?? await this.#ensure(cancel.signal);
    if (cancel.aborted) throw cancel.reason;
    // A write cannot be taken back: an abort closes the connection under it.
    const onAbort = () => this.#drop(conn);
    cancel.hook(onAbort);
    try {
      let off = await conn.write(bytes);
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    } catch (err) {
      this.#drop(conn);
      if (cancel.aborted) throw cancel.reason;
      throw this.#lost(err, "writing");
    } finally {
      cancel.unhook(onAbort);
    }
  }

  /** The next received bytes (everything queued), waiting up to the deadline. */
  read(opts: IoOptions = {}): Promise<Uint8Array> {
    if (opts.cancel && opts.timeout === undefined && !opts.signal) return this.#read(opts.cancel);
    return this.#withDeadline("read", opts, (cancel) => this.#read(cancel));
  }

  #read(cancel: Cancel): Promise<Uint8Array> {
    if (this.#queued > 0) return Promise.resolve(this.#take());
    if (!this.#conn || this.#ended || this.#closed || cancel.aborted) return this.#readLoop(cancel);
    // The common case, an answer still on its way: one promise, no async frame.
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = (reason: unknown) => {
        this.#wake = undefined;
        reject(reason);
      };
      const wake = () => {
        // Called once: a second call (close() then the pump's end) must not start a read.
        if (this.#wake === wake) this.#wake = undefined;
        cancel.unhook(onAbort);
        resolve(this.#queued > 0 ? this.#take() : this.#readLoop(cancel));
      };
      this.#wake = wake;
      cancel.hook(onAbort);
    });
  }

  async #readLoop(cancel: Cancel): Promise<Uint8Array> {
    for (;;) {
      if (this.#queued > 0) return this.#take();
      if (this.#ended) {
        const err = this.#ended;
        this.#ended = undefined;
        throw err;
      }
      if (this.#closed) throw new DeviceError(`${this.label}: closed`, this.#opts.device);
      if (!this.#conn) {
        await this.#ensure(cancel.signal);
        // The pump may have queued input while the open was being awaited.
        continue;
      }
      if (cancel.aborted) throw cancel.reason;
      await new Promise<void>((resolve, reject) => {
        const onAbort = (reason: unknown) => {
          this.#wake = undefined;
          reject(reason);
        };
        this.#wake = () => {
          cancel.unhook(onAbort);
          resolve();
        };
        cancel.hook(onAbort);
      });
    }
  }

  /** Hands arriving bytes to `listener` (the queued ones at once) until {@linkcode unlisten}. */
  listen(listener: ByteListener): void {
    this.#listener = listener;
    if (this.#queued > 0) {
      const queued = this.#take();
      listener.data(queued, queued.length);
    }
    if (this.#ended) {
      const err = this.#ended;
      this.#ended = undefined;
      listener.end(err);
    }
  }

  /** Arriving bytes are queued for reads again. */
  unlisten(): void {
    this.#listener = undefined;
  }

  /**
   * Drops queued input, and the OS's where the connection can — when something was queued: the
   * pump reads whatever arrives, so input nobody asked for sits in the queue, and more of it may
   * still be in the OS. With nothing queued there is nothing stale to flush (on a serial line a
   * flush is a system call per exchange); after a timeout the message layer waits for quiet.
   */
  discard(): void {
    const stale = this.#queued > 0;
    // Setting an array's length is a slow call: only when there is something to drop.
    if (this.#chunks.length > 0) this.#chunks.length = 0;
    this.#queued = 0;
    this.#ended = undefined;
    if (!stale) return;
    try {
      this.#conn?.flushInput?.();
    } catch {
      // A line that vanished fails on the next read or write, with a better message.
    }
  }

  /** Closes the connection; the next call re-opens it. */
  reset(): void {
    if (this.#conn) this.#drop(this.#conn);
    this.#ended = undefined;
  }

  /** Closes for good. */
  close(): void {
    this.#closed = true;
    if (this.#conn) this.#drop(this.#conn);
    this.#ended = new DeviceError(`${this.label}: closed`, this.#opts.device);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #take(): Uint8Array {
    let out: Uint8Array;
    if (this.#chunks.length === 1) out = this.#chunks[0]!;
    else {
      out = new Uint8Array(this.#queued);
      let off = 0;
      for (const c of this.#chunks) {
        out.set(c, off);
        off += c.length;
      }
    }
    this.#chunks.length = 0;
    this.#queued = 0;
    return out;
  }

  async #ensure(signal: AbortSignal): Promise<RawConn> {
    if (this.#closed) throw new DeviceError(`${this.label}: closed`, this.#opts.device);
    if (this.#conn) return this.#conn;
    if (this.#opens > 0 && this.#opts.reopen === false) {
      throw new DeviceError(`${this.label}: the connection has ended`, this.#opts.device);
    }
    if (!this.#opening) {
      const wait = this.#backoff.wait(Date.now());
      // Don't hammer a device that just refused, and don't hold the caller either: a call
      // within the backoff fails at once with why the last attempt failed (a poller records
      // an error reading and goes on; the first call after the backoff tries again).
      if (wait > 0 && this.#lastOpenError) throw this.#stillDown(this.#lastOpenError, wait);
      const opening = this.#open(signal);
      this.#opening = opening;
      // An opener may fail synchronously, so the slot is cleared here, not inside #open.
      // Callers who gave up still leave the open running; its failure is reported to them.
      opening.then(
        () => {},
        () => {},
      ).finally(() => {
        if (this.#opening === opening) this.#opening = undefined;
      });
    }
    return await raceSignal(this.#opening, signal);
  }

  async #open(signal: AbortSignal): Promise<RawConn> {
    try {
      const conn = await this.#opts.open(signal);
      if (this.#closed) {
        conn.close();
        throw new DeviceError(`${this.label}: closed`, this.#opts.device);
      }
      this.#backoff.succeed();
      this.#lastOpenError = undefined;
      this.#conn = conn;
      this.#ended = undefined;
      this.#opens++;
      this.#pump(conn);
      return conn;
    } catch (err) {
      if (signal.aborted && !(err instanceof DeviceError)) throw signal.reason ?? err;
      const e = err instanceof DeviceError ? err : this.#opts.describeOpenError?.(err) ??
        new DeviceError(`${this.label}: cannot open: ${errText(err)}`, this.#opts.device, {
          cause: err,
        });
      this.#backoff.fail(Date.now());
      this.#lastOpenError = e;
      throw e;
    }
  }

  async #pump(conn: RawConn): Promise<void> {
    // Big enough for a SCPI block of a few thousand points per read.
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (err) {
        if (this.#conn === conn) {
          this.#ended = this.#lost(err, "reading");
          this.#drop(conn);
        }
        break;
      }
      if (this.#conn !== conn) break;
      if (n === null) {
        this.#ended = this.#opts.describeLost?.(null, "reading") ??
          new DeviceError(
            `${this.label}: the connection was closed by the other end`,
            this.#opts.device,
          );
        this.#drop(conn);
        break;
      }
      if (n === 0) continue;
      const listener = this.#listener;
      if (listener !== undefined) {
        // Read out before the next read into `buf`: no view, no copy.
        listener.data(buf, n);
        continue;
      }
      this.#chunks.push(buf.slice(0, n));
      this.#queued += n;
      while (this.#queued > MAX_QUEUED && this.#chunks.length > 1) {
        this.#queued -= this.#chunks.shift()!.length;
      }
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
    }
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
    const listener = this.#listener;
    if (listener !== undefined && this.#ended) {
      const err = this.#ended;
      this.#ended = undefined;
      listener.end(err);
    }
  }

  #drop(conn: RawConn): void {
    if (this.#conn === conn) this.#conn = undefined;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }

  /** The error of a call made while the open is backing off: the last failure, and when next. */
  #stillDown(last: DeviceError, wait: number): DeviceError {
    const message = `${last.message} (not tried again for ${formatMs(wait)}: ` +
      `the next call after that reconnects)`;
    const options = { cause: last };
    return last instanceof TimeoutError
      ? new TimeoutError(message, this.#opts.device ?? last.device, options)
      : new DeviceError(message, this.#opts.device ?? last.device, options);
  }

  #lost(err: unknown, doing: string): DeviceError {
    if (err instanceof DeviceError) return err;
    const described = this.#opts.describeLost?.(err, doing);
    if (described) return described;
    return new DeviceError(
      `${this.label}: the connection failed while ${doing}: ${errText(err)}`,
      this.#opts.device,
      { cause: err },
    );
  }

  async #withDeadline<T>(
    what: string,
    opts: IoOptions,
    fn: (cancel: Cancel) => Promise<T>,
  ): Promise<T> {
    const cancel = new Cancel();
    let timedOut = false;
    const timer = opts.timeout === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      cancel.abort(
        // still connecting (a host that drops the connection request): say so, whatever the call
        this.#conn === undefined
          ? connectTimeoutError(
            this.label,
            opts.timeout!,
            this.#opts.device,
            undefined,
            this.address,
          )
          : new TimeoutError(
            `${this.label}: ${what}: nothing within ${formatMs(opts.timeout!)}`,
            this.#opts.device,
          ),
      );
    }, opts.timeout);
    const outer = opts.signal;
    const onOuter = () => cancel.abort(outer?.reason);
    if (outer?.aborted) cancel.abort(outer.reason);
    else outer?.addEventListener("abort", onOuter, { once: true });
    // The caller's cancel is not waiting on anything else while this call runs: hook it.
    const follow = opts.cancel;
    const onFollow = (reason: unknown) => cancel.abort(reason);
    if (follow?.aborted) cancel.abort(follow.reason);
    else follow?.hook(onFollow);
    try {
      return await fn(cancel);
    } catch (err) {
      if (timedOut && cancel.reason instanceof TimeoutError) throw cancel.reason;
      throw err;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      outer?.removeEventListener("abort", onOuter);
      follow?.unhook(onFollow);
    }
  }
}

/** The message of any thrown value. */
function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
