/**
 * `labwire serve --mqtt mqtt://HOST[:1883]` (or an `[mqtt]` section): the MQTT publisher as a
 * `serve` add-on. Importing this module registers it (a static import from `cmd/serve.ts`, so
 * `deno compile` carries it). Settings in `./options.ts`, topics in `./topics.ts`.
 *
 * @module
 */
import type { ActiveAlarm } from "../../alarm/engine.ts";
import type { AlarmEvent } from "../../alarm/event.ts";
import { type AddonContext, registerServeAddon, type ServeAddon } from "../addon.ts";
import { isLoopback } from "../listen.ts";
import { MQTT_FLAGS, MQTT_HELP, mqttServeOptions, mqttWanted, readSecretLine } from "./options.ts";
import { MqttPublisher } from "./publisher.ts";
import { readNamedFile } from "../../config/named_file.ts";

/** A client id unique enough that two daemons on one host do not push each other off. */
function defaultClientId(): string {
  const random = crypto.getRandomValues(new Uint8Array(3));
  return `labwire-${Deno.hostname()}-${
    [...random].map((b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/** The `serve --mqtt` add-on. */
export const mqttServeAddon: ServeAddon = {
  name: "mqtt",
  flags: MQTT_FLAGS,
  help: MQTT_HELP,
  wanted: mqttWanted,
  async start(ctx: AddonContext) {
    const o = mqttServeOptions(ctx.flags, ctx.config);
    const password = o.passwordFile === undefined
      ? undefined
      : await readSecretLine(o.passwordFile, "password_file");
    const ca = o.caFile === undefined ? undefined : await readNamedFile("[mqtt] ca_file", o.caFile);
    if (!o.broker.tls && !isLoopback(o.broker.host)) {
      ctx.log.log(
        "warn",
        `MQTT to ${o.broker.host}:${o.broker.port} without TLS: ${
          password === undefined ? "readings" : "the broker password and readings"
        } cross the network in clear text; use mqtts:// ([mqtt] ca_file) where the broker offers it`,
      );
    }
    const publisher = new MqttPublisher(ctx.lab, {
      broker: o.broker,
      clientId: o.clientId ?? defaultClientId(),
      prefix: o.prefix,
      username: o.username,
      password,
      ca,
      qos: o.qos,
      retain: o.retain,
      writes: o.writes,
      buffer: o.buffer,
      log: (level, message) => ctx.log.log(level, message),
    });
    ctx.addMetrics?.(() => publisher.metrics());
    const alarms = ctx.alarms as
      | { on?(fn: (e: AlarmEvent) => void): () => void; active(): unknown[] }
      | undefined;
    let detach = () => {};
    if (alarms && typeof alarms.on === "function") {
      // Alarms that tripped before the broker was there, then every transition.
      for (const a of alarms.active() as ActiveAlarm[]) {
        const { name, kind, device, attr, severity, value, message } = a;
        publisher.alarm({
          t: a.since,
          name,
          kind,
          device,
          ...(attr !== undefined ? { attr } : {}),
          severity,
          state: "active",
          value,
          message,
        });
      }
      detach = alarms.on((e) => publisher.alarm(e));
    }
    ctx.log.log(
      "notice",
      `publishing to mqtt${
        o.broker.tls ? "s" : ""
      }://${o.broker.host}:${o.broker.port} under ${o.prefix}/ (writes ${o.writes ? "on" : "off"})`,
    );
    return {
      async close() {
        detach();
        await publisher.close();
        const st = publisher.link.stats;
        ctx.log.log(
          "notice",
          `MQTT: ${st.sent} messages sent, ${st.dropped} dropped, ${st.reconnects} reconnections`,
        );
      },
    };
  },
};

registerServeAddon(mqttServeAddon);
