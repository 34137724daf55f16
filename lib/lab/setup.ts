/**
 * Opening the Lab a verb works on, from its flags: `--demo` (the built-in simulated bench),
 * `--config FILE` / `$LABWIRE_CONFIG` / `./labwire.toml`, and TARGETs (device names or
 * addresses). Every verb goes through here, so they all resolve targets the same way.
 *
 * @module
 */
import { loadModule } from "../device/lazy_module.ts";
import type { DeviceConfig, LabConfig } from "../config/load.ts";
import { loadConfig } from "../config/file.ts";
import { plainTargets } from "../config/plain_targets.ts";
import { UsageError } from "../device/errors.ts";
import { registerAllFamilies, registerFamilies, targetSchemes } from "../drivers/families.ts";
import type { Lab } from "./lab.ts";

/** What the flags say about where devices come from. */
export interface LabSource {
  /** `--config FILE`. */
  config?: string;
  /** `--demo`. */
  demo?: boolean;
  /** TARGETs from the command line; empty means every configured device. */
  targets: readonly string[];
}

/**
 * Loads the config a verb uses (the demo bench's under `--demo`) and a cleanup to run at the end,
 * with the driver families it needs registered: every family for a config file, `--demo`, no
 * `targets` or a target that is not an address; else those the targets' schemes name (a read of
 * `ca://` addresses loads no other family's option rules: `../drivers/families.ts`).
 */
export async function loadLabConfig(
  source: Pick<LabSource, "config" | "demo"> & { targets?: readonly string[] },
): Promise<{ config: LabConfig; cleanup: () => Promise<void> }> {
  const schemes = source.targets === undefined ? undefined : targetSchemes(source.targets);
  // The targets' families without their option rules: the config file's check below and a Lab's
  // open load them (the option rules of `ca://` are ~2-3 M instructions a read of plain PVs
  // never uses).
  await (schemes === undefined || source.demo
    ? registerAllFamilies()
    : registerFamilies(schemes, false));
  if (source.demo) {
    // The demo bench and [instruments] load zod (their config is checked by the schema):
    // imported only when used, so a read of an address starts without it.
    const { startDemoBench } = await loadModule<typeof import("../drivers/demo.ts")>(
      new URL("../drivers/demo.ts", import.meta.url),
    );
    const bench = await startDemoBench();
    return { config: bench.config, cleanup: bench.close };
  }
  const config = await loadConfig(source.config, registerAllFamilies);
  if (config.sections.instruments !== undefined) {
    const { applyInstrumentsSection } = await loadModule<typeof import("../instruments/config.ts")>(
      new URL("../instruments/config.ts", import.meta.url),
    );
    applyInstrumentsSection(config.sections.instruments, config.file);
  }
  return { config, cleanup: () => Promise.resolve() };
}

/**
 * Loads the Lab's module (devices, queues, owners): a `labwire read` whose targets its drivers
 * read in one batch never opens a device, and does not load it.
 */
export function loadLab(): Promise<typeof import("./lab.ts")> {
  return loadModule<typeof import("./lab.ts")>(new URL("./lab.ts", import.meta.url));
}

/**
 * The devices a verb works on: the targets resolved against `config`, or every configured device
 * when there are none (a usage error when that is none at all). Targets that are all plain
 * addresses of one scheme are read without `../config/targets.ts`, which loads for any other
 * (a name from the config, options, a VISA string: the parser of every address form, three
 * modules, ~3 M instructions of a read of a thousand `ca://` PVs).
 */
export async function chosenDevices(source: LabSource, config: LabConfig): Promise<DeviceConfig[]> {
  if (source.targets.length === 0 && config.devices.length === 0) {
    throw new UsageError(
      "no devices: give a TARGET, or a config file with [devices.NAME] tables",
      // said for every verb that opens devices (read, stream, write, task --local)
      "try --demo (a built-in simulated bench), or an address like sim://gauge",
    );
  }
  if (source.targets.length === 0) return config.devices;
  return plainTargets(source.targets) ??
    (await loadModule<typeof import("../config/targets.ts")>(
      new URL("../config/targets.ts", import.meta.url),
    )).resolveTargets(source.targets, config);
}

/**
 * Opens a Lab of the targets (or of every configured device when there are none). The demo
 * bench's simulators are stopped when the Lab closes.
 */
export async function openLab(source: LabSource): Promise<Lab> {
  const { config, cleanup } = await loadLabConfig(source);
  try {
    const devices = await chosenDevices(source, config);
    const { Lab } = await loadLab();
    const lab = await Lab.open(config, devices);
    lab.onClose(cleanup);
    return lab;
  } catch (err) {
    await cleanup();
    throw err;
  }
}
