/**
 * A Channel Access client in TypeScript (no libca): UDP name search, one TCP circuit per server
 * shared by every channel on it, reads, writes with or without completion, monitors, access
 * rights, liveness (ECHO) and automatic reconnection with re-subscription.
 *
 * Environment (read by {@linkcode clientOptionsFromEnv}):
 * - `EPICS_CA_ADDR_LIST`: space-separated `host[:port]` search destinations;
 * - `EPICS_CA_AUTO_ADDR_LIST` (default `YES`): also broadcast on every non-loopback IPv4 interface;
 * - `EPICS_CA_SERVER_PORT` (5064): the port searches go to when an entry names none;
 * - `EPICS_CA_REPEATER_PORT` (5065): a running `caRepeater` there forwards server beacons, which
 *   make searches for lost channels start over at once when a server comes back;
 * - `EPICS_CA_CONN_TMO` (30 s): silence on a circuit before an ECHO checks it is alive;
 * - `EPICS_CA_MAX_SEARCH_PERIOD` (300 s): the plateau of the search back-off;
 * - `EPICS_CA_MAX_ARRAY_BYTES` (16 MiB here, 16384 in libca): the largest reply a server may
 *   send; a bigger one closes that circuit with an error naming the variable.
 *
 * Searches are batched: every channel created in the same tick goes out in as few datagrams as
 * fit (1024 bytes each, as libca), and requests are coalesced into one TCP write per tick, so
 * connecting and reading a thousand PVs costs a handful of round trips.
 *
 * @example
 * ```ts ignore
 * import { CaClient, clientOptionsFromEnv } from "./client.ts";
 * const client = new CaClient(clientOptionsFromEnv());
 * const ch = client.channel("XXX:m1.VAL");
 * console.log((await ch.get()).data.value);
 * await client.close();
 * ```
 *
 * @module
 */
import dgram from "node:dgram";
import {
  CA_MINOR_VERSION,
  CA_REPEATER_PORT,
  CA_SERVER_PORT,
  type CaMessage,
  CMD,
  concatBytes,
  DBE,
  decodeDatagram,
  decodeMessage,
  DEFAULT_MAX_ARRAY_BYTES,
  encodeMessage,
  ipFromString,
  ipToString,
  MAX_UDP_SEND,
  MessageDecoder,
  padded,
  type RawMessage,
} from "./protocol.ts";
import { DBR, type DbrData, dbrOf, decodeDbr, encodeDbr, isValidDbrType } from "./dbr.ts";
import { ECA, ecaMessage, ecaName } from "./eca.ts";
import { DeviceError, UsageError, WriteRejected } from "../../device/errors.ts";

/** Settings of a {@linkcode CaClient}; {@linkcode clientOptionsFromEnv} fills them from EPICS_CA_*. */
export interface CaClientOptions {
  /** Search destinations as `host[:port]`. */
  addrList?: string[];
  /** Also broadcast searches on every non-loopback IPv4 interface (default true). */
  autoAddrList?: boolean;
  /** Port for address-list entries without one (default 5064). */
  serverPort?: number;
  /** Port of the local caRepeater for beacons (default 5065); 0 disables beacon listening. */
  repeaterPort?: number;
  /** Silence on a circuit (ms) before an ECHO is sent (default 30 s). */
  connTimeoutMs?: number;
  /** Longest gap between searches of a missing channel (ms, default 300 s). */
  maxSearchPeriodMs?: number;
  /** First retry gap of a search (ms, default 50); it doubles up to the plateau. */
  minSearchPeriodMs?: number;
  /** User name servers see for access security (default $USER). */
  clientName?: string;
  /** Host name servers see for access security (default the host name). */
  hostName?: string;
  /**
   * Largest reply payload accepted from a server, bytes (default 16 MiB: big waveforms read
   * without tuning, while a broken or hostile server still cannot grow the client unbounded).
   */
  maxArrayBytes?: number;
  /** Called with problems that concern no pending call (e.g. a failed write without notify). */
  onWarning?: (message: string) => void;
}

/** The client's default largest reply payload, bytes (see {@linkcode CaClientOptions.maxArrayBytes}). */
export const CLIENT_MAX_ARRAY_BYTES = 16 * 1024 * 1024;

/** Reads the EPICS_CA_* environment variables into client options. */
export function clientOptionsFromEnv(
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): CaClientOptions {
  const num = (name: string) => {
    const v = env(name);
    if (v === undefined || v.trim() === "") return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) {
      throw new UsageError(`${name}="${v}" is not a number`, `unset ${name} or give a number`);
    }
    return n;
  };
  const list = env("EPICS_CA_ADDR_LIST");
  const auto = env("EPICS_CA_AUTO_ADDR_LIST");
  const conn = num("EPICS_CA_CONN_TMO");
  const maxSearch = num("EPICS_CA_MAX_SEARCH_PERIOD");
  const maxArray = num("EPICS_CA_MAX_ARRAY_BYTES");
  return {
    maxArrayBytes: maxArray === undefined
      ? undefined
      : Math.max(DEFAULT_MAX_ARRAY_BYTES, Math.floor(maxArray)),
    addrList: list ? list.split(/\s+/).filter((s) => s !== "") : [],
    autoAddrList: auto === undefined ? true : !/^no$/i.test(auto.trim()),
    serverPort: num("EPICS_CA_SERVER_PORT") ?? CA_SERVER_PORT,
    repeaterPort: num("EPICS_CA_REPEATER_PORT") ?? CA_REPEATER_PORT,
    connTimeoutMs: conn === undefined ? undefined : Math.max(0.1, conn) * 1000,
    // libca never lets the plateau fall under 60 s.
    maxSearchPeriodMs: maxSearch === undefined ? undefined : Math.max(60, maxSearch) * 1000,
  };
}

