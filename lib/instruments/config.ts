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
import { ConfigError } from "../device/errors.ts";
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
  if (typeof section !== "object" || section === null || Array.isArray(section)) {
    throw new ConfigError('expected a table: [instruments] path = "DIR"', file, "instruments");
  }
  const { path, ...rest } = section as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) {
    throw new ConfigError(`unknown key; [instruments] takes path`, file, `instruments.${extra[0]}`);
  }
  const list = typeof path === "string" ? [path] : path;
  if (
    !Array.isArray(list) || list.length === 0 ||
    !list.every((p) => typeof p === "string" && p !== "")
  ) {
    throw new ConfigError(
      'expected a folder or file, or a list of them: path = "instruments"',
      file,
      "instruments.path",
    );
  }
  const dir = file && file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
  const resolved = (list as string[]).map((p) =>
    p.startsWith("/") || p.startsWith("~") ? expandHome(p) : dir + p
  );
  for (const p of resolved) addInstrumentSource(p);
  return resolved;
}

function expandHome(p: string): string {
  if (!p.startsWith("~")) return p;
  return (Deno.env.get("HOME") ?? "~") + p.slice(1);
}
