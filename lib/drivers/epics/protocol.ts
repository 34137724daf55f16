/**
 * EPICS Channel Access wire protocol, sans-I/O: message headers (standard 16-byte and extended
 * 24-byte), every command in both directions as typed messages, payload padding, and a streaming
 * decoder for TCP byte streams split at arbitrary points. No sockets, no timers: the CA client
 * (`client.ts`) and the CA server both sit on top of this module. DBR payloads are in `dbr.ts`,
 * status codes in `eca.ts`.
 *
 * Facts and errata: `../shared/protocols/epics-ca.md` (the reference server wins over the spec:
 * SEARCH replies are padded to 8 bytes, READ_NOTIFY replies carry the ECA status in p1, pad bytes
 * carry garbage and are ignored here).
 *
 * Because some commands mean different things in each direction (18 is CREATE_CHAN request and
 * reply, 6 is SEARCH request and reply), decoding takes the direction: `"to_server"` for what a
 * client sends, `"to_client"` for what a server sends.
 *
 * @example
 * ```ts
 * import { decodeMessage, encodeMessage, MessageDecoder } from "./protocol.ts";
 * const bytes = encodeMessage({ kind: "create_chan", cid: 7, minor: 13, name: "XXX:m1.VAL" });
 * const [raw] = new MessageDecoder().push(bytes);
 * decodeMessage(raw!, "to_server"); // { kind: "create_chan", cid: 7, minor: 13, name: "XXX:m1.VAL" }
 * ```
 *
 * @module
 */
import { readCString } from "./dbr.ts";

/** Default server port (EPICS_CA_SERVER_PORT). */
export const CA_SERVER_PORT = 5064;
/** Default repeater/beacon port (EPICS_CA_REPEATER_PORT). */
export const CA_REPEATER_PORT = 5065;
/** The protocol minor version this module speaks (CA 4.13). */
export const CA_MINOR_VERSION = 13;
/** Largest UDP datagram libca sends; searches are batched up to this size. */
export const MAX_UDP_SEND = 1024;
/** Size of a standard header. */
export const HEADER_SIZE = 16;
/** Size of an extended header. */
export const EXTENDED_HEADER_SIZE = 24;

/** Command codes. */
export const CMD = {
  VERSION: 0,
  EVENT_ADD: 1,
  EVENT_CANCEL: 2,
  READ: 3,
  WRITE: 4,
  SNAPSHOT: 5,
  SEARCH: 6,
  BUILD: 7,
  EVENTS_OFF: 8,
  EVENTS_ON: 9,
  READ_SYNC: 10,
  ERROR: 11,
  CLEAR_CHANNEL: 12,
  RSRV_IS_UP: 13,
  NOT_FOUND: 14,
  READ_NOTIFY: 15,
  READ_BUILD: 16,
  REPEATER_CONFIRM: 17,
  CREATE_CHAN: 18,
  WRITE_NOTIFY: 19,
  CLIENT_NAME: 20,
  HOST_NAME: 21,
  ACCESS_RIGHTS: 22,
  ECHO: 23,
  REPEATER_REGISTER: 24,
  SIGNAL: 25,
  CREATE_CH_FAIL: 26,
  SERVER_DISCONN: 27,
} as const;

/** SEARCH request data_type: the server answers NOT_FOUND when it lacks the name. */
export const DO_REPLY = 10;
/** SEARCH request data_type: the server stays silent when it lacks the name (broadcasts). */
export const DONT_REPLY = 5;

/** Monitor masks for EVENT_ADD. */
export const DBE = { VALUE: 1, LOG: 2, ALARM: 4, PROPERTY: 8 } as const;

/** Access rights bits of ACCESS_RIGHTS (p2). */
export const ACCESS = { READ: 1, WRITE: 2 } as const;

