/**
 * The topic layout of `serve --mqtt` (the README documents the same table). Under PREFIX
 * (default `labwire`):
 *
 * | topic                     | payload                                        | retained |
 * |---------------------------|------------------------------------------------|----------|
 * | `PREFIX/$state`           | `online`; the last will says `offline`          | yes      |
 * | `PREFIX/DEVICE/$state`    | `online` / `offline` (the device answers or not)| yes      |
 * | `PREFIX/DEVICE`           | each reading, the API's JSON shape              | no       |
 * | `PREFIX/DEVICE/ATTR`      | the attribute's last value, JSON                | `retain` |
 * | `PREFIX/DEVICE/ATTR/set`  | a write: a JSON value (or bare text)            | —        |
 * | `PREFIX/DEVICE/ATTR/result` | the write's outcome: read-back or error       | no       |
 * | `PREFIX/$alarms`          | each alarm event, JSON                          | no       |
 *
 * Device names and attribute names never contain `$`, so the `$` topics cannot collide with
 * them.
 *
 * @module
 */

/** The daemon's own state topic (and last will). */
export function daemonStateTopic(prefix: string): string {
  return `${prefix}/$state`;
}

/** A device's state topic. */
export function deviceStateTopic(prefix: string, device: string): string {
  return `${prefix}/${device}/$state`;
}

/** The topic of a device's readings. */
export function readingTopic(prefix: string, device: string): string {
  return `${prefix}/${device}`;
}

/** The retained topic of one attribute's last value. */
export function valueTopic(prefix: string, device: string, attr: string): string {
  return `${prefix}/${device}/${attr}`;
}

/** The topic where a write's outcome is published. */
export function resultTopic(prefix: string, device: string, attr: string): string {
  return `${prefix}/${device}/${attr}/result`;
}

/** The alarm events topic. */
export function alarmsTopic(prefix: string): string {
  return `${prefix}/$alarms`;
}

/** The subscription that receives every write request under `prefix`. */
export function setFilter(prefix: string): string {
  return `${prefix}/+/+/set`;
}

/**
 * The device and attribute of a write request's topic, or undefined when `topic` is not one.
 *
 * @example
 * ```ts
 * import { parseSetTopic } from "./topics.ts";
 * parseSetTopic("lab/pc1", "lab/pc1/motor/position/set"); // { device: "motor", attr: "position" }
 * ```
 */
export function parseSetTopic(
  prefix: string,
  topic: string,
): { device: string; attr: string } | undefined {
  if (!topic.startsWith(prefix + "/") || !topic.endsWith("/set")) return undefined;
  const parts = topic.slice(prefix.length + 1, -4).split("/");
  if (parts.length !== 2 || parts[0] === "" || parts[1] === "") return undefined;
  return { device: parts[0]!, attr: parts[1]! };
}

/**
 * The value of a write request's payload: JSON (`5`, `true`, `"on"`, `[1,2]`), or the bare text
 * when it is not JSON (so `mosquitto_pub -m idle` writes the string `idle`).
 *
 * @example
 * ```ts
 * import { setValue } from "./topics.ts";
 * setValue("12.5"); // 12.5
 * setValue("idle"); // "idle"
 * ```
 */
export function setValue(payload: string): unknown {
  try {
    return JSON.parse(payload);
  } catch {
    return payload;
  }
}
