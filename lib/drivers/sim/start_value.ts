/**
 * Where a simulated instrument attribute starts, for every family whose simulator is built from
 * an instrument definition (message and Modbus).
 *
 * @module
 */
import type { Value } from "../../device/attr.ts";
import type { InstrumentAttr } from "../../instruments/definition.ts";

/**
 * The value a simulator built from a definition starts an attribute at: the definition's
 * `sim.value`, else an empty value of the attribute's kind (false, the first enum option, "",
 * [], 0 for flags), else its lower limit when above 0, else 0. Modbus attributes have the parse
 * kind of their type, so both families start alike.
 */
export function startValue(a: InstrumentAttr): Value {
  const v = a.sim.value;
  if (v !== undefined) return v;
  switch (a.parse.kind) {
    case "boolean":
      return false;
    case "enum":
      return a.attr.options?.[0] ?? "";
    case "string":
      return "";
    case "numbers":
    case "block":
      return [];
    case "flags":
      return 0;
    default:
      return a.attr.min !== undefined && a.attr.min > 0 ? a.attr.min : 0;
  }
}
