/**
 * The `ca://` driver as the registry knows it before `./driver.ts` loads: scheme, help text,
 * options and the default device name (the PV name).
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import { durationOption, flagOption } from "../../config/options.ts";
import { TIMEOUT_RULE } from "../../config/duration.ts";
import type { BatchTarget, DriverInfo, DriverOptions } from "../../device/registry.ts";
import type { Values } from "../../device/attr.ts";
import { loadModule } from "../../device/lazy_module.ts";
import { pvsOption } from "./options.ts";

/** Default per-call timeout of a `ca://` device, ms. */
export const CA_DEFAULT_TIMEOUT_MS = 5000;

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
  together(values) {
    if (values.move_guard === undefined || values.pvs !== undefined) return undefined;
    const motor = flagOption()(values.motor ?? false);
    if (motor.ok && motor.value === true) return undefined;
    return {
      key: "move_guard",
      message: "is for a motor: give motor = true (or a pvs map)",
      hint: "a ca:// device made of several PVs follows DMOV only when it is a motor",
    };
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
  // One search round, one circuit per server and no device per PV (`./client_batch.ts`, loaded
  // without the shared client and the device code).
  async readMany(
    targets: readonly BatchTarget[],
    timeout?: number,
  ): Promise<(Values | Error)[]> {
    const { readPvs } = await loadModule<typeof import("./client_batch.ts")>(
      new URL("./client_batch.ts", import.meta.url),
    );
    return readPvs(targets, { timeout, defaultTimeout: CA_DEFAULT_TIMEOUT_MS });
  },
};
