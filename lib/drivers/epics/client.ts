/**
 * A Channel Access client in TypeScript (no libca): UDP name search, one TCP circuit per server
 * shared by every channel on it, reads, writes with or without completion, monitors, access
 * rights, liveness (ECHO) and automatic reconnection with re-subscription.
 *
 * The pieces, as caproto splits them: `client_circuit.ts` is the protocol of one circuit (bytes
 * in, events and bytes out), `client_search.ts` the search back-off, datagrams and beacons,
 * `client_socket.ts` the TCP and UDP sockets, `client_env.ts` the `EPICS_CA_*` settings and
 * `client_channel.ts` the channel API. This module ties them into a client context.
 *
 * Searches are batched: every channel created in the same tick goes out in as few datagrams as
 * fit (1024 bytes each, as libca), and requests are coalesced into one TCP write per tick, so
 * connecting and reading a thousand PVs costs a handful of round trips.
 *
 * @example
 * ```ts ignore
 * import { CaClient } from "./client.ts";
 * import { clientOptionsFromEnv } from "./client_env.ts";
 * const client = new CaClient(clientOptionsFromEnv());
 * const ch = client.channel("XXX:m1.VAL");
 * console.log((await ch.get()).data.value);
 * await client.close();
 * ```
 *
 * @module
 */
import { DeviceError } from "../../device/errors.ts";
import { Channel } from "./client_channel.ts";
import {
  type CaClientOptions,
  clientOptionsFromEnv,
  resolveClientOptions,
  type ResolvedClientOptions,
} from "./client_env.ts";
import { type Destination, searchDestinations, SearchSchedule } from "./client_search.ts";
import { CircuitSocket } from "./client_socket.ts";
import { SearchSocket } from "./client_udp.ts";
import { Timer } from "../../schedule/timer.ts";

/**
 * A Channel Access client context: one UDP search socket, one circuit per server. Usually one per
 * process — see {@linkcode acquireSharedClient}.
 */
export class CaClient {
  /** The effective options. */
  readonly options: ResolvedClientOptions;
  #nextId = 1;
  #channels = new Map<number, Channel>();
  #search: SearchSchedule;
  #circuits = new Map<string, CircuitSocket>();
  #closing = new Set<Promise<void>>();
  #udp: SearchSocket | undefined;
  #udpReady: Promise<void> | undefined;
  #destinations: Destination[] = [];
  // Not setTimeout: the first one loads Node's timers (see ../../schedule/timer.ts).
  readonly #searchTimer = new Timer(() => this.#searchDue());
  #searchAt = Infinity;
  #closed = false;

