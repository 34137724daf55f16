/**
 * VISA resource strings as labwire addresses, so pyvisa users can paste what they know:
 * `TCPIP0::10.0.0.7::5025::SOCKET` -> `tcp://10.0.0.7:5025`, `ASRL/dev/ttyUSB0::INSTR` ->
 * `serial:///dev/ttyUSB0`, `ASRL1::INSTR` -> `serial:///dev/ttyS0` (NI-VISA's numbering on
 * Linux, reported as a note). Kinds labwire does not speak (VXI-11 and HiSLIP `INSTR`, GPIB,
 * USBTMC) are refused with the raw-socket form to use instead.
 *
 * How to use it: `visaToAddress(text)` returns undefined for anything that is not a VISA
 * string, so callers can try it before parsing `scheme://` addresses (`lib/device/address.ts`
 * does).
 *
 * @module
 */
import { UsageError } from "./errors.ts";

/** A VISA resource mapped to a labwire address. */
export interface VisaMapping {
  /** The labwire address, e.g. `tcp://10.0.0.7:5025`. */
  address: string;
  /** Something the user should know about the mapping (e.g. the ASRL number's device file). */
  note?: string;
}

/** True when `text` starts like a VISA resource string (`TCPIP...::`, `ASRL...`, `GPIB...::`, `USB...::`). */
export function isVisa(text: string): boolean {
  return /^(TCPIP\d*|ASRL[^:]*|GPIB\d*|USB\d*|VXI\d*|PXI\d*)::/i.test(text.trim()) ||
    /^ASRL\S*::INSTR$/i.test(text.trim());
}

/**
 * Maps a VISA resource string to a labwire address; undefined when `text` is not one. Throws a
 * {@linkcode UsageError} for VISA kinds labwire cannot talk to, saying what to use instead.
 *
 * @example
 * ```ts
 * import { visaToAddress } from "./visa.ts";
 * visaToAddress("TCPIP0::10.0.0.7::5025::SOCKET"); // { address: "tcp://10.0.0.7:5025" }
 * visaToAddress("ASRL/dev/ttyUSB0::INSTR"); // { address: "serial:///dev/ttyUSB0" }
 * ```
 */
export function visaToAddress(text: string): VisaMapping | undefined {
  const s = text.trim();
  if (!isVisa(s)) return undefined;
  const parts = s.split("::");
  const head = parts[0]!.toUpperCase();
  const last = parts[parts.length - 1]!.toUpperCase();
  if (head.startsWith("TCPIP")) {
    if (last === "SOCKET") {
      if (parts.length !== 4) {
        throw new UsageError(
          `"${s}" is not a VISA socket resource`,
          "raw sockets look like TCPIP0::HOST::PORT::SOCKET",
        );
      }
      const host = parts[1]!;
      const port = Number(parts[2]);
      // A name, IPv4 or IPv6 (bracketed or not): anything else would change the address's
      // meaning once pasted into a URL (`?`, `#`, `/`, `%`).
      const hostOk = /^[A-Za-z0-9._-]+$/.test(host) ||
        /^\[?[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]?$/.test(host);
      if (!hostOk || !/^\d+$/.test(parts[2]!) || !(port > 0 && port < 65536)) {
        throw new UsageError(
          `"${s}": bad host or port`,
          "raw sockets look like TCPIP0::HOST::PORT::SOCKET with a port 1\u201365535",
        );
      }
      const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
      return { address: `tcp://${h}:${port}` };
    }
    const host = parts[1] ?? "HOST";
    const kind = /hislip/i.test(s) ? "HiSLIP" : "VXI-11";
    throw new UsageError(
      `"${s}" is a ${kind} resource, which labwire does not speak`,
      `use the instrument's raw SCPI socket instead, e.g. TCPIP0::${host}::5025::SOCKET ` +
        `(Keysight 5025, Rigol 5555, Lake Shore 7777)`,
    );
  }
  if (head.startsWith("ASRL")) {
    if (last !== "INSTR" || parts.length !== 2) {
      throw new UsageError(`"${s}" is not a VISA serial resource`, "use ASRL/dev/ttyUSB0::INSTR");
    }
    const port = parts[0]!.slice(4);
    // Escaped where an address would read them as query, fragment or escape.
    if (port.startsWith("/")) {
      return { address: `serial://${port.replace(/[%?#]/g, encodeURIComponent)}` };
    }
    if (/^\d+$/.test(port) && Number(port) >= 1) {
      const dev = `/dev/ttyS${Number(port) - 1}`;
      return {
        address: `serial://${dev}`,
        note: `ASRL${port} is ${dev} on Linux (NI-VISA's numbering); ` +
          `a USB adapter is /dev/ttyUSB0 or /dev/ttyACM0: write ASRL/dev/ttyUSB0::INSTR`,
      };
    }
    throw new UsageError(
      `"${s}": unknown serial port "${port}"`,
      "use ASRL/dev/ttyUSB0::INSTR (the device file) or ASRL1::INSTR (/dev/ttyS0)",
    );
  }
  throw new UsageError(
    `"${s}": ${head.replace(/\d+$/, "")} resources are not supported`,
    "labwire speaks raw TCP sockets (TCPIP0::HOST::PORT::SOCKET) and serial lines " +
      "(ASRL/dev/ttyUSB0::INSTR)",
  );
}
