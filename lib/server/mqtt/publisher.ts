/**
 * What `serve --mqtt` does on the broker (topics in `./topics.ts`): the daemon's state with a
 * last will, each device's state, each reading (the API's JSON shape), each attribute's last
 * value (retained), alarm events, and — only when switched on — writes from
 * `PREFIX/DEVICE/ATTR/set`, validated and refused exactly as the HTTP API's `PUT` does, with
 * the outcome on `PREFIX/DEVICE/ATTR/result`. The broker connection (backoff, bounded buffer)
 * is {@linkcode MqttLink}'s.
 *
 * @module
 */
import type { AlarmEvent } from "../../alarm/event.ts";
import type { Value } from "../../device/attr.ts";
import type { Reading } from "../../device/device.ts";
import type { Lab } from "../../lab/lab.ts";
import type { DeviceManager } from "../../lab/manager.ts";
import { type BrokerUrl, MqttLink, type OutMessage } from "../../transport/mqtt.ts";
import { HttpError, toHttpError } from "../http_error.ts";
import { readingJson } from "../../output/record.ts";
import {
  alarmsTopic,
  daemonStateTopic,
  deviceStateTopic,
  parseSetTopic,
  readingTopic,
  resultTopic,
  setFilter,
  setValue,
  valueTopic,
} from "./topics.ts";

/** Writes in flight at once; more are refused (`busy`) rather than queued without bound. */
export const MAX_PENDING_WRITES = 64;
/** Largest write request payload, bytes. */
export const MAX_SET_PAYLOAD = 64 * 1024;

/** Everything a publisher is started with. */
export interface MqttPublisherOptions {
  /** The broker. */
  broker: BrokerUrl;
  /** Client id. */
  clientId: string;
  /** Topic prefix. */
  prefix: string;
  /** Broker username. */
  username?: string;
  /** Broker password. */
  password?: string;
  /** PEM CA of the broker's certificate (`mqtts://`). */
  ca?: string;
  /** QoS of readings, values and events. */
  qos: 0 | 1;
  /** Retain each attribute's last value. */
  retain: boolean;
  /** Accept writes. */
  writes: boolean;
  /** Messages kept while the broker is away. */
  buffer: number;
  /** Timeout of a write's device calls, ms (default 5000, as the HTTP API). */
  timeoutMs?: number;
  /** First reconnect delay, ms (tests make it short). */
  minBackoffMs?: number;
  /** Where transitions and writes are logged. */
  log?: (level: "info" | "notice" | "warn", message: string) => void;
}

/** Counters for `/metrics`. */
export interface MqttPublisherStats {
  /** Write requests answered, by outcome. */
  writes: { ok: number; refused: number };
}

/** One device's topics, made once (no string building per reading). */
interface DeviceTopics {
  reading: string;
  state: string;
  values: Map<string, string>;
  /** The state last published (`online` / `offline`), if any. */
  published?: string;
  /** The device. */
  manager: DeviceManager;
  /** Stops following its readings. */
  off: () => void;
}

/** `serve --mqtt` on a Lab (see the module doc). */
export class MqttPublisher {
  readonly #opts: MqttPublisherOptions;
  readonly #lab: Lab;
  readonly #link: MqttLink;
  readonly #topics = new Map<string, DeviceTopics>();
  readonly #detach: (() => void)[] = [];
  #pending = 0;
  /** Write outcomes. */
  readonly stats: MqttPublisherStats = { writes: { ok: 0, refused: 0 } };

