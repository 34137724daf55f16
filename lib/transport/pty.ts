/**
 * Pseudo-terminals for simulators: `openPty()` creates a master/slave pair, gives users the
 * slave's path (`/dev/pts/N`, a serial port as far as any program can tell: pyvisa's
 * `ASRL/dev/pts/N::INSTR`, `labwire query serial:///dev/pts/N`) and the simulator a
 * {@linkcode ByteStream} on the master side.
 *
 * How to use it:
 * ```ts ignore
 * import { openPty } from "./pty.ts";
 * const pty = openPty({ link: "/tmp/alicat" });   // the link is optional
 * console.log(pty.path);                           // "/dev/pts/5"
 * const bytes = await pty.stream.read();           // what a client wrote to /dev/pts/5
 * await pty.stream.write(new TextEncoder().encode("A +14.7\r"));
 * pty.close();
 * ```
 *
 * How it works (checked on Deno 2.9.6, Linux): the master is `open("/dev/ptmx", O_NONBLOCK)`
 * through libc (FFI), then `grantpt`, `unlockpt`, `ptsname_r` and termios (raw mode: no echo,
 * no CR/LF mangling); its I/O goes through {@linkcode FdConn} (non-blocking reads and writes,
 * `poll` on a worker thread), not `Deno.open` (see `fd_conn.ts` for why). The pair keeps a
 * descriptor of its own slave open, so a client closing the port does not hang the master up:
 * the simulator keeps serving the next client.
 *
 * @module
 */
import { DeviceError } from "../device/errors.ts";
import type { ByteStream } from "./byte_stream.ts";
import { ReopeningStream } from "./stream.ts";
import { FdConn } from "./fd_conn.ts";
import {
  applySettings,
  ERRNO,
  libc,
  type LineSettings,
  O_CLOEXEC,
  O_NOCTTY,
  O_NONBLOCK,
  O_RDWR,
  OsError,
} from "./termios.ts";

/** An open pseudo-terminal pair. */
export interface Pty {
  /** The slave's path, for users: `/dev/pts/N`. */
  readonly path: string;
  /** The symlink made to it, when one was asked for. */
  readonly link?: string;
  /** The master side: what clients write comes out here; what is written here they read. */
  readonly stream: ByteStream;
  /** Closes both sides (clients then read end-of-file or an I/O error) and removes the link. */
  close(): void;
}

/** Options of {@linkcode openPty}. */
export interface PtyOptions {
  /** Initial line settings of the slave (raw mode always; default 9600 8N1). */
  settings?: Partial<LineSettings>;
  /** Also make a symlink at this path to the slave (replacing an old link there). */
  link?: string;
}

/**
 * Creates a pseudo-terminal pair in raw mode; throws a {@linkcode DeviceError} saying why when
 * the system has no ptys to give.
 */
export function openPty(opts: PtyOptions = {}): Pty {
  const c = libc();
  let masterFd: number;
  try {
    masterFd = c.open("/dev/ptmx", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  } catch (err) {
    throw new DeviceError(
      `cannot create a pseudo-terminal: ${err instanceof Error ? err.message : err}`,
      undefined,
      { cause: err },
    );
  }
  let slaveFd = -1;
  let path: string;
  try {
    path = c.unlockPty(masterFd);
    const settings: LineSettings = {
      baud: 9600,
      bits: 8,
      parity: "none",
      stop: 1,
      flow: "none",
      ...opts.settings,
    };
    try {
      c.setattr(masterFd, applySettings(c.getattr(masterFd), settings));
    } catch (err) {
      // The pty driver forces 8 data bits and no parity, and glibc reports that as EINVAL
      // although the rest (baud, raw mode) was applied.
      if (!(err instanceof OsError && err.errno === ERRNO.EINVAL)) throw err;
    }
    slaveFd = c.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  } catch (err) {
    c.close(masterFd);
    throw new DeviceError(
      `cannot set up a pseudo-terminal: ${err instanceof Error ? err.message : err}`,
      undefined,
      { cause: err },
    );
  }
  if (opts.link) {
    try {
      Deno.removeSync(opts.link);
    } catch {
      // No old link.
    }
    Deno.symlinkSync(path, opts.link);
  }
  // The slave descriptor closes with the master.
  const conn = new FdConn(masterFd, [slaveFd]);
  let closed = false;
  const stream = new ReopeningStream({
    label: `pty://${path}`,
    reopen: false,
    open: () => Promise.resolve(conn),
  });
  const close = () => {
    if (closed) return;
    closed = true;
    stream.close();
    conn.close();
    if (opts.link) {
      try {
        if (Deno.readLinkSync(opts.link) === path) Deno.removeSync(opts.link);
      } catch {
        // Someone removed it.
      }
    }
  };
  return { path, link: opts.link, stream, close };
}
