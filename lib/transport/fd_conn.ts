/**
 * A {@linkcode RawConn} over a non-blocking file descriptor opened through libc (a serial port, a
 * pty master), read and written with FFI, waiting with `poll(2)` on a worker thread.
 *
 * Why not `Deno.open`: Deno reads a tty in a blocking worker thread and serialises operations on
 * one file. Closing the file rejects the pending read in JS, but the thread stays in `read(2)`
 * and swallows the next bytes that arrive — the answer meant for the next program or the next
 * connection (checked on Deno 2.9.6 with a pty: the second client never got its answer). Here
 * nothing is ever blocked in the kernel: `read(2)` and `write(2)` are non-blocking, the only wait
 * is `poll(2)`, and `close()` wakes that poll through a pipe before the descriptor is closed, so
 * a closed line cannot steal input.
 *
 * How to use it: `serial.ts` and `pty.ts` do: `new FdConn(fd, label)` after opening `fd` with
 * `O_NONBLOCK`; hand it to a `ReopeningStream`.
 *
 * @module
 */
import type { RawConn } from "./byte_stream.ts";
import { libc } from "./termios.ts";

const POLLIN = 0x1;
const POLLOUT = 0x4;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;

/** Reads and writes a non-blocking descriptor; closes it (and `extra` descriptors) on close. */
export class FdConn implements RawConn {
  readonly #fd: number;
  readonly #wakeRead: number;
  readonly #wakeWrite: number;
  readonly #extra: number[];
  #closed = false;
  #polling = 0;
  #released = false;
  /** Called once the descriptor is really closed (after any poll returned). */
  onReleased: (() => void) | undefined;

  /** Wraps `fd` (already `O_NONBLOCK`); `extra` descriptors are closed with it. */
  constructor(fd: number, extra: number[] = []) {
    this.#fd = fd;
    this.#extra = extra;
    [this.#wakeRead, this.#wakeWrite] = libc().pipe();
  }

  /** Reads into `buf`; null at end of stream or once closed. */
  async read(buf: Uint8Array): Promise<number | null> {
    const c = libc();
    const view = new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset, buf.byteLength);
    let hangup = false;
    for (;;) {
      if (this.#closed) return null;
      const n = c.read(this.#fd, view);
      if (n > 0) return n;
      if (n === 0) return null;
      // Hung up with nothing left to read: the end (polling again would return at once, forever).
      if (hangup) return null;
      const revents = await this.#wait(POLLIN);
      if (revents < 0) return null;
      hangup = (revents & (POLLHUP | POLLERR | POLLNVAL)) !== 0;
    }
  }

  /** Writes some of `buf`, waiting while the output buffer is full. */
  async write(buf: Uint8Array): Promise<number> {
    const c = libc();
    const view = new Uint8Array(buf.buffer as ArrayBuffer, buf.byteOffset, buf.byteLength);
    for (;;) {
      if (this.#closed) throw new Deno.errors.BadResource("the line is closed");
      const n = c.write(this.#fd, view);
      if (n >= 0) return n;
      const revents = await this.#wait(POLLOUT);
      if (revents < 0) throw new Deno.errors.BadResource("the line is closed");
      if (revents & (POLLHUP | POLLERR | POLLNVAL) && !(revents & POLLOUT)) {
        throw new Deno.errors.BrokenPipe("the other end hung up");
      }
    }
  }

  /** Closes; a pending read returns end of stream, a pending write fails. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const c = libc();
    // Wake any poll, then close once none is running (a descriptor number reused while a poll
    // still watches it would be a different file).
    c.write(this.#wakeWrite, new Uint8Array([1]));
    if (this.#polling === 0) this.#release();
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The descriptor, for termios calls. */
  get fd(): number {
    return this.#fd;
  }

  /** Waits until `events` on the descriptor (or close): its revents, or -1 when closed. */
  async #wait(events: number): Promise<number> {
    const fds = new Uint8Array(16);
    const v = new DataView(fds.buffer);
    v.setInt32(0, this.#fd, true);
    v.setInt16(4, events, true);
    v.setInt32(8, this.#wakeRead, true);
    v.setInt16(12, POLLIN, true);
    this.#polling++;
    try {
      await libc().poll(fds, 2, -1);
    } finally {
      this.#polling--;
      if (this.#closed && this.#polling === 0) this.#release();
    }
    return this.#closed ? -1 : v.getInt16(6, true);
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    const c = libc();
    for (const fd of [this.#fd, this.#wakeRead, this.#wakeWrite, ...this.#extra]) c.close(fd);
    this.onReleased?.();
  }
}
