/**
 * One TCP virtual circuit of the CA server, without the socket: it takes the client's decoded
 * messages ({@linkcode ServerCircuit.receive}) and hands back bytes to send ({@linkcode ServerCircuit.take}).
 * Channels, monitors, reads and writes of one client live here.
 *
 * Flow control: replies wait in a byte-bounded queue (a client that sends requests but never
 * reads replies is dropped), while monitor updates are never queued: each subscription holds at
 * most one pending update, replaced by newer ones until the socket can take it. A slow client
 * therefore sees the latest values at its own pace and never holds up the devices or the other
 * clients; a fast one gets every update.
 *
 * @module
 */
import { errorMessage, UsageError } from "../../device/errors.ts";
import { DBR, isValidDbrType } from "../../drivers/epics/dbr_types.ts";
import { ECA } from "../../drivers/epics/eca.ts";
import { concatBytes, type Header, type RawMessage } from "../../drivers/epics/framing.ts";
import { CA_MINOR_VERSION, CMD } from "../../drivers/epics/messages.ts";
import { decodeMessage, encodeMessage } from "../../drivers/epics/protocol.ts";
import { fromWrite, isWritableType, MAX_ELEMENTS, type PvSnapshot } from "./codec.ts";
import type { Pv, PvTable } from "./pvs.ts";
import {
  currentCount,
  frameReply,
  replyPayload,
  type ServedChannel,
  Subscription,
  tooLarge,
} from "./updates.ts";

/** Options of a {@linkcode ServerCircuit}. */
export interface ServerCircuitOptions {
  /** The PVs served. */
  table: PvTable;
  /** The server's TCP port, for SEARCH requests made over the circuit. */
  tcpPort?: number;
  /** Called when bytes are ready to send (the transport then calls {@linkcode ServerCircuit.take}). */
  wake: () => void;
  /** Replies allowed to wait unsent before the client is dropped, bytes (default 4 MiB). */
  maxQueueBytes?: number;
  /**
   * Largest reply payload, bytes (EPICS_CA_MAX_ARRAY_BYTES; default 16384): a read or monitor
   * asking for more is answered ECA_TOLARGE, as by an EPICS server.
   */
  maxArrayBytes?: number;
  /** Timeout of device calls made for a client, ms (default 5000). */
  timeoutMs?: number;
  /** Longest wait for a positioner to stop before a WRITE_NOTIFY completes, ms (default 300 s). */
  moveTimeoutMs?: number;
  /** Whether this client may write at all (its address is granted writes; default true). */
  mayWrite?: boolean;
  /** The client's address, for log lines. */
  peer?: string;
  /** Receives one line per rejected write and per protocol problem. */
  log?: (message: string) => void;
}

/** Counters of one circuit. */
export interface ServerCircuitStats {
  /** Monitor updates sent. */
  updatesSent: number;
  /** Monitor updates replaced by a newer one before they could be sent. */
  updatesCoalesced: number;
}

/** The server side of one client connection. */
export class ServerCircuit {
  /** Client's user name (CLIENT_NAME). */
  clientName = "";
  /** Client's host name (HOST_NAME). */
  hostName = "";
  /** Client's protocol minor version. */
  minor = 0;
  /** Why the circuit must be closed, once it must. */
  closeReason: string | undefined;
  /** Running counters. */
  readonly stats: ServerCircuitStats = { updatesSent: 0, updatesCoalesced: 0 };

  readonly #opts: ServerCircuitOptions;
  readonly #channels = new Map<number, ServedChannel>();
  readonly #subs = new Map<number, Subscription>();
  readonly #dirty = new Set<Subscription>();
  /** Writes in progress per PV: a read that follows a write on this circuit waits for it. */
  readonly #writing = new Map<Pv, Promise<unknown>>();
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #nextSid = 1;
  #eventsOn = true;
  #closed = false;

  /** Creates a circuit; the server's VERSION greeting is queued at once. */
  constructor(opts: ServerCircuitOptions) {
    this.#opts = opts;
    this.#send(encodeMessage({ kind: "version", priority: 0, minor: CA_MINOR_VERSION }));
  }

  /** Open channels. */
  get channelCount(): number {
    return this.#channels.size;
  }

  /** Active monitors. */
  get subscriptionCount(): number {
    return this.#subs.size;
  }

  /** True when there is something to send. */
  get hasOutput(): boolean {
    return this.#queue.length > 0 || (this.#eventsOn && this.#dirty.size > 0);
  }

