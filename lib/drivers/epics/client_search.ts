/**
 * Name search and beacons of the CA client, without the socket: which channels are due for a
 * search (back-off from `minPeriodMs` doubling to a plateau, as libca), the datagrams that carry
 * them (as few as fit 1024 bytes each, every one led by a VERSION), what a datagram from a server
 * means (search replies, beacons), and where searches go (`EPICS_CA_ADDR_LIST`, and with
 * `EPICS_CA_AUTO_ADDR_LIST` the broadcast address of every non-loopback interface).
 *
 * @example
 * ```ts
 * import { SearchSchedule } from "./client_search.ts";
 * const s = new SearchSchedule({ minPeriodMs: 50, maxPeriodMs: 300_000 });
 * s.add(1, "XXX:m1.VAL", false, 0);
 * s.pass(0).datagrams.length; // 1
 * s.pass(10).due.length; // 0: the retry comes 50 ms after the first search
 * ```
 *
 * @module
 */
import { ipToString } from "../../device/ipv4.ts";
import { concatBytes, decodeDatagram, type RawMessage } from "./framing.ts";
import { CA_MINOR_VERSION, type CaMessage, MAX_UDP_SEND } from "./messages.ts";
import { decodeMessage, encodeMessage } from "./protocol.ts";

/** Back-off limits of a {@linkcode SearchSchedule}, ms. */
export interface SearchPeriods {
  /** First retry gap; it doubles up to `maxPeriodMs`. */
  minPeriodMs: number;
  /** Longest gap between two searches of a missing channel. */
  maxPeriodMs: number;
}

/** A server found for a channel. */
export interface Found {
  /** The channel's client id. */
  cid: number;
  /** The server's address. */
  host: string;
  /** The server's TCP port. */
  port: number;
}

interface Searching {
  cid: number;
  name: string;
  period: number;
  next: number;
}

/** The channels waiting for a server, when each is due, and the datagrams that search them. */
export class SearchSchedule {
  readonly #periods: SearchPeriods;
  readonly #searching = new Map<number, Searching>();
  readonly #beaconIds = new Map<string, number>();
  #sequence = 0;

  /** Creates an empty schedule. */
  constructor(periods: SearchPeriods) {
    this.#periods = periods;
  }

  /** Channels waiting for a server. */
  get size(): number {
    return this.#searching.size;
  }

  /** Whether channel `cid` is waiting for a server. */
  has(cid: number): boolean {
    return this.#searching.has(cid);
  }

  /**
   * Puts a channel (back) on the list and returns when it is due: at once, or with `slow` (its
   * server refused or vanished) after a tenth of the plateau.
   */
  add(cid: number, name: string, slow: boolean, now: number): number {
    const period = slow ? this.#periods.maxPeriodMs / 10 : 0;
    const next = slow ? now + period : now;
    this.#searching.set(cid, { cid, name, period, next });
    return next;
  }

  /** Whether a channel due at `now` has never been searched (its first search is waiting). */
  firstSearchDue(now: number): boolean {
    for (const s of this.#searching.values()) if (s.period === 0 && s.next <= now + 1) return true;
    return false;
  }

  /** Takes a channel off the list (found, or closed). */
  remove(cid: number): void {
    this.#searching.delete(cid);
  }

  /**
   * The channels due at `now`, the datagrams searching them (their retry gaps move on), and when
   * the next pass is due (Infinity when nothing waits).
   */
  pass(now: number): { due: number[]; datagrams: Uint8Array[]; next: number } {
    const due: Searching[] = [];
    let next = Infinity;
    for (const s of this.#searching.values()) {
      if (s.next <= now + 1) due.push(s);
      else next = Math.min(next, s.next);
    }
    const { minPeriodMs: min, maxPeriodMs: max } = this.#periods;
    for (const s of due) {
      s.period = Math.min(max, s.period === 0 ? min : s.period * 2);
      s.next = now + s.period;
      next = Math.min(next, s.next);
    }
    return { due: due.map((s) => s.cid), datagrams: this.#datagrams(due), next };
  }

  #datagrams(due: Searching[]): Uint8Array[] {
    const out: Uint8Array[] = [];
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
    for (const s of due) {
      const m = encodeMessage({
        kind: "search",
        reply: false,
        minor: CA_MINOR_VERSION,
        cid: s.cid,
        name: s.name,
      });
      if (size + m.length > MAX_UDP_SEND && parts.length > 1) {
        out.push(concatBytes(parts));
        start();
      }
      parts.push(m);
      size += m.length;
    }
    if (parts.length > 1) out.push(concatBytes(parts));
    return out;
  }

  /**
   * What a datagram from `from` means: the channels it found (taken off the list; replies for
   * channels no longer searched are dropped, as several servers or a retry may answer), and
   * whether a beacon from a new or restarted server makes every waiting channel due now.
   */
  receive(datagram: Uint8Array, from: string, now: number): { found: Found[]; restart: boolean } {
    const found: Found[] = [];
    let restart = false;
    let raws: RawMessage[];
    try {
      raws = decodeDatagram(datagram);
    } catch {
      return { found, restart }; // not CA, or truncated: ignore like libca
    }
    for (const raw of raws) {
      let m: CaMessage;
      try {
        m = decodeMessage(raw, "to_client");
      } catch {
        continue; // a command not meant for a client's UDP socket
      }
      if (m.kind === "search_resp") {
        if (!this.#searching.delete(m.cid)) continue;
        const host = m.ip === 0xffffffff || m.ip === 0 ? from : ipToString(m.ip);
        found.push({ cid: m.cid, host, port: m.port });
      } else if (m.kind === "beacon") {
        const host = m.ip === 0 ? from : ipToString(m.ip);
        if (this.#beacon(`${host}:${m.port}`, m.beaconId, now)) restart = true;
      }
    }
    return { found, restart };
  }

  /** A new server, or one that restarted (beacon ids start over), makes searches start over. */
  #beacon(key: string, id: number, now: number): boolean {
    const last = this.#beaconIds.get(key);
    this.#beaconIds.set(key, id);
    if (last !== undefined && id === last + 1) return false;
    if (this.#searching.size === 0) return false;
    for (const s of this.#searching.values()) {
      s.period = 0;
      s.next = now;
    }
    return true;
  }
}

// Where searches go is a client setting (`client_env.ts`); named here too, where they are used.
export { type Destination, type InterfaceAddress, searchDestinations } from "./client_env.ts";
