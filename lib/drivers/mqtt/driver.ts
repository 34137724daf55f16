/**
 * `mqtt://HOST[:1883]/TOPIC` (and `mqtts://`): a device that publishes to a broker — a Tasmota
 * plug, an ESPHome or Shelly sensor, a labwire daemon, or anything sending plain numbers. The
 * device subscribes to its topics and keeps the latest message of each; a read answers from
 * them (waiting for the first one up to the timeout), and a value older than `stale_after`
 * sampling intervals (default 3) is an error reading, so a device that stopped publishing shows
 * as down. `subscribe` hands every message on as it comes (`labwire stream` follows instead of
 * polling). A write publishes on the value's declared `command` topic. Values, pointers and
 * payloads are `./protocol.ts`'s.
 *
 * ```toml
 * [devices.plug]
 * address = "mqtt://broker.lab/tele/plug1/SENSOR"
 * interval = "10s"                    # Tasmota's TelePeriod: how often it publishes
 * values.power = { pointer = "/ENERGY/Power", units = "W" }
 * values.relay = { topic = "stat/plug1/POWER", type = "boolean", payload_on = "ON", payload_off = "OFF", command = "cmnd/plug1/POWER" }
 * ```
 *
 * @module
 */
import { BrokerOutage } from "./outage.ts";
import type { Address } from "../../device/address.ts";
import { findAttr, type Value, type Values } from "../../device/attr.ts";
import type { CallOptions, Device, Subscription } from "../../device/device.ts";
import { formatMs } from "../../device/device.ts";
import { DeviceError, TimeoutError, UsageError } from "../../device/errors.ts";
import type { Driver, OpenContext } from "../../device/registry.ts";
import { type BrokerUrl, MqttLink, parseBrokerUrl } from "../../transport/mqtt.ts";
import { MQTT_INFO, MQTTS_INFO } from "./driver_info.ts";
import {
  decodeValue,
  encodeCommand,
  isTopic,
  PayloadError,
  specAttr,
  type ValueSpec,
  valueSpecs,
} from "./protocol.ts";
import { fileOption } from "../../config/beside_config.ts";
import { readNamedFile } from "../../config/named_file.ts";
import { addressOption } from "../../config/options.ts";

/** Default number of sampling intervals after which a value is stale. */
export const DEFAULT_STALE_AFTER = 3;
/** Default timeout of a read waiting for a first message, ms. */
const DEFAULT_TIMEOUT_MS = 5000;
/** Largest payload kept per topic, bytes (a bigger message is refused, not stored). */
export const MAX_PAYLOAD = 256 * 1024;

/** The latest message of a topic. */
interface Latest {
  payload: string;
  /** Arrival, epoch ms. */
  at: number;
}

/** Everything an `mqtt://` device is opened with. */
export interface MqttDeviceOptions {
  /** Device name. */
  name: string;
  /** The address text. */
  address: string;
  /** The broker. */
  broker: BrokerUrl;
  /** The values it declares. */
  values: ValueSpec[];
  /** Read timeout, ms. */
  timeout: number;
  /** A value older than this is stale, ms. */
  staleMs: number;
  /** QoS of the subscriptions and commands. */
  qos: 0 | 1;
  /** Broker login. */
  username?: string;
  /** Broker password. */
  password?: string;
  /** PEM CA for `mqtts://`. */
  ca?: string;
  /** Client id (default labwire-NAME-RANDOM). */
  clientId?: string;
}

/** An `mqtt://` device (see the module doc). */
export class MqttDevice implements Device {
  readonly driver: string;
  readonly name: string;
  readonly address: string;
  readonly #opts: MqttDeviceOptions;
  readonly #latest = new Map<string, Latest>();
  readonly #waiters = new Set<() => void>();
  readonly #followers = new Set<(topic: string) => void>();
  /** The unreachable-broker reports of open subscriptions (stopped by close, whoever forgot). */
  readonly #reporters = new Set<BrokerOutage>();
  #link: MqttLink | undefined;

  /** A device on `opts.broker`; it connects on first use. */
  constructor(opts: MqttDeviceOptions) {
    this.#opts = opts;
    this.name = opts.name;
    this.address = opts.address;
    this.driver = opts.broker.tls ? "mqtts" : "mqtt";
  }

