/**
 * The `[instruments]` section of labwire.toml: where the bench's own instrument definitions
 * live, relative to the config file.
 *
 * ```toml
 * [instruments]
 * path = "instruments"          # a folder of NAME.toml files, or one file; or a list of them
 * ```
 *
 * @module
 */
import { INSTRUMENTS_SCHEMA } from "../config/schema.ts";
import { parseWith } from "../config/fields.ts";
import { besideConfig } from "../config/beside_config.ts";
import { addInstrumentSource } from "./sources.ts";
import { ConfigError } from "../device/errors.ts";

/**
 * Validates the `[instruments]` section and registers its paths; returns them (resolved against
 * the config file's folder).
 *
 * @example
 * ```ts
 * import { applyInstrumentsSection } from "./config.ts";
 * applyInstrumentsSection({ path: "defs" }, "/lab/labwire.toml"); // ["/lab/defs"]
 * ```
 */
export function applyInstrumentsSection(section: unknown, file: string | undefined): string[] {
  if (section === undefined) return [];
  const list = parseWith(INSTRUMENTS_SCHEMA, section, file, ["instruments"]).path;
  const resolved = list.map((p) => besideConfig(expandHome(p, file), file));
  for (const p of resolved) addInstrumentSource(p);
  return resolved;
}

/**
 * `~` and `~/…` as the shell says them, from `$HOME`. Without `HOME` (a systemd service, `env -i`)
 * that is a config error naming the path: it became a folder literally named `~` beside the
 * config, and the definitions were then "not found" there. `~user/…` is not expanded (labwire
 * does not read the password database): an error too, not a folder named `~user`.
 */
function expandHome(p: string, file: string | undefined): string {
  if (!p.startsWith("~")) return p;
  if (p !== "~" && !p.startsWith("~/")) {
    throw new ConfigError(
      `"${p}": only ~/ is expanded (to $HOME), not ~user/; give an absolute path`,
      file,
      "instruments.path",
    );
  }
  const home = Deno.env.get("HOME");
  if (!home) {
    throw new ConfigError(
      `"${p}" starts with ~, but HOME is not set (as under a systemd service); give an absolute ` +
        "path, or one relative to the config file's folder",
      file,
      "instruments.path",
    );
  }
  return home + p.slice(1);
}
