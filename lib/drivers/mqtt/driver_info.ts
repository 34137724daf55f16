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
import { checkValues } from "./protocol.ts";

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