  #connect(): MqttLink {
    if (this.#link) return this.#link;
    const o = this.#opts;
    const random = crypto.getRandomValues(new Uint8Array(3));
    this.#link = new MqttLink({
      broker: o.broker,
      clientId: o.clientId ??
        `labwire-${o.name}-${[...random].map((b) => b.toString(16).padStart(2, "0")).join("")}`,
      username: o.username,
      password: o.password,
      ca: o.ca,
      // A device only reads: nothing is buffered for it.
      bufferLimit: 1,
      onMessage: (topic, payload) => this.#onMessage(topic, payload),
    });
    for (const topic of new Set(o.values.map((v) => v.topic))) this.#link.subscribe(topic, o.qos);
    return this.#link;
  }

  #onMessage(topic: string, payload: Uint8Array): void {
    if (payload.length > MAX_PAYLOAD) return;
    this.#latest.set(topic, { payload: new TextDecoder().decode(payload), at: Date.now() });
    for (const wake of [...this.#waiters]) wake();
    this.#followers.forEach((fn) => fn(topic));
  }

  attrs(): Promise<ReturnType<typeof specAttr>[]> {
    return Promise.resolve(this.#opts.values.map(specAttr));
  }

  async read(names?: readonly string[], opts?: CallOptions): Promise<Values> {
    const link = this.#connect();
    const specs = names === undefined ? this.#opts.values : names.map((n) => this.#spec(n));
    const timeout = opts?.timeout ?? this.#opts.timeout;
    await this.#firstMessages(specs, timeout, link, opts?.signal);
    const now = Date.now();
    const out: Values = {};
    for (const s of specs) {
      const latest = this.#latest.get(s.topic)!;
      const age = now - latest.at;
      if (age > this.#opts.staleMs) {
        throw new DeviceError(
          `stale: the last message on ${s.topic} is ${(age / 1000).toFixed(1)} s old (more than ${
            (this.#opts.staleMs / 1000).toFixed(1)
          } s: stale_after intervals); is the device still publishing?`,
          this.name,
        );
      }
      out[s.name] = this.#decode(s, latest.payload);
    }
    return out;
  }

  #decode(s: ValueSpec, payload: string): Value {
    try {
      return decodeValue(s, payload);
    } catch (err) {
      if (err instanceof PayloadError) throw new DeviceError(err.message, this.name);
      throw err;
    }
  }

  #spec(name: string): ValueSpec {
    findAttr(this.#opts.values.map(specAttr), name, this.name);
    return this.#opts.values.find((v) => v.name === name)!;
  }

  /** Waits until every topic of `specs` has had a message (retained ones come at once). */
  async #firstMessages(
    specs: readonly ValueSpec[],
    timeout: number,
    link: MqttLink,
    signal?: AbortSignal,
  ): Promise<void> {
    const missing = () => specs.filter((s) => !this.#latest.has(s.topic));
    if (missing().length === 0) return;
    let wake!: () => void;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        wake = () => missing().length === 0 && resolve();
        this.#waiters.add(wake);
        timer = setTimeout(() => {
          const topics = [...new Set(missing().map((s) => s.topic))].join(", ");
          reject(
            new TimeoutError(
              link.connected
                ? `no message on ${topics} within ${
                  formatMs(timeout)
                }; is the device publishing there?`
                : `cannot reach the MQTT broker ${this.#opts.broker.host}:${this.#opts.broker.port}${
                  link.lastError ? ` (${link.lastError})` : ""
                }`,
              this.name,
            ),
          );
        }, timeout);
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    } finally {
      clearTimeout(timer);
      this.#waiters.delete(wake);
    }
  }

  async write(name: string, value: Value, opts?: CallOptions): Promise<void> {
    const s = this.#spec(name);
    if (s.command === undefined) {
      throw new DeviceError(`${name} has no command topic to write to`, this.name);
    }
    const link = this.#connect();
    const timeout = opts?.timeout ?? this.#opts.timeout;
    const started = Date.now();
    // The first write of a fresh device may come before its connection is up.
    await link.waitConnected(timeout);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        link.publishNow({
          topic: s.command,
          payload: encodeCommand(s, value),
          qos: this.#opts.qos,
          retain: false,
        }),
        new Promise((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new TimeoutError(
                  `no acknowledgement of ${s.command} within ${formatMs(timeout)}`,
                  this.name,
                ),
              ),
            Math.max(0, timeout - (Date.now() - started)),
          );
        }),
      ]);
    } catch (err) {
      if (err instanceof DeviceError) throw err;
      throw new DeviceError((err as Error).message, this.name, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  techniques(): string[] {
    return [];
  }

  /**
   * Hands on the values of every message as it arrives (those of its topic), after the latest
   * one known of each topic (a retained value, typically). When the broker cannot be reached, an
   * error says so a timeout into the outage, then again with back-off while it lasts
   * ({@linkcode BrokerOutage}; a stream of the device would otherwise print nothing at all).
   */
  subscribe(
    names: readonly string[] | undefined,
    onValues: (values: Values, t: number, error?: string) => void,
    opts?: CallOptions,
  ): Promise<Subscription> {
    // Unknown names throw here, before there is a timer to leak.
    const specs = names === undefined ? this.#opts.values : names.map((n) => this.#spec(n));
    const link = this.#connect();
    // A connected broker with no message yet is a device that has not published (normal for a
    // push device); an unreachable broker is a failure, said as a read says it.
    const unreachable = new BrokerOutage(link, opts?.timeout ?? this.#opts.timeout, () =>
      onValues(
        {},
        Date.now() / 1000,
        `cannot reach the MQTT broker ${this.#opts.broker.host}:${this.#opts.broker.port}${
          link.lastError ? ` (${link.lastError})` : ""
        }`,
      ));
    const follow = (topic: string) => {
      const latest = this.#latest.get(topic);
      if (!latest) return;
      const values: Values = {};
      for (const s of specs) {
        if (s.topic !== topic) continue;
        try {
          values[s.name] = decodeValue(s, latest.payload);
        } catch {
          // A payload without this value (another message on a shared topic) leaves it out.
        }
      }
      if (Object.keys(values).length > 0) onValues(values, latest.at / 1000);
    };
    for (const topic of new Set(specs.map((s) => s.topic))) follow(topic);
    this.#followers.add(follow);
    this.#reporters.add(unreachable);
    return Promise.resolve({
      close: () => {
        unreachable.stop();
        this.#reporters.delete(unreachable);
        this.#followers.delete(follow);
        return Promise.resolve();
      },
    });
  }

  async close(): Promise<void> {
    // A subscription its caller never closed must not report the closed link forever.
    for (const r of this.#reporters) r.stop();
    this.#reporters.clear();
    for (const wake of this.#waiters) wake();
    await this.#link?.close([], 500);
    this.#link = undefined;
  }
}

async function open(address: Address, ctx: OpenContext): Promise<Device> {
  const broker = parseBrokerUrl(`${address.scheme}://${address.target}`);
  if (typeof broker === "string") throw new UsageError(`${address.text}: ${broker}`);
  if (!isTopic(broker.path)) {
    throw new UsageError(
      `${address.text}: expected a topic after the broker, e.g. mqtt://broker.lab/tele/plug1/SENSOR`,
    );
  }
  const rules = (address.scheme === "mqtts" ? MQTTS_INFO : MQTT_INFO).options!(address.target)!
    .rules;
  const get = (key: string) => addressOption(key, address, ctx.options, rules);
  const values = valueSpecs(
    broker.path,
    get("values") as Record<string, Record<string, unknown>> | undefined,
    { pointer: get("pointer") as string | undefined, units: get("units") as string | undefined },
  );
  const path = (key: string) => fileOption(key, address, ctx, rules);
  const passwordFile = path("password_file");
  const caFile = path("ca_file");
  const interval = ctx.interval ?? 1000;
  const staleAfter = (get("stale_after") as number | undefined) ?? DEFAULT_STALE_AFTER;
  return new MqttDevice({
    name: ctx.name,
    address: address.text,
    broker,
    values,
    timeout: ctx.timeout ?? DEFAULT_TIMEOUT_MS,
    staleMs: staleAfter * interval,
    qos: ((get("qos") as number | undefined) ?? 0) as 0 | 1,
    username: get("username") as string | undefined,
    password: passwordFile === undefined
      ? undefined
      : (await readNamedFile("password_file", passwordFile)).split(/\r?\n/)[0]!.trim(),
    ca: caFile === undefined ? undefined : await readNamedFile("ca_file", caFile),
    clientId: get("client_id") as string | undefined,
  });
}

/** The `mqtt://` driver. */
export const mqttDriver: Driver = { ...MQTT_INFO, open };
/** The `mqtts://` driver. */
export const mqttsDriver: Driver = { ...MQTTS_INFO, open };
