/**
 * The `ca://` driver as the registry knows it before `./driver.ts` loads: scheme, help text,
 * the default device name (the PV name), and its options once loaded (`./options.ts`).
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import type { BatchTarget, DriverInfo, DriverOptions } from "../../device/registry.ts";
import type { Values } from "../../device/attr.ts";
import { loadModule } from "../../device/lazy_module.ts";

/** Default per-call timeout of a `ca://` device, ms. */
export const CA_DEFAULT_TIMEOUT_MS = 5000;

/**
 * The option rules (`./options.ts`, with the config layer's rule builders: ~18 KB), once
 * {@linkcode CA_INFO}'s `loadOptions` has loaded them: a read of plain `ca://NAME` addresses
 * checks no option and does not load them (~2-3 M instructions of its start).
 */
let rules: DriverOptions | undefined;

/** The `ca://` driver without its `open`. */
export const CA_INFO: DriverInfo = {
  options: () => {
    // A check that runs before its rules loaded would pass anything: a bug, not a user's mistake.
    if (rules === undefined) throw new Error("ca:// option rules used before loadOptions");
    return rules;
  },
  async loadOptions() {
    rules ??= (await loadModule<typeof import("./options.ts")>(
      new URL("./options.ts", import.meta.url),
    )).CA_OPTIONS;
  },
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
