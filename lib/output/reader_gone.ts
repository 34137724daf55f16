/**
 * Whether the reader of stdout has gone (`labwire session tail FILE | head -1` once `head` has
 * its line), known without writing: a follower that has nothing new to print would otherwise
 * learn it only at its next write, which may never come (a finished session, an idle task), and
 * the pipeline would hang. The write end of a pipe whose reader closed polls as `POLLERR` (as
 * coreutils' `tail -f` asks it); libc's `poll` is called through FFI with a zero timeout. Without
 * FFI permission, or on a terminal or a file, the answer is always "not gone" and the follower
 * ends at its next write, as before.
 *
 * @module
 */

const SYMBOLS = {
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
} as const;

const POLLERR = 0x008;
const POLLHUP = 0x010;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

function libc(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (lib === undefined) {
    try {
      lib = Deno.dlopen("libc.so.6", SYMBOLS);
    } catch {
      lib = null; // no FFI permission, or not glibc
    }
  }
  return lib;
}

/**
 * True when stdout is a pipe or socket whose reader has closed it; one `poll` call, no wait.
 *
 * @example
 * ```ts ignore
 * import { stdoutReaderGone } from "./reader_gone.ts";
 * if (stdoutReaderGone()) throw new PipeClosed();
 * ```
 */
export function stdoutReaderGone(): boolean {
  if (Deno.stdout.isTerminal()) return false;
  const c = libc();
  if (!c) return false;
  // struct pollfd { int fd; short events; short revents; }: errors and hang-ups come unasked
  const fd = new Uint8Array(8);
  new DataView(fd.buffer).setInt32(0, 1, true);
  if (c.symbols.poll(fd, 1n, 0) !== 1) return false;
  const revents = new DataView(fd.buffer).getInt16(6, true);
  return (revents & (POLLERR | POLLHUP)) !== 0;
}

/**
 * An abort signal that fires when stdout's reader goes ({@linkcode stdoutReaderGone}, asked every
 * `everyMs`), for a follower that waits on a signal; `stop()` ends the watching. The timer does
 * not keep the process alive.
 *
 * @example
 * ```ts ignore
 * import { watchStdoutReader } from "./reader_gone.ts";
 * const gone = watchStdoutReader();
 * try { for await (const b of tailSession(reader, { signal: gone.signal })) print(b); }
 * finally { gone.stop(); }
 * ```
 */
export function watchStdoutReader(everyMs = 250): { signal: AbortSignal; stop(): void } {
  const controller = new AbortController();
  const timer = setInterval(() => {
    if (!stdoutReaderGone()) return;
    clearInterval(timer);
    controller.abort(new Error("stdout closed"));
  }, everyMs);
  Deno.unrefTimer(timer);
  return { signal: controller.signal, stop: () => clearInterval(timer) };
}
