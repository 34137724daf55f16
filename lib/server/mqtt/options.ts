/**
 * Settings of `serve --mqtt`: the `[mqtt]` section of labwire.toml and the flags. Flags win.
 * A `[mqtt]` section with a `url` starts publishing by itself unless it says `enabled = false`.
 *
 * ```toml
 * [mqtt]
 * url = "mqtt://broker.lab:1883"     # or mqtts://broker.lab:8883 (TLS)
 * client_id = "labwire-pc1"          # default labwire-HOSTNAME-RANDOM
 * prefix = "lab/pc1"                 # topics are PREFIX/DEVICE/…; default "labwire"
 * username = "pc1"                   # when the broker wants one
 * password_file = "/etc/labwire/mqtt-password"  # first line
 * ca_file = "/etc/labwire/broker-ca.pem"        # mqtts://: the CA of the broker's certificate
 * qos = 0                            # 0 or 1, for readings, values and events
 * retain = true                      # retain each attribute's last value (default true)
 * writes = false                     # accept PREFIX/DEVICE/ATTR/set (default false)
 * buffer = 10000                     # messages kept while the broker is away
 * ```
 *
 * @module
 */
import { besideConfig } from "../../config/beside_config.ts";
import { boolFlag, type FlagSpecs, type ParsedFlags, stringFlag } from "../../cli/flags.ts";
import type { LabConfig } from "../../config/load.ts";
import { parseWith } from "../../config/fields.ts";
import { MQTT_SCHEMA } from "../../config/schema.ts";
import { UsageError } from "../../device/errors.ts";
import { type BrokerUrl, parseBrokerUrl } from "../../transport/mqtt.ts";
import { readNamedFile } from "../../config/named_file.ts";

/** What the MQTT add-on runs with. */
export interface MqttServeOptions {
  /** The broker. */
  broker: BrokerUrl;
  /** Client id; undefined picks `labwire-HOSTNAME-RANDOM`. */
  clientId?: string;
  /** Topic prefix (default `labwire`). */
  prefix: string;
  /** Broker username. */
  username?: string;
  /** File whose first line is the broker password. */
  passwordFile?: string;
  /** PEM file of the CA that signed the broker's certificate. */
  caFile?: string;
  /** QoS of what is published. */
  qos: 0 | 1;
  /** Retain each attribute's last value. */
  retain: boolean;
  /** Accept writes on `PREFIX/DEVICE/ATTR/set`. */
  writes: boolean;
  /** Messages kept while the broker is away. */
  buffer: number;
}

/** Default topic prefix. */
export const DEFAULT_MQTT_PREFIX = "labwire";
/** Default number of messages kept while the broker is away. */
export const DEFAULT_MQTT_BUFFER = 10_000;

/** The flags `labwire serve` takes for MQTT. */
export const MQTT_FLAGS: FlagSpecs = {
  mqtt: { type: "string" },
  "mqtt-prefix": { type: "string" },
  "mqtt-writes": { type: "boolean" },
};

/** Lines for `serve --help`. */
export const MQTT_HELP =
  `      --mqtt URL           also publish to an MQTT broker (mqtt://HOST[:1883],
                           mqtts://HOST[:8883]): device states, readings, each
                           attribute's last value (retained) and alarm events
                           ([mqtt] section: client_id, username, password_file,
                           ca_file, qos, retain, buffer)
      --mqtt-prefix P      topic prefix (default labwire; [mqtt] prefix)
      --mqtt-writes        accept writes on P/DEVICE/ATTR/set, validated like the
                           HTTP API's (default off; [mqtt] writes = true)
`;

function raw(config?: LabConfig) {
  const section = config?.sections.mqtt;
  return section === undefined
    ? undefined
    : parseWith(MQTT_SCHEMA, section, config?.file, ["mqtt"]);
}

/** True when `--mqtt` is given, or the config has an `[mqtt]` url not switched off. */
export function mqttWanted(flags: ParsedFlags, config?: LabConfig): boolean {
  if (stringFlag(flags, "mqtt") !== undefined) return true;
  const s = raw(config);
  return s?.url !== undefined && s.enabled !== false;
}

/**
 * The add-on's settings from the flags over `[mqtt]` (pure: files named are read at start).
 *
 * @example
 * ```ts ignore
 * mqttServeOptions({ values: { mqtt: "mqtt://127.0.0.1" }, positionals: [] }).prefix; // "labwire"
 * ```
 */
export function mqttServeOptions(flags: ParsedFlags, config?: LabConfig): MqttServeOptions {
  const s = raw(config) ?? {};
  const url = stringFlag(flags, "mqtt") ?? s.url;
  if (url === undefined) {
    throw new UsageError("MQTT needs a broker: --mqtt mqtt://HOST[:1883] or [mqtt] url");
  }
  const broker = parseBrokerUrl(url.replace(/\/$/, ""));
  if (typeof broker === "string" || broker.path !== "") {
    throw new UsageError(
      `--mqtt: ${
        typeof broker === "string"
          ? broker
          : `"${url}" has a path; the topic prefix is --mqtt-prefix`
      }`,
      "e.g. --mqtt mqtt://127.0.0.1:1883",
    );
  }
  const prefix = stringFlag(flags, "mqtt-prefix") ?? s.prefix ?? DEFAULT_MQTT_PREFIX;
  if (prefix === "" || /[#+\s]/.test(prefix) || /^\/|\/$|^\$/.test(prefix)) {
    throw new UsageError(
      `--mqtt-prefix: "${prefix}" is not a topic prefix (no #, +, spaces, or / at either end)`,
    );
  }
  return {
    broker,
    clientId: s.client_id,
    prefix,
    username: s.username,
    // Relative to the config file, as every path the config names (see besideConfig).
    passwordFile: s.password_file === undefined
      ? undefined
      : besideConfig(s.password_file, config?.file),
    caFile: s.ca_file === undefined ? undefined : besideConfig(s.ca_file, config?.file),
    qos: s.qos ?? 0,
    retain: s.retain ?? true,
    writes: boolFlag(flags, "mqtt-writes") || (s.writes ?? false),
    buffer: s.buffer ?? DEFAULT_MQTT_BUFFER,
  };
}

/** Reads the first line of a secret file; a usage error naming the file when it cannot. */
export async function readSecretLine(file: string, what: string): Promise<string> {
  return (await readNamedFile(`[mqtt] ${what}`, file)).split(/\r?\n/)[0]!.trim();
}
