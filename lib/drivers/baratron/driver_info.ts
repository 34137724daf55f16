/**
 * The `baratron://` driver as the registry knows it before `./driver.ts` loads: scheme, help
 * text, options, and the device name (the host, with the port when it is not 80).
 *
 * @module
 */
import { type Address, hostPort } from "../../device/address.ts";
import { durationOption } from "../../config/options.ts";
import { TIMEOUT_RULE } from "../../config/duration.ts";
import { UsageError } from "../../device/errors.ts";
import type { DriverInfo, DriverOptions } from "../../device/registry.ts";

/** The options a `baratron://` device takes. */
export const BARATRON_OPTIONS: DriverOptions = {
  owner: "baratron://",
  rules: { timeout: durationOption(TIMEOUT_RULE) },
};

/** Splits a `baratron://` target into the gauge's HTTP origin and the device's default name. */
export function toolWebHost(address: Address): { origin: string; name: string } {
  const target = address.target.replace(/^https?:\/\//i, "").replace(/\/+$/, "");
  const { host, port } = hostPort(target, 80);
  const origin = `http://${host}${port === 80 ? "" : `:${port}`}`;
  // The HTTP client builds a URL from the origin: refuse here what it would throw on later.
  if (!URL.canParse(origin)) throw new UsageError(`"${host}" is not a host name or IP address`);
  return { origin, name: port === 80 ? host : `${host}:${port}` };
}

/** The `baratron://` driver without its `open`. */
export const BARATRON_INFO: DriverInfo = {
  options: () => BARATRON_OPTIONS,
  scheme: "baratron",
  summary: "MKS eBaratron capacitance manometer over ToolWeb (HTTP)",
  example: "baratron://10.0.0.5",
  defaultName(address: Address): string {
    try {
      return toolWebHost(address).name;
    } catch {
      return address.target;
    }
  },
};
