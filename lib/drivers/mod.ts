/**
 * Registers every driver labwire ships. Every family, the in-process simulators included,
 * registers what the registry must know before opening a device
 * (`driver_info.ts`: scheme, help, options, default name) and loads its code on its first
 * `open` ({@linkcode lazyDriver}), so a verb loads only the families its devices use (and Deno
 * does not even read the others at start-up: `../device/lazy_module.ts`). Import this module once,
 * from `main.ts` or a test.
 *
 * @module
 */
import { loadModule } from "../device/lazy_module.ts";
import { lazyDriver, registerDriver } from "../device/registry.ts";
import { SIM_INFO } from "./sim/driver_info.ts";
import { DERIVED_INFO } from "./derived/driver_info.ts";
import { BARATRON_INFO } from "./baratron/driver_info.ts";
import { CA_INFO } from "./epics/driver_info.ts";
import { SCPI_INFO, SERIAL_INFO, TCP_INFO } from "./message/driver_info.ts";
import { MODBUS_INFO, MODBUS_RTU_INFO } from "./modbus/driver_info.ts";
import { MQTT_INFO, MQTTS_INFO } from "./mqtt/driver_info.ts";
import { LABWIRE_HTTPS_INFO, LABWIRE_INFO } from "./labwire/driver_info.ts";

// Each family's code, loaded on its first `open` (see ../device/lazy_module.ts).
// The simulators (models, noise, faults: 15 modules) load for a sim:// target or --demo only.
const sim = () =>
  loadModule<typeof import("./sim/driver.ts")>(new URL("./sim/driver.ts", import.meta.url));
const baratron = () =>
  loadModule<typeof import("./baratron/driver.ts")>(
    new URL("./baratron/driver.ts", import.meta.url),
  );
const epics = () =>
  loadModule<typeof import("./epics/driver.ts")>(new URL("./epics/driver.ts", import.meta.url));
const message = () =>
  loadModule<typeof import("./message/driver.ts")>(new URL("./message/driver.ts", import.meta.url));
const modbus = () =>
  loadModule<typeof import("./modbus/driver.ts")>(new URL("./modbus/driver.ts", import.meta.url));
const mqtt = () =>
  loadModule<typeof import("./mqtt/driver.ts")>(new URL("./mqtt/driver.ts", import.meta.url));
const derived = () =>
  loadModule<typeof import("./derived/driver.ts")>(new URL("./derived/driver.ts", import.meta.url));
const labwire = () =>
  loadModule<typeof import("./labwire/driver.ts")>(
    new URL("./labwire/driver.ts", import.meta.url),
  );

registerDriver(lazyDriver(SIM_INFO, async () => (await sim()).simDriver));
registerDriver(lazyDriver(BARATRON_INFO, async () => (await baratron()).baratronDriver));
registerDriver(lazyDriver(CA_INFO, async () => (await epics()).caDriver));
registerDriver(lazyDriver(TCP_INFO, async () => (await message()).tcpDriver));
registerDriver(lazyDriver(SERIAL_INFO, async () => (await message()).serialDriver));
registerDriver(lazyDriver(SCPI_INFO, async () => (await message()).scpiDriver));
registerDriver(lazyDriver(MODBUS_INFO, async () => (await modbus()).modbusDriver));
registerDriver(lazyDriver(MODBUS_RTU_INFO, async () => (await modbus()).modbusRtuDriver));
registerDriver(lazyDriver(MQTT_INFO, async () => (await mqtt()).mqttDriver));
registerDriver(lazyDriver(MQTTS_INFO, async () => (await mqtt()).mqttsDriver));
registerDriver(lazyDriver(LABWIRE_INFO, async () => (await labwire()).labwireDriver));
registerDriver(lazyDriver(LABWIRE_HTTPS_INFO, async () => (await labwire()).labwireHttpsDriver));
// in-process, but only a config with [derived.NAME] opens one: its expression parser loads then
registerDriver(lazyDriver(DERIVED_INFO, async () => (await derived()).derivedDriver));
