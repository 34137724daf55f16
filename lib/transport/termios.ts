/**
 * Serial line settings through libc's termios (Linux x86_64, glibc), called with `Deno.dlopen`:
 * no native addon, and `deno compile` keeps FFI. The pure half maps {@linkcode LineSettings}
 * (baud, data bits, parity, stop bits, flow control) onto the `struct termios` bytes and back,
 * tested on byte vectors; the FFI half ({@linkcode libc}) opens ttys, gets and sets attributes,
 * flushes input and creates pseudo-terminals.
 *
 * How to use it: `serial.ts` and `pty.ts` do; other code should use those. Everything here is
 * synchronous and quick (no call waits for I/O): opens use `O_NONBLOCK`, so a port without
 * carrier cannot hang the event loop, and data moves through `Deno.open`'s asynchronous reads.
 *
 * glibc x86_64 layout of `struct termios` (60 bytes): c_iflag@0, c_oflag@4, c_cflag@8,
 * c_lflag@12 (u32 each), c_line@16 (u8), c_cc[32]@17, padding, c_ispeed@52, c_ospeed@56.
 *
 * @module
 */

/** Parity of a serial line. */
export type Parity = "none" | "even" | "odd" | "mark" | "space";
/** Flow control of a serial line. */
export type Flow = "none" | "rtscts" | "xonxoff";

/** The settings of a serial line. */
export interface LineSettings {
  /** Bits per second; one of {@linkcode BAUD_RATES}. */
  baud: number;
  /** Data bits: 5–8. */
  bits: 5 | 6 | 7 | 8;
  /** Parity bit. */
  parity: Parity;
  /** Stop bits: 1 or 2. */
  stop: 1 | 2;
  /** Flow control. */
  flow: Flow;
}

/** The fields of a `struct termios`. */
export interface Termios {
  /** Input modes. */
  iflag: number;
  /** Output modes. */
  oflag: number;
  /** Control modes (includes the baud bits). */
  cflag: number;
  /** Local modes. */
  lflag: number;
  /** Line discipline. */
  line: number;
  /** Control characters (32). */
  cc: Uint8Array;
  /** Input speed (a B* constant). */
  ispeed: number;
  /** Output speed (a B* constant). */
  ospeed: number;
}

/** Size of glibc's `struct termios` on x86_64. */
export const TERMIOS_SIZE = 60;

// Linux x86_64 <asm-generic/termbits.h> values, in octal as the header writes them.
/** Input mode bits. */
export const I = {
  IGNBRK: 0o1,
  BRKINT: 0o2,
  IGNPAR: 0o4,
  PARMRK: 0o10,
  INPCK: 0o20,
  ISTRIP: 0o40,
  INLCR: 0o100,
  IGNCR: 0o200,
  ICRNL: 0o400,
  IXON: 0o2000,
  IXANY: 0o4000,
  IXOFF: 0o10000,
} as const;
/** Output mode bits. */
export const O = { OPOST: 0o1 } as const;
/** Control mode bits. */
export const C = {
  CBAUD: 0o10017,
  CSIZE: 0o60,
  CS5: 0o0,
  CS6: 0o20,
  CS7: 0o40,
  CS8: 0o60,
  CSTOPB: 0o100,
  CREAD: 0o200,
  PARENB: 0o400,
  PARODD: 0o1000,
  HUPCL: 0o2000,
  CLOCAL: 0o4000,
  CMSPAR: 0o10000000000,
  CRTSCTS: 0o20000000000,
} as const;
/** Local mode bits. */
export const L = {
  ISIG: 0o1,
  ICANON: 0o2,
  ECHO: 0o10,
  ECHOE: 0o20,
  ECHOK: 0o40,
  ECHONL: 0o100,
  IEXTEN: 0o100000,
} as const;
/** Indexes into c_cc. */
export const VTIME = 5;
/** Indexes into c_cc. */
export const VMIN = 6;

