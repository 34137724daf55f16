/**
 * The words of alarm messages: a rule's `message` template filled in, values and durations as
 * the engine's messages show them.
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import type { ThresholdRule } from "./rules.ts";

/**
 * Fills a rule's message template: `{value}`, `{trip}`, `{low}`, `{high}`, `{device}`, `{attr}`, `{name}`.
 *
 * @example
 * ```ts ignore
 * fill("{device} too hot: {value}", rule, 301); // "oven too hot: 301"
 * ```
 */
export function fill(template: string, r: ThresholdRule, v: Value): string {
  return template.replace(/\{(value|trip|low|high|device|attr|name)\}/g, (_, k: string) => {
    switch (k) {
      case "value":
        return show(v);
      case "device":
        return r.device;
      case "attr":
        return r.attr;
      case "name":
        return r.name;
      default:
        return String(r[k as "trip" | "low" | "high"] ?? "");
    }
  });
}

/** A value as messages show it: strings quoted, arrays in brackets. */
export function show(v: Value): string {
  return typeof v === "string"
    ? JSON.stringify(v)
    : Array.isArray(v)
    ? `[${v.join(", ")}]`
    : String(v);
}

/** Milliseconds as seconds for messages: `1.5 s`. */
export function seconds(ms: number): string {
  return `${+(ms / 1000).toFixed(3)} s`;
}
