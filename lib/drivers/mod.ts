/**
 * Registers every driver labwire ships. The simulators are in the process (and `--demo` needs
 * them); every other family registers what the registry must know before opening a device
 * (`driver_info.ts`: scheme, help, options, default name) and loads its code on its first
 * `open` ({@linkcode lazyDriver}), so a verb loads only the families its devices use. The
 * imports are string literals, which `deno compile` sees and bundles. Import this module once,
 * from `main.ts` or a test.
 *
 * @module
 */
import { lazyDriver, registerDriver } from "../device/registry.ts";
import { simDriver } from "./sim/driver.ts";
import { derivedDriver } from "./derived/driver.ts";
import { BARATRON_INFO } from "./baratron/driver_info.ts";
import { CA_INFO } from "./epics/driver_info.ts";
import { SCPI_INFO, SERIAL_INFO, TCP_INFO } from "./message/driver_info.ts";
import { MODBUS_INFO, MODBUS_RTU_INFO } from "./modbus/driver_info.ts";
import { MQTT_INFO, MQTTS_INFO } from "./mqtt/driver_info.ts";

registerDriver(simDriver);
registerDriver(
  lazyDriver(BARATRON_INFO, async () => (await import("./baratron/driver.ts")).baratronDriver),
);
registerDriver(lazyDriver(CA_INFO, async () => (await import("./epics/driver.ts")).caDriver));
registerDriver(lazyDriver(TCP_INFO, async () => (await import("./message/driver.ts")).tcpDriver));
registerDriver(
  lazyDriver(SERIAL_INFO, async () => (await import("./message/driver.ts")).serialDriver),
);
registerDriver(lazyDriver(SCPI_INFO, async () => (await import("./message/driver.ts")).scpiDriver));
registerDriver(
  lazyDriver(MODBUS_INFO, async () => (await import("./modbus/driver.ts")).modbusDriver),
);
registerDriver(
  lazyDriver(MODBUS_RTU_INFO, async () => (await import("./modbus/driver.ts")).modbusRtuDriver),
);
registerDriver(lazyDriver(MQTT_INFO, async () => (await import("./mqtt/driver.ts")).mqttDriver));
registerDriver(lazyDriver(MQTTS_INFO, async () => (await import("./mqtt/driver.ts")).mqttsDriver));
// small and in-process (it reads the lab's other devices): registered eagerly, like sim
registerDriver(derivedDriver);
