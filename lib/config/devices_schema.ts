/**
 * `[devices.NAME]` tables in the zod schema of `labwire.toml`: the check itself is zod-free
 * (`./device_tables.ts`, which a config of only devices uses without loading zod); this wraps it
 * so that a mistake is an issue the config's formatter words like any other section's.
 *
 * @module
 */
import { z } from "zod";
import { checkDeviceTables, type DeviceTable } from "./device_tables.ts";

export type { DeviceTable };

/** The `[devices]` section: every `[devices.NAME]` table by name (see `./device_tables.ts`). */
export const DEVICES_SCHEMA = z.unknown().transform((v, ctx): Record<string, DeviceTable> => {
  const r = checkDeviceTables(v);
  if (r.ok) return r.value;
  const { path, message, hint, unknown } = r.issue;
  // An unknown key carries what its owner takes, as `table()` reports one (see describeIssue).
  ctx.addIssue({ code: "custom", message, path, params: unknown ?? { hint } });
  return z.NEVER;
});