/** Where a search goes. */
interface Destination {
  host: string;
  port: number;
}

/** Connection state of a channel. */
export type ChannelState = "searching" | "connecting" | "connected" | "closed";

/** A completed read. */
export interface GetResult {
  /** The DBR type of the payload. */
  type: number;
  /** Elements returned. */
  count: number;
  /** The decoded payload. */
  data: DbrData;
}

/** Options of {@linkcode Channel.get}. */
export interface GetOptions {
  /** DBR type to ask for (default the native plain type). */
  type?: number;
  /** Elements to ask for (default all, or the current length when the server allows it). */
  count?: number;
  /** Aborts the wait (the reply, if it comes, is dropped). */
  signal?: AbortSignal;
}

/** Options of {@linkcode Channel.put}. */
export interface PutOptions {
  /** DBR type to send (default chosen from the value and the channel's native type). */
  type?: number;
  /** Use WRITE_NOTIFY and resolve when the server reports completion (default false). */
  notify?: boolean;
  /** Aborts the wait for completion (the write itself is not undone). */
  signal?: AbortSignal;
}

/** Options of {@linkcode Channel.subscribe}. */
export interface MonitorOptions {
  /** DBR type of updates (default TIME of the native type). */
  type?: number;
  /** Elements per update (default all / current length). */
  count?: number;
  /** DBE mask (default DBE_VALUE | DBE_ALARM, as camonitor). */
  mask?: number;
}

/** A monitor subscription; updates keep coming across reconnections until closed. */
export interface Monitor {
  /** Cancels the subscription. */
  close(): void;
}

interface Pending {
  resolve: (r: GetResult | void) => void;
  reject: (e: Error) => void;
  channel: Channel;
  what: string;
}

interface MonitorEntry {
  subid: number;
  type: number | undefined;
  count: number | undefined;
  mask: number;
  onData: (r: GetResult) => void;
  onError?: (e: Error) => void;
  /** The DBR type actually requested on the current connection. */
  sentType?: number;
}

let textEncoder: TextEncoder | undefined;

/** One process variable. Create with {@linkcode CaClient.channel}; close when done. */
export class Channel {
  /** Connection state. */
  state: ChannelState = "searching";
  /** Server-side id (valid while connected). */
  sid = 0;
  /** Native DBR type 0–6 (valid once connected). */
  nativeType = -1;
  /** Native element count (valid once connected). */
  nativeCount = 0;
  /** Read access granted by the server. */
  readAccess = false;
  /** Write access granted by the server. */
  writeAccess = false;
  /** `host:port` of the server, while connected. */
  server = "";
  /** @internal */ circuit: Circuit | undefined;
  /** @internal */ searchPeriod = 0;
  /** @internal */ nextSearch = 0;
  /** @internal */ monitors = new Map<number, MonitorEntry>();
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #listeners = new Set<(state: ChannelState) => void>();

  /** @internal Created by {@linkcode CaClient.channel}. */
  constructor(readonly client: CaClient, readonly name: string, readonly cid: number) {}

  /** Resolves once the channel is connected (at once if it is). */
  connected(signal?: AbortSignal): Promise<void> {
    if (this.state === "connected") return Promise.resolve();
    if (this.state === "closed") {
      return Promise.reject(new DeviceError(`${this.name}: channel closed`, this.name));
    }
    return new Promise<void>((resolve, reject) => {
      const entry = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (e: Error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== entry);
        reject(signal!.reason);
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(entry);
    });
  }

