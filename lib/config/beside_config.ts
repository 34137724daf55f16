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
