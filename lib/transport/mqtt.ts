/**
 * One connection to an MQTT broker (through MQTT.js, `npm:mqtt`), shared by `serve --mqtt` and
 * the `mqtt://` device: `mqtt://` or `mqtts://` (with a CA file), username and password, a last
 * will, reconnection with exponential backoff (MQTT.js' own reconnect waits a fixed period), and a
 * bounded {@linkcode Outbox} while the broker is away. Subscriptions are made again on every
 * connect. Transitions (lost, back) are logged once each, not per attempt.
 *
 * @module
 */
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { Outbox, type OutMessage } from "./mqtt_outbox.ts";

export type { OutMessage };

/** A broker URL taken apart: `mqtt://HOST[:1883]` or `mqtts://HOST[:8883]`. */
export interface BrokerUrl {
  /** True for `mqtts://`. */
  tls: boolean;
  /** Host name or address. */
  host: string;
  /** Port (1883, or 8883 with TLS, when not given). */
  port: number;
  /** The path after the host, without its leading `/` (a topic for `mqtt://` devices). */
  path: string;
}

/**
 * Parses a broker URL; returns a message saying what is wrong instead of throwing, so config
 * and address parsers can attach their own key path.
 *
 * @example
 * ```ts
 * import { parseBrokerUrl } from "./mqtt.ts";
 * parseBrokerUrl("mqtt://broker.lab"); // { tls: false, host: "broker.lab", port: 1883, path: "" }
 * ```
 */
