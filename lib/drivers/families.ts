/**
 * The driver families labwire ships, each registered on demand: a family's `driver_info.ts`
 * (scheme, help, option rules, default name) loads when a run needs that family, and its code
 * on its first `open` ({@linkcode lazyDriver}). A `labwire read` of `ca://` addresses without a
 * config file registers the EPICS family alone: the other families' option rules (the Modbus
 * register-map checker, the sim:// kinds, MQTT's value rules: 12 modules, ~16 M instructions)
 * are never loaded. Whatever checks options or lists schemes registers the families first: every
 * verb but `read` registers them all before it runs (`main.ts`), a config file or `--demo` does
 * (`../lab/setup.ts` hands {@linkcode registerAllFamilies} to the config loader), and a read of
 * addresses registers the families its schemes name ({@linkcode registerFamilies}).
 *
 * @module
 */
import { loadModule } from "../device/lazy_module.ts";
import { type Driver, lazyDriver, optionRulesLoaded, registerDriver } from "../device/registry.ts";

/** One family: the schemes it serves, and its drivers once its `driver_info.ts` has loaded. */
interface Family {
  schemes: readonly string[];
  load(): Promise<Driver[]>;
}

// Each family's code, loaded on its first `open` (see ../device/lazy_module.ts).
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

const FAMILIES: readonly Family[] = [
  {
    schemes: ["sim"],
    load: async () => {
      const { SIM_INFO } = await loadModule<typeof import("./sim/driver_info.ts")>(
        new URL("./sim/driver_info.ts", import.meta.url),
      );
      return [lazyDriver(SIM_INFO, async () => (await sim()).simDriver)];
    },
  },
  {
    schemes: ["baratron"],
    load: async () => {
      const { BARATRON_INFO } = await loadModule<typeof import("./baratron/driver_info.ts")>(
        new URL("./baratron/driver_info.ts", import.meta.url),
      );
      return [lazyDriver(BARATRON_INFO, async () => (await baratron()).baratronDriver)];
    },
  },
  {
    schemes: ["ca"],
    load: async () => {
      const { CA_INFO } = await loadModule<typeof import("./epics/driver_info.ts")>(
        new URL("./epics/driver_info.ts", import.meta.url),
      );
      return [lazyDriver(CA_INFO, async () => (await epics()).caDriver)];
    },
  },
  {
    schemes: ["tcp", "serial", "scpi"],
    load: async () => {
      const { SCPI_INFO, SERIAL_INFO, TCP_INFO } = await loadModule<
        typeof import("./message/driver_info.ts")
      >(new URL("./message/driver_info.ts", import.meta.url));
      return [
        lazyDriver(TCP_INFO, async () => (await message()).tcpDriver),
        lazyDriver(SERIAL_INFO, async () => (await message()).serialDriver),
        lazyDriver(SCPI_INFO, async () => (await message()).scpiDriver),
      ];
    },
  },
  {
    schemes: ["modbus", "modbus+rtu"],
    load: async () => {
      const { MODBUS_INFO, MODBUS_RTU_INFO } = await loadModule<
        typeof import("./modbus/driver_info.ts")
      >(new URL("./modbus/driver_info.ts", import.meta.url));
      return [
        lazyDriver(MODBUS_INFO, async () => (await modbus()).modbusDriver),
        lazyDriver(MODBUS_RTU_INFO, async () => (await modbus()).modbusRtuDriver),
      ];
    },
  },
  {
    schemes: ["mqtt", "mqtts"],
    load: async () => {
      const { MQTT_INFO, MQTTS_INFO } = await loadModule<typeof import("./mqtt/driver_info.ts")>(
        new URL("./mqtt/driver_info.ts", import.meta.url),
      );
      return [
        lazyDriver(MQTT_INFO, async () => (await mqtt()).mqttDriver),
        lazyDriver(MQTTS_INFO, async () => (await mqtt()).mqttsDriver),
      ];
    },
  },
  {
    schemes: ["labwire", "labwire+https"],
    load: async () => {
      const { LABWIRE_HTTPS_INFO, LABWIRE_INFO } = await loadModule<
        typeof import("./labwire/driver_info.ts")
      >(new URL("./labwire/driver_info.ts", import.meta.url));
      return [
        lazyDriver(LABWIRE_INFO, async () => (await labwire()).labwireDriver),
        lazyDriver(LABWIRE_HTTPS_INFO, async () => (await labwire()).labwireHttpsDriver),
      ];
    },
  },
  {
    // in-process, but only a config with [derived.NAME] opens one: its expression parser loads then
    schemes: ["derived"],
    load: async () => {
      const { DERIVED_INFO } = await loadModule<typeof import("./derived/driver_info.ts")>(
        new URL("./derived/driver_info.ts", import.meta.url),
      );
      return [lazyDriver(DERIVED_INFO, async () => (await derived()).derivedDriver)];
    },
  },
];