/** Baud rate → Linux B* constant. */
export const BAUD_CONSTANTS: ReadonlyMap<number, number> = new Map([
  [50, 0o1],
  [75, 0o2],
  [110, 0o3],
  [134, 0o4],
  [150, 0o5],
  [200, 0o6],
  [300, 0o7],
  [600, 0o10],
  [1200, 0o11],
  [1800, 0o12],
  [2400, 0o13],
  [4800, 0o14],
  [9600, 0o15],
  [19200, 0o16],
  [38400, 0o17],
  [57600, 0o10001],
  [115200, 0o10002],
  [230400, 0o10003],
  [460800, 0o10004],
  [500000, 0o10005],
  [576000, 0o10006],
  [921600, 0o10007],
  [1000000, 0o10010],
  [1152000, 0o10011],
  [1500000, 0o10012],
  [2000000, 0o10013],
  [2500000, 0o10014],
  [3000000, 0o10015],
  [3500000, 0o10016],
  [4000000, 0o10017],
]);

/** The baud rates Linux termios can set. */
export const BAUD_RATES: readonly number[] = [...BAUD_CONSTANTS.keys()];

/** The baud rate of a B* constant, or undefined. */
export function baudOf(constant: number): number | undefined {
  for (const [rate, c] of BAUD_CONSTANTS) if (c === constant) return rate;
  return undefined;
}

/**
 * Decodes a `struct termios`.
 *
 * @example
 * ```ts
 * import { decodeTermios, TERMIOS_SIZE } from "./termios.ts";
 * decodeTermios(new Uint8Array(TERMIOS_SIZE)).cflag; // 0
 * ```
 */
export function decodeTermios(bytes: Uint8Array): Termios {
  const v = new DataView(bytes.buffer, bytes.byteOffset, TERMIOS_SIZE);
  return {
    iflag: v.getUint32(0, true),
    oflag: v.getUint32(4, true),
    cflag: v.getUint32(8, true),
    lflag: v.getUint32(12, true),
    line: v.getUint8(16),
    cc: bytes.slice(17, 17 + 32),
    ispeed: v.getUint32(52, true),
    ospeed: v.getUint32(56, true),
  };
}

/** Encodes a `struct termios` (60 bytes). */
export function encodeTermios(t: Termios): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(TERMIOS_SIZE);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, t.iflag >>> 0, true);
  v.setUint32(4, t.oflag >>> 0, true);
  v.setUint32(8, t.cflag >>> 0, true);
  v.setUint32(12, t.lflag >>> 0, true);
  v.setUint8(16, t.line);
  bytes.set(t.cc.subarray(0, 32), 17);
  v.setUint32(52, t.ispeed >>> 0, true);
  v.setUint32(56, t.ospeed >>> 0, true);
  return bytes;
}

/** `cfmakeraw`: no echo, no line editing, no signals, no CR/LF translation, 8 bits. */
export function makeRaw(t: Termios): Termios {
  return {
    ...t,
    iflag: t.iflag &
      ~(I.IGNBRK | I.BRKINT | I.PARMRK | I.ISTRIP | I.INLCR | I.IGNCR | I.ICRNL | I.IXON),
    oflag: t.oflag & ~O.OPOST,
    lflag: t.lflag & ~(L.ECHO | L.ECHONL | L.ICANON | L.ISIG | L.IEXTEN),
    cflag: ((t.cflag & ~(C.CSIZE | C.PARENB)) | C.CS8) >>> 0,
    cc: t.cc.slice(),
  };
}

/**
 * Applies line settings on top of raw mode: baud (both directions), data bits, parity (with
 * input parity checking), stop bits, flow control; receiver on, modem lines ignored (CLOCAL,
 * so no wait for carrier); reads return as soon as one byte is there (VMIN 1, VTIME 0).
 *
 * @example
 * ```ts
 * import { applySettings, C, decodeTermios, TERMIOS_SIZE } from "./termios.ts";
 * const t = applySettings(decodeTermios(new Uint8Array(TERMIOS_SIZE)), {
 *   baud: 9600, bits: 7, parity: "odd", stop: 1, flow: "none",
 * });
 * (t.cflag & C.PARODD) !== 0; // true
 * ```
 */
