/**
 * The sockets of the CA client: {@linkcode CircuitSocket} carries one {@linkcode ClientCircuit}
 * over TCP (coalesced writes, the read loop, liveness by ECHO) and turns its events into settled
 * calls, channel states and monitor callbacks. The UDP socket is in `client_udp.ts`; the protocol
 * itself in `client_circuit.ts` and `client_search.ts`.
 *
 * @module
 */
import { DeviceError } from "../../device/errors.ts";
import { ClientCircuit, type ClientEvent, type GetResult } from "./client_circuit.ts";
import type { ResolvedClientOptions } from "./client_env.ts";
import { ECA, ecaMessage, ecaName } from "./eca.ts";
import { type Abortable, onAbort, Settler } from "./client_abort.ts";
import { Timer } from "../../schedule/timer.ts";

/** One subscription of a channel, renewed on every circuit the channel connects through. */
export interface MonitorEntry {
  /** The client's subscription id. */
  subid: number;
  /** DBR type asked for (undefined: TIME of the native type). */
  type: number | undefined;
  /** Elements asked for (undefined: the current length). */
  count: number | undefined;
  /** DBE mask. */
  mask: number;
  /** Receives each update. */
  onData: (r: GetResult) => void;
  /** Receives a failed update. */
  onError?: (e: Error) => void;
}

/**
 * What a circuit needs of a channel on it (`Channel` of `client_channel.ts`, which imports this
 * module: the dependency runs one way).
 */
export interface CircuitChannel {
  /** The client's id of the channel. */
  readonly cid: number;
  /** The PV name. */
  readonly name: string;
  /** Server-side id. */
  sid: number;
  /** Native DBR type. */
  nativeType: number;
  /** Native element count. */
  nativeCount: number;
  /** Read access granted by the server. */
  readAccess: boolean;
  /** Write access granted by the server. */
  writeAccess: boolean;
  /** `host:port` of the server. */
  server: string;
  /** The circuit the channel is on. */
  circuit: CircuitSocket | undefined;
  /** Its subscriptions, renewed on each circuit. */
  readonly monitors: ReadonlyMap<number, MonitorEntry>;
  /** Moves the channel to a new connection state. */
  setState(state: "connecting" | "connected"): void;
}

/** What a {@linkcode CircuitSocket} needs from the client that owns it. */
export interface CircuitOwner {
  /** The client's settings. */
  readonly options: ResolvedClientOptions;
  /** A fresh id for a request or subscription. */
  nextId(): number;
  /** Reports a problem no pending call can carry. */
  warn(message: string): void;
  /** Puts a channel back on the search list; `slow` starts at a long period. */
  research(ch: CircuitChannel, slow: boolean): void;
  /** The circuit died or its last channel left: forget it and close it. */
  retire(c: CircuitSocket): void;
}

/** A request waiting for its reply. */
class Pending extends Settler<GetResult | void> {
  constructor(
    settleOk: (r: GetResult | void) => void,
    settleErr: (e: Error) => void,
    readonly channel: CircuitChannel,
    readonly what: string,
  ) {
    super(settleOk, settleErr);
  }
}

/** One TCP virtual circuit to one server, shared by every channel on that server. */
export class CircuitSocket {
  /** Connection state. */
  state: "connecting" | "ready" | "closed" = "connecting";
  /** Channels on this circuit, by client id. */
  readonly channels = new Map<number, CircuitChannel>();
  /** The protocol state of the circuit. */
  readonly circuit: ClientCircuit;
  #conn: Deno.TcpConn | undefined;
  #flushScheduled = false;
  #flushing: Promise<void> = Promise.resolve();
  #pending = new Map<number, Pending>();
  #monitors = new Map<number, { ch: CircuitChannel; entry: MonitorEntry }>();
  #readLoop: Promise<void> | undefined;
  #lastRx = performance.now();
  #echoPending = false;
  // Not setTimeout: the first one loads Node's timers (see ../../schedule/timer.ts). It keeps the
  // process alive only as long as the circuit's pending read does anyway.
  readonly #liveness = new Timer(() => this.#checkLiveness());

  /** Creates the circuit to `host:port`; call {@linkcode open} to connect. */
  constructor(readonly owner: CircuitOwner, readonly host: string, readonly port: number) {
    const o = owner.options;
    this.circuit = new ClientCircuit({
      clientName: o.clientName,
      hostName: o.hostName,
      maxArrayBytes: o.maxArrayBytes,
      wake: () => this.#scheduleFlush(),
    });
  }

  /** `host:port` of the server. */
  get key(): string {
    return `${this.host}:${this.port}`;
  }