  /** Connects (in the background) and follows every device of `lab`. */
  constructor(lab: Lab, opts: MqttPublisherOptions) {
    this.#opts = opts;
    this.#lab = lab;
    this.#link = new MqttLink({
      broker: opts.broker,
      clientId: opts.clientId,
      username: opts.username,
      password: opts.password,
      ca: opts.ca,
      bufferLimit: opts.buffer,
      minBackoffMs: opts.minBackoffMs,
      will: { topic: daemonStateTopic(opts.prefix), payload: "offline", qos: 1, retain: true },
      onConnect: () => this.#announce(),
      onMessage: (topic, payload) => this.#onSet(topic, payload),
      log: opts.log,
    });
    this.#link.subscribe(setFilter(opts.prefix), 1);
    // Configured devices and those added, changed or removed at run time (POST/DELETE
    // /api/devices, SIGHUP) are published alike, and said to be gone when removed.
    this.#detach.push(lab.eachDevice((m) => {
      this.#follow(m);
      return () => this.#forget(m);
    }));
  }

  #follow(m: DeviceManager): void {
    const p = this.#opts.prefix;
    this.#topics.set(m.name, {
      reading: readingTopic(p, m.name),
      state: deviceStateTopic(p, m.name),
      values: new Map(),
      manager: m,
      off: m.onReading((r) => this.#onReading(m, r)),
    });
  }

  /** A removed device: `offline` on its state topic, its retained values cleared. */
  #forget(m: DeviceManager): void {
    const t = this.#topics.get(m.name);
    if (t?.manager !== m) return;
    t.off();
    this.#topics.delete(m.name);
    this.#link.publish({ topic: t.state, payload: "offline", qos: 1, retain: true });
    for (const topic of t.values.values()) {
      // an empty retained message deletes the retained one (MQTT 3.1.1 §3.3.1.3)
      this.#link.publish({ topic, payload: "", qos: this.#opts.qos, retain: true });
    }
  }

  /** The broker connection (its counters and state, for `/metrics`). */
  get link(): MqttLink {
    return this.#link;
  }

  /** Publishes an alarm event on `PREFIX/$alarms`. */
  alarm(e: AlarmEvent): void {
    this.#link.publish({
      topic: alarmsTopic(this.#opts.prefix),
      payload: JSON.stringify(e),
      qos: this.#opts.qos,
      retain: false,
    });
  }

  /**
   * On every (re)connection: the daemon is online, and each device's known state (a broker
   * restarted without persistence has forgotten the retained ones).
   */
  #announce(): void {
    this.#link.publish({
      topic: daemonStateTopic(this.#opts.prefix),
      payload: "online",
      qos: 1,
      retain: true,
    });
    for (const t of this.#topics.values()) {
      t.published = undefined;
      this.#publishState(t.manager, t);
    }
  }

  #publishState(m: DeviceManager, t: DeviceTopics): void {
    if (m.state === "unknown") return;
    const state = m.state === "up" ? "online" : "offline";
    if (t.published === state) return;
    t.published = state;
    this.#link.publish({ topic: t.state, payload: state, qos: 1, retain: true });
  }

  #onReading(m: DeviceManager, r: Reading): void {
    const t = this.#topics.get(m.name);
    if (t?.manager !== m) return;
    this.#publishState(m, t);
    const { qos, retain } = this.#opts;
    this.#link.publish({ topic: t.reading, payload: readingJson(r), qos, retain: false });
    if (r.error !== undefined) return;
    for (const attr in r.values) {
      let topic = t.values.get(attr);
      if (topic === undefined) {
        topic = valueTopic(this.#opts.prefix, m.name, attr);
        t.values.set(attr, topic);
      }
      this.#link.publish({ topic, payload: valueText(r.values[attr]!), qos, retain });
    }
  }

  #onSet(topic: string, payload: Uint8Array): void {
    const target = parseSetTopic(this.#opts.prefix, topic);
    if (!target) return;
    const { device, attr } = target;
    const answer = (body: object) =>
      this.#link.publish({
        topic: resultTopic(this.#opts.prefix, device, attr),
        payload: JSON.stringify({ t: Date.now() / 1000, device, attr, ...body }),
        qos: 1,
        retain: false,
      });
    const refuse = (err: HttpError) => {
      this.stats.writes.refused++;
      this.#opts.log?.("info", `MQTT write ${device}.${attr} refused: ${err.message}`);
      answer(err.body());
    };
    if (!this.#opts.writes) {
      return refuse(
        new HttpError(
          401,
          "MQTT writes are off; switch them on with [mqtt] writes = true (or --mqtt-writes)",
          "writes_off",
        ),
      );
    }
    if (payload.length > MAX_SET_PAYLOAD) {
      return refuse(new HttpError(413, `a write payload is at most ${MAX_SET_PAYLOAD} bytes`));
    }
    if (this.#pending >= MAX_PENDING_WRITES) {
      return refuse(
        new HttpError(409, `${MAX_PENDING_WRITES} writes are already waiting; try again`, "busy"),
      );
    }
    this.#pending++;
    this.#write(device, attr, setValue(new TextDecoder().decode(payload)))
      .then((value) => {
        this.stats.writes.ok++;
        answer({ value });
      }, (err) => refuse(toHttpError(err)))
      .finally(() => this.#pending--);
  }

  /** The HTTP API's `PUT /api/devices/NAME/attrs/ATTR`, step by step. */
  async #write(device: string, attr: string, value: unknown): Promise<Value> {
    const m = this.#lab.find(device);
    if (!m) {
      throw new HttpError(404, `no device "${device}"; devices: ${this.#lab.names.join(", ")}`);
    }
    const timeout = this.#opts.timeoutMs ?? 5000;
    const attrs = await m.attrs({ timeout });
    if (!attrs.some((a) => a.name === attr)) {
      throw new HttpError(
        404,
        `${device} has no attribute "${attr}"; it has: ${attrs.map((a) => a.name).join(", ")}`,
      );
    }
    // A task that writes or a scan owns the device: refused, as over HTTP.
    if (this.#lab.owners.holder(device) !== undefined) {
      throw new HttpError(409, `${device} is busy with a task or scan; stop it first`);
    }
    const back = await m.write(attr, value, { timeout });
    this.#opts.log?.(
      "info",
      `MQTT write ${device}.${attr} = ${JSON.stringify(value)} (read-back ${JSON.stringify(back)})`,
    );
    return back;
  }

  /** The `/metrics` lines of the MQTT link. */
  metrics(): string {
    const s = this.#link.stats;
    const lines: string[] = [];
    const add = (name: string, type: string, help: string, value: string | number) =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
    add(
      "labwire_mqtt_connected",
      "gauge",
      "1 while connected to the MQTT broker.",
      this.#link.connected ? 1 : 0,
    );
    add(
      "labwire_mqtt_messages_sent_total",
      "counter",
      "Messages handed to the MQTT broker.",
      s.sent,
    );
    add(
      "labwire_mqtt_messages_buffered",
      "gauge",
      "Messages waiting for the MQTT broker (bounded by [mqtt] buffer).",
      this.#link.buffered,
    );
    add(
      "labwire_mqtt_messages_dropped_total",
      "counter",
      "Messages dropped (oldest first) because the broker was away longer than the buffer holds.",
      s.dropped,
    );
    add(
      "labwire_mqtt_reconnects_total",
      "counter",
      "Reconnections to the MQTT broker.",
      s.reconnects,
    );
    lines.push(
      "# HELP labwire_mqtt_writes_total Write requests from PREFIX/DEVICE/ATTR/set, by outcome.",
      "# TYPE labwire_mqtt_writes_total counter",
      `labwire_mqtt_writes_total{result="ok"} ${this.stats.writes.ok}`,
      `labwire_mqtt_writes_total{result="refused"} ${this.stats.writes.refused}`,
    );
    return lines.join("\n") + "\n";
  }

  /** Says every device and the daemon are offline, then disconnects (no last will). */
  async close(): Promise<void> {
    for (const d of this.#detach) d();
    this.#detach.length = 0;
    for (const t of this.#topics.values()) t.off();
    const last: OutMessage[] = [...this.#topics.values()].map((t) => ({
      topic: t.state,
      payload: "offline",
      qos: 1,
      retain: true,
    }));
    last.push({
      topic: daemonStateTopic(this.#opts.prefix),
      payload: "offline",
      qos: 1,
      retain: true,
    });
    await this.#link.close(last);
  }
}

/** An attribute's value as its retained payload: JSON (a number prints as a plain number). */
function valueText(v: Value): string {
  return typeof v === "number" ? numberText(v) : JSON.stringify(v);
}

/** JSON has no NaN or infinities: they are published as `null`, as in a reading's JSON. */
function numberText(v: number): string {
  return Number.isFinite(v) ? String(v) : "null";
}