export function applySettings(t: Termios, s: LineSettings): Termios {
  const b = BAUD_CONSTANTS.get(s.baud);
  if (b === undefined) throw new RangeError(`baud ${s.baud} is not a Linux termios rate`);
  const raw = makeRaw(t);
  let cflag = raw.cflag & ~(C.CBAUD | C.CSIZE | C.CSTOPB | C.PARENB | C.PARODD | C.CMSPAR |
    C.CRTSCTS);
  cflag |= b | C.CREAD | C.CLOCAL;
  cflag |= [C.CS5, C.CS6, C.CS7, C.CS8][s.bits - 5]!;
  if (s.stop === 2) cflag |= C.CSTOPB;
  if (s.parity !== "none") cflag |= C.PARENB;
  if (s.parity === "odd" || s.parity === "mark") cflag |= C.PARODD;
  if (s.parity === "mark" || s.parity === "space") cflag |= C.CMSPAR;
  if (s.flow === "rtscts") cflag |= C.CRTSCTS;
  let iflag = raw.iflag & ~(I.INPCK | I.IXON | I.IXOFF | I.IXANY | I.IGNPAR);
  if (s.parity !== "none") iflag |= I.INPCK;
  if (s.flow === "xonxoff") iflag |= I.IXON | I.IXOFF;
  const cc = raw.cc.slice();
  cc[VMIN] = 1;
  cc[VTIME] = 0;
  return { ...raw, cflag: cflag >>> 0, iflag: iflag >>> 0, cc, ispeed: b, ospeed: b };
}

/** Reads the line settings back out of a termios (what `stty -a` would show). */
export function readSettings(t: Termios): LineSettings {
  const size = t.cflag & C.CSIZE;
  const bits = size === C.CS5 ? 5 : size === C.CS6 ? 6 : size === C.CS7 ? 7 : 8;
  let parity: Parity = "none";
  if (t.cflag & C.PARENB) {
    const odd = (t.cflag & C.PARODD) !== 0;
    parity = t.cflag & C.CMSPAR ? (odd ? "mark" : "space") : odd ? "odd" : "even";
  }
  const flow: Flow = t.cflag & C.CRTSCTS ? "rtscts" : t.iflag & I.IXON ? "xonxoff" : "none";
  return {
    baud: baudOf(t.cflag & C.CBAUD) ?? 0,
    bits,
    parity,
    stop: t.cflag & C.CSTOPB ? 2 : 1,
    flow,
  };
}

// ---- FFI ---------------------------------------------------------------------------------

/** open(2) flags (Linux x86_64). */
export const O_RDWR = 0o2;
/** Do not make the tty our controlling terminal. */
export const O_NOCTTY = 0o400;
/** Never block in open (a port waiting for carrier) or in I/O on this descriptor. */
export const O_NONBLOCK = 0o4000;
/** Close on exec: simulators' children must not inherit ports. */
export const O_CLOEXEC = 0o2000000;
/** tcflush queue selectors. */
export const TCIFLUSH = 0;
/** tcflush: both queues. */
export const TCIOFLUSH = 2;
/** errno values that get their own message. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  EACCES: 13,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
} as const;

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  cfsetispeed: { parameters: ["buffer", "u32"], result: "i32" },
  cfsetospeed: { parameters: ["buffer", "u32"], result: "i32" },
  tcflush: { parameters: ["i32", "i32"], result: "i32" },
  grantpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  // On a worker thread, so waiting for input never blocks the event loop.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** A failed libc call: the errno and its text. */
export class OsError extends Error {
  /** Creates an error for `call` failing with `errno`. */
  constructor(readonly call: string, readonly errno: number, text: string) {
    super(`${call}: ${text} (errno ${errno})`);
    this.name = "OsError";
  }
}