  /** Calls `fn` on every connection state change; returns a function that stops it. */
  onStateChange(fn: (state: ChannelState) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** @internal */
  setState(state: ChannelState, error?: Error): void {
    if (this.state === state) return;
    this.state = state;
    if (state === "connected") {
      for (const w of this.#waiters.splice(0)) w.resolve();
    } else if (state === "closed") {
      const e = error ?? new DeviceError(`${this.name}: channel closed`, this.name);
      for (const w of this.#waiters.splice(0)) w.reject(e);
    }
    for (const fn of this.#listeners) {
      try {
        fn(state);
      } catch (err) {
        this.client.warn(`state listener of ${this.name} threw: ${err}`);
      }
    }
  }

  /**
   * Reads the channel (READ_NOTIFY). Waits for the connection first; the caller bounds the wait
   * with `signal`.
   */
  async get(opts: GetOptions = {}): Promise<GetResult> {
    await this.connected(opts.signal);
    const circuit = this.circuit!;
    if (!this.readAccess) {
      throw new DeviceError(`${this.name}: read access denied by the server`, this.name);
    }
    const type = opts.type ?? this.nativeType;
    if (!isValidDbrType(type)) throw new DeviceError(`DBR type ${type} is not valid`);
    const count = opts.count ?? circuit.defaultCount(this);
    return await circuit.request<GetResult>(
      this,
      `reading ${this.name}`,
      opts.signal,
      (ioid) => encodeMessage({ kind: "read_notify", dbrType: type, count, sid: this.sid, ioid }),
    );
  }

  /**
   * Writes values. Refuses with {@linkcode WriteRejected} before sending when the server grants
   * no write access. With `notify` the promise resolves when the server reports completion
   * (e.g. a motor reached its target), otherwise once the request is handed to the socket.
   */
  async put(
    value: number | string | boolean | readonly number[] | readonly string[],
    opts: PutOptions = {},
  ): Promise<void> {
    await this.connected(opts.signal);
    await this.startPut(value, opts);
  }

  /**
   * Sends a write on a connected channel at once: refusals (no write access, a value that cannot
   * be encoded, not connected) throw synchronously, before anything is sent; the returned promise
   * settles as {@linkcode Channel.put}'s does.
   */
  startPut(
    value: number | string | boolean | readonly number[] | readonly string[],
    opts: PutOptions = {},
  ): Promise<void> {
    const circuit = this.circuit;
    if (this.state !== "connected" || !circuit) {
      throw new DeviceError(`${this.name}: not connected`, this.name);
    }
    if (!this.writeAccess) {
      throw new WriteRejected(
        `${this.name} is read-only: the server grants no write access`,
        this.name,
      );
    }
    const { type, data } = this.#encodeValue(value, opts.type);
    const payload = encodeDbr(type, data);
    const count = data.value.length;
    if (opts.notify) {
      return circuit.request<void>(
        this,
        `writing ${this.name}`,
        opts.signal,
        (ioid) =>
          encodeMessage({
            kind: "write_notify",
            dbrType: type,
            count,
            sid: this.sid,
            ioid,
            payload,
          }),
      );
    }
    const ioid = this.client.nextId();
    circuit.send(
      encodeMessage({ kind: "write", dbrType: type, count, sid: this.sid, ioid, payload }),
    );
    return circuit.flushed();
  }

  #encodeValue(
    value: number | string | boolean | readonly number[] | readonly string[],
    forced: number | undefined,
  ): { type: number; data: DbrData } {
    const native = this.nativeType;
    const list: (number | string)[] = Array.isArray(value)
      ? [...value]
      : [typeof value === "boolean" ? (value ? 1 : 0) : value as number | string];
    if (forced !== undefined) return { type: forced, data: { value: list as number[] } };
    if (list.length === 0) throw new WriteRejected(`${this.name}: nothing to write`, this.name);
    if (typeof list[0] === "string") {
      // A long string into a CHAR waveform goes as its bytes (caput -S).
      if (native === DBR.CHAR && this.nativeCount > 1 && list.length === 1) {
        textEncoder ??= new TextEncoder();
        const bytes = textEncoder.encode(list[0]);
        const n = Math.min(bytes.length, this.nativeCount - 1);
        return { type: DBR.CHAR, data: { value: [...bytes.subarray(0, n), 0] } };
      }
      return { type: DBR.STRING, data: { value: list.map(String) } };
    }
    const nums = list.map(Number);
    const integral = nums.every(Number.isInteger);
    const type = native === DBR.ENUM && integral
      ? DBR.ENUM
      : (native === DBR.LONG || native === DBR.SHORT || native === DBR.CHAR) && integral
      ? DBR.LONG
      : DBR.DOUBLE;
    return { type, data: { value: nums } };
  }

  /**
   * Subscribes to updates (EVENT_ADD). The first update comes at once; the subscription survives
   * disconnections and is renewed on reconnection.
   */
  subscribe(
    opts: MonitorOptions,
    onData: (r: GetResult) => void,
    onError?: (e: Error) => void,
  ): Monitor {
    if (this.state === "closed") throw new DeviceError(`${this.name}: channel closed`, this.name);
    const entry: MonitorEntry = {
      subid: this.client.nextId(),
      type: opts.type,
      count: opts.count,
      mask: opts.mask ?? (DBE.VALUE | DBE.ALARM),
      onData,
      onError,
    };
    this.monitors.set(entry.subid, entry);
    this.client.monitorIds.set(entry.subid, this);
    if (this.state === "connected") this.circuit!.addMonitor(this, entry);
    return {
      close: () => {
        if (!this.monitors.delete(entry.subid)) return;
        this.client.monitorIds.delete(entry.subid);
        if (this.state === "connected" && entry.sentType !== undefined) {
          this.circuit!.send(encodeMessage({
            kind: "event_cancel",
            dbrType: entry.sentType,
            count: 0,
            sid: this.sid,
            subid: entry.subid,
          }));
        }
      },
    };
  }

  /** Releases the channel (CLEAR_CHANNEL) and its monitors. */
  close(): void {
    if (this.state === "closed") return;
    for (const id of this.monitors.keys()) this.client.monitorIds.delete(id);
    this.monitors.clear();
    this.client.forget(this);
    this.circuit?.removeChannel(this);
    this.setState("closed");
  }
}

/** One TCP virtual circuit to one server, shared by every channel on that server. */
class Circuit {
  state: "connecting" | "ready" | "closed" = "connecting";
  serverMinor = CA_MINOR_VERSION;
  readonly channels = new Map<number, Channel>();
  #conn: Deno.TcpConn | undefined;
  #out: Uint8Array[] = [];
  #flushScheduled = false;
  #flushing: Promise<void> = Promise.resolve();
  #pending = new Map<number, Pending>();
  #decoder: MessageDecoder;
  #readLoop: Promise<void> | undefined;
  #lastRx = performance.now();
  #echoPending = false;
  #liveness: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly client: CaClient, readonly host: string, readonly port: number) {
    this.#decoder = new MessageDecoder({ maxPayload: padded(client.options.maxArrayBytes!) });
  }

  get key(): string {
    return `${this.host}:${this.port}`;
  }

  /** Opens the TCP connection and sends the handshake; channels queue meanwhile. */
  async open(): Promise<void> {
    try {
      this.#conn = await Deno.connect({ hostname: this.host, port: this.port });
      this.#conn.setNoDelay(true);
    } catch (err) {
      // Found by UDP yet unreachable by TCP: retry slowly rather than spin.
      this.#fail(new DeviceError(`cannot connect to CA server ${this.key}: ${err}`), true);
      return;
    }
    if (this.state === "closed") {
      this.#conn.close();
      return;
    }
    this.state = "ready";
    const o = this.client.options;
    this.#out.unshift(
      encodeMessage({ kind: "version", priority: 0, minor: CA_MINOR_VERSION }),
      encodeMessage({ kind: "client_name", name: o.clientName! }),
      encodeMessage({ kind: "host_name", name: o.hostName! }),
    );
    this.#scheduleFlush();
    this.#readLoop = this.#read();
    this.#armLiveness();
  }