  /** Handles one message from the client. Protocol violations set {@linkcode closeReason}. */
  receive(raw: RawMessage): void {
    if (this.#closed) return;
    let m;
    try {
      m = decodeMessage(raw, "to_server");
    } catch (err) {
      this.#fail(`bad message from the client: ${errorMessage(err)}`);
      return;
    }
    switch (m.kind) {
      case "version":
        this.minor = m.minor;
        return;
      case "client_name":
        this.clientName = m.name;
        return;
      case "host_name":
        this.hostName = m.name;
        return;
      case "echo":
        this.#send(encodeMessage({ kind: "echo" }));
        return;
      case "events_off":
        this.#eventsOn = false;
        return;
      case "events_on":
        this.#eventsOn = true;
        if (this.#dirty.size > 0) this.#opts.wake();
        return;
      case "search": {
        const pv = this.#opts.table.get(m.name);
        if (pv) {
          this.#send(encodeMessage({
            kind: "search_resp",
            port: this.#opts.tcpPort ?? 0,
            ip: 0xffffffff,
            cid: m.cid,
            minor: CA_MINOR_VERSION,
          }));
        } else if (m.reply) {
          this.#send(encodeMessage({ kind: "not_found", minor: CA_MINOR_VERSION, cid: m.cid }));
        }
        return;
      }
      case "create_chan":
        this.#createChannel(m.cid, m.minor, m.name);
        return;
      case "clear_channel": {
        const ch = this.#channel(raw, m.sid);
        if (!ch) return;
        this.#dropChannel(ch);
        this.#send(encodeMessage({ kind: "clear_channel", sid: ch.sid, cid: ch.cid }));
        return;
      }
      case "read_notify":
        this.#read(raw, m.sid, m.dbrType, m.count, m.ioid);
        return;
      case "write":
      case "write_notify":
        this.#write(raw, m.kind === "write_notify", m.sid, m.dbrType, m.count, m.ioid, m.payload);
        return;
      case "event_add":
        this.#eventAdd(raw, m.sid, m.subid, m.dbrType, m.count, m.mask);
        return;
      case "event_cancel": {
        const sub = this.#subs.get(m.subid);
        if (!sub || sub.channel.sid !== m.sid) {
          // Already gone (e.g. cleared with its channel): nothing to confirm.
          return;
        }
        this.#dropSub(sub);
        this.#send(encodeMessage({
          kind: "event_add_resp",
          dbrType: sub.dbrType,
          count: sub.count,
          status: ECA.NORMAL,
          subid: sub.subid,
          payload: new Uint8Array(0),
        }));
        return;
      }
      default:
        // READ (pre-4.4), repeater messages, replies sent the wrong way: not ours to answer.
        this.#error(raw, 0xffffffff, ECA.NOSUPPORT, `${m.kind} is not supported by this server`);
    }
  }

  #createChannel(cid: number, minor: number, name: string): void {
    if (minor) this.minor = minor;
    const pv = this.#opts.table.get(name);
    if (!pv) {
      this.#send(encodeMessage({ kind: "create_ch_fail", cid }));
      return;
    }
    const ch: ServedChannel = {
      cid,
      sid: this.#nextSid++,
      pv,
      write: pv.attr.rw && (this.#opts.mayWrite ?? true),
      subs: new Set(),
    };
    this.#channels.set(ch.sid, ch);
    const reply = () => {
      if (this.#closed || this.#channels.get(ch.sid) !== ch) return;
      this.#send(encodeMessage({ kind: "access_rights", cid, read: true, write: ch.write }));
      this.#send(encodeMessage({
        kind: "create_chan_resp",
        nativeType: pv.shape.native,
        nativeCount: pv.shape.count,
        cid,
        sid: ch.sid,
      }));
    };
    // An array's length is only known from a value: read it before telling the client.
    if (pv.attr.type === "number[]" && !pv.snap) {
      pv.current(this.#opts.timeoutMs).then(reply);
    } else {
      reply();
    }
  }

  #channel(raw: RawMessage, sid: number): ServedChannel | undefined {
    const ch = this.#channels.get(sid);
    if (!ch) this.#error(raw, 0xffffffff, ECA.BADCHID, `no channel with server id ${sid}`);
    return ch;
  }

  /** Checks a requested DBR type and count; sends the error and returns false when bad. */
  #checkRequest(raw: RawMessage, ch: ServedChannel, dbrType: number, count: number): boolean {
    if (!isValidDbrType(dbrType) || dbrType > DBR.CTRL_DOUBLE) {
      this.#error(
        raw,
        ch.cid,
        ECA.BADTYPE,
        `DBR type ${dbrType} cannot be read from ${ch.pv.name}`,
      );
      return false;
    }
    if (count > MAX_ELEMENTS || tooLarge(ch.pv, dbrType, count, this.#opts.maxArrayBytes)) {
      this.#error(raw, ch.cid, ECA.TOLARGE, `${count} elements requested from ${ch.pv.name}`);
      return false;
    }
    return true;
  }

  #read(raw: RawMessage, sid: number, dbrType: number, count: number, ioid: number): void {
    const ch = this.#channel(raw, sid);
    if (!ch || !this.#checkRequest(raw, ch, dbrType, count)) return;
    const respond = (snap: PvSnapshot) => {
      if (this.#closed) return;
      const n = count === 0 ? currentCount(snap) : count;
      if (tooLarge(ch.pv, dbrType, n, this.#opts.maxArrayBytes)) {
        this.#error(raw, ch.cid, ECA.TOLARGE, `${ch.pv.name} has ${n} elements, too many to send`);
        return;
      }
      const { status, payload } = replyPayload(ch.pv, snap, dbrType, n);
      this.#send(frameReply(CMD.READ_NOTIFY, dbrType, n, status, ioid, payload));
    };
    const pending = this.#writing.get(ch.pv);
    if (pending) pending.then(() => ch.pv.current(this.#opts.timeoutMs)).then(respond);
    else if (ch.pv.snap && ch.pv.snap.value !== null) respond(ch.pv.snap);
    else ch.pv.current(this.#opts.timeoutMs).then(respond);
  }

  #write(
    raw: RawMessage,
    notify: boolean,
    sid: number,
    dbrType: number,
    count: number,
    ioid: number,
    payload: Uint8Array,
  ): void {
    const ch = this.#channel(raw, sid);
    if (!ch) return;
    const fail = (status: number, message: string) => {
      this.#opts.log?.(`CA put to ${ch.pv.name} refused: ${message}`);
      if (notify) {
        this.#send(frameReply(CMD.WRITE_NOTIFY, dbrType, count, status, ioid));
      } else {
        this.#error(raw, ch.cid, status, `${ch.pv.name}: ${message}`);
      }
    };
    if (!ch.pv.attr.rw) return fail(ECA.NOWTACCESS, `${ch.pv.attr.name} is read-only`);
    if (!ch.write) {
      return fail(
        ECA.NOWTACCESS,
        `client at ${this.#opts.peer ?? "?"} may not write (see [ca] write and write_hosts)`,
      );
    }
    if (!isWritableType(dbrType)) {
      // Not ECA_BADTYPE in an ERROR: libca's default handler aborts on error severities.
      return fail(
        notify ? ECA.BADTYPE : ECA.PUTFAIL,
        `a put must use a plain DBR type, not ${dbrType}`,
      );
    }
    let value: unknown;
    try {
      // Decoded now: the payload is a view of the read buffer, reused after this call.
      value = fromWrite(ch.pv.shape, dbrType, count, payload);
    } catch (err) {
      return fail(ECA.PUTFAIL, errorMessage(err));
    }
    const { pv } = ch;
    const timeout = this.#opts.timeoutMs ?? 5000;
    const done = pv.manager.write(pv.attr.name, value, { timeout })
      .then(() => notify ? this.#settle(pv) : undefined);
    // the write's outcome is reported through `done`; `tracked` only marks one in flight
    const tracked = done.catch(() => {});
    this.#writing.set(pv, tracked);
    tracked.then(() => {
      if (this.#writing.get(pv) === tracked) this.#writing.delete(pv);
    });
    done.then(() => {
      if (notify && !this.#closed) {
        this.#send(frameReply(CMD.WRITE_NOTIFY, dbrType, count, ECA.NORMAL, ioid));
      }
    }, (err) => {
      if (this.#closed) return;
      const rejected = err instanceof UsageError;
      fail(ECA.PUTFAIL, rejected ? errorMessage(err) : `device error: ${errorMessage(err)}`);
    });
  }

  /**
   * Waits until a positioner stops, so that a WRITE_NOTIFY (`caput -c`) completes when the move
   * does, as with an EPICS motor record; then samples the device so monitors see the end point.
   */
  async #settle(pv: Pv): Promise<void> {
    const device = pv.manager.device;
    if (!device.isMoving) return;
    const deadline = Date.now() + (this.#opts.moveTimeoutMs ?? 300_000);
    const timeout = this.#opts.timeoutMs ?? 5000;
    while (!this.#closed && Date.now() < deadline) {
      const moving = await pv.manager.exclusive(() => device.isMoving!({ timeout }));
      if (!moving) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await pv.manager.sample(undefined, { timeout });
  }

  #eventAdd(
    raw: RawMessage,
    sid: number,
    subid: number,
    dbrType: number,
    count: number,
    mask: number,
  ): void {
    const ch = this.#channel(raw, sid);
    if (!ch || !this.#checkRequest(raw, ch, dbrType, count)) return;
    if ((mask & 0xf) === 0) {
      this.#error(raw, ch.cid, ECA.BADMASK, `event mask ${mask} selects no events`);
      return;
    }
    const old = this.#subs.get(subid);
    if (old) this.#dropSub(old);
    const sub = new Subscription(
      ch,
      subid,
      dbrType,
      count,
      mask,
      (sub, snap) => this.markDirty(sub, snap),
    );
    this.#subs.set(subid, sub);
    ch.subs.add(sub);
    ch.pv.watchers.add(sub);
    // The first update goes out at once, whatever the mask.
    if (ch.pv.snap && ch.pv.snap.value !== null) this.markDirty(sub, ch.pv.snap);
    else {
      ch.pv.current(this.#opts.timeoutMs).then((snap) => {
        if (this.#subs.get(subid) === sub && !sub.primed) this.markDirty(sub, snap);
      });
    }
  }

  /** Records the latest update of a subscription (replacing an unsent one) and wakes the sender. */
  markDirty(sub: Subscription, snap: PvSnapshot): void {
    if (this.#closed) return;
    if (sub.pending) this.stats.updatesCoalesced++;
    sub.pending = snap;
    sub.primed = true;
    const wasEmpty = this.#dirty.size === 0;
    this.#dirty.add(sub);
    if (wasEmpty && this.#eventsOn) this.#opts.wake();
  }

  #dropSub(sub: Subscription): void {
    this.#subs.delete(sub.subid);
    sub.channel.subs.delete(sub);
    sub.channel.pv.watchers.delete(sub);
    this.#dirty.delete(sub);
    sub.pending = undefined;
  }

  #dropChannel(ch: ServedChannel): void {
    for (const sub of [...ch.subs]) this.#dropSub(sub);
    this.#channels.delete(ch.sid);
  }

  #error(raw: Header, cid: number, status: number, message: string): void {
    const request: Header = {
      command: raw.command,
      payloadSize: raw.payloadSize,
      dataType: raw.dataType,
      dataCount: raw.dataCount,
      p1: raw.p1,
      p2: raw.p2,
    };
    this.#send(encodeMessage({ kind: "error", cid, status, request, message }));
  }

  #fail(reason: string): void {
    this.closeReason ??= reason;
    this.#opts.log?.(`CA circuit closed: ${reason}`);
    this.#opts.wake();
  }

  #send(bytes: Uint8Array): void {
    if (this.#closed) return;
    const wasEmpty = !this.hasOutput;
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    if (this.#queuedBytes > (this.#opts.maxQueueBytes ?? 4 * 1024 * 1024)) {
      this.#fail(`client ${this.hostName || "?"} does not read its replies`);
      return;
    }
    if (wasEmpty) this.#opts.wake();
  }

  /**
   * Returns the next bytes to write (replies first, then one update per dirty monitor), about
   * `maxBytes` at most, or undefined when there is nothing to send.
   */
  take(maxBytes = 256 * 1024): Uint8Array | undefined {
    if (this.#closed) return undefined;
    const parts: Uint8Array[] = [];
    let size = 0;
    while (this.#queue.length > 0 && size < maxBytes) {
      const b = this.#queue.shift()!;
      this.#queuedBytes -= b.length;
      parts.push(b);
      size += b.length;
    }
    if (this.#eventsOn) {
      for (const sub of this.#dirty) {
        if (size >= maxBytes) break;
        this.#dirty.delete(sub);
        const snap = sub.pending!;
        sub.pending = undefined;
        const n = sub.count === 0 ? currentCount(snap) : sub.count;
        // An array grown past the limit: the update says so instead of carrying it.
        const { status, payload } =
          tooLarge(sub.channel.pv, sub.dbrType, n, this.#opts.maxArrayBytes)
            ? { status: ECA.TOLARGE, payload: undefined }
            : replyPayload(sub.channel.pv, snap, sub.dbrType, n);
        const msg = frameReply(CMD.EVENT_ADD, sub.dbrType, n, status, sub.subid, payload);
        parts.push(msg);
        size += msg.length;
        this.stats.updatesSent++;
      }
    }
    if (parts.length === 0) return undefined;
    return parts.length === 1 ? parts[0] : concatBytes(parts);
  }

  /** These PVs are gone (their device was removed): their channels get SERVER_DISCONN. */
  dropPvs(gone: ReadonlySet<Pv>): void {
    for (const ch of [...this.#channels.values()]) {
      if (!gone.has(ch.pv)) continue;
      this.#dropChannel(ch);
      this.#send(encodeMessage({ kind: "server_disconn", cid: ch.cid }));
    }
  }

  /** Forgets every channel and monitor (the connection is gone). */
  close(): void {
    if (this.#closed) return;
    for (const ch of [...this.#channels.values()]) this.#dropChannel(ch);
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
  }
}