/** The fields of a message header (either size); `payloadSize` is the padded size. */
export interface Header {
  /** Command code, see {@linkcode CMD}. */
  command: number;
  /** Payload bytes following the header (padded to 8). */
  payloadSize: number;
  /** data_type field (DBR type, priority, port… depending on the command). */
  dataType: number;
  /** data_count field (element count, version… depending on the command). */
  dataCount: number;
  /** Parameter 1 (cid, sid, status, IP… depending on the command). */
  p1: number;
  /** Parameter 2 (ioid, subscription id, cid… depending on the command). */
  p2: number;
}

/** A framed message: its header and a view of its payload (pad bytes included). */
export interface RawMessage extends Header {
  /** The payload bytes, `payloadSize` long. */
  payload: Uint8Array;
}

/** Either side of a circuit: what a client sends is `to_server`, what a server sends `to_client`. */
export type Direction = "to_server" | "to_client";

/** Every Channel Access message as a typed object; `kind` names the command and direction. */
export type CaMessage =
  /** VERSION, both directions and in UDP datagrams; on UDP `priority` 1 flags a valid `sequence`. */
  | { kind: "version"; priority: number; minor: number; sequence?: number }
  /** EVENT_ADD request: subscribe `sid` with a client-chosen `subid`. */
  | {
    kind: "event_add";
    dbrType: number;
    count: number;
    sid: number;
    subid: number;
    mask: number;
    low?: number;
    high?: number;
    to?: number;
  }
  /** EVENT_ADD reply: one monitor update (or, with an empty payload, the cancel confirmation). */
  | {
    kind: "event_add_resp";
    dbrType: number;
    count: number;
    status: number;
    subid: number;
    payload: Uint8Array;
  }
  /** EVENT_CANCEL request; answered with an empty `event_add_resp`. */
  | { kind: "event_cancel"; dbrType: number; count: number; sid: number; subid: number }
  /** READ (obsolete, pre-4.4 clients) request. */
  | { kind: "read"; dbrType: number; count: number; sid: number; ioid: number }
  /** WRITE request: no reply unless it fails (then an ERROR). */
  | {
    kind: "write";
    dbrType: number;
    count: number;
    sid: number;
    ioid: number;
    payload: Uint8Array;
  }
  /** SEARCH request (UDP, or TCP to a known server). */
  | { kind: "search"; reply: boolean; minor: number; cid: number; name: string }
  /** SEARCH reply: `ip` 0xFFFFFFFF (or 0) means "the datagram's source address". */
  | { kind: "search_resp"; port: number; ip: number; cid: number; minor: number }
  /** NOT_FOUND reply to a DO_REPLY search. */
  | { kind: "not_found"; minor: number; cid: number }
  /** EVENTS_OFF: the client asks the server to stop sending monitor updates (flow control). */
  | { kind: "events_off" }
  /** EVENTS_ON: resume monitor updates. */
  | { kind: "events_on" }
  /** ERROR: `request` is the header of the failed request, `message` the server's text. */
  | { kind: "error"; cid: number; status: number; request: Header; message: string }
  /** CLEAR_CHANNEL, request and echoed reply. */
  | { kind: "clear_channel"; sid: number; cid: number }
  /** Beacon (RSRV_IS_UP), UDP to the repeater port; `ip` 0 means "the datagram's source". */
  | { kind: "beacon"; minor: number; port: number; beaconId: number; ip: number }
  /** READ_NOTIFY request; `count` 0 asks for the current length (minor ≥ 13). */
  | { kind: "read_notify"; dbrType: number; count: number; sid: number; ioid: number }
  /** READ_NOTIFY reply with the DBR payload (padding included). */
  | {
    kind: "read_notify_resp";
    dbrType: number;
    count: number;
    status: number;
    ioid: number;
    payload: Uint8Array;
  }
  /** REPEATER_CONFIRM: the repeater accepted a registration; `ip` is the repeater's address. */
  | { kind: "repeater_confirm"; ip: number }
  /** CREATE_CHAN request. */
  | { kind: "create_chan"; cid: number; minor: number; name: string }
  /** CREATE_CHAN reply: the channel's native type and element count, and the server's id. */
  | { kind: "create_chan_resp"; nativeType: number; nativeCount: number; cid: number; sid: number }
  /** WRITE_NOTIFY request. */
  | {
    kind: "write_notify";
    dbrType: number;
    count: number;
    sid: number;
    ioid: number;
    payload: Uint8Array;
  }
  /** WRITE_NOTIFY reply: completion status of the write. */
  | { kind: "write_notify_resp"; dbrType: number; count: number; status: number; ioid: number }
  /** CLIENT_NAME: the user name access security sees. */
  | { kind: "client_name"; name: string }
  /** HOST_NAME: the host name access security sees. */
  | { kind: "host_name"; name: string }
  /** ACCESS_RIGHTS for a channel, before the CREATE_CHAN reply and on every change. */
  | { kind: "access_rights"; cid: number; read: boolean; write: boolean }
  /** ECHO, request and reply: liveness check. */
  | { kind: "echo" }
  /** REPEATER_REGISTER: a client asks the local repeater to forward beacons; `ip` is the client's. */
  | { kind: "repeater_register"; ip: number }
  /** CREATE_CH_FAIL: the server will not create the channel. */
  | { kind: "create_ch_fail"; cid: number }
  /** SERVER_DISCONN: the server dropped the channel (e.g. the record was deleted). */
  | { kind: "server_disconn"; cid: number };

