/**
 * Registers every driver labwire ships. A static list (no dynamic imports) so that
 * `deno compile` bundles them all. Import this module once, from `main.ts` or a test.
 *
 * @module
 */
import { registerDriver } from "../device/registry.ts";
import { simDriver } from "./sim/driver.ts";
registerDriver(simDriver);
import { baratronDriver } from "./baratron/driver.ts";
registerDriver(baratronDriver);
import { caDriver } from "./epics/driver.ts";
registerDriver(caDriver);
import { scpiDriver, serialDriver, tcpDriver } from "./message/driver.ts";
registerDriver(tcpDriver);
registerDriver(serialDriver);
registerDriver(scpiDriver);
import { modbusDriver, modbusRtuDriver } from "./modbus/driver.ts";
registerDriver(modbusDriver);
registerDriver(modbusRtuDriver);
