/**
 * Serial lines on Linux: `serial:///dev/ttyUSB0?baud=19200&bits=8&parity=none&stop=1&flow=none`.
 *
 * How to use it: `parseSerialAddress(parseAddress(text))` validates the options (errors name
 * the key and list what is allowed); `openSerial(settings)` returns a re-opening
 * {@linkcode ByteStream} for `MessageLine` (`message.ts`) — or use `openLine` (`open.ts`), which
 * also shares one line between devices on the same port.
 *
 * ```ts ignore
 * import { parseAddress } from "../device/address.ts";
 * import { openSerial, parseSerialAddress } from "./serial.ts";
 * const s = openSerial(parseSerialAddress(parseAddress("serial:///dev/ttyUSB0?baud=19200")));
 * ```
 *
 * How it works (checked on Deno 2.9.6, Linux x86_64): `Deno.FsFile` exposes no descriptor, so
 * the line settings go through a second descriptor of the same tty, opened with libc's `open(2)`
 * (`O_NONBLOCK`, so a port waiting for carrier cannot hang us) via FFI: `tcgetattr`, raw mode,
 * the requested settings, `cfsetispeed`/`cfsetospeed`, `tcsetattr`. termios settings belong to
 * the tty, not to a descriptor, so they hold for the data descriptor, a plain
 * `Deno.open(path)` whose reads and writes are asynchronous (they don't block the event loop;
 * closing the file cancels a pending read). The FFI descriptor stays open for `tcflush`
 * (dropping stale input after a timeout) and is closed with the line.
 *
 * A missing port or one without permission fails with a {@linkcode DeviceError} (exit 1) that
 * names the port and the fix; a port that vanishes mid-stream (USB unplugged) fails reads with
 * a clear error, and the stream re-opens it when it returns (with backoff between attempts).
 *
 * @module
 */
import type { Address } from "../device/address.ts";
import { DeviceError, UsageError } from "../device/errors.ts";
import type { ByteStream, RawConn } from "./byte_stream.ts";
import { ReopeningStream } from "./stream.ts";
import { FdConn } from "./fd_conn.ts";
import {
  applySettings,
  BAUD_RATES,
  ERRNO,
  type Flow,
  libc,
  type LineSettings,
  O_CLOEXEC,
  O_NOCTTY,
  O_NONBLOCK,
  O_RDWR,
  OsError,
  type Parity,
  readSettings,
  TCIFLUSH,
  TCIOFLUSH,
} from "./termios.ts";

export type { LineSettings } from "./termios.ts";

/** A serial port and its line settings. */
export interface SerialSettings extends LineSettings {
  /** The device file, e.g. `/dev/ttyUSB0`. */
  path: string;
}

/** What a serial address gets when it doesn't say: 9600 8N1, no flow control. */
export const SERIAL_DEFAULTS: LineSettings = {
  baud: 9600,
  bits: 8,
  parity: "none",
  stop: 1,
  flow: "none",
};

const PARITIES: Record<string, Parity> = {
  none: "none",
  n: "none",
  even: "even",
  e: "even",
  odd: "odd",
  o: "odd",
  mark: "mark",
  m: "mark",
  space: "space",
  s: "space",
};
const FLOWS: Record<string, Flow> = {
  none: "none",
  rtscts: "rtscts",
  hardware: "rtscts",
  xonxoff: "xonxoff",
  software: "xonxoff",
};

export { SERIAL_KEYS } from "./serial_keys.ts";

/**
 * Reads the line settings of `?baud=…&bits=…&parity=…&stop=…&flow=…` over `defaults`; a bad
 * value is a {@linkcode UsageError} naming the key and what it accepts.
 *
 * @example
 * ```ts
 * import { parseSerialOptions } from "./serial.ts";
 * parseSerialOptions(new URLSearchParams("baud=57600&bits=7&parity=odd"));
 * // { baud: 57600, bits: 7, parity: "odd", stop: 1, flow: "none" }
 * ```
 */
