/**
 * The `derived://` driver as the registry knows it before `./driver.ts` (and the expression
 * parser) loads: only a config with `[derived.NAME]` tables opens one.
 *
 * @module
 */
import type { DriverInfo } from "../../device/registry.ts";

/** The `derived://` driver without its `open`. */
export const DERIVED_INFO: DriverInfo = {
  scheme: "derived",
  summary: "attributes computed from other devices' attributes ([derived.NAME] in the config)",
  example: "derived://vacuum",
};
