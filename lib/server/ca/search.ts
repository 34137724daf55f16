/**
 * Answers to the UDP name searches of the CA server, without the socket: for one datagram of
 * searches, the datagrams to send back — a VERSION echoing the client's priority and sequence,
 * then a SEARCH reply per name served (NOT_FOUND only when the client asked for it), split at
 * 1024 bytes as libca expects.
 *
 * @example
 * ```ts
 * import { searchReplies } from "./search.ts";
 * import { concatBytes } from "../../drivers/epics/framing.ts";
 * import { encodeMessage } from "../../drivers/epics/protocol.ts";
 * const ask = concatBytes([
 *   encodeMessage({ kind: "version", priority: 1, minor: 13, sequence: 4 }),
 *   encodeMessage({ kind: "search", reply: false, minor: 13, cid: 1, name: "LAB:gauge:pressure" }),
 * ]);
 * searchReplies(ask, (n) => n === "LAB:gauge:pressure", 5064, 0xffffffff).answered; // 1
 * ```
 *
 * @module
 */
import { readCString } from "../../drivers/epics/dbr_types.ts";
import { concatBytes, decodeDatagram, type RawMessage } from "../../drivers/epics/framing.ts";
import { CA_MINOR_VERSION, CMD, DO_REPLY, MAX_UDP_SEND } from "../../drivers/epics/messages.ts";
import { encodeMessage } from "../../drivers/epics/protocol.ts";

/**
 * The reply datagrams to one search datagram and how many searches they answer (none for a
 * datagram that is not CA: clients retry their searches anyway). `replyIp` goes into each reply
 * (0xFFFFFFFF: "the address this reply came from").
 */
export function searchReplies(
  datagram: Uint8Array,
  served: (name: string) => boolean,
  tcpPort: number,
  replyIp: number,
): { datagrams: Uint8Array[]; answered: number } {
  let raws: RawMessage[];
  try {
    raws = decodeDatagram(datagram);
  } catch {
    return { datagrams: [], answered: 0 }; // not CA, or truncated
  }
  let priority = 0;
  let sequence = 0;
  const replies: Uint8Array[] = [];
  for (const raw of raws) {
    if (raw.command === CMD.VERSION) {
      priority = raw.dataType;
      sequence = raw.p1;
    } else if (raw.command === CMD.SEARCH) {
      const name = readCString(raw.payload, 0, raw.payload.length);
      if (served(name)) {
        replies.push(encodeMessage({
          kind: "search_resp",
          port: tcpPort,
          ip: replyIp,
          cid: raw.p1,
          minor: CA_MINOR_VERSION,
        }));
      } else if (raw.dataType === DO_REPLY) {
        replies.push(encodeMessage({ kind: "not_found", minor: CA_MINOR_VERSION, cid: raw.p1 }));
      }
    }
  }
  if (replies.length === 0) return { datagrams: [], answered: 0 };
  const version = encodeMessage({ kind: "version", priority, minor: CA_MINOR_VERSION, sequence });
  const datagrams: Uint8Array[] = [];
  let batch: Uint8Array[] = [version];
  let size = version.length;
  for (const r of replies) {
    if (size + r.length > MAX_UDP_SEND) {
      datagrams.push(concatBytes(batch));
      batch = [version];
      size = version.length;
    }
    batch.push(r);
    size += r.length;
  }
  datagrams.push(concatBytes(batch));
  return { datagrams, answered: replies.length };
}