/** The libc calls labwire makes, with errors as {@linkcode OsError}. */
export interface Libc {
  /** open(2) with `flags`; returns the descriptor. */
  open(path: string, flags: number): number;
  /** close(2). */
  close(fd: number): void;
  /** tcgetattr. */
  getattr(fd: number): Termios;
  /** cfsetispeed + cfsetospeed on the struct, then tcsetattr(TCSANOW). */
  setattr(fd: number, t: Termios): void;
  /** tcflush. */
  flush(fd: number, queue: number): void;
  /** grantpt + unlockpt + ptsname_r: the slave's path of a pty master. */
  unlockPty(fd: number): string;
  /** read(2) on a non-blocking descriptor: bytes read, 0 at end, -1 when nothing is there. */
  read(fd: number, buf: Uint8Array<ArrayBuffer>): number;
  /** write(2) on a non-blocking descriptor: bytes written, or -1 when it would block. */
  write(fd: number, buf: Uint8Array<ArrayBuffer>): number;
  /** pipe2(O_NONBLOCK|O_CLOEXEC): [read end, write end]. */
  pipe(): [number, number];
  /** poll(2) on a worker thread; `fds` holds `struct pollfd`s (8 bytes each). */
  poll(fds: Uint8Array<ArrayBuffer>, count: number, timeoutMs: number): Promise<number>;
}

/** errno EAGAIN: nothing to read / no room to write on a non-blocking descriptor. */
export const EAGAIN = 11;
/** errno EINTR: interrupted by a signal, try again. */
export const EINTR = 4;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** libc through FFI, loaded on first use (so programs that never touch a tty need no --allow-ffi). */
export function libc(): Libc {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  const s = lib.symbols;
  const errno = (): number => {
    const p = s.__errno_location();
    return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
  };
  const clearErrno = () => {
    const p = s.__errno_location();
    if (p) new Int32Array(Deno.UnsafePointerView.getArrayBuffer(p, 4))[0] = 0;
  };
  const fail = (call: string): never => {
    const e = errno();
    const msg = s.strerror(e);
    const text = msg ? Deno.UnsafePointerView.getCString(msg) : `errno ${e}`;
    throw new OsError(call, e, text);
  };
  return {
    open(path, flags) {
      clearErrno();
      const fd = s.open(new TextEncoder().encode(path + "\0"), flags, 0);
      if (fd < 0) fail(`open ${path}`);
      return fd;
    },
    close(fd) {
      s.close(fd);
    },
    getattr(fd) {
      const buf = new Uint8Array(TERMIOS_SIZE);
      if (s.tcgetattr(fd, buf) !== 0) fail("tcgetattr");
      return decodeTermios(buf);
    },
    setattr(fd, t) {
      const buf = encodeTermios(t);
      if (s.cfsetispeed(buf, t.ispeed) !== 0) fail("cfsetispeed");
      if (s.cfsetospeed(buf, t.ospeed) !== 0) fail("cfsetospeed");
      if (s.tcsetattr(fd, 0, buf) !== 0) fail("tcsetattr");
    },
    flush(fd, queue) {
      if (s.tcflush(fd, queue) !== 0) fail("tcflush");
    },
    unlockPty(fd) {
      if (s.grantpt(fd) !== 0) fail("grantpt");
      if (s.unlockpt(fd) !== 0) fail("unlockpt");
      const buf = new Uint8Array(128);
      const rc = s.ptsname_r(fd, buf, BigInt(buf.length));
      if (rc !== 0) throw new OsError("ptsname_r", rc, "cannot name the pty");
      return new TextDecoder().decode(buf.subarray(0, buf.indexOf(0)));
    },
    read(fd, buf) {
      const n = Number(s.read(fd, buf, BigInt(buf.length)));
      if (n >= 0) return n;
      const e = errno();
      if (e === EAGAIN || e === EINTR) return -1;
      return fail("read");
    },
    write(fd, buf) {
      const n = Number(s.write(fd, buf, BigInt(buf.length)));
      if (n >= 0) return n;
      const e = errno();
      if (e === EAGAIN || e === EINTR) return -1;
      return fail("write");
    },
    pipe() {
      const fds = new Int32Array(2);
      if (s.pipe2(new Uint8Array(fds.buffer), O_NONBLOCK | O_CLOEXEC) !== 0) fail("pipe2");
      return [fds[0]!, fds[1]!];
    },
    async poll(fds, count, timeoutMs) {
      return await s.poll(fds, BigInt(count), timeoutMs);
    },
  };
}
