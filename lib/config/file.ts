/**
 * Finding and reading the config file, `labwire.toml`: `--config`, then `LABWIRE_CONFIG`, then
 * `./labwire.toml`. The TOML parser loads only once there is a file to parse, so `labwire read
 * sim://gauge` without a config does not pay for it at start-up; the whole schema (`./load.ts`,
 * zod) only for a file with sections besides `[devices]` (`./lab_config.ts` checks those alone).
 *
 * @module
 */
import { loadModule } from "../device/lazy_module.ts";
import { ConfigError } from "../device/errors.ts";
import type { LabConfig } from "./lab_config.ts";

/** The default config path searched when neither `--config` nor `LABWIRE_CONFIG` is given. */
export const DEFAULT_CONFIG = "labwire.toml";

/**
 * Resolves which config file to use: explicit path, then `LABWIRE_CONFIG`, then `./labwire.toml`.
 *
 * @example
 * ```ts
 * import { configPath } from "./file.ts";
 * configPath("bench.toml"); // { path: "bench.toml", explicit: true }
 * ```
 */
export function configPath(explicit?: string): { path: string; explicit: boolean } {
  if (explicit) return { path: explicit, explicit: true };
  const env = Deno.env.get("LABWIRE_CONFIG");
  if (env) return { path: env, explicit: true };
  return { path: DEFAULT_CONFIG, explicit: false };
}

/**
 * Loads the config file. A missing default file gives an empty config; a missing explicit
 * file, bad TOML or a bad key is a {@linkcode ConfigError}. `registerDrivers`, when given, is
 * awaited once there is a file to check and before it is checked: it registers the drivers whose
 * option rules check its device tables (the layer that loads the config hands it over, since
 * this layer may not import the drivers; without it they must be registered already).
 *
 * @example
 * ```ts
 * import { loadConfig } from "./file.ts";
 * const config = await loadConfig(); // ./labwire.toml, or no devices when there is none
 * ```
 */
export async function loadConfig(
  explicit?: string,
  registerDrivers?: () => Promise<void>,
): Promise<LabConfig> {
  const { path, explicit: wasExplicit } = configPath(explicit);
  let text: string;
  try {
    // Synchronous: a config file is small, and the asynchronous read of a missing
    // ./labwire.toml (a read of addresses) cost ~1 ms more at every start (its thread pool).
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && !wasExplicit) return { devices: [], sections: {} };
    if (err instanceof Deno.errors.NotFound) {
      throw new ConfigError("file not found", path, undefined, { cause: err });
    }
    throw new ConfigError(`cannot read: ${(err as Error).message}`, path, undefined, {
      cause: err,
    });
  }
  await registerDrivers?.();
  // The TOML reader, then zod and the schemas: read only when there is a file
  // (../device/lazy_module.ts), and the schemas only for a file with more than devices.
  const { devicesOnlyConfig, parseTomlFile } = await loadModule<
    typeof import("./lab_config.ts")
  >(new URL("./lab_config.ts", import.meta.url));
  const doc = parseTomlFile(text, path);
  const devicesOnly = devicesOnlyConfig(doc, text, path);
  if (devicesOnly) return devicesOnly;
  const { parseConfigDoc } = await loadModule<typeof import("./load.ts")>(
    new URL("./load.ts", import.meta.url),
  );
  return parseConfigDoc(doc, text, path);
}