export function parseSerialOptions(
  params: URLSearchParams,
  defaults: Partial<LineSettings> = {},
): LineSettings {
  const s: LineSettings = { ...SERIAL_DEFAULTS, ...defaults };
  const bad = (key: string, value: string, allowed: string) =>
    new UsageError(`serial option ${key}=${value} is not valid`, `${key} must be ${allowed}`);
  const baud = params.get("baud");
  if (baud !== null) {
    const n = Number(baud);
    if (!/^\d+$/.test(baud) || !BAUD_RATES.includes(n)) {
      throw bad("baud", baud, `one of ${BAUD_RATES.join(", ")}`);
    }
    s.baud = n;
  }
  const bits = params.get("bits");
  if (bits !== null) {
    if (!/^[5-8]$/.test(bits)) throw bad("bits", bits, "5, 6, 7 or 8");
    s.bits = Number(bits) as LineSettings["bits"];
  }
  const parity = params.get("parity");
  if (parity !== null) {
    const p = PARITIES[parity.toLowerCase()];
    if (!p) throw bad("parity", parity, "none, even, odd, mark or space");
    s.parity = p;
  }
  const stop = params.get("stop");
  if (stop !== null) {
    if (stop !== "1" && stop !== "2") {
      throw bad("stop", stop, stop === "1.5" ? "1 or 2 (Linux has no 1.5 stop bits)" : "1 or 2");
    }
    s.stop = Number(stop) as 1 | 2;
  }
  const flow = params.get("flow");
  if (flow !== null) {
    const f = FLOWS[flow.toLowerCase()];
    if (!f) throw bad("flow", flow, "none, rtscts (hardware) or xonxoff (software)");
    s.flow = f;
  }
  return s;
}

/**
 * The port and settings of a `serial:///dev/…?…` address (a VISA `ASRL…::INSTR` already
 * mapped by `parseAddress`), over `defaults` (e.g. an instrument definition's).
 */
export function parseSerialAddress(
  address: Address,
  defaults: Partial<LineSettings> = {},
): SerialSettings {
  if (address.scheme !== "serial") {
    throw new UsageError(`"${address.text}" is not a serial:// address`);
  }
  const path = address.target;
  if (!path.startsWith("/")) {
    throw new UsageError(
      `"${address.text}": the port must be an absolute device path`,
      `write serial:///dev/${path.replace(/^dev\//, "")} (three slashes)`,
    );
  }
  return { path, ...parseSerialOptions(address.params, defaults) };
}

/**
 * Settings in the usual short form, e.g. `19200 8N1` (`+rtscts`/`+xonxoff` with flow control).
 *
 * @example
 * ```ts
 * import { serialSettingsText } from "./serial.ts";
 * serialSettingsText({ baud: 57600, bits: 7, parity: "odd", stop: 1, flow: "none" }); // "57600 7O1"
 * ```
 */
export function serialSettingsText(s: LineSettings): string {
  const p = s.parity[0]!.toUpperCase();
  return `${s.baud} ${s.bits}${p}${s.stop}${s.flow === "none" ? "" : ` +${s.flow}`}`;
}

/**
 * Turns a failure to open `path` into what to do about it: a missing port names the adapters
 * to look for, a permission problem the dialout group.
 *
 * @example
 * ```ts
 * import { describePortError } from "./serial.ts";
 * import { OsError } from "./termios.ts";
 * describePortError("/dev/ttyUSB0", new OsError("open", 13, "Permission denied")).message;
 * // "serial port /dev/ttyUSB0: permission denied; add yourself to the dialout group: …"
 * ```
 */
export function describePortError(path: string, err: unknown, device?: string): DeviceError {
  const errno = err instanceof OsError ? err.errno : undefined;
  const name = err instanceof Error ? err.name : "";
  const port = `serial port ${path}`;
  let msg: string;
  if (errno === ERRNO.ENOENT || name === "NotFound") {
    msg = `${port} does not exist; check that the adapter is plugged in and its name ` +
      `(ls /dev/ttyUSB* /dev/ttyACM* /dev/serial/by-id/)`;
  } else if (errno === ERRNO.EACCES || errno === ERRNO.EPERM || name === "PermissionDenied") {
    msg = `${port}: permission denied; add yourself to the dialout group: ` +
      `sudo usermod -aG dialout $USER (then log out and in again)`;
  } else if (errno === ERRNO.EBUSY || name === "Busy") {
    msg = `${port} is busy: another program has it open (find it with: fuser ${path})`;
  } else if (errno === ERRNO.ENOTTY) {
    msg = `${path} is not a serial port (not a tty)`;
  } else if (errno === ERRNO.ENXIO || errno === ERRNO.ENODEV || errno === ERRNO.EIO) {
    msg = `${port} exists but has no device behind it; re-plug the adapter`;
  } else {
    msg = `cannot open ${port}: ${err instanceof Error ? err.message : String(err)}`;
  }
  return new DeviceError(msg, device, { cause: err });
}