  addChannel(ch: Channel): void {
    this.channels.set(ch.cid, ch);
    ch.circuit = this;
    ch.server = this.key;
    ch.setState("connecting");
    this.send(
      encodeMessage({ kind: "create_chan", cid: ch.cid, minor: CA_MINOR_VERSION, name: ch.name }),
    );
  }

  removeChannel(ch: Channel): void {
    if (this.channels.get(ch.cid) !== ch) return;
    this.channels.delete(ch.cid);
    for (const [ioid, p] of this.#pending) {
      if (p.channel === ch) {
        this.#pending.delete(ioid);
        p.reject(new DeviceError(`${p.what}: channel closed`, ch.name));
      }
    }
    if (ch.state === "connected") {
      this.send(encodeMessage({ kind: "clear_channel", sid: ch.sid, cid: ch.cid }));
    }
    ch.circuit = undefined;
    if (this.channels.size === 0) this.client.idleCircuit(this);
  }

  defaultCount(ch: Channel): number {
    // Count 0 asks for the current length of variable arrays (protocol 4.13).
    return this.serverMinor >= 13 ? 0 : ch.nativeCount;
  }

  addMonitor(ch: Channel, m: MonitorEntry): void {
    const type = m.type ?? dbrOf("time", ch.nativeType);
    m.sentType = type;
    this.send(encodeMessage({
      kind: "event_add",
      dbrType: type,
      count: m.count ?? this.defaultCount(ch),
      sid: ch.sid,
      subid: m.subid,
      mask: m.mask,
    }));
  }

