/**
 * One TCP virtual circuit of the CA client, without the socket (the mirror of the server's
 * `ServerCircuit`, as caproto does it): requests become bytes ({@linkcode ClientCircuit.take}), the
 * server's bytes become events ({@linkcode ClientCircuit.receive}). It keeps what the protocol
 * needs on one circuit — channel ids, native types, access rights, the server's minor version and
 * the subscriptions sent on it — and nothing about promises, timers or reconnection, so it is
 * tested byte for byte on the reference server's captured replies.
 *
 * @example
 * ```ts
 * import { ClientCircuit } from "./client_circuit.ts";
 * const c = new ClientCircuit({ clientName: "me", hostName: "pc" });
 * c.createChannel(1, "XXX:m1.VAL");
 * c.take()!.length; // 16 (VERSION) + 24 + 24 (names) + 32 (CREATE_CHAN): 96
 * ```
 *
 * @module
 */
import { type DbrData, decodeDbr } from "./dbr.ts";
import { dbrOf } from "./dbr_types.ts";
import { ECA } from "./eca.ts";
import { CLIENT_MAX_ARRAY_BYTES } from "./messages.ts";
import { concatBytes, MessageDecoder, padded, type RawMessage } from "./framing.ts";
import { CA_MINOR_VERSION, type CaMessage, CMD } from "./messages.ts";
import { decodeMessage, encodeMessage } from "./protocol.ts";

/** A completed read or one monitor update. */
export interface GetResult {
  /** The DBR type of the payload. */
  type: number;
  /** Elements returned. */
  count: number;
  /** The decoded payload. */
  data: DbrData;
}

/** Options of a {@linkcode ClientCircuit}. */
export interface ClientCircuitOptions {
  /** User name servers see for access security (CLIENT_NAME). */
  clientName: string;
  /** Host name servers see for access security (HOST_NAME). */
  hostName: string;
  /** Largest reply payload accepted, bytes (default 16 MiB); a bigger one is a ProtocolError. */
  maxArrayBytes?: number;
  /** Circuit priority 0–99 sent in VERSION (default 0). */
  priority?: number;
  /** Called when bytes are queued on an empty queue (the transport then calls `take`). */
  wake?: () => void;
}

/** What the server told the client, one event per message that concerns it. */
export type ClientEvent =
  /** CREATE_CHAN reply: the channel is usable; `read`/`write` are its access rights. */
  | {
    kind: "connected";
    cid: number;
    sid: number;
    nativeType: number;
    nativeCount: number;
    read: boolean;
    write: boolean;
  }
  /** ACCESS_RIGHTS changed on a connected channel. */
  | { kind: "access"; cid: number; read: boolean; write: boolean }
  /** CREATE_CH_FAIL: this server will not create the channel (it is forgotten here). */
  | { kind: "create_failed"; cid: number }
  /** SERVER_DISCONN: the server dropped the channel (it is forgotten here). */
  | { kind: "dropped"; cid: number }
  /** READ_NOTIFY reply: `result` when status is normal and the payload decodes, else `problem`. */
  | { kind: "read"; ioid: number; status: number; result?: GetResult; problem?: string }
  /** WRITE_NOTIFY reply: the completion status. */
  | { kind: "written"; ioid: number; status: number }
  /** EVENT_ADD reply of a subscription on this circuit: as for `read`. */
  | { kind: "update"; subid: number; status: number; result?: GetResult; problem?: string }
  /** ERROR about a READ_NOTIFY or WRITE_NOTIFY. */
  | { kind: "request_error"; ioid: number; status: number; message: string }
  /** ERROR about an EVENT_ADD. */
  | { kind: "monitor_error"; subid: number; status: number; message: string }
  /** ERROR about a WRITE without notification, on channel `cid`. */
  | { kind: "write_error"; cid: number; status: number; message: string }
  /** Any other ERROR, or a message this client cannot decode (the circuit stays up). */
  | { kind: "server_error"; status?: number; message: string };

interface CircuitChannel {
  name: string;
  sid: number;
  nativeType: number;
  nativeCount: number;
  read: boolean;
  write: boolean;
  connected: boolean;
}

/** The client side of one circuit. */
export class ClientCircuit {
  /** The server's protocol minor version (13 until its VERSION says otherwise). */
  serverMinor = CA_MINOR_VERSION;
  readonly #opts: ClientCircuitOptions;
  readonly #decoder: MessageDecoder;
  readonly #channels = new Map<number, CircuitChannel>();
  /** subid → [cid, DBR type sent], for EVENT_CANCEL and to drop updates of other circuits. */
  readonly #subs = new Map<number, { cid: number; dbrType: number }>();
  #out: Uint8Array[] = [];

