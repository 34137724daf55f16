/**
 * The `tcp://`, `serial://` and `scpi://` drivers as the registry knows them before `./driver.ts`
 * loads: scheme, help text and the default device name.
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import type { DriverInfo } from "../../device/registry.ts";

function defaultName(address: Address): string {
  if (address.scheme === "serial") {
    const parts = address.target.split("/").filter((s) => s !== "");
    const last = parts.at(-1) ?? address.target;
    // /dev/pts/3 → pts3 (a bare number says little); /dev/ttyUSB0 → ttyUSB0.
    const base = /^\d+$/.test(last) && parts.length > 1 ? `${parts.at(-2)}${last}` : last;
    const unit = address.params.get("unit");
    return unit ? `${base}-${unit}` : base;
  }
  return address.target.replace(/\/$/, "");
}

/** `tcp://HOST:PORT?instrument=NAME` without its `open`. */
export const TCP_INFO: DriverInfo = {
  scheme: "tcp",
  summary: "an instrument definition over a raw TCP socket (SCPI, ASCII)",
  example: "tcp://10.0.0.7:7777?instrument=lakeshore-336",
  defaultName,
};

/** `serial:///dev/ttyUSB0?instrument=NAME` without its `open`. */
export const SERIAL_INFO: DriverInfo = {
  scheme: "serial",
  summary: "an instrument definition over a serial line (termios)",
  example: "serial:///dev/ttyUSB0?instrument=alicat&unit=A",
  defaultName,
};

/** `scpi://HOST[:PORT]` without its `open`. */
export const SCPI_INFO: DriverInfo = {
  scheme: "scpi",
  summary: "any SCPI instrument (raw socket, port 5025): idn, status, errors",
  example: "scpi://10.0.0.7",
  defaultName,
};
