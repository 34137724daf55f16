/**
 * How the CA server turns a PV's snapshot into what a client receives: the channels and monitor
 * subscriptions of a circuit, the payload of a read or an update (or the status saying why there
 * is none), the array-size limit, and the framing of READ_NOTIFY, WRITE_NOTIFY and EVENT_ADD
 * replies — the per-update hot path, so written by hand.
 *
 * @module
 */
import { dbrSize } from "../../drivers/epics/dbr_types.ts";
import { ECA } from "../../drivers/epics/eca.ts";
import { encodeHeader, HEADER_SIZE, padded } from "../../drivers/epics/framing.ts";
import { DEFAULT_MAX_ARRAY_BYTES } from "../../drivers/epics/messages.ts";
import { ConversionError, type PvSnapshot } from "./codec.ts";
import type { Pv, PvWatcher } from "./pvs.ts";

/** A channel a client opened on a circuit. */
export interface ServedChannel {
  /** The client's id. */
  cid: number;
  /** The server's id. */
  sid: number;
  /** The PV. */
  pv: Pv;
  /** Whether this client may write it. */
  write: boolean;
  /** Its monitors. */
  subs: Set<Subscription>;
}

/** One monitor: a subscription id, the requested type/count/mask, and its pending update. */
export class Subscription implements PvWatcher {
  /** The latest update not yet sent. */
  pending: PvSnapshot | undefined;
  /** Set once an update has been queued: the first one must not be sent twice. */
  primed = false;
  /** Creates a subscription; `onUpdate` records an update its mask selects. */
  constructor(
    readonly channel: ServedChannel,
    readonly subid: number,
    readonly dbrType: number,
    readonly count: number,
    readonly mask: number,
    readonly onUpdate: (sub: Subscription, snap: PvSnapshot) => void,
  ) {}

  /** Called by the PV on each change, with the event mask of the change. */
  post(_pv: Pv, snap: PvSnapshot, mask: number): void {
    if ((mask & this.mask) === 0) return;
    this.onUpdate(this, snap);
  }
}

/** Elements a snapshot holds now (1 for a scalar or an empty array). */
export function currentCount(snap: PvSnapshot): number {
  return Array.isArray(snap.value) ? Math.max(1, snap.value.length) : 1;
}

/**
 * True when a reply of `count` elements of `pv` would exceed the array limit with elements the
 * PV does not have: its own elements always go out, but padding a scalar to 400,000 strings
 * took seconds of synchronous work (found by fuzzing).
 */
export function tooLarge(
  pv: Pv,
  dbrType: number,
  count: number,
  maxArrayBytes = DEFAULT_MAX_ARRAY_BYTES,
): boolean {
  const own = Math.max(pv.shape.count, pv.snap ? currentCount(pv.snap) : 1);
  if (count <= own) return false;
  return dbrSize(dbrType, count) > maxArrayBytes;
}

/** The payload of `snap` as requested, or a zeroed one with an error status. */
export function replyPayload(
  pv: Pv,
  snap: PvSnapshot,
  dbrType: number,
  count: number,
): { status: number; payload: Uint8Array } {
  try {
    return { status: ECA.NORMAL, payload: pv.payload(snap, dbrType, count) };
  } catch (err) {
    if (!(err instanceof ConversionError)) throw err;
    return { status: ECA.GETFAIL, payload: new Uint8Array(dbrSize(dbrType, count)) };
  }
}

/** Frames a reply (READ_NOTIFY, EVENT_ADD, WRITE_NOTIFY) with p1 = status, p2 = ioid/subid. */
export function frameReply(
  command: number,
  dbrType: number,
  count: number,
  status: number,
  id: number,
  payload?: Uint8Array,
): Uint8Array {
  const size = payload ? padded(payload.length) : 0;
  if (size >= 0xffff || count >= 0xffff) {
    const head = encodeHeader({
      command,
      payloadSize: size,
      dataType: dbrType,
      dataCount: count,
      p1: status,
      p2: id,
    });
    const out = new Uint8Array(head.length + size);
    out.set(head);
    if (payload) out.set(payload, head.length);
    return out;
  }
  // The common case, written by hand: this runs for every monitor update.
  const out = new Uint8Array(HEADER_SIZE + size);
  const v = new DataView(out.buffer);
  v.setUint16(0, command);
  v.setUint16(2, size);
  v.setUint16(4, dbrType);
  v.setUint16(6, count);
  v.setUint32(8, status >>> 0);
  v.setUint32(12, id >>> 0);
  if (payload) out.set(payload, HEADER_SIZE);
  return out;
}
