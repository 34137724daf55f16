/**
 * The `ca://` driver as the registry knows it before `./driver.ts` loads: scheme, help text,
 * options and the default device name (the PV name).
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import { durationOption, flagOption } from "../../config/options.ts";
import { TIMEOUT_RULE } from "../../config/duration.ts";
import type { DriverInfo, DriverOptions } from "../../device/registry.ts";
import { pvsOption } from "./options.ts";

/** The longest `move_guard` taken, ms. */
export const MAX_MOVE_GUARD_MS = 60_000;

/**
 * The options a `ca://` device takes: with `pvs` or `motor` the target is a prefix and the
 * device is made of several PVs (`./options.ts`).
 */
export const CA_OPTIONS: DriverOptions = {
  owner: "ca://",
  rules: {
    timeout: durationOption(TIMEOUT_RULE),
    wait: flagOption(),
    as_string: flagOption(),
    pvs: pvsOption(),
    motor: flagOption(),
    move_guard: durationOption({ min: 0, max: MAX_MOVE_GUARD_MS }),
  },
};

/** The `ca://` driver without its `open`. */
export const CA_INFO: DriverInfo = {
  options: () => CA_OPTIONS,
  scheme: "ca",
  summary: "an EPICS process variable over Channel Access (caget/caput/camonitor without libca)",
  example: "ca://XXX:m1.VAL",
  descriptors: "shared",
  defaultName(address: Address): string {
    return address.target.trim();
  },
};
