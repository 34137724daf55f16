/**
 * Where a recording goes when `--session` is not given: `[session] path` in the config
 * (relative to the config file), else beside the config file as `<name>.session.sqlite`
 * (`labwire.toml` → `labwire.session.sqlite`), else `./labwire.session.sqlite` (the `--demo`
 * bench: `./labwire-demo.session.sqlite`). The default is the same every run, so running the same
 * command again appends a segment to the same session.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import type { LabConfig } from "../config/load.ts";
import { parseWith } from "../config/fields.ts";
import { SESSION_SCHEMA } from "../config/schema.ts";
import { besideConfig } from "../config/beside_config.ts";
import { isConfigFile } from "../config/file_name.ts";

/** File name suffix of session files. */
export const SESSION_SUFFIX = ".session.sqlite";

/**
 * Resolves the session file of a recording.
 *
 * @example
 * ```ts
 * import { sessionPath } from "./path.ts";
 * sessionPath({ file: "/lab/bench.toml", devices: [], sections: {} }); // "/lab/bench.session.sqlite"
 * ```
 */
export function sessionPath(config: LabConfig, explicit?: string, demo = false): string {
  if (explicit) return explicit;
  const section = config.sections.session;
  if (section !== undefined) {
    const p = parseWith(SESSION_SCHEMA, section, config.file, ["session"]).path;
    if (p !== undefined) {
      return besideConfig(p, config.file);
    }
  }
  if (demo) return `labwire-demo${SESSION_SUFFIX}`;
  if (isConfigFile(config.file)) {
    const name = basename(config.file).replace(/\.toml$/i, "");
    return join(dirname(config.file), name + SESSION_SUFFIX);
  }
  return `labwire${SESSION_SUFFIX}`;
}

/**
 * The `[session.parameters]` of a config (the sample, the gas flow, the operator: whatever
 * describes the run), stored with the session's metadata; undefined when there are none.
 *
 * @example
 * ```ts
 * import { sessionParameters } from "./path.ts";
 * sessionParameters({ devices: [], sections: { session: { parameters: { sample: "Cu-12" } } } });
 * // { sample: "Cu-12" }
 * ```
 */
export function sessionParameters(
  config: LabConfig,
): Record<string, string | number | boolean> | undefined {
  const section = config.sections.session;
  if (section === undefined) return undefined;
  return parseWith(SESSION_SCHEMA, section, config.file, ["session"]).parameters;
}
