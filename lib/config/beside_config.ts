/**
 * Where a path the config file names points: one rule for every such setting (`[session] path`,
 * `[instruments] path`, `[server] token_file`, `tls_cert`, `tls_key`). A relative path is
 * relative to the config file's folder, not to wherever the command runs, so the same config
 * means the same files from any folder and as a service (whose unit runs in its own folder).
 *
 * @module
 */
import { dirname, isAbsolute, join } from "node:path";

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
 * True when `configFile` is a file on disk: not absent, and not a built-in config's label
 * (`<demo bench>`), which has no folder for paths to be relative to.
 *
 * @example
 * ```ts
 * import { isConfigFile } from "./beside_config.ts";
 * isConfigFile("/etc/labwire/labwire.toml"); // true
 * isConfigFile("<demo bench>"); // false
 * ```
 */
export function isConfigFile(configFile: string | undefined): configFile is string {
  return !!configFile && !configFile.startsWith("<");
}