  /** Sends a request with a fresh ioid and resolves with its reply. */
  request<T extends GetResult | void>(
    ch: Channel,
    what: string,
    signal: AbortSignal | undefined,
    build: (ioid: number) => Uint8Array,
  ): Promise<T> {
    const ioid = this.client.nextId();
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this.#pending.delete(ioid);
        reject(signal!.reason);
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(ioid, {
        resolve: (r) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(r as T);
        },
        reject: (e) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
        channel: ch,
        what,
      });
      this.send(build(ioid));
    });
  }

  /** Queues bytes; everything queued in one tick goes out in one write. */
  send(bytes: Uint8Array): void {
    if (this.state === "closed") return;
    this.#out.push(bytes);
    this.#scheduleFlush();
  }

  /** Resolves when everything queued so far has been written. */
  async flushed(): Promise<void> {
    await Promise.resolve();
    await this.#flushing;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.state !== "ready") return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flushing = this.#flushing.then(() => this.#flush());
    });
  }

  async #flush(): Promise<void> {
    while (this.#out.length > 0 && this.state === "ready") {
      const buf = this.#out.length === 1 ? this.#out[0]! : concatBytes(this.#out);
      this.#out = [];
      try {
        let at = 0;
        while (at < buf.length) at += await this.#conn!.write(buf.subarray(at));
      } catch (err) {
        this.#fail(new DeviceError(`lost CA server ${this.key}: ${err}`));
      }
    }
  }

  async #read(): Promise<void> {
    const buf = new Uint8Array(256 * 1024);
    const onMessage = (m: RawMessage) => this.#dispatch(m);
    try {
      while (this.state === "ready") {
        const n = await this.#conn!.read(buf);
        if (n === null) break;
        this.#lastRx = performance.now();
        this.#echoPending = false;
        this.#decoder.feed(buf.subarray(0, n), onMessage);
      }
      this.#fail(new DeviceError(`CA server ${this.key} closed the connection`));
    } catch (err) {
      this.#fail(new DeviceError(`lost CA server ${this.key}: ${err}`));
    }
  }

  #armLiveness(): void {
    const tmo = this.client.options.connTimeoutMs!;
    const check = () => {
      this.#liveness = undefined;
      if (this.state !== "ready") return;
      const idle = performance.now() - this.#lastRx;
      if (this.#echoPending && idle >= tmo + Math.min(tmo, 5000)) {
        this.#fail(new DeviceError(`CA server ${this.key} stopped answering (no ECHO reply)`));
        return;
      }
      if (!this.#echoPending && idle >= tmo) {
        this.#echoPending = true;
        this.send(encodeMessage({ kind: "echo" }));
      }
      const wait = this.#echoPending ? tmo + Math.min(tmo, 5000) - idle : tmo - idle;
      const timer = setTimeout(check, Math.max(10, wait));
      Deno.unrefTimer(timer);
      this.#liveness = timer;
    };
    const timer = setTimeout(check, tmo);
    Deno.unrefTimer(timer);
    this.#liveness = timer;
  }

  #dispatch(raw: RawMessage): void {
    let m: CaMessage;
    try {
      m = decodeMessage(raw, "to_client");
    } catch (err) {
      // A command this client does not know (a newer server): skip it, keep the circuit.
      this.client.warn(`CA server ${this.key}: ${err instanceof Error ? err.message : err}`);
      return;
    }
    switch (m.kind) {
      case "event_add_resp":
        return this.#onEvent(m);
      case "read_notify_resp": {
        const p = this.#take(m.ioid);
        if (!p) return;
        if (m.status !== ECA.NORMAL) return p.reject(ecaError(p.what, m.status, p.channel.name));
        try {
          p.resolve({
            type: m.dbrType,
            count: m.count,
            data: decodeDbr(m.dbrType, m.count, m.payload),
          });
        } catch (err) {
          p.reject(new DeviceError(`${p.what}: bad reply: ${err}`, p.channel.name));
        }
        return;
      }
      case "write_notify_resp": {
        const p = this.#take(m.ioid);
        if (!p) return;
        if (m.status !== ECA.NORMAL) return p.reject(ecaError(p.what, m.status, p.channel.name));
        return p.resolve();
      }
      case "version":
        this.serverMinor = m.minor;
        return;
      case "access_rights": {
        const ch = this.channels.get(m.cid);
        if (!ch) return;
        ch.readAccess = m.read;
        ch.writeAccess = m.write;
        return;
      }
      case "create_chan_resp": {
        const ch = this.channels.get(m.cid);
        if (!ch) {
          // Closed while the server was creating it: release it on the server too.
          this.send(encodeMessage({ kind: "clear_channel", sid: m.sid, cid: m.cid }));
          return;
        }
        ch.sid = m.sid;
        ch.nativeType = m.nativeType;
        ch.nativeCount = m.nativeCount;
        // Servers older than 4.4 send no ACCESS_RIGHTS: everything is allowed.
        if (this.serverMinor < 4) ch.readAccess = ch.writeAccess = true;
        for (const mon of ch.monitors.values()) this.addMonitor(ch, mon);
        ch.setState("connected");
        return;
      }
      case "create_ch_fail": {
        const ch = this.channels.get(m.cid);
        if (!ch) return;
        this.channels.delete(ch.cid);
        ch.circuit = undefined;
        this.client.warn(`${ch.name}: server ${this.key} refused to create the channel`);
        this.client.research(ch, true);
        return;
      }
      case "server_disconn": {
        const ch = this.channels.get(m.cid);
        if (!ch) return;
        this.#dropChannel(ch, new DeviceError(`${ch.name}: server dropped the channel`, ch.name));
        return;
      }
      case "error":
        return this.#onError(m);
      case "echo":
      case "clear_channel":
        return;
      default:
        return;
    }
  }

  #onEvent(m: Extract<CaMessage, { kind: "event_add_resp" }>): void {
    const ch = this.client.monitorIds.get(m.subid);
    const mon = ch?.monitors.get(m.subid);
    if (!ch || !mon || ch.circuit !== this) return;
    if (m.payload.length === 0 && m.status === ECA.NORMAL) return; // EVENT_CANCEL confirmation
    if (m.status !== ECA.NORMAL) {
      mon.onError?.(ecaError(`monitoring ${ch.name}`, m.status, ch.name));
      return;
    }
    let data: DbrData;
    try {
      data = decodeDbr(m.dbrType, m.count, m.payload);
    } catch (err) {
      mon.onError?.(new DeviceError(`monitoring ${ch.name}: bad update: ${err}`, ch.name));
      return;
    }
    try {
      mon.onData({ type: m.dbrType, count: m.count, data });
    } catch (err) {
      // A subscriber's bug must not take the circuit (and every other channel) down.
      this.client.warn(`monitor callback of ${ch.name} threw: ${err}`);
    }
  }

  #onError(m: Extract<CaMessage, { kind: "error" }>): void {
    const req = m.request;
    const text = m.message ? ` (${m.message})` : "";
    if (req.command === CMD.READ_NOTIFY || req.command === CMD.WRITE_NOTIFY) {
      const p = this.#take(req.p2);
      if (p) return p.reject(ecaError(`${p.what}${text}`, m.status, p.channel.name));
    } else if (req.command === CMD.EVENT_ADD) {
      const ch = this.client.monitorIds.get(req.p2);
      const mon = ch?.monitors.get(req.p2);
      if (ch && mon) {
        return mon.onError?.(ecaError(`monitoring ${ch.name}${text}`, m.status, ch.name));
      }
    } else if (req.command === CMD.WRITE) {
      const ch = [...this.channels.values()].find((c) => c.sid === req.p1);
      if (ch) {
        return this.client.warn(
          `writing ${ch.name}: ${ecaMessage(m.status)} (${ecaName(m.status)})`,
        );
      }
    }
    this.client.warn(`CA server ${this.key}: ${ecaName(m.status)}: ${ecaMessage(m.status)}${text}`);
  }

  #take(ioid: number): Pending | undefined {
    const p = this.#pending.get(ioid);
    if (p) this.#pending.delete(ioid);
    return p;
  }

  #dropChannel(ch: Channel, err: Error): void {
    this.channels.delete(ch.cid);
    for (const [ioid, p] of this.#pending) {
      if (p.channel === ch) {
        this.#pending.delete(ioid);
        p.reject(err);
      }
    }
    ch.circuit = undefined;
    this.client.research(ch, false);
  }

  /** The circuit died: every channel goes back to searching, pending calls fail. */
  #fail(err: Error, slow = false): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.#teardown();
    for (const p of this.#pending.values()) {
      p.reject(new DeviceError(`${p.what}: ${err.message}`, p.channel.name, { cause: err }));
    }
    this.#pending.clear();
    const channels = [...this.channels.values()];
    this.channels.clear();
    this.client.circuitClosed(this);
    for (const ch of channels) {
      ch.circuit = undefined;
      this.client.research(ch, slow);
    }
  }

  #teardown(): void {
    if (this.#liveness !== undefined) clearTimeout(this.#liveness);
    this.#liveness = undefined;
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
  }

  /** Closes the connection for good (client shutdown or no channels left). */
  async close(): Promise<void> {
    if (this.state !== "closed") {
      const wasReady = this.state === "ready";
      this.state = "closed";
      if (wasReady) await this.#flushing;
      this.#teardown();
      for (const p of this.#pending.values()) {
        p.reject(new DeviceError(`${p.what}: client closed`, p.channel.name));
      }
      this.#pending.clear();
    }
    await this.#readLoop;
    await this.#flushing;
  }
}