/** Options of {@linkcode openSerial}. */
export interface SerialOptions {
  /** Device name carried by errors. */
  device?: string;
  /** First delay before re-opening a port that failed, ms (default 200). */
  backoffMin?: number;
  /** Longest delay between re-open attempts, ms (default 2000). */
  backoffMax?: number;
}

/**
 * A re-opening byte stream on a serial port with `settings` applied; nothing is opened until the
 * first call.
 */
export function openSerial(settings: SerialSettings, opts: SerialOptions = {}): ByteStream {
  const { path } = settings;
  const label = `serial://${path}`;
  return new ReopeningStream({
    label,
    device: opts.device,
    backoffMin: opts.backoffMin ?? 200,
    backoffMax: opts.backoffMax ?? 2000,
    describeOpenError: (err) => describePortError(path, err, opts.device),
    describeLost: (err, doing) =>
      new DeviceError(
        `${label}: the port stopped working while ${doing}` +
          `${err === null ? "" : ` (${err instanceof Error ? err.message : String(err)})`}; ` +
          `was it unplugged? it is re-opened when it comes back`,
        opts.device,
        { cause: err },
      ),
    open: (signal) => openPort(settings, signal),
  });
}

/** Opens the port (non-blocking, through libc), applies and checks the settings. */
function openPort(settings: SerialSettings, signal: AbortSignal): Promise<RawConn> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const c = libc();
  const fd = c.open(settings.path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  try {
    try {
      c.setattr(fd, applySettings(c.getattr(fd), settings));
    } catch (err) {
      // glibc's tcsetattr reads the settings back and reports EINVAL when the data bits or
      // parity did not stick (always so on a pty, whose driver forces 8N); the rest was applied,
      // and checkApplied below says what matters.
      if (!(err instanceof OsError && err.errno === ERRNO.EINVAL)) throw err;
    }
    checkApplied(settings, readSettings(c.getattr(fd)));
    // Whatever sat in the port's buffers is from before us.
    c.flush(fd, TCIOFLUSH);
  } catch (err) {
    c.close(fd);
    throw err;
  }
  const conn = new FdConn(fd);
  return Promise.resolve({
    read: (buf) => conn.read(buf),
    write: (buf) => conn.write(buf),
    close: () => conn.close(),
    flushInput() {
      // A closed descriptor's number may already be someone else's.
      if (!conn.closed) c.flush(fd, TCIFLUSH);
    },
  });
}

/**
 * Refuses settings the port did not take (a USB adapter without that baud rate). A pseudo-
 * terminal has no wire: Linux's pty driver forces CS8 and clears PARENB, so data bits and
 * parity are not compared there.
 */
export function checkApplied(asked: SerialSettings, got: LineSettings): void {
  const pty = asked.path.startsWith("/dev/pts/") || isPty(asked.path);
  const diffs: string[] = [];
  if (got.baud !== asked.baud) diffs.push(`baud ${got.baud} instead of ${asked.baud}`);
  if (got.stop !== asked.stop) diffs.push(`${got.stop} stop bits instead of ${asked.stop}`);
  if (!pty && got.bits !== asked.bits) diffs.push(`${got.bits} data bits instead of ${asked.bits}`);
  if (!pty && got.parity !== asked.parity) {
    diffs.push(`parity ${got.parity} instead of ${asked.parity}`);
  }
  if (diffs.length) {
    throw new DeviceError(
      `serial port ${asked.path} did not take the line settings: ${diffs.join(", ")}; ` +
        `the adapter may not support them`,
    );
  }
}

/** True when `path` (maybe a symlink) is a pseudo-terminal slave. */
function isPty(path: string): boolean {
  try {
    return Deno.realPathSync(path).startsWith("/dev/pts/");
  } catch {
    return false;
  }
}
