/**
 * The `mqtt://` and `mqtts://` device drivers as the registry knows them before `./driver.ts`
 * loads: scheme, help text, options and the default device name (the topic).
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import type { DriverInfo, DriverOptions, OptionRule } from "../../device/registry.ts";
import { durationOption, numberOption, textOption } from "../../config/options.ts";
import { TIMEOUT_RULE } from "../../config/duration.ts";

/** The types a declared value may have. */
export const VALUE_TYPES = ["number", "integer", "boolean", "string"] as const;

/** The keys a value's table takes. */
export const VALUE_KEYS = [
  "pointer",
  "topic",
  "type",
  "units",
  "min",
  "max",
  "command",
  "payload_on",
  "payload_off",
  "description",
] as const;

/** True when `topic` is one concrete topic (no wildcard, no empty start). */
export function isTopic(topic: string): boolean {
  return topic !== "" && !/[#+]/.test(topic) && !topic.includes("\0") && topic.length <= 65_535;
}

/**
 * Checks the `values` table of a device; returns what is wrong (with the key path) or nothing.
 *
 * @example
 * ```ts
 * import { checkValues } from "./driver_info.ts";
 * checkValues({ power: { pointer: "/ENERGY/Power", units: "W" } }); // undefined
 * checkValues({ power: { pointer: "ENERGY" } })?.message; // 'a JSON pointer starts with "/" …'
 * ```
 */
export function checkValues(raw: unknown): { message: string; path: string[] } | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return {
      message: 'expected a table of values, e.g. values.power = { pointer = "/ENERGY/Power" }',
      path: [],
    };
  }
  for (const [name, v] of Object.entries(raw)) {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) {
      return { message: "value names are snake_case (a-z, 0-9, _)", path: [name] };
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      return { message: 'expected a table like { pointer = "/temp", units = "°C" }', path: [name] };
    }
    const t = v as Record<string, unknown>;
    for (const k of Object.keys(t)) {
      if (!(VALUE_KEYS as readonly string[]).includes(k)) {
        return { message: `unknown key; a value takes: ${VALUE_KEYS.join(", ")}`, path: [name, k] };
      }
    }
    const text = (k: string) =>
      t[k] !== undefined && typeof t[k] !== "string"
        ? { message: "expected a string", path: [name, k] }
        : undefined;
    for (const k of ["pointer", "topic", "units", "command", "payload_on", "payload_off"]) {
      const p = text(k);
      if (p) return p;
    }
    if (typeof t.pointer === "string" && t.pointer !== "" && !t.pointer.startsWith("/")) {
      return {
        message:
          'a JSON pointer starts with "/" (e.g. "/ENERGY/Power"), or is "" for the whole payload',
        path: [name, "pointer"],
      };
    }
    for (const k of ["topic", "command"]) {
      if (typeof t[k] === "string" && !isTopic(t[k] as string)) {
        return { message: "expected one topic, without + or # wildcards", path: [name, k] };
      }
    }
    if (t.type !== undefined && !(VALUE_TYPES as readonly unknown[]).includes(t.type)) {
      return { message: `expected one of ${VALUE_TYPES.join(", ")}`, path: [name, "type"] };
    }
    for (const k of ["min", "max"]) {
      if (t[k] !== undefined && (typeof t[k] !== "number" || !Number.isFinite(t[k]))) {
        return { message: "expected a number", path: [name, k] };
      }
    }
  }
  return undefined;
}

const valuesRule: OptionRule = (v) => {
  const p = checkValues(v);
  return p ? { ok: false, message: p.message, path: p.path } : { ok: true, value: v };
};

const pointerRule: OptionRule = (v) =>
  typeof v === "string" && (v === "" || v.startsWith("/"))
    ? { ok: true, value: v }
    : { ok: false, message: 'expected a JSON pointer like "/ENERGY/Power"' };

function options(scheme: string): DriverOptions {
  return {
    owner: `${scheme}://`,
    rules: {
      timeout: durationOption(TIMEOUT_RULE),
      values: valuesRule,
      pointer: pointerRule,
      units: textOption('expected units like "°C"'),
      stale_after: numberOption(1, 1_000_000),
      qos: numberOption(0, 1, true),
      username: textOption("expected the broker username"),
      password_file: textOption("expected the path of a file holding the broker password"),
      ca_file: textOption("expected the path of a PEM file with the broker's CA"),
      client_id: textOption("expected a client id"),
    },
  };
}

function defaultName(address: Address): string {
  const slash = address.target.indexOf("/");
  const topic = slash < 0 ? address.target : address.target.slice(slash + 1);
  return topic.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "") || "mqtt";
}

/** `mqtt://HOST[:1883]/TOPIC` without its `open`. */
export const MQTT_INFO: DriverInfo = {
  scheme: "mqtt",
  summary: "values a device publishes to an MQTT broker (JSON pointers, plain numbers)",
  example: "mqtt://broker.lab/tele/plug1/SENSOR?pointer=/ENERGY/Power&units=W",
  defaultName,
  options: () => options("mqtt"),
};

/** `mqtts://HOST[:8883]/TOPIC` (TLS) without its `open`. */
export const MQTTS_INFO: DriverInfo = {
  scheme: "mqtts",
  summary: "the same over TLS (ca_file for a private CA)",
  example: "mqtts://broker.lab/tele/plug1/SENSOR?pointer=/ENERGY/Power&units=W",
  defaultName,
  options: () => options("mqtts"),
};