function ecaError(what: string, status: number, device: string): DeviceError {
  return new DeviceError(`${what}: ${ecaMessage(status)} (${ecaName(status)})`, device);
}

/**
 * A Channel Access client context: one UDP search socket, one circuit per server. Usually one per
 * process — see {@linkcode acquireSharedClient}.
 */
export class CaClient {
  /** The effective options. */
  readonly options: Required<Omit<CaClientOptions, "onWarning">> & {
    onWarning?: (m: string) => void;
  };
  /** @internal subscription id → channel. */
  readonly monitorIds = new Map<number, Channel>();
  #nextId = 1;
  #channels = new Map<number, Channel>();
  #searching = new Map<number, Channel>();
  #circuits = new Map<string, Circuit>();
  #closing = new Set<Promise<void>>();
  #udp: dgram.Socket | undefined;
  #udpReady: Promise<void> | undefined;
  #destinations: Destination[] | undefined;
  #searchTimer: ReturnType<typeof setTimeout> | undefined;
  #searchAt = Infinity;
  #sequence = 0;
  #beaconIds = new Map<string, number>();
  #closed = false;

  /** Creates a client; sockets open on first use. */
  constructor(options: CaClientOptions = {}) {
    this.options = {
      addrList: options.addrList ?? [],
      autoAddrList: options.autoAddrList ?? true,
      serverPort: options.serverPort ?? CA_SERVER_PORT,
      repeaterPort: options.repeaterPort ?? CA_REPEATER_PORT,
      connTimeoutMs: options.connTimeoutMs ?? 30_000,
      maxSearchPeriodMs: options.maxSearchPeriodMs ?? 300_000,
      minSearchPeriodMs: options.minSearchPeriodMs ?? 50,
      clientName: options.clientName ?? (Deno.env.get("USER") || Deno.env.get("LOGNAME") ||
        "labwire"),
      hostName: options.hostName ?? safeHostname(),
      maxArrayBytes: options.maxArrayBytes ?? CLIENT_MAX_ARRAY_BYTES,
      onWarning: options.onWarning,
    };
  }

