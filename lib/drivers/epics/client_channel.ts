/**
 * A process variable of the CA client as its user sees it: connection state, `get`, `put`,
 * `subscribe`. A channel outlives its circuits: when one dies the channel searches again, and its
 * monitors are renewed on the next circuit.
 *
 * @module
 */
import { DeviceError, WriteRejected } from "../../device/errors.ts";
import type { GetResult } from "./client_circuit.ts";
import type { CircuitSocket, MonitorEntry } from "./client_socket.ts";
import { type DbrData, encodeDbr } from "./dbr.ts";
import { DBR, isValidDbrType } from "./dbr_types.ts";
import { DBE } from "./messages.ts";
import { type Abortable, onAbort, Settler } from "./client_abort.ts";

/** Connection state of a channel. */
export type ChannelState = "searching" | "connecting" | "connected" | "closed";

/** Options of {@linkcode Channel.get}. */
export interface GetOptions {
  /** DBR type to ask for (default the native plain type). */
  type?: number;
  /** Elements to ask for (default all, or the current length when the server allows it). */
  count?: number;
  /** Aborts the wait (the reply, if it comes, is dropped). */
  signal?: Abortable;
}

/** Options of {@linkcode Channel.put}. */
export interface PutOptions {
  /** DBR type to send (default chosen from the value and the channel's native type). */
  type?: number;
  /** Use WRITE_NOTIFY and resolve when the server reports completion (default false). */
  notify?: boolean;
  /** Aborts the wait for completion (the write itself is not undone). */
  signal?: Abortable;
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

/** What a channel needs from its client. */
export interface ChannelOwner {
  /** Open TCP circuits of the client (one per server in use), for diagnostics. */
  readonly circuitCount: number;
  /** A fresh id for a request or subscription. */
  nextId(): number;
  /** Reports a problem no pending call can carry. */
  warn(message: string): void;
  /** Takes a channel its owner closed off the client's lists. */
  forget(ch: Channel): void;
}

/** A value a put accepts. */
export type PutValue = number | string | boolean | readonly number[] | readonly string[];

let textEncoder: TextEncoder | undefined;

/** One process variable. Create with `CaClient.channel`; close when done. */
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
  /** @internal The circuit the channel is on, once a server was found. */
  circuit: CircuitSocket | undefined;
  /** @internal Its subscriptions, by id. */
  readonly monitors = new Map<number, MonitorEntry>();
  #waiters: Settler<void>[] = [];
  // Copied on change, made on first use: most channels have one listener or none, and a Set
  // (with an iterator per state change) for each of a thousand channels cost more than it held.
  #listeners: readonly ((state: ChannelState) => void)[] | undefined;

  /** @internal Created by `CaClient.channel`. */
  constructor(readonly client: ChannelOwner, readonly name: string, readonly cid: number) {}

  /** Resolves once the channel is connected (at once if it is). */
  connected(signal?: Abortable): Promise<void> {
    if (this.state === "connected") return Promise.resolve();
    if (this.state === "closed") {
      return Promise.reject(new DeviceError(`${this.name}: channel closed`, this.name));
    }
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const entry = new Settler<void>(resolve, reject);
      if (signal) {
        entry.off = onAbort(signal, () => {
          this.#waiters = this.#waiters.filter((w) => w !== entry);
          reject(signal.reason);
        });
      }
      this.#waiters.push(entry);
    });
  }

  /** Calls `fn` on every connection state change; returns a function that stops it. */
  onStateChange(fn: (state: ChannelState) => void): () => void {
    this.#listeners = [...(this.#listeners ?? []), fn];
    return () => {
      this.#listeners = this.#listeners?.filter((f) => f !== fn);
    };
  }

  /** @internal */
  setState(state: ChannelState, error?: Error): void {
    if (this.state === state) return;
    this.state = state;
    if (state === "connected") {
      if (this.#waiters.length > 0) { for (const w of this.#waiters.splice(0)) w.resolve(); }
    } else if (state === "closed" && this.#waiters.length > 0) {
      // Built only when someone waits: closing a thousand idle channels captures no stacks.
      const e = error ?? new DeviceError(`${this.name}: channel closed`, this.name);
      for (const w of this.#waiters.splice(0)) w.reject(e);
    }
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!(state);
      } catch (err) {
        this.client.warn(`state listener of ${this.name} threw: ${err}`);
      }
    }
  }

  /**
   * Reads the channel (READ_NOTIFY). Waits for the connection first; the caller bounds the wait
   * with `signal`.
   */
  get(opts: GetOptions = {}): Promise<GetResult> {
    // Connected (as every read is once its caller waited for the connection): the request goes
    // out now, without an async frame and a turn of its own.
    if (this.state !== "connected") return this.connected(opts.signal).then(() => this.#get(opts));
    try {
      return this.#get(opts);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #get(opts: GetOptions): Promise<GetResult> {
    const circuit = this.circuit!;
    if (!this.readAccess) {
      throw new DeviceError(`${this.name}: read access denied by the server`, this.name);
    }
    const type = opts.type ?? this.nativeType;
    if (!isValidDbrType(type)) throw new DeviceError(`DBR type ${type} is not valid`);
    return circuit.request<GetResult>(
      this,
      `reading ${this.name}`,
      opts.signal,
      (ioid) => circuit.circuit.read(this.cid, ioid, type, opts.count),
    );
  }

  /**
   * Writes values. Refuses with {@linkcode WriteRejected} before sending when the server grants
   * no write access. With `notify` the promise resolves when the server reports completion
   * (e.g. a motor reached its target), otherwise once the request is handed to the socket.
   */
  async put(value: PutValue, opts: PutOptions = {}): Promise<void> {
    await this.connected(opts.signal);
    await this.startPut(value, opts);
  }

  /**
   * Sends a write on a connected channel at once: refusals (no write access, a value that cannot
   * be encoded, not connected) throw synchronously, before anything is sent; the returned promise
   * settles as {@linkcode Channel.put}'s does.
   */
  startPut(value: PutValue, opts: PutOptions = {}): Promise<void> {
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
    const send = (ioid: number, notify: boolean) =>
      circuit.circuit.write(this.cid, ioid, type, count, payload, notify);
    if (opts.notify) {
      return circuit.request<void>(
        this,
        `writing ${this.name}`,
        opts.signal,
        (ioid) => send(ioid, true),
      );
    }
    send(this.client.nextId(), false);
    return circuit.flushed();
  }

  #encodeValue(value: PutValue, forced: number | undefined): { type: number; data: DbrData } {
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
    if (this.state === "connected") this.circuit!.addMonitor(this, entry);
    return {
      close: () => {
        if (!this.monitors.delete(entry.subid)) return;
        this.circuit?.cancelMonitor(entry.subid);
      },
    };
  }

  /** Releases the channel (CLEAR_CHANNEL) and its monitors. */
  close(): void {
    if (this.state === "closed") return;
    this.client.forget(this);
    this.circuit?.removeChannel(this);
    this.monitors.clear();
    this.setState("closed");
  }
}