  /** Creates a circuit; the handshake (VERSION, CLIENT_NAME, HOST_NAME) is queued at once. */
  constructor(opts: ClientCircuitOptions) {
    this.#opts = opts;
    this.#decoder = new MessageDecoder({
      maxPayload: padded(opts.maxArrayBytes ?? CLIENT_MAX_ARRAY_BYTES),
    });
    this.#send(encodeMessage({
      kind: "version",
      priority: opts.priority ?? 0,
      minor: CA_MINOR_VERSION,
    }));
    this.#send(encodeMessage({ kind: "client_name", name: opts.clientName }));
    this.#send(encodeMessage({ kind: "host_name", name: opts.hostName }));
  }

  /** Channels on this circuit (connected or being created). */
  get channelCount(): number {
    return this.#channels.size;
  }

  /** True when there are bytes to send. */
  get hasOutput(): boolean {
    return this.#out.length > 0;
  }

  /** Whether channel `cid` is connected on this circuit. */
  isConnected(cid: number): boolean {
    return this.#channels.get(cid)?.connected ?? false;
  }

  /** The element count a request without one asks for: 0 (current length) from minor 13 on. */
  defaultCount(cid: number): number {
    return this.serverMinor >= 13 ? 0 : (this.#channels.get(cid)?.nativeCount ?? 0);
  }

  /** Asks the server for channel `name` (CREATE_CHAN) under the client's id `cid`. */
  createChannel(cid: number, name: string): void {
    this.#channels.set(cid, {
      name,
      sid: 0,
      nativeType: -1,
      nativeCount: 0,
      read: false,
      write: false,
      connected: false,
    });
    this.#send(encodeMessage({ kind: "create_chan", cid, minor: CA_MINOR_VERSION, name }));
  }

  /** Releases channel `cid` (CLEAR_CHANNEL once connected) and its subscriptions. */
  clearChannel(cid: number): void {
    const ch = this.#channels.get(cid);
    if (!ch) return;
    this.#channels.delete(cid);
    if (this.#subs.size > 0) {
      for (const [subid, s] of this.#subs) if (s.cid === cid) this.#subs.delete(subid);
    }
    if (ch.connected) this.#send(encodeMessage({ kind: "clear_channel", sid: ch.sid, cid }));
  }

  /** READ_NOTIFY of `count` elements (default {@linkcode defaultCount}) as DBR `dbrType`. */
  read(cid: number, ioid: number, dbrType: number, count?: number): void {
    const ch = this.#connected(cid);
    count ??= this.defaultCount(cid);
    this.#send(encodeMessage({ kind: "read_notify", dbrType, count, sid: ch.sid, ioid }));
  }

  /** WRITE (no reply unless it fails) or WRITE_NOTIFY (`notify`) of an encoded DBR payload. */
  write(
    cid: number,
    ioid: number,
    dbrType: number,
    count: number,
    payload: Uint8Array,
    notify: boolean,
  ): void {
    const ch = this.#connected(cid);
    const kind = notify ? "write_notify" : "write";
    this.#send(encodeMessage({ kind, dbrType, count, sid: ch.sid, ioid, payload }));
  }

  /**
   * EVENT_ADD: subscribes channel `cid` under `subid`; `dbrType` defaults to TIME of the native
   * type, `count` to {@linkcode defaultCount}. Returns the DBR type requested.
   */
  subscribe(cid: number, subid: number, mask: number, dbrType?: number, count?: number): number {
    const ch = this.#connected(cid);
    const type = dbrType ?? dbrOf("time", ch.nativeType);
    this.#subs.set(subid, { cid, dbrType: type });
    this.#send(encodeMessage({
      kind: "event_add",
      dbrType: type,
      count: count ?? this.defaultCount(cid),
      sid: ch.sid,
      subid,
      mask,
    }));
    return type;
  }

  /** EVENT_CANCEL of a subscription made on this circuit (nothing when it was not). */
  unsubscribe(subid: number): void {
    const s = this.#subs.get(subid);
    if (!s) return;
    this.#subs.delete(subid);
    const ch = this.#channels.get(s.cid);
    if (!ch?.connected) return;
    this.#send(
      encodeMessage({ kind: "event_cancel", dbrType: s.dbrType, count: 0, sid: ch.sid, subid }),
    );
  }

  /** ECHO: the server answers it, proving the circuit alive. */
  echo(): void {
    this.#send(encodeMessage({ kind: "echo" }));
  }

  /** Everything queued, in one buffer (one TCP write), or undefined when nothing is. */
  take(): Uint8Array | undefined {
    if (this.#out.length === 0) return undefined;
    const out = this.#out.length === 1 ? this.#out[0]! : concatBytes(this.#out);
    this.#out = [];
    return out;
  }

  /**
   * Takes bytes from the server, whatever the split of the reads, and returns what they mean.
   * Throws a `ProtocolError` when the stream is broken (e.g. a reply bigger than
   * `maxArrayBytes`): the circuit must then be closed.
   */
  receive(bytes: Uint8Array): ClientEvent[] {
    const events: ClientEvent[] = [];
    this.#decoder.feed(bytes, (raw) => this.#dispatch(raw, events));
    return events;
  }

  #connected(cid: number): CircuitChannel {
    const ch = this.#channels.get(cid);
    if (!ch?.connected) throw new Error(`channel ${cid} is not connected on this circuit`);
    return ch;
  }

  #send(bytes: Uint8Array): void {
    this.#out.push(bytes);
    if (this.#out.length === 1) this.#opts.wake?.();
  }

  #dispatch(raw: RawMessage, events: ClientEvent[]): void {
    let m: CaMessage;
    try {
      m = decodeMessage(raw, "to_client");
    } catch (err) {
      // A command this client does not know (a newer server): skip it, keep the circuit.
      events.push({ kind: "server_error", message: err instanceof Error ? err.message : `${err}` });
      return;
    }
    switch (m.kind) {
      case "event_add_resp": {
        const sub = this.#subs.get(m.subid);
        if (!sub) return;
        if (m.payload.length === 0 && m.status === ECA.NORMAL) return; // EVENT_CANCEL confirmation
        const e: Extract<ClientEvent, { kind: "update" }> = {
          kind: "update",
          subid: m.subid,
          status: m.status,
        };
        events.push(decodedInto(e, m));
        return;
      }
      case "read_notify_resp": {
        const e: Extract<ClientEvent, { kind: "read" }> = {
          kind: "read",
          ioid: m.ioid,
          status: m.status,
        };
        events.push(decodedInto(e, m));
        return;
      }
      case "write_notify_resp":
        events.push({ kind: "written", ioid: m.ioid, status: m.status });
        return;
      case "version":
        this.serverMinor = m.minor;
        return;
      case "access_rights": {
        const ch = this.#channels.get(m.cid);
        if (!ch) return;
        ch.read = m.read;
        ch.write = m.write;
        if (ch.connected) events.push({ kind: "access", cid: m.cid, read: m.read, write: m.write });
        return;
      }
      case "create_chan_resp": {
        const ch = this.#channels.get(m.cid);
        if (!ch) {
          // Closed while the server was creating it: release it on the server too.
          this.#send(encodeMessage({ kind: "clear_channel", sid: m.sid, cid: m.cid }));
          return;
        }
        ch.sid = m.sid;
        ch.nativeType = m.nativeType;
        ch.nativeCount = m.nativeCount;
        ch.connected = true;
        // Servers older than 4.4 send no ACCESS_RIGHTS: everything is allowed.
        if (this.serverMinor < 4) ch.read = ch.write = true;
        events.push({
          kind: "connected",
          cid: m.cid,
          sid: m.sid,
          nativeType: m.nativeType,
          nativeCount: m.nativeCount,
          read: ch.read,
          write: ch.write,
        });
        return;
      }
      case "create_ch_fail":
      case "server_disconn": {
        if (!this.#channels.has(m.cid)) return;
        this.#forget(m.cid);
        events.push({
          kind: m.kind === "create_ch_fail" ? "create_failed" : "dropped",
          cid: m.cid,
        });
        return;
      }
      case "error":
        events.push(this.#error(m));
        return;
      default:
        // ECHO replies and CLEAR_CHANNEL confirmations need nothing; the rest is not for clients.
        return;
    }
  }

  #forget(cid: number): void {
    this.#channels.delete(cid);
    if (this.#subs.size > 0) {
      for (const [subid, s] of this.#subs) if (s.cid === cid) this.#subs.delete(subid);
    }
  }

  #error(m: Extract<CaMessage, { kind: "error" }>): ClientEvent {
    const { request: req, status, message } = m;
    if (req.command === CMD.READ_NOTIFY || req.command === CMD.WRITE_NOTIFY) {
      return { kind: "request_error", ioid: req.p2, status, message };
    }
    if (req.command === CMD.EVENT_ADD && this.#subs.has(req.p2)) {
      return { kind: "monitor_error", subid: req.p2, status, message };
    }
    if (req.command === CMD.WRITE) {
      for (const [cid, ch] of this.#channels) {
        if (ch.connected && ch.sid === req.p1) return { kind: "write_error", cid, status, message };
      }
    }
    return { kind: "server_error", status, message };
  }
}

/**
 * Sets on `event` its reply's payload decoded (`result`), or why it could not be (`problem`);
 * neither when the status is not normal. Set in place, not spread: one object per reply.
 */
function decodedInto<E extends { result?: GetResult; problem?: string }>(
  event: E,
  m: { dbrType: number; count: number; status: number; payload: Uint8Array },
): E {
  if (m.status !== ECA.NORMAL) return event;
  try {
    event.result = {
      type: m.dbrType,
      count: m.count,
      data: decodeDbr(m.dbrType, m.count, m.payload),
    };
  } catch (err) {
    event.problem = `${err}`;
  }
  return event;
}