  /** Number of open TCP circuits (one per server in use). */
  get circuitCount(): number {
    return this.#circuits.size;
  }

  /** @internal */
  nextId(): number {
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0x7fffffff ? 1 : this.#nextId + 1;
    return id;
  }

  /** @internal */
  warn(message: string): void {
    this.options.onWarning?.(message);
  }

  /**
   * Creates a channel and starts searching for it; channels created in the same tick are
   * searched together. Wait with `channel.connected()`, or just call `get`/`put`.
   */
  channel(name: string): Channel {
    if (this.#closed) throw new DeviceError("the CA client is closed");
    if (name === "" || name.length > 500) {
      throw new DeviceError(`"${name}" is not a PV name`);
    }
    const ch = new Channel(this, name, this.nextId());
    this.#channels.set(ch.cid, ch);
    this.research(ch, false);
    return ch;
  }

  /** @internal A channel was closed by its owner. */
  forget(ch: Channel): void {
    this.#channels.delete(ch.cid);
    this.#searching.delete(ch.cid);
  }

  /** @internal Puts a channel (back) on the search list; `slow` starts at a long period. */
  research(ch: Channel, slow: boolean): void {
    if (this.#closed || ch.state === "closed" || !this.#channels.has(ch.cid)) return;
    ch.circuit = undefined;
    ch.server = "";
    ch.setState("searching");
    ch.searchPeriod = slow ? this.options.maxSearchPeriodMs / 10 : 0;
    ch.nextSearch = slow ? performance.now() + ch.searchPeriod : 0;
    this.#searching.set(ch.cid, ch);
    this.#scheduleSearch(slow ? ch.nextSearch : performance.now());
  }

  #scheduleSearch(at: number): void {
    if (this.#closed || at >= this.#searchAt) return;
    if (this.#searchTimer !== undefined) clearTimeout(this.#searchTimer);
    this.#searchAt = at;
    this.#searchTimer = setTimeout(() => {
      this.#searchTimer = undefined;
      this.#searchAt = Infinity;
      this.#searchPass().catch((err) => this.warn(`search failed: ${err}`));
    }, Math.max(0, at - performance.now()));
  }

  async #searchPass(): Promise<void> {
    if (this.#closed) return;
    const now = performance.now();
    const due: Channel[] = [];
    let next = Infinity;
    for (const ch of this.#searching.values()) {
      if (ch.nextSearch <= now + 1) due.push(ch);
      else next = Math.min(next, ch.nextSearch);
    }
    if (due.length > 0) {
      await this.#ensureUdp();
      const dests = this.#destinations!;
      if (dests.length === 0) {
        const e = new DeviceError(
          `no CA search destinations: EPICS_CA_ADDR_LIST is empty and EPICS_CA_AUTO_ADDR_LIST=NO`,
        );
        for (const ch of due) {
          this.#searching.delete(ch.cid);
          this.#channels.delete(ch.cid);
          ch.setState("closed", e);
        }
        return;
      }
      for (const datagram of this.#searchDatagrams(due)) {
        for (const d of dests) this.#udp!.send(datagram, d.port, d.host);
      }
      const { minSearchPeriodMs: min, maxSearchPeriodMs: max } = this.options;
      for (const ch of due) {
        ch.searchPeriod = Math.min(max, ch.searchPeriod === 0 ? min : ch.searchPeriod * 2);
        ch.nextSearch = now + ch.searchPeriod;
        next = Math.min(next, ch.nextSearch);
      }
    }
    if (next < Infinity) this.#scheduleSearch(next);
  }

  *#searchDatagrams(channels: Channel[]): Generator<Uint8Array> {
    let parts: Uint8Array[] = [];
    let size = 0;
    const start = () => {
      const v = encodeMessage({
        kind: "version",
        priority: 1, // on UDP: "the sequence number is valid"
        minor: CA_MINOR_VERSION,
        sequence: ++this.#sequence,
      });
      parts = [v];
      size = v.length;
    };
    start();
    for (const ch of channels) {
      const s = encodeMessage({
        kind: "search",
        reply: false,
        minor: CA_MINOR_VERSION,
        cid: ch.cid,
        name: ch.name,
      });
      if (size + s.length > MAX_UDP_SEND && parts.length > 1) {
        yield concatBytes(parts);
        start();
      }
      parts.push(s);
      size += s.length;
    }
    if (parts.length > 1) yield concatBytes(parts);
  }

