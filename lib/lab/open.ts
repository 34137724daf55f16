/**
 * Opening devices from config entries through the driver registry.
 *
 * @module
 */
import type { DeviceConfig } from "../config/load.ts";
import type { Device } from "../device/device.ts";
import { findDriver, type OpenContext } from "../device/registry.ts";
import { readDuration, TIMEOUT_RULE } from "../config/duration.ts";
import { checkAddressOptions } from "../config/options.ts";

/**
 * Opens the device a config entry describes; `?timeout=` in the address overrides the config.
 * The address' options are checked against its driver's schema first, so a typo is a usage
 * error (exit 2) before any I/O. `peer` finds the lab's other devices (for derived devices).
 */
export function openDevice(
  cfg: DeviceConfig,
  peer?: OpenContext["peer"],
): Promise<Device> {
  // Not an async function: the driver's promise is returned as it is (a read of a thousand
  // targets opens a thousand devices); a mistake still comes back as a rejection.
  try {
    const driver = findDriver(cfg.address.scheme);
    checkAddressOptions(cfg.address, cfg.options);
    const t = cfg.address.params.get("timeout");
    const timeout = t !== null ? readDuration(t, TIMEOUT_RULE) : cfg.timeout;
    return driver.open(cfg.address, {
      name: cfg.name,
      timeout,
      interval: cfg.interval,
      options: cfg.options,
      configFile: cfg.file,
      peer,
    });
  } catch (err) {
    return Promise.reject(err);
  }
}
