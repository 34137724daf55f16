/**
 * Where `labwire query`'s TARGET is and how it talks: an address as it is (`scpi://` on port
 * 5025), an address with `?instrument=` or a configured device through its definition's
 * terminations, encoding and pacing, and a Modbus target's unit and line settings.
 *
 * @module
 */
import { type Address, isAddress, parseAddress } from "../device/address.ts";
import { UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import type { LineOptions } from "../transport/message.ts";

/** Where a TARGET's line is and how it talks. */
export interface QueryLine {
  /** The transport address (`tcp://…`, `serial://…?baud=…`). */
  address: string;
  /** Terminations, encoding and pacing from the instrument definition, if there is one. */
  options: LineOptions;
  /** The definition used, if any. */
  instrument?: string;
  /** A note for stderr (e.g. how a VISA `ASRL1` was read). */
  note?: string;
  /** A Modbus target: raw requests go through a Modbus client instead of a message line. */
  modbus?: { address: Address; unit: number; serial: Record<string, unknown>; port?: number };
}

/**
 * Resolves TARGET to a line: plain transports as they are, `scpi://` to port 5025, an address
 * with `?instrument=` or a configured device through its definition.
 */
export async function resolveQueryLine(target: string, config?: string): Promise<QueryLine> {
  let address: Address;
  let instrument: string | undefined;
  if (isAddress(target)) {
    address = parseAddress(target);
    instrument = address.params.get("instrument") ?? undefined;
  } else {
    const { loadLabConfig } = await import("./setup.ts");
    const { config: lab } = await loadLabConfig({ config });
    const dev = lab.devices.find((d) => d.name === target);
    if (!dev) {
      const names = lab.devices.map((d) => d.name);
      throw new UsageError(
        `unknown device "${target}"${lab.file ? ` in ${lab.file}` : " (no config file found)"}`,
        didYouMean(target, names) ||
          "give an address: tcp://HOST:PORT, serial:///dev/ttyUSB0?baud=9600, " +
            "TCPIP0::HOST::PORT::SOCKET or ASRL/dev/ttyUSB0::INSTR",
      );
    }
    address = dev.address;
    const fromConfig = dev.options.instrument;
    instrument = address.params.get("instrument") ??
      (typeof fromConfig === "string" ? fromConfig : undefined);
  }
  if (address.scheme === "modbus" || address.scheme === "modbus+rtu") {
    return await resolveModbus(address, instrument);
  }
  if (!["tcp", "serial", "scpi"].includes(address.scheme)) {
    throw new UsageError(
      `${address.text}: query talks to message-based instruments, not ${address.scheme}://`,
      "use tcp://HOST:PORT, scpi://HOST, serial:///dev/ttyUSB0?baud=9600 or a VISA string " +
        "(TCPIP0::HOST::PORT::SOCKET, ASRL/dev/ttyUSB0::INSTR)",
    );
  }
  if (address.scheme === "scpi" && instrument === undefined) instrument = "scpi";
  if (instrument === undefined) {
    return { address: address.text, options: {}, note: address.note };
  }
  const { findInstrument } = await import("../instruments/loader.ts");
  const { lineTarget } = await import("../drivers/message/driver.ts");
  const inst = await findInstrument(instrument);
  const t = inst.transport;
  return {
    address: lineTarget(address, inst),
    options: {
      readTermination: t.readTermination,
      writeTermination: t.writeTermination,
      encoding: inst.protocol === "pfeiffer" ? "latin1" : t.encoding,
      minDelay: t.delayMs,
      window: t.window,
    },
    instrument: inst.name,
    note: address.note,
  };
}

/** A Modbus target: unit id and line defaults from the address, else from its register map. */
async function resolveModbus(address: Address, instrument?: string): Promise<QueryLine> {
  const { parseUnit } = await import("../drivers/modbus/driver.ts");
  const unitText = address.params.get("unit");
  let unit = unitText === null ? undefined : parseUnit(unitText, address.text);
  let serial: Record<string, unknown> = {};
  let port: number | undefined;
  if (instrument !== undefined) {
    const { findInstrument } = await import("../instruments/loader.ts");
    const inst = await findInstrument(instrument);
    const t = inst.transport;
    unit ??= inst.modbus?.unit;
    serial = { baud: t.baud, bits: t.bits, parity: t.parity, stop: t.stop, flow: t.flow };
    port = t.port;
  }
  return {
    address: address.text,
    options: {},
    instrument,
    note: address.note,
    modbus: { address, unit: unit ?? 1, serial, port },
  };
}
