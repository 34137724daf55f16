/**
 * Server-Sent Events fan-out. Each reading is encoded once, however many clients watch; clients
 * get batches on a short flush period (one write per client per flush, not per reading), so 200
 * browsers on 100 devices at 10 Hz cost a few thousand writes a second. A client that stops
 * reading is disconnected once it is `maxLagMs` behind (it reconnects with `Last-Event-ID` and
 * resumes) instead of growing the daemon's memory. Recent events are kept in a ring for resume;
 * older ones come from the session.
 *
 * @module
 */
import type { Values } from "../device/attr.ts";
import type { Reading } from "../device/device.ts";
import type { Lab } from "../lab/lab.ts";
import type { DeviceManager } from "../lab/manager.ts";
import { readingJson } from "../output/record.ts";
import { ReadingRing } from "./reading_ring.ts";

/** Options of a {@linkcode StreamHub}. */
export interface StreamHubOptions {
  /** Batch period, ms (default 50). */
  flushMs?: number;
  /** Events kept in memory for `Last-Event-ID` resume (default 20,000; older ones come from the session). */
  ringSize?: number;
  /** Comment line period that keeps idle connections open through proxies, ms (default 15 s). */
  heartbeatMs?: number;
  /** A client more than this behind is disconnected, ms (default 5 s). */
  maxLagMs?: number;
  /** Most events replayed on resume (default 20,000: a resume never stalls the daemon for long). */
  maxReplay?: number;
  /** Older events for resume. */
  session?: ReplaySource;
}

/**
 * What the hub needs from a recorded session to resume a client from before its ring: the part
 * of `SessionSource` (`context.ts`) it uses, declared here so the two modules do not import each
 * other.
 */
export interface ReplaySource {
  /** Readings recorded at or after `tMs` (epoch ms), oldest first, at most `limit`. */
  readingsSince(
    tMs: number,
    devices: ReadonlySet<string> | undefined,
    limit: number,
  ): Reading[] | Promise<Reading[]>;
}

/** An event queued for the live clients: its SSE text, and whom it is for. */
interface LiveEvent {
  device: string;
  text: string;
}

interface Client {
  devices: ReadonlySet<string> | undefined;
  key: string;
  controller: ReadableStreamDefaultController<Uint8Array>;
  closed: boolean;
}

const encoder = new TextEncoder();

/** The SSE id of a reading: epoch milliseconds and device, e.g. `1732550000123:gauge`. */
export function eventId(reading: Reading): string {
  return `${Math.round(reading.t * 1000)}:${reading.device}`;
}

/** Parses an event id back into its time (ms) and device; undefined when malformed. */
export function parseEventId(id: string): { tms: number; device: string } | undefined {
  const m = /^(\d{1,16}):(.+)$/.exec(id.trim());
  if (!m) return undefined;
  return { tms: Number(m[1]), device: m[2]! };
}

/** Formats one reading as an SSE event. */
export function readingEvent(reading: Reading): string {
  return `id: ${eventId(reading)}\nevent: reading\ndata: ${readingJson(reading)}\n\n`;
}

/** The SSE event of a reading from its parts (its time in ms, device and JSON text). */
function readingEventOf(tms: number, device: string, json: string): string {
  return `id: ${tms}:${device}\nevent: reading\ndata: ${json}\n\n`;
}

/**
 * What the hub hands each good reading's values to, with their names in order as the resume ring
 * kept them (one array per device and shape, see {@linkcode ReadingRing.push}): `/metrics`'
 * latest values, without a listener and an enumeration of the values of their own.
 */
export interface ValuesKeeper {
  /** Takes the values of a good reading of `device`; `names` are theirs, in order. */
  keep(device: string, values: Values, names: readonly string[]): void;
}

/** Fans readings and other events out to SSE clients. */
export class StreamHub {
  readonly #clients = new Set<Client>();
  // The resume ring, as columns with no object per reading (see reading_ring.ts). Text is made
  // only when a client needs it (a live flush or a resume): with nobody connected, publishing a
  // reading costs no encoding.
  readonly #ring: ReadingRing;
  #pending: LiveEvent[] = [];
  #flushTimer: ReturnType<typeof setInterval> | undefined;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #detach: (() => void)[] = [];
  #closed = false;
  // The labs whose readings this hub publishes, and who keeps their values (see feed).
  readonly #labs = new Set<Lab>();
  #keeper: ValuesKeeper | undefined;
  readonly #opts: Required<Omit<StreamHubOptions, "session">> & { session?: ReplaySource };
  /** Events published since start. */
  published = 0;
  /** Clients disconnected for lagging. */
  lagDisconnects = 0;