  /** Creates a client; sockets open on first use. */
  constructor(options: CaClientOptions = {}) {
    this.options = resolveClientOptions(options);
    this.#search = new SearchSchedule({
      minPeriodMs: this.options.minSearchPeriodMs,
      maxPeriodMs: this.options.maxSearchPeriodMs,
    });
  }

  /** Number of open TCP circuits (one per server in use). */
  get circuitCount(): number {
    return this.#circuits.size;
  }

  /** @internal A fresh id for a channel, request or subscription. */
  nextId(): number {
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0x7fffffff ? 1 : this.#nextId + 1;
    return id;
  }

  /** @internal Reports a problem no pending call can carry. */
  warn(message: string): void {
    this.options.onWarning?.(message);
  }

  /**
   * Creates a channel and starts searching for it; channels created in the same tick are
   * searched together. Wait with `channel.connected()`, or just call `get`/`put`.
   */
  channel(name: string): Channel {
    if (this.#closed) throw new DeviceError("the CA client is closed");
    if (name === "" || name.length > 500) {
      throw new DeviceError(`"${name}" is not a PV name`);
    }
    const ch = new Channel(this, name, this.nextId());
    this.#channels.set(ch.cid, ch);
    this.research(ch, false);
    return ch;
  }

  /** @internal A channel was closed by its owner. */
  forget(ch: Channel): void {
    this.#channels.delete(ch.cid);
    this.#search.remove(ch.cid);
  }

  /** @internal Puts a channel (back) on the search list; `slow` starts at a long period. */
  research(ch: Channel, slow: boolean): void {
    if (this.#closed || ch.state === "closed" || !this.#channels.has(ch.cid)) return;
    ch.circuit = undefined;
    ch.server = "";
    ch.setState("searching");
    this.#scheduleSearch(this.#search.add(ch.cid, ch.name, slow, performance.now()));
  }

  #scheduleSearch(at: number): void {
    if (this.#closed || at >= this.#searchAt) return;
    this.#searchAt = at;
    this.#searchTimer.start(at - performance.now());
  }

  #searchDue(): void {
    const at = this.#searchAt;
    this.#searchAt = Infinity;
    const now = performance.now();
    if (now - at > this.options.minSearchPeriodMs && !this.#search.firstSearchDue(now)) {
      // The process was too busy to listen for longer than a retry gap (e.g. starting a
      // thousand reads): the replies may be waiting unread. Read them before searching again.
      this.#scheduleSearch(now + this.options.minSearchPeriodMs);
      return;
    }
    this.#searchPass().catch((err) => this.warn(`search failed: ${err}`));
  }

  async #searchPass(): Promise<void> {
    if (this.#closed) return;
    const { due, datagrams, next } = this.#search.pass(performance.now());
    if (due.length > 0) {
      await this.#ensureUdp();
      if (this.#destinations.length === 0) {
        const e = new DeviceError(
          `no CA search destinations: EPICS_CA_ADDR_LIST is empty and EPICS_CA_AUTO_ADDR_LIST=NO`,
        );
        for (const cid of due) {
          const ch = this.#channels.get(cid);
          this.#search.remove(cid);
          this.#channels.delete(cid);
          ch?.setState("closed", e);
        }
        return;
      }
      this.#udp!.send(datagrams, this.#destinations);
    }
    if (next < Infinity) this.#scheduleSearch(next);
  }

  #ensureUdp(): Promise<void> {
    this.#udpReady ??= (async () => {
      const o = this.options;
      const udp = await SearchSocket.open(
        (bytes, from) => this.#onDatagram(bytes, from),
        (m) => this.warn(m),
      );
      this.#udp = udp;
      if (o.autoAddrList) udp.allowBroadcast();
      const interfaces = o.autoAddrList ? Deno.networkInterfaces() : [];
      this.#destinations = searchDestinations(
        o.addrList,
        o.serverPort,
        o.autoAddrList,
        interfaces,
        (m) => this.warn(m),
      );
      // Beacons through a running caRepeater; harmless when there is none.
      if (o.repeaterPort > 0) udp.registerWithRepeater(o.repeaterPort);
    })();
    return this.#udpReady;
  }

  #onDatagram(bytes: Uint8Array, from: string): void {
    const now = performance.now();
    const { found, restart } = this.#search.receive(bytes, from, now);
    for (const f of found) {
      const ch = this.#channels.get(f.cid);
      if (ch) this.#attach(ch, f.host, f.port);
    }
    if (restart) this.#scheduleSearch(now);
  }

  #attach(ch: Channel, host: string, port: number): void {
    const key = `${host}:${port}`;
    let c = this.#circuits.get(key);
    if (!c) {
      c = new CircuitSocket(this, host, port);
      this.#circuits.set(key, c);
      this.#track(c.open());
    }
    c.addChannel(ch);
  }

  #track(p: Promise<void>): void {
    this.#closing.add(p);
    p.finally(() => this.#closing.delete(p));
  }

  /** @internal A circuit died or its last channel left: forget it and close it. */
  retire(c: CircuitSocket): void {
    if (this.#circuits.get(c.key) === c) this.#circuits.delete(c.key);
    this.#track(c.close());
  }

  /** Closes every channel, circuit and socket; pending calls fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#searchTimer.cancel();
    const closedErr = new DeviceError("the CA client was closed");
    for (const ch of this.#channels.values()) ch.setState("closed", closedErr);
    this.#channels.clear();
    const circuits = [...this.#circuits.values()];
    this.#circuits.clear();
    await Promise.all(circuits.map((c) => c.close()));
    await Promise.all([...this.#closing]);
    // A failed bind leaves no socket to close; the search that needed it already reported it.
    await this.#udpReady?.catch(() => {});
    await this.#udp?.close();
  }
}

let shared: { client: CaClient; users: number } | undefined;

/**
 * Returns the process-wide client (created from the environment on first use), so every `ca://`
 * device shares searches and circuits. Call {@linkcode releaseSharedClient} when done: the last
 * release closes it.
 */
export function acquireSharedClient(): CaClient {
  if (!shared) shared = { client: new CaClient(clientOptionsFromEnv()), users: 0 };
  shared.users++;
  return shared.client;
}

/** Releases a client from {@linkcode acquireSharedClient}; the last release closes it. */
export function releaseSharedClient(client: CaClient): Promise<void> {
  // Not async: all but the last of a thousand devices closing return at once.
  if (!shared || shared.client !== client) return DONE;
  if (--shared.users > 0) return DONE;
  shared = undefined;
  return client.close();
}

const DONE: Promise<void> = Promise.resolve();