/** Every message `kind`. */
export type MessageKind = CaMessage["kind"];

/** Rounds a size up to the next multiple of 8 (CA payload alignment). */
export function padded(size: number): number {
  return (size + 7) & ~7;
}

/**
 * Encodes a header; the extended form is used when the payload size or count do not fit 16
 * bits (only peers of minor version ≥ 9 understand it).
 *
 * @example
 * ```ts
 * import { encodeHeader } from "./protocol.ts";
 * encodeHeader({ command: 23, payloadSize: 0, dataType: 0, dataCount: 0, p1: 0, p2: 0 }).length; // 16
 * ```
 */
export function encodeHeader(h: Header): Uint8Array {
  const extended = h.payloadSize >= 0xffff || h.dataCount >= 0xffff;
  const out = new Uint8Array(extended ? EXTENDED_HEADER_SIZE : HEADER_SIZE);
  writeHeader(new DataView(out.buffer), 0, h, extended);
  return out;
}

function writeHeader(view: DataView, at: number, h: Header, extended: boolean): void {
  view.setUint16(at, h.command);
  view.setUint16(at + 2, extended ? 0xffff : h.payloadSize);
  view.setUint16(at + 4, h.dataType);
  view.setUint16(at + 6, extended ? 0 : h.dataCount);
  view.setUint32(at + 8, h.p1 >>> 0);
  view.setUint32(at + 12, h.p2 >>> 0);
  if (extended) {
    view.setUint32(at + 16, h.payloadSize);
    view.setUint32(at + 20, h.dataCount);
  }
}

/**
 * Decodes the header at `offset`, or returns undefined when the bytes end before it does.
 * Returns the header and its size (16 or 24).
 */
export function decodeHeader(
  bytes: Uint8Array,
  offset = 0,
): { header: Header; size: number } | undefined {
  if (bytes.length - offset < HEADER_SIZE) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const command = view.getUint16(offset);
  let payloadSize = view.getUint16(offset + 2);
  const dataType = view.getUint16(offset + 4);
  let dataCount = view.getUint16(offset + 6);
  const p1 = view.getUint32(offset + 8);
  const p2 = view.getUint32(offset + 12);
  let size = HEADER_SIZE;
  if (payloadSize === 0xffff && dataCount === 0) {
    if (bytes.length - offset < EXTENDED_HEADER_SIZE) return undefined;
    payloadSize = view.getUint32(offset + 16);
    dataCount = view.getUint32(offset + 20);
    size = EXTENDED_HEADER_SIZE;
  }
  return { header: { command, payloadSize, dataType, dataCount, p1, p2 }, size };
}