  #ensureUdp(): Promise<void> {
    this.#udpReady ??= (async () => {
      const sock = dgram.createSocket("udp4");
      this.#udp = sock;
      sock.on(
        "message",
        (msg: Uint8Array, rinfo: { address: string; port: number }) =>
          this.#onDatagram(msg, rinfo.address),
      );
      sock.on("error", (err: Error) => this.warn(`CA UDP socket: ${err.message}`));
      await new Promise<void>((resolve) => sock.bind(0, resolve));
      this.#destinations = await this.#resolveDestinations(sock);
      if (this.options.repeaterPort > 0) {
        // Beacons through a running caRepeater; harmless when there is none.
        sock.send(
          encodeMessage({ kind: "repeater_register", ip: 0x7f000001 }),
          this.options.repeaterPort,
          "127.0.0.1",
        );
      }
    })();
    return this.#udpReady;
  }

  async #resolveDestinations(sock: dgram.Socket): Promise<Destination[]> {
    const out: Destination[] = [];
    for (const entry of this.options.addrList) {
      const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(entry);
      if (!m) {
        this.warn(`EPICS_CA_ADDR_LIST: "${entry}" is not host[:port]; ignored`);
        continue;
      }
      out.push({ host: m[1]!, port: m[2] ? Number(m[2]) : this.options.serverPort });
    }
    if (this.options.autoAddrList) {
      sock.setBroadcast(true);
      for (const iface of Deno.networkInterfaces()) {
        if (iface.family !== "IPv4" || iface.address.startsWith("127.")) continue;
        const a = ipFromString(iface.address);
        const mask = ipFromString(iface.netmask);
        if (a === undefined || mask === undefined) continue;
        out.push({ host: ipToString((a | ~mask) >>> 0), port: this.options.serverPort });
      }
    }
    await Promise.resolve();
    const seen = new Set<string>();
    return out.filter((d) => {
      const k = `${d.host}:${d.port}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }

  #onDatagram(msg: Uint8Array, from: string): void {
    let raws: RawMessage[];
    try {
      raws = decodeDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
    } catch {
      return; // not CA, or truncated: ignore like libca
    }
    for (const raw of raws) {
      let m: CaMessage;
      try {
        m = decodeMessage(raw, "to_client");
      } catch {
        continue;
      }
      if (m.kind === "search_resp") {
        const ch = this.#searching.get(m.cid);
        if (!ch) continue; // answered already (several servers or a retry)
        const host = m.ip === 0xffffffff || m.ip === 0 ? from : ipToString(m.ip);
        this.#searching.delete(ch.cid);
        this.#attach(ch, host, m.port);
      } else if (m.kind === "beacon") {
        this.#onBeacon(m.ip === 0 ? from : ipToString(m.ip), m.port, m.beaconId);
      }
    }
  }

  /** A new server, or one that restarted (beacon ids start over), makes searches start over. */
  #onBeacon(host: string, port: number, id: number): void {
    const key = `${host}:${port}`;
    const last = this.#beaconIds.get(key);
    this.#beaconIds.set(key, id);
    if (last !== undefined && id === last + 1) return;
    if (this.#searching.size === 0) return;
    const now = performance.now();
    for (const ch of this.#searching.values()) {
      ch.searchPeriod = 0;
      ch.nextSearch = now;
    }
    this.#scheduleSearch(now);
  }

  #attach(ch: Channel, host: string, port: number): void {
    const key = `${host}:${port}`;
    let c = this.#circuits.get(key);
    if (!c) {
      c = new Circuit(this, host, port);
      this.#circuits.set(key, c);
      const opening = c.open();
      this.#track(opening);
    }
    c.addChannel(ch);
  }

  #track(p: Promise<void>): void {
    this.#closing.add(p);
    p.finally(() => this.#closing.delete(p));
  }

  /** @internal */
  circuitClosed(c: Circuit): void {
    if (this.#circuits.get(c.key) === c) this.#circuits.delete(c.key);
    this.#track(c.close());
  }

  /** @internal The last channel of a circuit went away: close it. */
  idleCircuit(c: Circuit): void {
    if (this.#circuits.get(c.key) === c) this.#circuits.delete(c.key);
    this.#track(c.close());
  }

  /** Closes every channel, circuit and socket; pending calls fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#searchTimer !== undefined) clearTimeout(this.#searchTimer);
    this.#searchTimer = undefined;
    const closedErr = new DeviceError("the CA client was closed");
    for (const ch of this.#channels.values()) ch.setState("closed", closedErr);
    this.#channels.clear();
    this.#searching.clear();
    this.monitorIds.clear();
    const circuits = [...this.#circuits.values()];
    this.#circuits.clear();
    await Promise.all(circuits.map((c) => c.close()));
    await Promise.all([...this.#closing]);
    await this.#udpReady?.catch(() => {});
    const udp = this.#udp;
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
  }
}

function safeHostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}

let shared: { client: CaClient; users: number } | undefined;

/**
 * Returns the process-wide client (created from the environment on first use), so every `ca://`
 * device shares searches and circuits. Call {@linkcode releaseSharedClient} when done: the last
 * release closes it.
 */
export function acquireSharedClient(): CaClient {
  if (!shared) shared = { client: new CaClient(clientOptionsFromEnv()), users: 0 };
  shared.users++;
  return shared.client;
}

/** Releases a client from {@linkcode acquireSharedClient}; the last release closes it. */
export async function releaseSharedClient(client: CaClient): Promise<void> {
  if (!shared || shared.client !== client) return;
  if (--shared.users > 0) return;
  shared = undefined;
  await client.close();
}
