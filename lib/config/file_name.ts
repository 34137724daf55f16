/**
 * Whether a config's `file` names a file on disk or a built-in config (`<demo bench>`): the
 * paths a config names are beside a real file only. Apart from `./beside_config.ts` (which
 * loads `node:path`), so the paths that must not load Node's layer can ask it too.
 *
 * @module
 */

/**
 * True when `configFile` is a file on disk: not absent, and not a built-in config's label
 * (`<demo bench>`), which has no folder for paths to be relative to.
 *
 * @example
 * ```ts
 * import { isConfigFile } from "./file_name.ts";
 * isConfigFile("/etc/labwire/labwire.toml"); // true
 * isConfigFile("<demo bench>"); // false
 * ```
 */
export function isConfigFile(configFile: string | undefined): configFile is string {
  return !!configFile && !configFile.startsWith("<");
}
