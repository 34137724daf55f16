/**
 * Simulated instruments (`sim://`): the driver, the device class, the list of kinds and the
 * shared world their motors live in.
 *
 * @module
 */
export { createSim, findKind, openSim, simDriver, simName } from "./driver.ts";
export { SimDevice, type SimDeviceOptions } from "./device.ts";
export { SIM_KINDS, simKindsHelp } from "./kinds.ts";
export type { SimContext, SimKind, SimModel } from "./model.ts";
export { COMMON_OPTIONS, SimOptions } from "./options.ts";
export { DEFAULT_MOTOR, type MotorSettings, MotorState, SimWorld, world } from "./world.ts";
export { FaultInjector, type FaultOptions, parseFaults } from "./faults.ts";
