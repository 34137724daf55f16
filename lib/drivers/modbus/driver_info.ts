/**
 * The `modbus://` and `modbus+rtu://` drivers as the registry knows them before `./driver.ts`
 * loads: scheme, help text, options (`./options.ts`) and the default device name.
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import type { DriverInfo } from "../../device/registry.ts";
import { MODBUS_OPTIONS } from "./options.ts";

function defaultName(address: Address): string {
  const unit = address.params.get("unit");
  if (address.scheme === "modbus+rtu") {
    const parts = address.target.split("/").filter((s) => s !== "");
    const last = parts.at(-1) ?? address.target;
    const base = /^\d+$/.test(last) && parts.length > 1 ? `${parts.at(-2)}${last}` : last;
    return unit ? `${base}-${unit}` : base;
  }
  const host = address.target.replace(/\/$/, "");
  return unit ? `${host}-${unit}` : host;
}

/** `modbus://HOST[:502]?unit=1&instrument=NAME` without its `open`. */
export const MODBUS_INFO: DriverInfo = {
  scheme: "modbus",
  summary: "a Modbus register map over Modbus TCP (port 502)",
  example: "modbus://10.0.0.9?unit=1&instrument=omega-cn7500",
  defaultName,
  options: () => MODBUS_OPTIONS.modbus,
};

/** `modbus+rtu:///dev/ttyUSB0?baud=19200&parity=even&unit=3` without its `open`. */
export const MODBUS_RTU_INFO: DriverInfo = {
  scheme: "modbus+rtu",
  summary: "a Modbus register map over Modbus RTU on a serial line (RS-485)",
  example: "modbus+rtu:///dev/ttyUSB0?baud=19200&parity=even&unit=3&instrument=omega-cn7500",
  defaultName,
  options: () => MODBUS_OPTIONS["modbus+rtu"],
};
