/**
 * EPICS Channel Access wire protocol, sans-I/O: every command in both directions as typed
 * messages, encoded to and decoded from framed messages. No sockets, no timers: the CA client
 * (`client_circuit.ts`) and the CA server (`lib/server/ca/`) both sit on top of this module.
 * Headers, padding and the stream decoder are in `framing.ts`, DBR payloads in `dbr.ts`, status
 * codes in `eca.ts`.
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
 * import { decodeMessage, encodeMessage } from "./protocol.ts";
 * import { MessageDecoder } from "./framing.ts";
 * const bytes = encodeMessage({ kind: "create_chan", cid: 7, minor: 13, name: "XXX:m1.VAL" });
 * const [raw] = new MessageDecoder().push(bytes);
 * decodeMessage(raw!, "to_server"); // { kind: "create_chan", cid: 7, minor: 13, name: "XXX:m1.VAL" }
 * ```
 *
 * @module
 */
import { readCString } from "./dbr_types.ts";
import {
  decodeHeader,
  encodeHeader,
  frame,
  frameText,
  ProtocolError,
  type RawMessage,
} from "./framing.ts";
import { ACCESS, type CaMessage, CMD, type Direction, DO_REPLY, DONT_REPLY } from "./messages.ts";

const textEncoder = new TextEncoder();

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
      return frameText({
        command: CMD.SEARCH,
        dataType: m.reply ? DO_REPLY : DONT_REPLY,
        dataCount: m.minor,
        p1: m.cid,
        p2: m.cid,
      }, m.name);
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
      return frameText({
        command: CMD.CREATE_CHAN,
        dataType: 0,
        dataCount: 0,
        p1: m.cid,
        p2: m.minor,
      }, m.name);
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
      return frameText({
        command: m.kind === "client_name" ? CMD.CLIENT_NAME : CMD.HOST_NAME,
        dataType: 0,
        dataCount: 0,
        p1: 0,
        p2: 0,
      }, m.name);
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
