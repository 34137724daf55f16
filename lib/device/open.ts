/**
 * Opening devices from config entries through the driver registry.
 *
 * @module
 */
import type { DeviceConfig } from "../config/load.ts";
import type { Device } from "./device.ts";
import { findDriver } from "./registry.ts";
import { parseDuration } from "../config/duration.ts";

/** Opens the device a config entry describes; `?timeout=` in the address overrides the config. */
export function openDevice(cfg: DeviceConfig): Promise<Device> {
  const driver = findDriver(cfg.address.scheme);
  const t = cfg.address.params.get("timeout");
  const timeout = t !== null ? parseDuration(t, "s", "timeout") : cfg.timeout;
  return driver.open(cfg.address, { name: cfg.name, timeout, options: cfg.options });
}
