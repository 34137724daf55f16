/**
 * Where a path the config file names points: one rule for every such setting (`[session] path`,
 * `[instruments] path`, `[server] token_file`, `tls_cert`, `tls_key`, and the files device tables
 * name: `token_file`, `ca_file`, `password_file`). A relative path is
 * relative to the config file's folder, not to wherever the command runs, so the same config
 * means the same files from any folder and as a service (whose unit runs in its own folder).
 *
 * @module
 */
import { dirname, isAbsolute, join } from "node:path";
import { isConfigFile } from "./file_name.ts";
import { addressOption } from "./options.ts";
import type { Address } from "../device/address.ts";
import type { OptionRule } from "../device/registry.ts";

/**
 * `path` as the config `configFile` means it: absolute as it is; relative, joined to the config
 * file's folder (unless there is no real file: the built-in benches are named `<…>`).
 *
 * @example
 * ```ts
 * import { besideConfig } from "./beside_config.ts";
 * besideConfig("cert.pem", "/etc/labwire/labwire.toml"); // "/etc/labwire/cert.pem"
 * besideConfig("/srv/cert.pem", "/etc/labwire/labwire.toml"); // "/srv/cert.pem"
 * ```
 */
export function besideConfig(path: string, configFile: string | undefined): string {
  if (isAbsolute(path) || !isConfigFile(configFile)) return path;
  return join(dirname(configFile), path);
}

/**
 * A driver option naming a file (`token_file`, `ca_file`, `password_file`), beside the config
 * file that declares the device, as every path in a config is; undefined when not given.
 */
export function fileOption(
  key: string,
  address: Address,
  ctx: { options: Record<string, unknown>; configFile?: string },
  rules: Record<string, OptionRule>,
): string | undefined {
  const path = addressOption(key, address, ctx.options, rules) as string | undefined;
  return path === undefined ? undefined : besideConfig(path, ctx.configFile);
}

/** The driver options that name a file, which {@linkcode fileOption} puts beside the config. */
const FILE_OPTIONS = ["token_file", "ca_file", "password_file"];

/**
 * The first file option (`token_file`, `ca_file`, `password_file`) of a device's table
 * (`options`) or address (`?key=`) that is a relative path, with that path; undefined when none
 * is. A device from no config file has no folder to put such a path in but the working folder.
 *
 * @example
 * ```ts
 * import { parseAddress } from "../device/address.ts";
 * import { relativeFileOption } from "./beside_config.ts";
 * relativeFileOption(parseAddress("labwire://pc7/g"), { token_file: "pc7.token" });
 * // { key: "token_file", path: "pc7.token" }
 * ```
 */
export function relativeFileOption(
  address: Address,
  options: Record<string, unknown>,
): { key: string; path: string } | undefined {
  for (const key of FILE_OPTIONS) {
    const path = options[key] ?? address.params.get(key);
    if (typeof path === "string" && !isAbsolute(path)) return { key, path };
  }
  return undefined;
}
