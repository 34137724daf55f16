/**
 * Simulated instruments (`sim://`): the driver, the device class and the list of kinds.
 *
 * @module
 */
export { createSim, findKind, openSim, simDriver, simName } from "./driver.ts";
export { SimDevice, type SimDeviceOptions } from "./device.ts";
export { SIM_KINDS, simKindsHelp } from "./kinds.ts";
export type { SimContext, SimKind, SimModel } from "./model.ts";
export { COMMON_OPTIONS } from "./options.ts";
export { world } from "./world.ts";
