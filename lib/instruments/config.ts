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
  const resolved = list.map((p) => besideConfig(expandHome(p), file));
  for (const p of resolved) addInstrumentSource(p);
  return resolved;
}

function expandHome(p: string): string {
  if (!p.startsWith("~")) return p;
  return (Deno.env.get("HOME") ?? "~") + p.slice(1);
}
