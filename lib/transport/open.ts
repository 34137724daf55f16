/**
 * Opening a message line from an address, the entry point drivers and `labwire query` use:
 * `tcp://HOST:PORT`, `serial:///dev/ttyUSB0?baud=19200…` or a VISA resource string
 * (`TCPIP0::HOST::PORT::SOCKET`, `ASRL/dev/ttyUSB0::INSTR`). Lines to the same port are
 * shared (see `sharedLine` in `shared_line.ts`): two Alicat units on /dev/ttyUSB0 get one line and
 * never interleave. Options other than the line's own (e.g. `?instrument=`, `?timeout=`) are
 * left to the caller.
 *
 * How to use it:
 * ```ts ignore
 * import { openLine } from "./open.ts";
 * const line = openLine("TCPIP0::127.0.0.1::5025::SOCKET", { readTermination: "\n" });
 * console.log(await line.query("*IDN?"));
 * line.close();
 * ```
 *
 * @module
 */
import { parseAddress } from "../device/address.ts";
import { UsageError } from "../device/errors.ts";
import { type LineOptions, MessageLine } from "./message.ts";
import { sharedLine } from "./shared_line.ts";
import { openTcp, parseTcpTarget } from "./tcp.ts";
import { visaToAddress } from "../device/visa.ts";
import { type LineSettings, openSerial, parseSerialAddress, serialSettingsText } from "./serial.ts";

/** Options of {@linkcode openLine}. */
export interface OpenLineOptions extends LineOptions {
  /** TCP connect timeout, ms (default 3000). */
  connectTimeout?: number;
  /** Share the line with other users of the same port (default true). */
  shared?: boolean;
  /** Serial line settings the address does not give (e.g. an instrument definition's). */
  serial?: Partial<LineSettings>;
  /** What the user addressed over TCP, for errors (e.g. `modbus://HOST:502`). */
  label?: string;
  /** What should listen on a TCP port, for errors (e.g. "Modbus TCP server"). */
  service?: string;
}

/** The transport schemes a message line can be opened on. */
export const LINE_SCHEMES: readonly string[] = ["tcp", "serial"];

/**
 * Resolves VISA strings to addresses and checks the scheme; returns the `scheme://…` text.
 *
 * @example
 * ```ts
 * import { lineAddress } from "./open.ts";
 * lineAddress("TCPIP::h::5025::SOCKET"); // "tcp://h:5025"
 * ```
 */
export function lineAddress(target: string): string {
  return visaToAddress(target)?.address ?? target.trim();
}

/** Opens (or joins) the message line of `target`; nothing is connected until the first call. */
export function openLine(target: string, opts: OpenLineOptions = {}): MessageLine {
  const text = lineAddress(target);
  const address = parseAddress(text);
  const terms = `${JSON.stringify(opts.writeTermination ?? "\n")}/` +
    `${JSON.stringify(opts.readTermination ?? "\n")} ${opts.encoding ?? "ascii"}`;
  if (address.scheme === "tcp") {
    const { host, port } = parseTcpTarget(address.target);
    const key = `tcp://${host.toLowerCase()}:${port}`;
    const create = () =>
      new MessageLine(
        openTcp(host, port, {
          connectTimeout: opts.connectTimeout,
          device: opts.device,
          label: opts.label,
          service: opts.service,
        }),
        { resetOnTimeout: true, ...opts },
      );
    return opts.shared === false ? create() : sharedLine(key, terms, create);
  }
  if (address.scheme === "serial") {
    const settings = parseSerialAddress(address, opts.serial);
    // /dev/serial/by-id/… and /dev/ttyUSB0 are one port, one line.
    const key = `serial://${realPath(settings.path)}`;
    const create = () =>
      new MessageLine(openSerial(settings, { device: opts.device }), {
        resetOnTimeout: false,
        ...opts,
      });
    return opts.shared === false
      ? create()
      : sharedLine(key, `${serialSettingsText(settings)} ${terms}`, create);
  }
  throw new UsageError(
    `"${target}" is not a message-based address`,
    "use tcp://HOST:PORT, serial:///dev/ttyUSB0?baud=9600, TCPIP0::HOST::PORT::SOCKET or " +
      "ASRL/dev/ttyUSB0::INSTR",
  );
}

/** The canonical path of a port (symlinks resolved), or the path itself when it is missing. */
function realPath(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return path;
  }
}