export function parseBrokerUrl(text: string): BrokerUrl | string {
  const m = /^(mqtts?):\/\/(\[[0-9a-fA-F:.]+\]|[^/:?#\s[\]]+)(?::(\d{1,5}))?(?:\/([^?#]*))?$/.exec(
    text,
  );
  if (!m) {
    return `expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT], got "${text}"`;
  }
  const tls = m[1] === "mqtts";
  const port = m[3] === undefined ? (tls ? 8883 : 1883) : Number(m[3]);
  if (port < 1 || port > 65535) return `port ${m[3]} is out of range 1–65535`;
  let path = m[4] ?? "";
  try {
    path = decodeURIComponent(path);
  } catch {
    return `"${path}" is not a valid URL path`;
  }
  return { tls, host: m[2]!.replace(/^\[|\]$/g, ""), port, path };
}

/** True for an IPv4 or IPv6 address literal (not a host name). */
function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

/** Everything a link is opened with. */
export interface MqttLinkOptions {
  /** The broker. */
  broker: BrokerUrl;
  /** Client id (unique per broker: a second client with the same id pushes the first off). */
  clientId: string;
  /** Username, when the broker wants one. */
  username?: string;
  /** Password, when the broker wants one. */
  password?: string;
  /** PEM CA certificate(s) that signed the broker's certificate (`mqtts://`). */
  ca?: string;
  /** The broker publishes this when the link dies without saying goodbye (kill -9, cable). */
  will?: OutMessage;
  /** Most messages kept while the broker is away (default 10,000). */
  bufferLimit?: number;
  /** Keep-alive, seconds (default 30): how soon the broker notices a dead link. */
  keepaliveS?: number;
  /** First reconnect delay, ms (default 500); doubles up to `maxBackoffMs`. */
  minBackoffMs?: number;
  /** Longest reconnect delay, ms (default 30,000). */
  maxBackoffMs?: number;
  /**
   * Called on every (re)connection, after subscriptions are renewed; what it publishes goes out
   * before the buffer.
   */
  onConnect?: () => void;
  /** Called with every message of a subscription. */
  onMessage?: (topic: string, payload: Uint8Array) => void;
  /** Where transitions are logged. */
  log?: (level: "notice" | "warn", message: string) => void;
}

/** Counters of a link, for `/metrics`. */
export interface MqttLinkStats {
  /** Messages handed to the broker connection. */
  sent: number;
  /** Messages dropped because the buffer was full. */
  dropped: number;
  /** Successful connections after the first. */
  reconnects: number;
}

/** Bytes a connection may hold unsent before further messages are buffered instead. */
const SOCKET_HIGH_WATER = 4 * 1024 * 1024;

/**
 * A broker connection with backoff and a bounded buffer.
 *
 * @example
 * ```ts ignore
 * const link = new MqttLink({ broker: parseBrokerUrl("mqtt://127.0.0.1") as BrokerUrl, clientId: "x" });
 * link.publish({ topic: "lab/g1", payload: "1.5", qos: 0, retain: true });
 * await link.close();
 * ```
 */
export class MqttLink {
  readonly #opts: MqttLinkOptions;
  readonly #client: MqttClient;
  readonly #outbox: Outbox;
  readonly #subscriptions = new Map<string, 0 | 1>();
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closing = false;
  #everConnected = false;
  #lostAt: number | undefined;
  #lastError = "";
  #flushing = false;
  #announcing = false;
  readonly #watchers = new Set<(connected: boolean) => void>();
  /** Counters for `/metrics`. */
  readonly stats: MqttLinkStats = { sent: 0, dropped: 0, reconnects: 0 };

  /** Opens the link (connecting in the background; messages are buffered until connected). */
  constructor(opts: MqttLinkOptions) {
    this.#opts = opts;
    this.#outbox = new Outbox(opts.bufferLimit ?? 10_000);
    const { broker } = opts;
    const options: IClientOptions = {
      protocol: broker.tls ? "mqtts" : "mqtt",
      host: broker.host,
      port: broker.port,
      clientId: opts.clientId,
      clean: true,
      keepalive: opts.keepaliveS ?? 30,
      // Reconnection is ours (exponential backoff); MQTT.js only knows a fixed period.
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      // Nothing queues inside MQTT.js: while disconnected, messages wait in the bounded outbox.
      queueQoSZero: false,
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
      // SNI names a host; an address literal is checked against the certificate's IP names.
      ...(broker.tls
        ? {
          ca: opts.ca,
          rejectUnauthorized: true,
          ...(isIpLiteral(broker.host) ? {} : { servername: broker.host }),
        }
        : {}),
      ...(opts.will
        ? {
          will: {
            topic: opts.will.topic,
            payload: opts.will.payload,
            qos: opts.will.qos,
            retain: opts.will.retain,
          },
        }
        : {}),
    };
    this.#client = mqtt.connect(options);
    this.#client.on("connect", () => this.#connected());
    this.#client.on("close", () => this.#closed());
    this.#client.on("error", (err) => {
      this.#lastError = (err as Error).message;
    });
    this.#client.on("message", (topic, payload) => this.#opts.onMessage?.(topic, payload));
  }

  /** True while connected to the broker. */
  get connected(): boolean {
    return this.#client.connected;
  }

  /** Resolves once connected (at once when connected), or false after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<boolean> {
    if (this.#client.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.#client.off("connect", onConnect);
        resolve(ok);
      };
      const onConnect = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#client.on("connect", onConnect);
    });
  }

  /**
   * Calls `fn` with `true` on every connection and `false` on every connection lost or attempt
   * failed (not on {@linkcode MqttLink.close}); returns the function that stops it.
   */
  watch(fn: (connected: boolean) => void): () => void {
    this.#watchers.add(fn);
    return () => this.#watchers.delete(fn);
  }

  /** The last connection error (empty when none yet), for messages. */
  get lastError(): string {
    return this.#lastError;
  }

  /** Messages waiting for the broker. */
  get buffered(): number {
    return this.#outbox.size;
  }

  /** Subscribes now (when connected) and again on every reconnection. */
  subscribe(filter: string, qos: 0 | 1 = 0): void {
    this.#subscriptions.set(filter, qos);
    if (this.#client.connected) this.#client.subscribe(filter, { qos });
  }

  /** Sends a message, or buffers it while the broker is away (or the socket is backed up). */
  publish(m: OutMessage): void {
    const clear = this.#announcing || (!this.#flushing && this.#outbox.size === 0);
    if (this.#client.connected && clear && !this.#backedUp()) {
      this.#send(m);
      return;
    }
    this.#outbox.push(m);
    this.stats.dropped = this.#outbox.dropped;
    // Connected but backed up: the buffer is sent once the socket has room again.
    if (this.#client.connected && !this.#flushing) this.#flush();
  }

  /**
   * Sends a message now, not buffered: resolves once it is written (QoS 0) or acknowledged by
   * the broker (QoS 1); rejects when the broker is away (a write must not wait for it).
   */
  publishNow(m: OutMessage): Promise<void> {
    if (!this.#client.connected) {
      return Promise.reject(
        new Error(
          `MQTT broker ${this.#where()} is not connected${
            this.#lastError ? `: ${this.#lastError}` : ""
          }`,
        ),
      );
    }
    this.stats.sent++;
    return new Promise((resolve, reject) => {
      this.#client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain }, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
  }

  #send(m: OutMessage): void {
    this.stats.sent++;
    // QoS 0 needs no callback; a QoS 1 message lost with its connection is the broker's to
    // redeliver or not, so its error is not ours to report twice.
    this.#client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain });
  }

  /** Bytes written to the connection that the socket has not taken yet. */
  #unsentBytes(): number {
    const stream = (this.#client as unknown as { stream?: { writableLength?: number } }).stream;
    return stream?.writableLength ?? 0;
  }

  #backedUp(): boolean {
    return this.#unsentBytes() > SOCKET_HIGH_WATER;
  }

  #connected(): void {
    this.#attempt = 0;
    if (this.#everConnected) {
      this.stats.reconnects++;
      const away = this.#lostAt === undefined ? 0 : (Date.now() - this.#lostAt) / 1000;
      this.#opts.log?.(
        "notice",
        `MQTT broker ${this.#where()} connected again after ${
          away.toFixed(1)
        } s; sending ${this.#outbox.size} buffered messages (${this.#outbox.dropped} dropped so far)`,
      );
    }
    this.#everConnected = true;
    this.#lostAt = undefined;
    for (const [filter, qos] of this.#subscriptions) this.#client.subscribe(filter, { qos });
    // What onConnect says ("online") goes out before what waited in the buffer.
    this.#announcing = true;
    try {
      this.#opts.onConnect?.();
    } finally {
      this.#announcing = false;
    }
    this.#flush();
    this.#watchers.forEach((fn) => fn(true));
  }

  /** Sends the buffer in slices that leave the event loop free between them. */
  #flush(): void {
    const waiting = this.#outbox.take();
    if (waiting.length === 0) return;
    this.#flushing = true;
    let i = 0;
    const slice = () => {
      if (this.#closing || !this.#client.connected) {
        // Lost again: what was not sent goes back (newer messages were buffered behind it).
        const rest = this.#outbox.take();
        for (const m of waiting.slice(i)) this.#outbox.push(m);
        for (const m of rest) this.#outbox.push(m);
        this.stats.dropped = this.#outbox.dropped;
        this.#flushing = false;
        return;
      }
      const end = Math.min(waiting.length, i + 500);
      for (; i < end && !this.#backedUp(); i++) this.#send(waiting[i]!);
      if (i < waiting.length) {
        // A socket that is backed up gets a moment to drain; otherwise the loop just turns.
        setTimeout(slice, i < end ? 20 : 0);
        return;
      }
      this.#flushing = false;
      // What arrived during the flush was buffered behind it.
      if (this.#outbox.size > 0) this.#flush();
    };
    slice();
  }

  #closed(): void {
    if (this.#closing) return;
    if (this.#lostAt === undefined) {
      this.#lostAt = Date.now();
      const why = this.#lastError ? `: ${this.#lastError}` : "";
      this.#opts.log?.(
        "warn",
        `MQTT broker ${this.#where()} ${
          this.#everConnected ? "lost" : "unreachable"
        }${why}; retrying with backoff, buffering up to ${this.#outbox.limit} messages`,
      );
    }
    const min = this.#opts.minBackoffMs ?? 500;
    const max = this.#opts.maxBackoffMs ?? 30_000;
    const base = Math.min(max, min * 2 ** Math.min(this.#attempt, 20));
    this.#attempt++;
    // ±20 % jitter, so daemons restarted together do not reconnect in step.
    const delay = base * (0.8 + 0.4 * Math.random());
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closing) this.#client.reconnect();
    }, delay);
    this.#watchers.forEach((fn) => fn(false));
  }

  /** The broker as a URL origin, for messages. */
  #where(): string {
    const b = this.#opts.broker;
    return `${b.tls ? "mqtts" : "mqtt"}://${b.host}:${b.port}`;
  }

  /**
   * Publishes `last` (e.g. "offline" states) when connected, waits (within the grace) until the
   * socket has taken them, then disconnects cleanly (the broker does not send the will).
   * Resolves within `graceMs` whatever the broker does.
   */
  async close(last: OutMessage[] = [], graceMs = 2000): Promise<void> {
    if (this.#closing) return;
    clearTimeout(this.#timer);
    const connected = this.#client.connected;
    this.#closing = true;
    const until = Date.now() + graceMs;
    if (connected) {
      for (const m of last) this.#send(m);
      // A broker that reads slowly still has our last messages in the socket: they go out
      // before the goodbye, within the grace.
      while (this.#unsentBytes() > 0 && Date.now() < until - graceMs / 4) {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.#client.end(false, {}, () => resolve())),
      new Promise<void>((
        resolve,
      ) => (timer = setTimeout(resolve, Math.max(0, until - Date.now())))),
    ]);
    clearTimeout(timer);
    // A broker that did not answer in time: drop the socket.
    if (!this.#client.disconnected) this.#client.end(true);
  }
}