  /** Opens the TCP connection; what was queued meanwhile (handshake, channels) goes out then. */
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
    this.#scheduleFlush();
    this.#readLoop = this.#read();
    this.#armLiveness();
  }

  /** Creates `ch` on this server. */
  addChannel(ch: CircuitChannel): void {
    this.channels.set(ch.cid, ch);
    ch.circuit = this;
    ch.server = this.key;
    ch.setState("connecting");
    this.circuit.createChannel(ch.cid, ch.name);
  }

  /** Releases `ch` (its owner closed it); the last channel out closes the circuit. */
  removeChannel(ch: CircuitChannel): void {
    if (this.channels.get(ch.cid) !== ch) return;
    this.channels.delete(ch.cid);
    this.#rejectOf(ch, () => new DeviceError(`channel closed`, ch.name), true);
    this.circuit.clearChannel(ch.cid);
    ch.circuit = undefined;
    if (this.channels.size === 0) this.owner.retire(this);
  }

  /** Sends the EVENT_ADD of a monitor of a connected channel. */
  addMonitor(ch: CircuitChannel, m: MonitorEntry): void {
    this.circuit.subscribe(ch.cid, m.subid, m.mask, m.type, m.count);
    this.#monitors.set(m.subid, { ch, entry: m });
  }

  /** Cancels a monitor on this circuit. */
  cancelMonitor(subid: number): void {
    this.#monitors.delete(subid);
    this.circuit.unsubscribe(subid);
  }

  /** Sends a request with a fresh ioid (`send` queues it) and resolves with its reply. */
  request<T extends GetResult | void>(
    ch: CircuitChannel,
    what: string,
    signal: Abortable | undefined,
    send: (ioid: number) => void,
  ): Promise<T> {
    const ioid = this.owner.nextId();
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const p = new Pending(resolve as (r: GetResult | void) => void, reject, ch, what);
      if (signal) {
        p.off = onAbort(signal, () => {
          this.#pending.delete(ioid);
          reject(signal.reason);
        });
      }
      this.#pending.set(ioid, p);
      send(ioid);
    });
  }

  /** Resolves when everything queued so far has been written. */
  async flushed(): Promise<void> {
    await Promise.resolve();
    await this.#flushing;
  }

  /** Everything queued in one tick goes out in one write. */
  #scheduleFlush(): void {
    if (this.#flushScheduled || this.state !== "ready") return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flushing = this.#flushing.then(() => this.#flush());
    });
  }

  async #flush(): Promise<void> {
    while (this.state === "ready") {
      const buf = this.circuit.take();
      if (!buf) return;
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
    try {
      while (this.state === "ready") {
        const n = await this.#conn!.read(buf);
        if (n === null) break;
        this.#lastRx = performance.now();
        this.#echoPending = false;
        for (const e of this.circuit.receive(buf.subarray(0, n))) this.#onEvent(e);
      }
      this.#fail(new DeviceError(`CA server ${this.key} closed the connection`));
    } catch (err) {
      this.#fail(new DeviceError(`lost CA server ${this.key}: ${err}`));
    }
  }

  #armLiveness(): void {
    this.#liveness.start(this.owner.options.connTimeoutMs);
  }

  #checkLiveness(): void {
    if (this.state !== "ready") return;
    const tmo = this.owner.options.connTimeoutMs;
    const idle = performance.now() - this.#lastRx;
    if (this.#echoPending && idle >= tmo + Math.min(tmo, 5000)) {
      this.#fail(new DeviceError(`CA server ${this.key} stopped answering (no ECHO reply)`));
      return;
    }
    if (!this.#echoPending && idle >= tmo) {
      this.#echoPending = true;
      this.circuit.echo();
    }
    const wait = this.#echoPending ? tmo + Math.min(tmo, 5000) - idle : tmo - idle;
    this.#liveness.start(Math.max(10, wait));
  }

  #onEvent(e: ClientEvent): void {
    switch (e.kind) {
      case "read":
      case "written": {
        const p = this.#take(e.ioid);
        if (!p) return;
        if (e.status !== ECA.NORMAL) return p.reject(ecaError(p.what, e.status, p.channel.name));
        if (e.kind === "written") return p.resolve();
        if (e.result) return p.resolve(e.result);
        return p.reject(new DeviceError(`${p.what}: bad reply: ${e.problem}`, p.channel.name));
      }
      case "update":
        return this.#onUpdate(e);
      case "connected": {
        const ch = this.channels.get(e.cid);
        if (!ch) return;
        ch.sid = e.sid;
        ch.nativeType = e.nativeType;
        ch.nativeCount = e.nativeCount;
        ch.readAccess = e.read;
        ch.writeAccess = e.write;
        for (const mon of ch.monitors.values()) this.addMonitor(ch, mon);
        ch.setState("connected");
        return;
      }
      case "access": {
        const ch = this.channels.get(e.cid);
        if (!ch) return;
        ch.readAccess = e.read;
        ch.writeAccess = e.write;
        return;
      }
      case "create_failed": {
        const ch = this.channels.get(e.cid);
        if (!ch) return;
        this.channels.delete(ch.cid);
        ch.circuit = undefined;
        this.owner.warn(`${ch.name}: server ${this.key} refused to create the channel`);
        this.owner.research(ch, true);
        return;
      }
      case "dropped": {
        const ch = this.channels.get(e.cid);
        if (!ch) return;
        this.channels.delete(ch.cid);
        this.#rejectOf(
          ch,
          () => new DeviceError(`${ch.name}: server dropped the channel`, ch.name),
        );
        ch.circuit = undefined;
        this.owner.research(ch, false);
        return;
      }
      case "request_error": {
        const p = this.#take(e.ioid);
        if (!p) return this.#warnServer(e.status, e.message);
        return p.reject(ecaError(`${p.what}${detail(e.message)}`, e.status, p.channel.name));
      }
      case "monitor_error": {
        const mon = this.#monitors.get(e.subid);
        if (!mon) return this.#warnServer(e.status, e.message);
        const { ch, entry } = mon;
        entry.onError?.(ecaError(`monitoring ${ch.name}${detail(e.message)}`, e.status, ch.name));
        return;
      }
      case "write_error": {
        const ch = this.channels.get(e.cid);
        if (!ch) return this.#warnServer(e.status, e.message);
        return this.owner.warn(
          `writing ${ch.name}: ${ecaMessage(e.status)} (${ecaName(e.status)})`,
        );
      }
      case "server_error":
        if (e.status === undefined) return this.owner.warn(`CA server ${this.key}: ${e.message}`);
        return this.#warnServer(e.status, e.message);
    }
  }

  #warnServer(status: number, message: string): void {
    this.owner.warn(
      `CA server ${this.key}: ${ecaName(status)}: ${ecaMessage(status)}${detail(message)}`,
    );
  }

  #onUpdate(e: Extract<ClientEvent, { kind: "update" }>): void {
    const mon = this.#monitors.get(e.subid);
    if (!mon) return;
    const { ch, entry } = mon;
    if (e.status !== ECA.NORMAL) {
      entry.onError?.(ecaError(`monitoring ${ch.name}`, e.status, ch.name));
      return;
    }
    if (!e.result) {
      entry.onError?.(new DeviceError(`monitoring ${ch.name}: bad update: ${e.problem}`, ch.name));
      return;
    }
    try {
      entry.onData(e.result);
    } catch (err) {
      // A subscriber's bug must not take the circuit (and every other channel) down.
      this.owner.warn(`monitor callback of ${ch.name} threw: ${err}`);
    }
  }

  #take(ioid: number): Pending | undefined {
    const p = this.#pending.get(ioid);
    if (p) this.#pending.delete(ioid);
    return p;
  }

  /**
   * Fails the pending calls of `ch` (with `prefixed`, as "<what>: <err>") and forgets its
   * monitors. The error is built only when a call is pending: closing a thousand idle channels
   * at exit captures no stacks.
   */
  #rejectOf(ch: CircuitChannel, error: () => Error, prefixed = false): void {
    if (this.#pending.size > 0) {
      let err: Error | undefined;
      for (const [ioid, p] of this.#pending) {
        if (p.channel !== ch) continue;
        this.#pending.delete(ioid);
        err ??= error();
        p.reject(prefixed ? new DeviceError(`${p.what}: ${err.message}`, ch.name) : err);
      }
    }
    for (const subid of ch.monitors.keys()) this.#monitors.delete(subid);
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
    this.#monitors.clear();
    const channels = [...this.channels.values()];
    this.channels.clear();
    this.owner.retire(this);
    for (const ch of channels) {
      ch.circuit = undefined;
      this.owner.research(ch, slow);
    }
  }

  #teardown(): void {
    this.#liveness.cancel();
    try {
      this.#conn?.close();
    } catch {
      // Already closed by the peer or by a failed write: nothing left to release.
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

function detail(message: string): string {
  return message ? ` (${message})` : "";
}

function ecaError(what: string, status: number, device: string): DeviceError {
  return new DeviceError(`${what}: ${ecaMessage(status)} (${ecaName(status)})`, device);
}
