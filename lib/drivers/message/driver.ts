/**
 * The `message` family's driver: opens a {@linkcode Device} (`./device.ts`) for any instrument
 * definition over a message line (`lib/transport/`), addressed as `tcp://HOST[:PORT]?instrument=NAME`,
 * `serial:///dev/ttyUSB0?instrument=NAME`, a config device with `instrument = "NAME"`, or
 * `scpi://HOST[:PORT]` (port 5025; the built-in `scpi` definition: `idn` and the IEEE 488.2
 * basics). On first use it checks `*IDN?` against the definition (warn or refuse) and sends
 * the init commands. A read asks each distinct query once; a write is validated against the
 * Attr (and the definition's allowed values) before the wire, then checked for errors the way
 * the definition says (`SYST:ERR?` after writes, or an `;*ESR?` suffix on every command), and
 * waits for `*OPC?` where the definition asks. Actions (tare, zero, reset, trigger) are
 * write-only boolean attributes: `labwire write DEV tare` (or `tare=true`, also from the API).
 *
 * @example
 * ```ts ignore
 * import { messageDrivers } from "./driver.ts";
 * const [tcp] = messageDrivers;
 * const dmm = await tcp.open(parseAddress("tcp://10.0.0.7:5025?instrument=keysight-34461a"), { name: "dmm", options: {} });
 * await dmm.read(); // { voltage_dc: 1.2345678 }
 * ```
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import type { Device } from "../../device/device.ts";
import { UsageError } from "../../device/errors.ts";
import type { Driver, OpenContext } from "../../device/registry.ts";
import { didYouMean } from "../../device/suggest.ts";
import type { Instrument } from "../../instruments/definition.ts";
import { openLine } from "../../transport/open.ts";
import { parseWindow } from "../../transport/pipeline.ts";
import { MessageDevice } from "./device.ts";
import { SCPI_INFO, SERIAL_INFO, TCP_INFO } from "./driver_info.ts";

/** Address options the message drivers understand (serial line settings go to the transport). */
const KNOWN_PARAMS = [
  "instrument",
  "timeout",
  "unit",
  "window",
  "baud",
  "bits",
  "parity",
  "stop",
  "flow",
];

/** Default ports by scheme when neither the address nor the definition gives one. */
const SCHEME_PORT: Record<string, number> = { scpi: 5025 };

/** Opens the device of a `tcp://`, `serial://` or `scpi://` address. */
async function openMessageDevice(address: Address, ctx: OpenContext): Promise<Device> {
  for (const key of address.params.keys()) {
    if (!KNOWN_PARAMS.includes(key)) {
      throw new UsageError(
        `${address.text}: unknown option "${key}"; ${address.scheme}:// takes ${
          KNOWN_PARAMS.map((k) => `?${k}=`).join(", ")
        }`,
        didYouMean(key, KNOWN_PARAMS) || undefined,
      );
    }
  }
  const fromAddress = address.params.get("instrument");
  const fromConfig = ctx.options.instrument;
  if (fromConfig !== undefined && typeof fromConfig !== "string") {
    throw new UsageError(`${ctx.name}: instrument must be a definition name (text)`);
  }
  const name = fromAddress ?? fromConfig ?? (address.scheme === "scpi" ? "scpi" : undefined);
  if (name === undefined) {
    throw new UsageError(
      `${address.text}: which instrument? add ?instrument=NAME (or instrument = "NAME" in the config)`,
      "labwire instruments list shows the definitions; scpi://HOST talks to any SCPI instrument",
    );
  }
  // Loaded on demand: the definition parser (zod, TOML) stays out of every other verb's start-up.
  const { findInstrument } = await import("../../instruments/loader.ts");
  return openInstrument(address, await findInstrument(name), ctx);
}

/**
 * Opens a device of a given (already loaded) definition at `address`; `open` of the tcp://,
 * serial:// and scpi:// drivers after they found the definition, and `instruments check --sim`.
 */
export function openInstrument(
  address: Address,
  inst: Instrument,
  ctx: OpenContext,
): MessageDevice {
  const unit = address.params.get("unit") ??
    (typeof ctx.options.unit === "string" ? ctx.options.unit : undefined) ??
    inst.transport.unit ?? "A";
  if (inst.protocol === "alicat" && !/^[A-Z]$/.test(unit)) {
    throw new UsageError(`${address.text}: unit must be one letter A–Z, got "${unit}"`);
  }
  const lineText = lineTarget(address, inst);
  const timeoutMs = ctx.timeout ?? inst.transport.timeoutMs;
  const windowText = address.params.get("window");
  const window = windowText !== null
    ? parseWindow(windowText, address.text)
    : typeof ctx.options.window === "number"
    ? parseWindow(String(ctx.options.window), ctx.name)
    : inst.transport.window;
  const line = openLine(lineText, {
    readTermination: inst.transport.readTermination,
    writeTermination: inst.transport.writeTermination,
    encoding: inst.protocol === "pfeiffer" ? "latin1" : inst.transport.encoding,
    timeout: timeoutMs,
    minDelay: inst.transport.delayMs,
    device: ctx.name,
    window,
  });
  return new MessageDevice(ctx.name, address.text, address.scheme, inst, line, timeoutMs, unit);
}

/** The transport address of a device: the definition's port and line settings filled in. */
export function lineTarget(address: Address, inst: Instrument): string {
  if (address.scheme === "tcp" || address.scheme === "scpi") {
    const port = inst.transport.port ?? SCHEME_PORT[address.scheme];
    const hasPort = /(^\[[^\]]+\]:\d+$)|(^[^:[\]]+:\d+$)/.test(address.target.replace(/\/$/, ""));
    if (!hasPort && port === undefined) {
      throw new UsageError(
        `${address.text}: which port? the ${inst.name} definition has no default port`,
        "write tcp://HOST:PORT",
      );
    }
    return `tcp://${address.target.replace(/\/$/, "")}${hasPort ? "" : `:${port}`}`;
  }
  const t = inst.transport;
  const params = new URLSearchParams();
  const defaults: [string, string][] = [
    ["baud", String(t.baud)],
    ["bits", String(t.bits)],
    ["parity", t.parity],
    ["stop", String(t.stop)],
    ["flow", t.flow],
  ];
  for (const [k, v] of defaults) params.set(k, address.params.get(k) ?? v);
  return `${address.scheme}://${address.target}?${params}`;
}

/** `tcp://HOST:PORT?instrument=NAME`: an instrument definition over a raw TCP socket. */
export const tcpDriver: Driver = { ...TCP_INFO, open: openMessageDevice };

/** `serial:///dev/ttyUSB0?instrument=NAME`: an instrument definition over a serial line. */
export const serialDriver: Driver = { ...SERIAL_INFO, open: openMessageDevice };

/** `scpi://HOST[:PORT]`: any SCPI instrument on port 5025, `idn` and the IEEE 488.2 basics. */
export const scpiDriver: Driver = { ...SCPI_INFO, open: openMessageDevice };