// Each family's drivers, loaded once per process; a family is registered once: registering it
// again would replace a driver a test registered for its scheme, or a lazy driver that has
// loaded its code.
const loaded = new Map<Family, Promise<Driver[]>>();
const registered = new Set<Family>();

function loadFamily(family: Family): Promise<Driver[]> {
  let drivers = loaded.get(family);
  if (drivers === undefined) {
    drivers = family.load().catch((err) => {
      loaded.delete(family);
      throw err;
    });
    loaded.set(family, drivers);
  }
  return drivers;
}

/**
 * Loads `families` at once, then registers them in their order (the order errors list them),
 * with their option rules loaded unless `rules` is false.
 */
async function registerList(families: readonly Family[], rules: boolean): Promise<void> {
  const lists = await Promise.all(families.map(loadFamily));
  for (let i = 0; i < families.length; i++) {
    const family = families[i]!;
    if (registered.has(family)) continue;
    registered.add(family);
    for (const driver of lists[i]!) registerDriver(driver);
  }
  if (rules) await optionRulesLoaded();
}

/** Registers every family labwire ships (each once per process), option rules loaded. */
export function registerAllFamilies(): Promise<void> {
  return registerList(FAMILIES, true);
}

/**
 * Registers the families that serve `schemes` (lower case); a scheme no family serves registers
 * them all, so that the registry's "no driver for" error lists every known scheme. With `rules`
 * false a family that keeps its option rules apart (`ca://`) registers without them: they load
 * when something checks options ({@linkcode optionRulesLoaded}), which a read of plain addresses
 * never does.
 *
 * @example
 * ```ts ignore
 * import { registerFamilies } from "./families.ts";
 * import { findDriver } from "../device/registry.ts";
 * await registerFamilies(["ca"]);
 * findDriver("ca").summary; // the EPICS family's, without the other families' option rules
 * ```
 */
export function registerFamilies(schemes: Iterable<string>, rules = true): Promise<void> {
  const wanted: Family[] = [];
  for (const scheme of schemes) {
    const family = FAMILIES.find((f) => f.schemes.includes(scheme));
    if (family === undefined) return registerAllFamilies();
    if (!wanted.includes(family)) wanted.push(family);
  }
  return registerList(wanted, rules);
}

/**
 * The schemes a verb's TARGETs name (`ca://X` -> `ca`), or undefined when a target is not written
 * `scheme://...` (a device name from the config, a VISA resource): then every family is needed.
 *
 * @example
 * ```ts
 * import { targetSchemes } from "./families.ts";
 * targetSchemes(["ca://A", "ca://B", "SIM://gauge"]); // Set { "ca", "sim" }
 * targetSchemes(["gauge"]); // undefined
 * ```
 */
export function targetSchemes(targets: readonly string[]): Set<string> | undefined {
  const schemes = new Set<string>();
  // A thousand targets of one scheme: each is compared with the last one's prefix, no parse.
  let prefix = "";
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if (prefix !== "" && t.startsWith(prefix)) continue;
    const end = t.indexOf("://");
    if (end <= 0) return undefined;
    prefix = t.slice(0, end + 3);
    schemes.add(prefix.slice(0, end).toLowerCase());
  }
  return schemes;
}
