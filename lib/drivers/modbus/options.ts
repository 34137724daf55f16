/**
 * The options a `modbus://` or `modbus+rtu://` device takes (its driver's `options`): `instrument` (a register map), `unit`, `timeout`, a generic device's
 * `registers` (compiled when the config file loads, so an overlap names its key), `word_order`,
 * and for RTU the line settings (checked with what they accept when the port opens).
 *
 * @module
 */
import { durationOption, numberOption, scalarOption, textOption } from "../../config/options.ts";
import type { DriverOptions, OptionRule } from "../../device/registry.ts";
import { TIMEOUT_RULE } from "../../config/duration.ts";
import { checkRegisterTables } from "../../instruments/register_map.ts";
import { WORD_ORDERS } from "../../instruments/registers.ts";
import { SERIAL_KEYS } from "../../transport/serial_keys.ts";

/** A generic device's register table. */
const registersRule: OptionRule = (v) => {
  const p = checkRegisterTables(v);
  return p ? { ok: false, message: p.message, path: p.path } : { ok: true, value: v };
};

const wordOrderRule: OptionRule = (v) =>
  typeof v === "string" && (WORD_ORDERS as readonly string[]).includes(v)
    ? { ok: true, value: v }
    : { ok: false, message: `expected one of ${WORD_ORDERS.join(", ")}` };

/** The options of each Modbus scheme. */
export const MODBUS_OPTIONS: Record<"modbus" | "modbus+rtu", DriverOptions> = {
  modbus: schemeOptions("modbus"),
  "modbus+rtu": schemeOptions("modbus+rtu"),
};

function schemeOptions(scheme: "modbus" | "modbus+rtu"): DriverOptions {
  const rules: Record<string, OptionRule> = {
    timeout: durationOption(TIMEOUT_RULE),
    instrument: textOption('expected a register map\'s name, e.g. "omega-cn7500"'),
    unit: numberOption(0, scheme === "modbus" ? 255 : 247, true),
    window: numberOption(1, scheme === "modbus" ? 64 : 1, true),
    registers: registersRule,
    word_order: wordOrderRule,
  };
  if (scheme === "modbus+rtu") { for (const k of SERIAL_KEYS) rules[k] = scalarOption(); }
  return { owner: `${scheme}://`, rules };
}