/**
 * Frames a header and payload: the payload is zero-padded to a multiple of 8 and the header's
 * `payloadSize` is set to the padded size.
 */
export function frame(h: Omit<Header, "payloadSize">, payload?: Uint8Array): Uint8Array {
  const size = payload ? padded(payload.length) : 0;
  const extended = size >= 0xffff || h.dataCount >= 0xffff;
  const hs = extended ? EXTENDED_HEADER_SIZE : HEADER_SIZE;
  const out = new Uint8Array(hs + size);
  writeHeader(new DataView(out.buffer), 0, { ...h, payloadSize: size }, extended);
  if (payload) out.set(payload, hs);
  return out;
}

const textEncoder = new TextEncoder();

/** A NUL-terminated string payload (the padding supplies at least one NUL). */
function stringPayload(text: string): Uint8Array {
  const bytes = textEncoder.encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

function u32(n: number | undefined): number {
  return (n ?? 0) >>> 0;
}

/**
 * Encodes one message, padded and framed, ready to be written to a socket (or appended to a
 * datagram).
 *
 * @example
 * ```ts
 * import { encodeMessage } from "./protocol.ts";
 * encodeMessage({ kind: "echo" }).length; // 16
 * ```
 */
export function encodeMessage(m: CaMessage): Uint8Array {
  switch (m.kind) {
    case "version":
      return frame({
        command: CMD.VERSION,
        dataType: m.priority,
        dataCount: m.minor,
        p1: u32(m.sequence),
        p2: 0,
      });
    case "event_add": {
      const body = new Uint8Array(16);
      const v = new DataView(body.buffer);
      v.setFloat32(0, m.low ?? 0);
      v.setFloat32(4, m.high ?? 0);
      v.setFloat32(8, m.to ?? 0);
      v.setUint16(12, m.mask);
      return frame({
        command: CMD.EVENT_ADD,
        dataType: m.dbrType,
        dataCount: m.count,
        p1: m.sid,
        p2: m.subid,
      }, body);
    }
    case "event_add_resp":
      return frame({
        command: CMD.EVENT_ADD,
        dataType: m.dbrType,
        dataCount: m.count,
        p1: m.status,
        p2: m.subid,
      }, m.payload.length ? m.payload : undefined);
    case "event_cancel":
      return frame({
        command: CMD.EVENT_CANCEL,
        dataType: m.dbrType,
        dataCount: m.count,
        p1: m.sid,
        p2: m.subid,
      });
    case "read":
      return frame({
        command: CMD.READ,
        dataType: m.dbrType,
        dataCount: m.count,
        p1: m.sid,
        p2: m.ioid,
      });
    case "write":
    case "write_notify":
      return frame({
        command: m.kind === "write" ? CMD.WRITE : CMD.WRITE_NOTIFY,
        dataType: m.dbrType,
        dataCount: m.count,
        p1: m.sid,
        p2: m.ioid,
      }, m.payload);
    case "search":
      return frame({
        command: CMD.SEARCH,
        dataType: m.reply ? DO_REPLY : DONT_REPLY,
        dataCount: m.minor,
        p1: m.cid,
        p2: m.cid,
      }, stringPayload(m.name));
    case "search_resp": {
      const body = new Uint8Array(8);
      new DataView(body.buffer).setUint16(0, m.minor);
      return frame({
        command: CMD.SEARCH,
        dataType: m.port,
        dataCount: 0,
        p1: u32(m.ip),
        p2: m.cid,
      }, body);
    }
    case "not_found":
      return frame({
        command: CMD.NOT_FOUND,
        dataType: DO_REPLY,
        dataCount: m.minor,
        p1: m.cid,
        p2: m.cid,
      });
    case "events_off":
    case "events_on":
    case "echo":
      return frame({
        command: m.kind === "echo"
          ? CMD.ECHO
          : m.kind === "events_off"
          ? CMD.EVENTS_OFF
          : CMD.EVENTS_ON,
        dataType: 0,
        dataCount: 0,
        p1: 0,
        p2: 0,
      });
    case "error": {
      const head = encodeHeader(m.request);
      const text = textEncoder.encode(m.message);
      const body = new Uint8Array(head.length + text.length + 1);
      body.set(head);
      body.set(text, head.length);
      return frame({
        command: CMD.ERROR,
        dataType: 0,
        dataCount: 0,
        p1: u32(m.cid),
        p2: m.status,
      }, body);
    }
    case "clear_channel":
      return frame({
        command: CMD.CLEAR_CHANNEL,
        dataType: 0,
        dataCount: 0,
        p1: m.sid,
        p2: m.cid,
      });
    case "beacon":
      return frame({
        command: CMD.RSRV_IS_UP,
        dataType: m.minor,
        dataCount: m.port,
        p1: m.beaconId,
        p2: u32(m.ip),
      });
    case "read_notify":
      return frame({
        command: CMD.READ_NOTIFY,
        dataType: m.dbrType,
        dataCount: m.count,
        p1: m.sid,
        p2: m.ioid,
      });
    case "read_notify_resp":
      return frame({
        command: CMD.READ_NOTIFY,
        dataType: m.dbrType,
        dataCount: m.count,
        p1: m.status,
        p2: m.ioid,
      }, m.payload);
    case "repeater_confirm":
      return frame({
        command: CMD.REPEATER_CONFIRM,
        dataType: 0,
        dataCount: 0,
        p1: 0,
        p2: u32(m.ip),
      });
    case "create_chan":
      return frame({
        command: CMD.CREATE_CHAN,
        dataType: 0,
        dataCount: 0,
        p1: m.cid,
        p2: m.minor,
      }, stringPayload(m.name));
    case "create_chan_resp":
      return frame({
        command: CMD.CREATE_CHAN,
        dataType: m.nativeType,
        dataCount: m.nativeCount,
        p1: m.cid,
        p2: m.sid,
      });
    case "write_notify_resp":
      return frame({
        command: CMD.WRITE_NOTIFY,
        dataType: m.dbrType,
        dataCount: m.count,
        p1: m.status,
        p2: m.ioid,
      });
    case "client_name":
    case "host_name":
      return frame({
        command: m.kind === "client_name" ? CMD.CLIENT_NAME : CMD.HOST_NAME,
        dataType: 0,
        dataCount: 0,
        p1: 0,
        p2: 0,
      }, stringPayload(m.name));
    case "access_rights":
      return frame({
        command: CMD.ACCESS_RIGHTS,
        dataType: 0,
        dataCount: 0,
        p1: m.cid,
        p2: (m.read ? ACCESS.READ : 0) | (m.write ? ACCESS.WRITE : 0),
      });
    case "repeater_register":
      return frame({
        command: CMD.REPEATER_REGISTER,
        dataType: 0,
        dataCount: 0,
        p1: 0,
        p2: u32(m.ip),
      });
    case "create_ch_fail":
    case "server_disconn":
      return frame({
        command: m.kind === "create_ch_fail" ? CMD.CREATE_CH_FAIL : CMD.SERVER_DISCONN,
        dataType: 0,
        dataCount: 0,
        p1: m.cid,
        p2: 0,
      });
  }
}

/** Concatenates encoded messages into one buffer (one TCP write or one UDP datagram). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A message that cannot be understood; the circuit it came from should be closed. */
export class ProtocolError extends Error {
  /** Creates a protocol error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
  }
}

/**
 * Interprets a framed message as a typed {@linkcode CaMessage}, knowing which way it travelled.
 * Payload-carrying messages keep a view of the payload (pad bytes included), to be decoded with
 * `decodeDbr(dbrType, count, payload)`. Unknown commands throw a {@linkcode ProtocolError}.
 */
export function decodeMessage(raw: RawMessage, direction: Direction): CaMessage {
  const toServer = direction === "to_server";
  const { dataType, dataCount, p1, p2, payload } = raw;
  switch (raw.command) {
    case CMD.VERSION:
      return { kind: "version", priority: dataType, minor: dataCount, sequence: p1 };
    case CMD.EVENT_ADD: {
      if (toServer) {
        if (payload.length < 14) throw new ProtocolError("EVENT_ADD request payload too short");
        const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
        return {
          kind: "event_add",
          dbrType: dataType,
          count: dataCount,
          sid: p1,
          subid: p2,
          low: v.getFloat32(0),
          high: v.getFloat32(4),
          to: v.getFloat32(8),
          mask: v.getUint16(12),
        };
      }
      return {
        kind: "event_add_resp",
        dbrType: dataType,
        count: dataCount,
        status: p1,
        subid: p2,
        payload,
      };
    }
    case CMD.EVENT_CANCEL:
      return { kind: "event_cancel", dbrType: dataType, count: dataCount, sid: p1, subid: p2 };
    case CMD.READ:
      return { kind: "read", dbrType: dataType, count: dataCount, sid: p1, ioid: p2 };
    case CMD.WRITE:
      return { kind: "write", dbrType: dataType, count: dataCount, sid: p1, ioid: p2, payload };
    case CMD.SEARCH:
      if (toServer) {
        return {
          kind: "search",
          reply: dataType === DO_REPLY,
          minor: dataCount,
          cid: p1,
          name: readCString(payload, 0, payload.length),
        };
      }
      return {
        kind: "search_resp",
        port: dataType,
        ip: p1,
        cid: p2,
        // Servers older than 4.8 send no payload; their minor version is unknown.
        minor: payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 0,
      };
    case CMD.NOT_FOUND:
      return { kind: "not_found", minor: dataCount, cid: p1 };
    case CMD.EVENTS_OFF:
      return { kind: "events_off" };
    case CMD.EVENTS_ON:
      return { kind: "events_on" };
    case CMD.ERROR: {
      const head = decodeHeader(payload, 0);
      if (!head) throw new ProtocolError("ERROR message without the failed request's header");
      return {
        kind: "error",
        cid: p1,
        status: p2,
        request: head.header,
        message: readCString(payload, head.size, payload.length - head.size),
      };
    }
    case CMD.CLEAR_CHANNEL:
      return { kind: "clear_channel", sid: p1, cid: p2 };
    case CMD.RSRV_IS_UP:
      return { kind: "beacon", minor: dataType, port: dataCount, beaconId: p1, ip: p2 };
    case CMD.READ_NOTIFY:
      if (toServer) {
        return { kind: "read_notify", dbrType: dataType, count: dataCount, sid: p1, ioid: p2 };
      }
      return {
        kind: "read_notify_resp",
        dbrType: dataType,
        count: dataCount,
        status: p1,
        ioid: p2,
        payload,
      };
    case CMD.REPEATER_CONFIRM:
      return { kind: "repeater_confirm", ip: p2 };
    case CMD.CREATE_CHAN:
      if (toServer) {
        return {
          kind: "create_chan",
          cid: p1,
          minor: p2,
          name: readCString(payload, 0, payload.length),
        };
      }
      return {
        kind: "create_chan_resp",
        nativeType: dataType,
        nativeCount: dataCount,
        cid: p1,
        sid: p2,
      };
    case CMD.WRITE_NOTIFY:
      if (toServer) {
        return {
          kind: "write_notify",
          dbrType: dataType,
          count: dataCount,
          sid: p1,
          ioid: p2,
          payload,
        };
      }
      return {
        kind: "write_notify_resp",
        dbrType: dataType,
        count: dataCount,
        status: p1,
        ioid: p2,
      };
    case CMD.CLIENT_NAME:
      return { kind: "client_name", name: readCString(payload, 0, payload.length) };
    case CMD.HOST_NAME:
      return { kind: "host_name", name: readCString(payload, 0, payload.length) };
    case CMD.ACCESS_RIGHTS:
      return {
        kind: "access_rights",
        cid: p1,
        read: (p2 & ACCESS.READ) !== 0,
        write: (p2 & ACCESS.WRITE) !== 0,
      };
    case CMD.ECHO:
      return { kind: "echo" };
    case CMD.REPEATER_REGISTER:
      return { kind: "repeater_register", ip: p2 };
    case CMD.CREATE_CH_FAIL:
      return { kind: "create_ch_fail", cid: p1 };
    case CMD.SERVER_DISCONN:
      return { kind: "server_disconn", cid: p1 };
    default:
      throw new ProtocolError(`unknown Channel Access command ${raw.command}`);
  }
}

/** Largest array payload EPICS accepts by default (`EPICS_CA_MAX_ARRAY_BYTES`), bytes. */
export const DEFAULT_MAX_ARRAY_BYTES = 16384;

/** Limits a {@linkcode MessageDecoder} enforces. */
export interface DecoderOptions {
  /** Largest payload accepted, in bytes (default 64 MiB); bigger means a broken stream. */
  maxPayload?: number;
}

/** Counters of a {@linkcode MessageDecoder}, for tests and metrics. */
export interface DecoderStats {
  /** Bytes copied by the decoder (only bytes of messages split across reads, about twice each). */
  bytesCopied: number;
  /** Messages put together from more than one read. */
  assembled: number;
}

/**
 * Frames a byte stream into messages, whatever the split of the reads: bytes of an incomplete
 * message are kept until the rest arrives.
 *
 * Memory is bounded by the largest legal message (`maxPayload` + the 24-byte extended header):
 * a header announcing more is a {@linkcode ProtocolError} at once, before its payload arrives.
 * Complete messages are framed straight from the caller's chunk. The bytes of a message split
 * across reads are copied once as they arrive (one piece per read, so what is held is what has
 * actually arrived: a peer that announces 15 MB and sends 100 bytes costs 100 bytes) and once
 * more when the last piece completes it. A slow large message thus costs O(size) copying and
 * no reallocation garbage, never O(size²).
 *
 * `push()` returns messages whose payloads stay valid for good (views of `chunk`, or the
 * decoder's own copies); `feed()` calls back with views that are only valid during the
 * callback, so the caller may reuse its read buffer (the fast path).
 *
 * @example
 * ```ts
 * import { encodeMessage, MessageDecoder } from "./protocol.ts";
 * const bytes = encodeMessage({ kind: "echo" });
 * const d = new MessageDecoder();
 * d.push(bytes.subarray(0, 5)).length; // 0
 * d.push(bytes.subarray(5)).length; // 1
 * ```
 */
export class MessageDecoder {
  /** Pieces of the one partial message, in order. */
  #parts: Uint8Array[] = [];
  /** Bytes in #parts. */
  #have = 0;
  /** Total size (header + payload) of the partial message once its header is known, else 0. */
  #need = 0;
  #maxPayload: number;
  readonly #stats: DecoderStats = { bytesCopied: 0, assembled: 0 };

  /** Creates a decoder. */
  constructor(options: DecoderOptions = {}) {
    this.#maxPayload = options.maxPayload ?? 64 * 1024 * 1024;
  }

  /** Bytes held back waiting for the rest of a message. */
  get buffered(): number {
    return this.#have;
  }

  /** Copy counters since creation. */
  get stats(): Readonly<DecoderStats> {
    return this.#stats;
  }

  /** Adds bytes and returns every message they complete (payloads are stable views). */
  push(chunk: Uint8Array): RawMessage[] {
    const out: RawMessage[] = [];
    this.#run(chunk, (m) => out.push(m));
    return out;
  }

  /** Adds bytes and calls `onMessage` for every message they complete (payloads are transient). */
  feed(chunk: Uint8Array, onMessage: (m: RawMessage) => void): void {
    this.#run(chunk, onMessage);
  }

  /** Forgets any partial message (after a reconnect). */
  reset(): void {
    this.#parts = [];
    this.#have = 0;
    this.#need = 0;
  }

  /** The header at `at` of `bytes`, checked against the limit; undefined when incomplete. */
  #header(bytes: Uint8Array, at: number): { header: Header; size: number } | undefined {
    const head = decodeHeader(bytes, at);
    if (head && head.header.payloadSize > this.#maxPayload) {
      throw new ProtocolError(
        `message of ${head.header.payloadSize} bytes exceeds the ${this.#maxPayload}-byte limit` +
          " (EPICS_CA_MAX_ARRAY_BYTES)",
      );
    }
    return head;
  }

  /** Keeps a copy of `bytes` (the caller's buffer is reused for the next read). */
  #keep(bytes: Uint8Array): void {
    this.#parts.push(bytes.slice());
    this.#have += bytes.length;
    this.#stats.bytesCopied += bytes.length;
  }

  #run(chunk: Uint8Array, onMessage: (m: RawMessage) => void): void {
    let at = 0;
    if (this.#have > 0) {
      if (this.#need === 0) {
        // The header is still incomplete, so what is held is under 24 bytes: join it with up
        // to a full extended header's worth of the chunk and look again.
        const take = Math.min(EXTENDED_HEADER_SIZE - this.#have, chunk.length);
        const head = concatBytes([...this.#parts, chunk.subarray(0, take)]);
        this.#stats.bytesCopied += head.length;
        const h = this.#header(head, 0);
        if (!h) {
          // Only possible when the chunk ran out before a full extended header.
          this.#parts = [head];
          this.#have = head.length;
          return;
        }
        this.#need = h.size + h.header.payloadSize;
        // Bytes past this message's end belong to the next one: leave them in the chunk.
        const own = Math.min(this.#need, head.length);
        at = own - this.#have;
        this.#parts = [head.subarray(0, own)];
        this.#have = own;
      }
      const take = Math.min(this.#need - this.#have, chunk.length - at);
      if (take > 0) this.#keep(chunk.subarray(at, at + take));
      at += take;
      if (this.#have < this.#need) return;
      const whole = this.#parts.length === 1 ? this.#parts[0]! : concatBytes(this.#parts);
      if (this.#parts.length > 1) this.#stats.bytesCopied += whole.length;
      this.#stats.assembled++;
      this.#parts = [];
      this.#have = 0;
      this.#need = 0;
      const head = decodeHeader(whole, 0)!;
      const msg = head.header as RawMessage;
      msg.payload = whole.subarray(head.size);
      onMessage(msg);
    }
    while (true) {
      const head = this.#header(chunk, at);
      if (!head) break;
      const end = at + head.size + head.header.payloadSize;
      if (end > chunk.length) {
        this.#need = end - at;
        break;
      }
      const msg = head.header as RawMessage;
      msg.payload = chunk.subarray(at + head.size, end);
      onMessage(msg);
      at = end;
    }
    if (at < chunk.length) this.#keep(chunk.subarray(at));
  }
}

/**
 * Splits a complete datagram into its messages; a trailing partial message is an error (UDP
 * never splits a message across datagrams).
 */
export function decodeDatagram(datagram: Uint8Array): RawMessage[] {
  const out: RawMessage[] = [];
  let at = 0;
  while (at < datagram.length) {
    const head = decodeHeader(datagram, at);
    const end = head ? at + head.size + head.header.payloadSize : Infinity;
    if (!head || end > datagram.length) {
      throw new ProtocolError(`datagram of ${datagram.length} bytes ends inside a message`);
    }
    out.push({ ...head.header, payload: datagram.subarray(at + head.size, end) });
    at = end;
  }
  return out;
}