  /** Creates a hub; call {@linkcode StreamHub.attach} to feed it a lab's readings. */
  constructor(opts: StreamHubOptions = {}) {
    this.#opts = {
      flushMs: opts.flushMs ?? 50,
      ringSize: opts.ringSize ?? 20_000,
      heartbeatMs: opts.heartbeatMs ?? 15_000,
      maxLagMs: opts.maxLagMs ?? 5_000,
      maxReplay: opts.maxReplay ?? 20_000,
      session: opts.session,
    };
    this.#ring = new ReadingRing(this.#opts.ringSize);
  }

  /** Sets the session used for resuming from before the ring (it may open after the hub). */
  set session(session: ReplaySource | undefined) {
    this.#opts.session = session;
  }

  /** Publishes every reading of every device of `lab`, devices added at run time included. */
  attach(lab: Lab): void {
    this.#labs.add(lab);
    const offs = new Map<DeviceManager, () => void>();
    this.#detach.push(lab.eachDevice((m) => {
      const off = m.onReading((r) => this.publishReading(r));
      offs.set(m, off);
      return () => {
        off();
        offs.delete(m);
      };
    }));
    this.#detach.push(() => offs.forEach((off) => off()));
  }

  /**
   * Hands `keeper` the values of every good reading of `lab`'s devices this hub publishes, as it
   * publishes them; returns the function that stops it, or undefined when the hub does not
   * publish `lab`'s readings alone or feeds another keeper already (the caller then listens
   * itself).
   */
  feed(lab: Lab, keeper: ValuesKeeper): (() => void) | undefined {
    if (this.#closed || this.#keeper !== undefined) return undefined;
    if (this.#labs.size !== 1 || !this.#labs.has(lab)) return undefined;
    this.#keeper = keeper;
    return () => {
      if (this.#keeper === keeper) this.#keeper = undefined;
    };
  }

  /** Number of connected clients. */
  get clientCount(): number {
    return this.#clients.size;
  }

  /** Queues a reading for every client watching its device (and for resume). */
  publishReading(reading: Reading): void {
    const names = this.#ring.push(reading);
    if (names !== undefined) this.#keeper?.keep(reading.device, reading.values, names);
    this.published++;
    if (this.#clients.size === 0) return;
    this.#pending.push({
      device: reading.device,
      text: readingEventOf(Math.round(reading.t * 1000), reading.device, readingJson(reading)),
    });
  }

  /**
   * Queues another kind of event (`alarm`, `scan_point`, `task`): sent live, without an id, so it
   * does not move a client's resume point. `device` filters it like a reading; "" reaches everyone.
   */
  publish(event: string, device: string, data: unknown): void {
    // live only: with nobody connected there is nothing to encode (a scan publishes per point)
    if (this.#clients.size === 0) return;
    this.published++;
    this.#pending.push({ device, text: `event: ${event}\ndata: ${JSON.stringify(data)}\n\n` });
  }

  /**
   * Opens a stream for a client watching `devices` (all when undefined), replaying what it missed
   * after `lastEventId`. The stream ends when the client goes, when `signal` aborts, or at close.
   */
  connect(
    devices: ReadonlySet<string> | undefined,
    lastEventId?: string | null,
    signal?: AbortSignal,
  ): ReadableStream<Uint8Array> {
    const key = devices ? [...devices].sort().join(",") : "*";
    let client: Client | undefined;
    const replay = (controller: ReadableStreamDefaultController<Uint8Array>) =>
      this.#open(controller, devices, key, lastEventId, signal).then((c) => (client = c));
    return new ReadableStream<Uint8Array>({
      start: replay,
      cancel: () => {
        if (client) this.#drop(client, false);
      },
    }, { highWaterMark: 1 });
  }

  async #open(
    controller: ReadableStreamDefaultController<Uint8Array>,
    devices: ReadonlySet<string> | undefined,
    key: string,
    lastEventId: string | null | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Client | undefined> {
    const client: Client = { devices, key, controller, closed: false };
    if (this.#closed) {
      controller.close();
      return undefined;
    }
    controller.enqueue(encoder.encode(`retry: 1000\n: labwire\n\n`));
    const since = lastEventId ? parseEventId(lastEventId) : undefined;
    if (since) {
      const replay = await this.#replay(since, devices);
      if (replay) controller.enqueue(encoder.encode(replay));
    }
    if (this.#closed) {
      controller.close();
      return undefined;
    }
    this.#clients.add(client);
    this.#startTimers();
    signal?.addEventListener("abort", () => this.#drop(client, true), { once: true });
    return client;
  }

  /** Ends every stream and stops listening to the lab. */
  close(): void {
    this.#closed = true;
    this.#flush();
    for (const c of [...this.#clients]) this.#drop(c, true);
    for (const d of this.#detach) d();
    this.#detach = [];
    this.#stopTimers();
  }

  async #replay(
    since: { tms: number; device: string },
    devices: ReadonlySet<string> | undefined,
  ): Promise<string> {
    const parts: string[] = [];
    const want = (ev: { tms: number; device: string }) =>
      (devices === undefined || devices.has(ev.device)) &&
      !(ev.tms === since.tms && ev.device === since.device);
    const ring = this.#ring;
    const oldest = ring.count > 0 ? ring.tms(0) : Infinity;
    // Events older than the ring come from the session (e.g. after a daemon restart).
    if (since.tms < oldest && this.#opts.session) {
      const rows = await this.#opts.session.readingsSince(since.tms, devices, this.#opts.maxReplay);
      for (const r of rows) {
        const tms = Math.round(r.t * 1000);
        if (tms >= oldest) break;
        if (want({ tms, device: r.device })) parts.push(readingEvent(r));
      }
    }
    // The ring is in arrival order, which is not always time order (a slow read, a labwire://
    // daemon's pushed readings): when the client's last event is still in the ring, everything
    // that arrived after it is replayed, exactly. Otherwise, the first event at or after its time.
    let lo = this.#arrivedAfter(since);
    if (lo < 0) {
      lo = 0;
      let hi = ring.count;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ring.tms(mid) < since.tms) lo = mid + 1;
        else hi = mid;
      }
    }
    for (let i = lo; i < ring.count && parts.length < this.#opts.maxReplay; i++) {
      const ev = { tms: ring.tms(i), device: ring.device(i) };
      if (!want(ev)) continue;
      // The time kept is the reading's to the millisecond, all its text shows.
      parts.push(readingEventOf(ev.tms, ev.device, readingJson(ring.reading(i))));
    }
    return parts.join("");
  }

  /** The ring index just after the event `since` names (newest match), or -1 when it is gone. */
  #arrivedAfter(since: { tms: number; device: string }): number {
    const ring = this.#ring;
    for (let i = ring.count - 1; i >= 0; i--) {
      if (ring.tms(i) === since.tms && ring.device(i) === since.device) return i + 1;
    }
    return -1;
  }

  #startTimers(): void {
    this.#flushTimer ??= setInterval(() => this.#flush(), this.#opts.flushMs);
    this.#heartbeatTimer ??= setInterval(() => this.#heartbeat(), this.#opts.heartbeatMs);
  }

  #stopTimers(): void {
    clearInterval(this.#flushTimer);
    clearInterval(this.#heartbeatTimer);
    this.#flushTimer = undefined;
    this.#heartbeatTimer = undefined;
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    const pending = this.#pending;
    this.#pending = [];
    const chunks = new Map<string, Uint8Array | null>();
    const maxQueued = Math.max(2, Math.ceil(this.#opts.maxLagMs / this.#opts.flushMs));
    for (const c of this.#clients) {
      let chunk = chunks.get(c.key);
      if (chunk === undefined) {
        const text = c.devices === undefined
          ? pending.map((e) => e.text).join("")
          : pending.filter((e) => e.device === "" || c.devices!.has(e.device)).map((e) => e.text)
            .join("");
        chunk = text === "" ? null : encoder.encode(text);
        chunks.set(c.key, chunk);
      }
      if (chunk === null) continue;
      // desiredSize counts chunks the client has not taken yet: too many and it is lagging.
      if ((c.controller.desiredSize ?? 0) < -maxQueued) {
        this.lagDisconnects++;
        this.#drop(c, true);
        continue;
      }
      try {
        c.controller.enqueue(chunk);
      } catch {
        this.#drop(c, false);
      }
    }
  }

  #heartbeat(): void {
    const ping = encoder.encode(": ping\n\n");
    for (const c of this.#clients) {
      try {
        c.controller.enqueue(ping);
      } catch {
        this.#drop(c, false);
      }
    }
  }

  #drop(c: Client, closeStream: boolean): void {
    if (c.closed) return;
    c.closed = true;
    this.#clients.delete(c);
    if (closeStream) {
      try {
        c.controller.close();
      } catch {
        // already closed by the client going away
      }
    }
    if (this.#clients.size === 0) {
      this.#stopTimers();
      this.#pending = [];
    }
  }
}
