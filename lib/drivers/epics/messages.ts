/**
 * The vocabulary of Channel Access: default ports, the protocol version, command codes, monitor
 * masks, access bits, and every message as a typed object ({@linkcode CaMessage}). The codec that
 * turns these into bytes and back is `protocol.ts`.
 *
 * @example
 * ```ts
 * import { type CaMessage, CMD } from "./messages.ts";
 * const m: CaMessage = { kind: "echo" };
 * CMD.ECHO; // 23
 * ```
 *
 * @module
 */
import type { Header } from "./framing.ts";

/** Default server port (EPICS_CA_SERVER_PORT). */
export const CA_SERVER_PORT = 5064;
/** Default repeater/beacon port (EPICS_CA_REPEATER_PORT). */
export const CA_REPEATER_PORT = 5065;
/** The protocol minor version this module speaks (CA 4.13). */
export const CA_MINOR_VERSION = 13;
/** Largest UDP datagram libca sends; searches are batched up to this size. */
export const MAX_UDP_SEND = 1024;

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
  /** READ_NOTIFY request; `count` 0 asks for the current length (minor >= 13). */
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

/** Largest array payload EPICS accepts by default (`EPICS_CA_MAX_ARRAY_BYTES`), bytes. */
export const DEFAULT_MAX_ARRAY_BYTES = 16384;

/**
 * The client's default largest reply payload, bytes (16 MiB). Here, not beside the circuit that
 * enforces it, so that reading the client's settings does not load the circuit's code.
 */
export const CLIENT_MAX_ARRAY_BYTES = 16 * 1024 * 1024;
