/**
 * One read of many PVs, as `caget PV...` does it: every name searched in one set of datagrams, one
 * circuit per server, the CREATE_CHANs of every PV a datagram found encoded into one buffer and
 * one write, the READ_NOTIFYs of every channel a chunk of replies connected likewise, one wait
 * for everything, and each reply decoded straight into its PV's values.
 *
 * The per-PV state is a few entries in typed arrays indexed by the PV's place in the batch
 * (its channel id and request id are that place + 1): no channel object, promise, timer, abort
 * signal or closure per PV. A `labwire read` of a thousand PVs runs this once instead of opening
 * a thousand devices on the shared client (`./client.ts`, which a lasting verb needs for
 * reconnection, monitors and writes); both give the same values and the same errors.
 *
 * @example
 * ```ts ignore
 * import { readPvs } from "./client_batch.ts";
 * import { parseAddress } from "../../device/address.ts";
 * const out = await readPvs([{ name: "m1", address: parseAddress("ca://XXX:m1.VAL") }], {
 *   defaultTimeout: 5000,
 * });
 * console.log(out[0]); // { value: 1.5, severity: "NO_ALARM", status: "NO_ALARM" } or an Error
 * ```
 *
 * @module
 */
import type { Values } from "../../device/attr.ts";
import type { BatchTarget } from "../../device/registry.ts";
import { formatMs } from "../../device/clock.ts";
import { DeviceError, TimeoutError } from "../../device/errors.ts";
import { ipToString } from "../../device/ipv4.ts";
import { Timer } from "../../schedule/timer.ts";
import {
  type CaClientOptions,
  clientOptionsFromEnv,
  type Destination,
  resolveClientOptions,
  type ResolvedClientOptions,
  searchDestinations,
} from "./client_env.ts";
import { SearchSocket } from "./client_udp.ts";
import { loadModule } from "../../device/lazy_module.ts";
import {
  ALARM_STATUS_NAMES,
  DBR,
  dbrOf,
  readCString,
  SEVERITY_NAMES,
  TIME_TYPES,
  valueOffset,
} from "./dbr_types.ts";
import type { ChannelFacts, CharMode } from "./driver_values.ts";
import {
  EXTENDED_HEADER_SIZE,
  FrameWriter,
  HEADER_SIZE,
  NameFrames,
  padded,
  ProtocolError,
} from "./frame_writer.ts";
import { CA_MINOR_VERSION, CMD, DONT_REPLY, MAX_UDP_SEND } from "./messages.ts";

/** How {@linkcode readPvs} reads. */
export interface BatchOptions {
  /** The timeout of every PV, ms, over each target's own. */
  timeout?: number;
  /** The timeout of a target without one, ms. */
  defaultTimeout: number;
  /** Client settings (default: the `EPICS_CA_*` environment). */
  client?: CaClientOptions;
}

// Where a PV is: waiting for a server, connecting (found; CREATE_CHAN sent or waiting for the
// circuit), reading (READ_NOTIFY sent), done (its outcome is set).
const SEARCHING = 0;
const CONNECTING = 1;
const READING = 2;
const DONE = 3;

/** A reply the general decoder takes: its PV, DBR type, element count and payload. */
interface SlowReply {
  i: number;
  type: number;
  count: number;
  payload: Uint8Array;
  /** An enum's DBR_CTRL reply (its state strings), beside its value. */
  ctrl?: SlowReply;
}

/** The general decoder (`./dbr.ts`) and the value mapping (`./driver_values.ts`). */
interface Decoders {
  decodeDbr: typeof import("./dbr.ts").decodeDbr;
  pvValue: typeof import("./driver_values.ts").pvValue;
}

let decoders: Decoders | undefined;
let loadingDecoders: Promise<Decoders> | undefined;

/**
 * Loads the general decoder on the first reply that needs it (a string, enum, array or char
 * PV): a read of number PVs decodes every reply in place and never loads its three modules.
 */
function loadDecoders(): Promise<Decoders> {
  loadingDecoders ??= Promise.all([
    loadModule<typeof import("./dbr.ts")>(new URL("./dbr.ts", import.meta.url)),
    loadModule<typeof import("./driver_values.ts")>(new URL("./driver_values.ts", import.meta.url)),
  ]).then(([dbr, values]) => (decoders = { decodeDbr: dbr.decodeDbr, pvValue: values.pvValue }));
  return loadingDecoders;
}

/**
 * ECA_NORMAL (`caerr.h`): the status of a reply that succeeded. The ECA table itself
 * (`./eca.ts`, every code's name and message) loads only to word a failure (`#named`).
 */
const ECA_NORMAL = 1;

/** A read the server failed with an ECA status, worded once the ECA table has loaded. */
class EcaFailure extends DeviceError {
  constructor(readonly what: string, readonly status: number) {
    super(what);
    this.name = "EcaFailure";
  }
}

// Where the value of each number TIME type starts in its payload (`valueOffset`, once).
const TIME_DOUBLE_AT = valueOffset(DBR.TIME_DOUBLE);
const TIME_FLOAT_AT = valueOffset(DBR.TIME_FLOAT);
const TIME_LONG_AT = valueOffset(DBR.TIME_LONG);
const TIME_SHORT_AT = valueOffset(DBR.TIME_SHORT);
/** DBR_CTRL_ENUM: an enum's state strings, read beside its value. */
const CTRL_ENUM = dbrOf("ctrl", DBR.ENUM);

/** How long the search timer waits for replies still unread in the socket, ms. */
const UNREAD_WAIT_MS = 5;

/**
 * Reads the PV of every target (`ca://PV`, its device's name for errors) once: DBR_TIME of its
 * native type (an enum's state strings with DBR_CTRL beside it). Returns, in the same order,
 * its default reading (`value`, `severity`, `status`) or the error that ended it: not found
 * within its timeout, no read access, a server error, a lost circuit.
 */
export function readPvs(
  targets: readonly BatchTarget[],
  opts: BatchOptions,
): Promise<(Values | Error)[]> {
  return new BatchRead(targets, opts).run();
}

/** One circuit of a batch: a TCP connection to a server and the requests waiting for it. */
class BatchCircuit {
  conn: Deno.TcpConn | undefined;
  /** Requests written while connecting go out with the handshake. */
  readonly out = new FrameWriter(4096);
  /** The server's protocol minor version (from its VERSION; 13 until then). */
  serverMinor = CA_MINOR_VERSION;
  #writing: Promise<void> = Promise.resolve();
  closed = false;
  reading: Promise<void> = Promise.resolve();

  constructor(readonly key: string, readonly host: string, readonly port: number) {}

  /** Writes what is queued (after what is being written), unless not connected yet. */
  flush(onError: (err: unknown) => void): void {
    const conn = this.conn;
    if (!conn || this.closed || this.out.length === 0) return;
    const bytes = this.out.take();
    this.#writing = this.#writing.then(async () => {
      let at = 0;
      while (at < bytes.length) at += await conn.write(bytes.subarray(at));
    }).catch(onError);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn?.close();
    } catch {
      // Already closed by the server or a failed write: nothing to release.
    }
  }
}

/** The state of one {@linkcode readPvs} call. */
class BatchRead {
  /** The targets (their names go on the errors, at the end: {@linkcode #named}). */
  readonly #targets: readonly BatchTarget[];
  /** Each target's PV name. */
  readonly #pvs: string[];
  /** Every PV's SEARCH, built once (a PV searched again is copied again). */
  #searches: NameFrames | undefined;
  /** Every PV's CREATE_CHAN: its SEARCH with three header words changed, made at the first reply. */
  #creates: NameFrames | undefined;
  readonly #o: ResolvedClientOptions;
  readonly #n: number;
  readonly #results: (Values | Error | undefined)[];
  readonly #state: Uint8Array;
  readonly #circuit: Int32Array;
  readonly #sid: Uint32Array;
  readonly #type: Int16Array;
  readonly #count: Uint32Array;
  readonly #access: Uint8Array;
  readonly #deadline: Float64Array;
  /** A connected PV's TIME type, found as its CREATE_CHAN reply is read. */
  readonly #timeType: Uint16Array;
  /** The PVs whose READ_NOTIFYs wait for the end of the chunk of replies being read. */
  readonly #toRead: Uint32Array;
  /** An enum's value waiting for its state strings, or the reverse. */
  readonly #half = new Map<number, { time?: SlowReply; ctrl?: SlowReply }>();
  /** Replies waiting for the general decoder to load. */
  #slow: SlowReply[] = [];
  readonly #circuits: BatchCircuit[] = [];
  readonly #byServer = new Map<string, number>();
  readonly #facts: ChannelFacts = {
    nativeType: 0,
    nativeCount: 0,
    readAccess: true,
    writeAccess: false,
    server: "",
  };
  #left: number;
  #udp: SearchSocket | undefined;
  #destinations: Destination[] = [];
  #searchPeriod = 0;
  /** The search timer waited once for unread replies (see `#searchDue`). */
  #searchWaited = false;
  readonly #searchTimer = new Timer(() => this.#searchDue());
  readonly #deadlineTimer = new Timer(() => this.#expire());
  #sequence = 0;
  /** A PV failed (`#fail`): `#named` has errors to word and name. */
  #failed = false;
  /** A target's PV is not a PV name (it is not searched). */
  #badName = false;
  #finish: () => void = () => {};
  /** Opening the socket and sending the first searches (closing waits for it). */
  #opening: Promise<void> = Promise.resolve();

  readonly #timeout: Float64Array;

  constructor(targets: readonly BatchTarget[], opts: BatchOptions) {
    const n = targets.length;
    this.#targets = targets;
    // Loops over every PV keep the arrays in locals (a private field read each is an
    // inline-cache call in the interpreter code these run in once).
    const pvs: string[] = this.#pvs = new Array(n);
    const timeout = this.#timeout = new Float64Array(n);
    const all = opts.timeout;
    for (let i = 0; i < n; i++) {
      const t = targets[i]!;
      pvs[i] = t.address.target.trim();
      timeout[i] = all ?? t.timeout ?? opts.defaultTimeout;
    }
    this.#o = resolveClientOptions(opts.client ?? clientOptionsFromEnv());
    this.#n = n;
    this.#left = n;
    this.#results = new Array(n).fill(undefined);
    this.#state = new Uint8Array(n);
    this.#circuit = new Int32Array(n).fill(-1);
    this.#sid = new Uint32Array(n);
    this.#type = new Int16Array(n).fill(-1);
    this.#count = new Uint32Array(n);
    this.#access = new Uint8Array(n);
    this.#deadline = new Float64Array(n);
    this.#timeType = new Uint16Array(n);
    this.#toRead = new Uint32Array(n);
  }

  async run(): Promise<(Values | Error)[]> {
    const n = this.#n;
    if (n === 0) return [];
    const now = performance.now();
    const pvs = this.#pvs;
    const deadline = this.#deadline;
    const timeout = this.#timeout;
    for (let i = 0; i < n; i++) {
      const pv = pvs[i]!;
      deadline[i] = now + timeout[i]!;
      if (pv === "" || pv.length > 500) {
        this.#badName = true;
        this.#fail(i, new DeviceError(`"${pv}" is not a PV name`));
      }
    }
    const done = new Promise<void>((resolve) => (this.#finish = resolve));
    if (this.#left === 0) this.#finish();
    else {
      this.#opening = this.#begin();
      this.#armDeadline();
    }
    await done;
    await this.#close();
    return await this.#named();
  }

  async #begin(): Promise<void> {
    try {
      await this.#openUdp();
      await this.#search();
    } catch (err) {
      for (let i = 0; i < this.#n; i++) {
        if (this.#state[i] !== DONE) {
          this.#fail(i, new DeviceError(`${this.#pvs[i]!}: ${messageOf(err)}`));
        }
      }
    }
  }

  /** The outcomes, each error worded and named after its target's device. */
  async #named(): Promise<(Values | Error)[]> {
    const out = this.#results as (Values | Error)[];
    if (!this.#failed) return out; // no error to word or name: no pass over the outcomes
    let eca: typeof import("./eca.ts") | undefined;
    for (let i = 0; i < this.#n; i++) {
      const f = out[i];
      if (!(f instanceof EcaFailure)) continue;
      eca ??= await loadModule<typeof import("./eca.ts")>(new URL("./eca.ts", import.meta.url));
      out[i] = new DeviceError(`${f.what}: ${eca.ecaMessage(f.status)} (${eca.ecaName(f.status)})`);
    }
    for (let i = 0; i < this.#n; i++) {
      const r = out[i];
      if (r instanceof DeviceError && r.device === undefined) {
        const Kind = r instanceof TimeoutError ? TimeoutError : DeviceError;
        out[i] = new Kind(r.message, this.#targets[i]!.name);
      }
    }
    return out;
  }

  async #openUdp(): Promise<void> {
    const o = this.#o;
    const udp = await SearchSocket.open((bytes, from) => this.#onDatagram(bytes, from), () => {});
    if (this.#left === 0) {
      // Every PV ended (its deadline) while the socket opened.
      await udp.close();
      return;
    }
    this.#udp = udp;
    if (o.autoAddrList) this.#udp.allowBroadcast();
    this.#destinations = searchDestinations(
      o.addrList,
      o.serverPort,
      o.autoAddrList,
      o.autoAddrList ? Deno.networkInterfaces() : [],
      () => {},
    );
    if (this.#destinations.length === 0) {
      throw new Error(
        "no CA search destinations: EPICS_CA_ADDR_LIST is empty and EPICS_CA_AUTO_ADDR_LIST=NO",
      );
    }
  }

  /**
   * Sends the searches of every PV still without a server, then waits twice as long (libca),
   * counted from when they went out; resolves then.
   */
  async #search(): Promise<void> {
    if (this.#left === 0 || !this.#udp) return;
    const datagrams: Uint8Array[] = [];
    // A target whose PV is not a PV name (failed at the start, never sent) is framed as an
    // empty name: a name too long for any message would throw here.
    const frames = this.#searches ??= NameFrames.of(
      this.#badName ? this.#pvs.map((pv) => pv === "" || pv.length > 500 ? "" : pv) : this.#pvs,
      6, // CMD.SEARCH
      DONT_REPLY,
      CA_MINOR_VERSION,
    );
    const bytes = frames.bytes;
    const at = frames.at;
    const state = this.#state;
    const n = this.#n;
    // Every datagram is written into one buffer and sent as a view of it, not a writer and a
    // take() of its own (two buffers and two views a datagram; 33 datagrams a read of 1,000
    // PVs: ~0.75 M instructions). `ends` holds where each datagram ends; `begin` where the one
    // being filled starts (-1: none yet).
    const w = new FrameWriter(at[n]! + HEADER_SIZE * 64);
    const ends: number[] = [];
    let begin = -1;
    // Runs of consecutive PVs still searching, as many as fit a datagram, one copy each.
    for (let i = 0; i < n;) {
      if (state[i] !== SEARCHING) {
        i++;
        continue;
      }
      if (begin < 0) {
        begin = w.length;
        // On UDP a VERSION with priority 1 says "the sequence number is valid".
        w.header(CMD.VERSION, 1, CA_MINOR_VERSION, ++this.#sequence, 0);
      }
      const from = i;
      const start = at[from]!;
      const room = MAX_UDP_SEND - (w.length - begin) + start;
      while (i < n && state[i] === SEARCHING && at[i + 1]! <= room) i++;
      if (i === from) {
        if (w.length - begin > HEADER_SIZE) {
          // This one starts the next datagram.
          ends.push(w.length);
          begin = -1;
          continue;
        }
        i++; // longer than any datagram: sent alone
      }
      w.copy(bytes, start, at[i]!);
    }
    if (begin < 0) return;
    ends.push(w.length);
    const all = w.finish();
    for (let k = 0; k < ends.length; k++) {
      datagrams.push(all.subarray(k === 0 ? 0 : ends[k - 1]!, ends[k]!));
    }
    await this.#udp.send(datagrams, this.#destinations);
    if (this.#left === 0) return;
    const { minSearchPeriodMs: min, maxSearchPeriodMs: max } = this.#o;
    this.#searchPeriod = Math.min(max, this.#searchPeriod === 0 ? min : this.#searchPeriod * 2);
    this.#searchTimer.start(this.#searchPeriod);
  }

  /**
   * The search timer: searches again once the replies that may be waiting in the socket have
   * been read. Deno reads a socket only when its event loop is idle, and a process busy since
   * the searches left (a verb loading or opening other devices) has not read them yet: the timer
   * waits a little more, once (never again, however late it fires: a slow machine must still
   * search again).
   */
  #searchDue(): void {
    if (!this.#searchWaited) {
      this.#searchWaited = true;
      this.#searchTimer.start(UNREAD_WAIT_MS);
      return;
    }
    this.#searchWaited = false;
    void this.#search();
  }

  /**
   * Search replies: each PV found joins its server's circuit; one write per circuit. A reply a
   * PV (a thousand for a read of a thousand PVs): the loop keeps what it reads in locals and its
   * command codes as literals (`CMD.X` is a property load per use in interpreter code).
   */
  #onDatagram(bytes: Uint8Array, from: string): void {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const touched: BatchCircuit[] = [];
    const n = this.#n;
    const state = this.#state;
    const circuitOf = this.#circuit;
    // A PV's CREATE_CHAN is its SEARCH with three header words changed: made for every PV at
    // the first reply, then copied into the circuit's write in runs of consecutive PVs.
    const searches = this.#searches;
    if (searches === undefined) return; // nothing searched yet: not a reply of this batch
    const creates = this.#creates ??= searches.retagged(18, 0, 0, CA_MINOR_VERSION);
    const at = creates.at;
    // A datagram's replies come from one server: its circuit is looked up (an address string
    // and a key made) once per server a datagram names, not once per PV.
    let lastIp = -1;
    let lastPort = -1;
    let index = -1;
    let circuit: BatchCircuit | undefined;
    // The run of PVs found, [first, next), not yet copied into `circuit`'s write.
    let first = 0;
    let next = 0;
    for (let o = 0; o + HEADER_SIZE <= bytes.length;) {
      const word = view.getUint32(o); // command, payload size
      if (word >>> 16 === 6) { // CMD.SEARCH
        const i = view.getUint32(o + 12) - 1;
        if (i >= 0 && i < n && state[i] === SEARCHING) {
          const ip = view.getUint32(o + 8);
          const port = view.getUint16(o + 4);
          if (ip !== lastIp || port !== lastPort || circuit === undefined) {
            if (next > first) circuit!.out.copy(creates.bytes, at[first]!, at[next]!);
            first = next = i;
            const host = ip === 0xffffffff || ip === 0 ? from : ipToString(ip);
            index = this.#circuitFor(host, port);
            lastIp = ip;
            lastPort = port;
            circuit = this.#circuits[index]!;
            if (!touched.includes(circuit)) touched.push(circuit);
          } else if (i !== next) {
            if (next > first) circuit.out.copy(creates.bytes, at[first]!, at[next]!);
            first = i;
          }
          next = i + 1;
          state[i] = CONNECTING;
          circuitOf[i] = index;
        }
      }
      o += HEADER_SIZE + (word & 0xffff);
    }
    if (next > first) circuit!.out.copy(creates.bytes, at[first]!, at[next]!);
    for (const c of touched) c.flush((err) => this.#lost(c, `lost CA server ${c.key}: ${err}`));
  }

  #circuitFor(host: string, port: number): number {
    const key = `${host}:${port}`;
    const known = this.#byServer.get(key);
    if (known !== undefined) return known;
    const c = new BatchCircuit(key, host, port);
    // The handshake leads whatever is queued before the connection is up.
    c.out.header(CMD.VERSION, 0, CA_MINOR_VERSION, 0, 0);
    c.out.text(CMD.CLIENT_NAME, 0, 0, 0, 0, this.#o.clientName);
    c.out.text(CMD.HOST_NAME, 0, 0, 0, 0, this.#o.hostName);
    const index = this.#circuits.length;
    this.#circuits.push(c);
    this.#byServer.set(key, index);
    c.reading = this.#connect(c, index);
    return index;
  }

  async #connect(c: BatchCircuit, index: number): Promise<void> {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: c.host, port: c.port });
      conn.setNoDelay(true);
    } catch (err) {
      this.#lost(c, new Error(`cannot connect to CA server ${c.key}: ${messageOf(err)}`));
      return;
    }
    if (this.#left === 0) {
      conn.close();
      return;
    }
    c.conn = conn;
    // The handshake and the CREATE_CHANs queued while connecting, in one write.
    c.flush((err) => this.#lost(c, `lost CA server ${c.key}: ${err}`));
    await this.#receive(c, index);
  }

  /**
   * Reads circuit `index` until it closes or every PV is done. Every reply of a read passes
   * here, three a PV, in interpreter and baseline code: the frequent ones (READ_NOTIFY,
   * CREATE_CHAN, ACCESS_RIGHTS) are handled in the loop itself, command codes as literals and the
   * per-PV arrays in locals (a private field read or a call per reply is an inline-cache call
   * there), and a number PV's one-element TIME reply is decoded in place; `#onMessage` takes the
   * rare ones and `#onRead` the other reads. The READ_NOTIFYs of the channels a chunk of replies
   * connected are written in one loop after it (`#writeReads`).
   */
  async #receive(c: BatchCircuit, index: number): Promise<void> {
    let buf = new Uint8Array(256 * 1024);
    let have = 0;
    const max = padded(this.#o.maxArrayBytes) + EXTENDED_HEADER_SIZE;
    const n = this.#n;
    const state = this.#state;
    const circuitOf = this.#circuit;
    const counts = this.#count;
    const results = this.#results;
    const access = this.#access;
    const half = this.#half;
    const toRead = this.#toRead;
    const sids = this.#sid;
    const types = this.#type;
    const timeTypes = this.#timeType;
    try {
      while (!c.closed) {
        if (have === buf.length) {
          const grown = new Uint8Array(buf.length * 2);
          grown.set(buf);
          buf = grown;
        }
        const got = await c.conn!.read(buf.subarray(have));
        if (got === null) {
          this.#lost(c, `CA server ${c.key} closed the connection`);
          return;
        }
        have += got;
        const view = new DataView(buf.buffer, 0, have);
        let at = 0;
        let reads = 0;
        let enums = 0;
        while (at + HEADER_SIZE <= have) {
          const word = view.getUint32(at); // command, payload size
          let size = word & 0xffff;
          // The count is read where a message needs it (with its data type, one 32-bit read),
          // but for an extended header's: -1 until then.
          let count = -1;
          let head = HEADER_SIZE;
          if (size === 0xffff && view.getUint16(at + 6) === 0) {
            if (at + EXTENDED_HEADER_SIZE > have) break;
            size = view.getUint32(at + 16);
            count = view.getUint32(at + 20);
            head = EXTENDED_HEADER_SIZE;
          }
          if (head + size > max) {
            throw new ProtocolError(
              `message of ${size} bytes exceeds the ${max}-byte limit (EPICS_CA_MAX_ARRAY_BYTES)`,
            );
          }
          const end = at + head + size;
          if (end > have) {
            if (end > buf.length) {
              const grown = new Uint8Array(Math.max(buf.length * 2, end - at));
              grown.set(buf.subarray(at, have));
              buf = grown;
              have -= at;
              at = 0;
            }
            break;
          }
          const command = word >>> 16;
          if (command === 15) { // CMD.READ_NOTIFY
            const ioid = view.getUint32(at + 12);
            // Request `ioid`'s PV: its TIME read (i + 1) or an enum's CTRL read (n + i + 1).
            const i = ioid > n ? ioid - n - 1 : ioid - 1;
            if (i >= 0 && i < n && state[i] === READING) {
              const status = view.getUint32(at + 8);
              const v = at + head;
              const second = view.getUint32(at + 4);
              const type = second >>> 16;
              if (count < 0) count = second & 0xffff;
              if (status !== ECA_NORMAL) this.#fail(i, new EcaFailure(this.#what(i), status));
              else if (count === 1 && counts[i] === 1 && (half.size === 0 || !half.has(i))) {
                // A one-element TIME reply of a number PV, read straight from the buffer
                // (offsets found once at load, sizes as literals). Only enums wait for a
                // second reply: a read of numbers never looks one up.
                let value = 0;
                let decoded = true;
                if (type === 20 && TIME_DOUBLE_AT + 8 <= size) { // DBR.TIME_DOUBLE
                  value = view.getFloat64(v + TIME_DOUBLE_AT);
                } else if (type === 19 && TIME_LONG_AT + 4 <= size) { // DBR.TIME_LONG
                  value = view.getInt32(v + TIME_LONG_AT);
                } else if (type === 16 && TIME_FLOAT_AT + 4 <= size) { // DBR.TIME_FLOAT
                  value = view.getFloat32(v + TIME_FLOAT_AT);
                } else if (type === 15 && TIME_SHORT_AT + 2 <= size) { // DBR.TIME_SHORT
                  value = view.getInt16(v + TIME_SHORT_AT);
                } else decoded = false;
                if (decoded) {
                  // Status and severity, two signed 16-bit fields, in one read.
                  const both = view.getInt32(v);
                  const alarm = both >> 16;
                  const severity = (both << 16) >> 16;
                  // `#done`'s work without its call: the PV is READING, so not done before.
                  state[i] = DONE;
                  results[i] = {
                    value,
                    severity: SEVERITY_NAMES[severity] ?? String(severity),
                    status: ALARM_STATUS_NAMES[alarm] ?? String(alarm),
                  };
                  if (--this.#left === 0) this.#finish();
                } else this.#onRead(i, ioid, type, count, buf, v, size);
              } else this.#onRead(i, ioid, type, count, buf, v, size);
            }
          } else if (command === 18) { // CMD.CREATE_CHAN
            const i = view.getUint32(at + 8) - 1;
            if (i >= 0 && i < n && circuitOf[i] === index && state[i] === CONNECTING) {
              const second = view.getUint32(at + 4);
              const dataType = second >>> 16;
              sids[i] = view.getUint32(at + 12);
              types[i] = dataType;
              counts[i] = count < 0 ? second & 0xffff : count;
              // Servers older than 4.4 send no ACCESS_RIGHTS: everything is allowed.
              if (c.serverMinor < 4) access[i] = 1;
              if (!access[i]) {
                this.#fail(
                  i,
                  new DeviceError(`${this.#pvs[i]!}: read access denied by the server`),
                );
              } else {
                state[i] = READING;
                // A native type's TIME type without a call per PV (dbrOf throws for a bad one).
                timeTypes[i] = TIME_TYPES[dataType] ?? dbrOf("time", dataType);
                toRead[reads++] = i;
                if (dataType === DBR.ENUM) {
                  half.set(i, {});
                  enums++;
                }
              }
            }
          } else if (command === 22) { // CMD.ACCESS_RIGHTS
            const i = view.getUint32(at + 8) - 1;
            if (i >= 0 && i < n && circuitOf[i] === index) {
              access[i] = view.getUint32(at + 12) & 1; // ACCESS.READ
            }
          } else {
            if (count < 0) count = view.getUint16(at + 6);
            this.#onMessage(c, index, view, buf, at, head, size, count);
          }
          at = end;
        }
        if (reads > 0) this.#writeReads(c, reads, enums);
        if (at > 0) {
          buf.copyWithin(0, at, have);
          have -= at;
        }
        c.flush((err) => this.#lost(c, `lost CA server ${c.key}: ${err}`));
        if (this.#left === 0) return;
      }
    } catch (err) {
      this.#lost(c, `lost CA server ${c.key}: ${err}`);
    }
  }

  /**
   * The READ_NOTIFYs of the `reads` channels a chunk of replies connected (`#toRead`), `enums`
   * of them enums (a DBR_CTRL read each beside), in one loop into the circuit's write.
   */
  #writeReads(c: BatchCircuit, reads: number, enums: number): void {
    const toRead = this.#toRead;
    const sids = this.#sid;
    const types = this.#type;
    const timeType = this.#timeType;
    const counts = this.#count;
    const n = this.#n;
    // Count 0 asks for the current length (minor 13 on); older servers get the native count.
    const current = c.serverMinor >= 13;
    let at = c.out.claim(HEADER_SIZE * (reads + enums));
    const v = c.out.view;
    for (let k = 0; k < reads; k++) {
      const i = toRead[k]!;
      const sid = sids[i]!;
      v.setUint32(at, 15 << 16); // CMD.READ_NOTIFY, no payload
      v.setUint32(at + 4, (timeType[i]! << 16) | (current ? 0 : counts[i]! & 0xffff));
      v.setUint32(at + 8, sid);
      v.setUint32(at + 12, i + 1);
      at += HEADER_SIZE;
      if (types[i] === DBR.ENUM) {
        v.setUint32(at, 15 << 16);
        v.setUint32(at + 4, (CTRL_ENUM << 16) | 1);
        v.setUint32(at + 8, sid);
        v.setUint32(at + 12, n + i + 1);
        at += HEADER_SIZE;
      }
    }
  }

  /**
   * One of the rarer messages of circuit `index` (`#receive` reads the frequent ones): its
   * header at `at` of `buf` (`head` bytes), `size` bytes of payload after it.
   */
  #onMessage(
    c: BatchCircuit,
    index: number,
    view: DataView,
    buf: Uint8Array,
    at: number,
    head: number,
    size: number,
    count: number,
  ): void {
    switch (view.getUint16(at)) {
      case 0: // CMD.VERSION
        c.serverMinor = count;
        return;
      case 26: { // CMD.CREATE_CH_FAIL
        // This server will not create it: it stays unfound (the timeout says so), as the
        // shared client searches it again only much later.
        const i = view.getUint32(at + 8) - 1;
        if (
          i >= 0 && i < this.#n && this.#circuit[i] === index && this.#state[i] === CONNECTING
        ) {
          this.#state[i] = SEARCHING;
          this.#circuit[i] = -1;
        }
        return;
      }
      case 27: { // CMD.SERVER_DISCONN
        const i = view.getUint32(at + 8) - 1;
        if (i >= 0 && i < this.#n && this.#circuit[i] === index && this.#state[i] !== DONE) {
          this.#fail(i, new DeviceError(`${this.#what(i)}: server dropped the channel`));
        }
        return;
      }
      case 11: { // CMD.ERROR
        if (size < HEADER_SIZE) return;
        const payload = buf.subarray(at + head, at + head + size);
        const pv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
        if (pv.getUint16(0) !== CMD.READ_NOTIFY) return;
        const i = this.#indexOf(pv.getUint32(12));
        if (i < 0 || this.#state[i] !== READING) return;
        const text = readCString(payload, HEADER_SIZE, payload.length - HEADER_SIZE);
        const status = view.getUint32(at + 12);
        this.#fail(i, new EcaFailure(`${this.#what(i)}${text ? ` (${text})` : ""}`, status));
        return;
      }
      default:
        // ECHO replies and CLEAR_CHANNEL confirmations need nothing; the rest is not for clients.
        return;
    }
  }

  /** The PV of request `ioid` (its TIME read or an enum's CTRL read), or -1. */
  #indexOf(ioid: number): number {
    const n = this.#n;
    const i = ioid > n ? ioid - n - 1 : ioid - 1;
    return i >= 0 && i < n ? i : -1;
  }

  /**
   * A READ_NOTIFY reply of PV `i` (status ECA_NORMAL) that is not a number scalar, or an enum's
   * half: its payload `size` bytes at `at` of `buf`.
   */
  #onRead(
    i: number,
    ioid: number,
    type: number,
    count: number,
    buf: Uint8Array,
    at: number,
    size: number,
  ): void {
    const half = this.#half.size === 0 ? undefined : this.#half.get(i);
    if (half === undefined) {
      return this.#decode({ i, type, count, payload: buf.subarray(at, at + size) });
    }
    // An enum: the value and its state strings, whichever comes second completes it.
    const reply = { i, type, count, payload: buf.slice(at, at + size) };
    if (ioid > this.#n) half.ctrl = reply;
    else half.time = reply;
    if (half.time === undefined || half.ctrl === undefined) return;
    this.#half.delete(i);
    this.#decode({ ...half.time, ctrl: half.ctrl });
  }

  /** A reply for the general decoder: now if it is loaded, else once it is (`payload` copied). */
  #decode(r: SlowReply): void {
    if (decoders !== undefined) return this.#decodeWith(decoders, r);
    // The circuit's buffer is reused: a reply that waits keeps a copy.
    this.#slow.push(r.ctrl === undefined ? { ...r, payload: r.payload.slice() } : r);
    if (this.#slow.length > 1) return;
    loadDecoders().then((d) => {
      const slow = this.#slow;
      this.#slow = [];
      for (let k = 0; k < slow.length; k++) this.#decodeWith(d, slow[k]!);
    }, (err) => {
      const slow = this.#slow;
      this.#slow = [];
      for (let k = 0; k < slow.length; k++) {
        this.#fail(slow[k]!.i, new DeviceError(`${this.#what(slow[k]!.i)}: ${messageOf(err)}`));
      }
    });
  }

  #decodeWith(dec: Decoders, r: SlowReply): void {
    const i = r.i;
    if (this.#state[i] === DONE) return;
    const facts = this.#facts;
    facts.nativeType = this.#type[i]!;
    facts.nativeCount = this.#count[i]!;
    try {
      const ctrl = r.ctrl;
      const enumStrings = ctrl === undefined
        ? undefined
        : dec.decodeDbr(ctrl.type, ctrl.count, ctrl.payload).enumStrings ?? [];
      const d = dec.decodeDbr(r.type, r.count, r.payload);
      const mode: CharMode = this.#pvs[i]!.endsWith("$") ? "string" : "auto";
      const meta = enumStrings === undefined ? undefined : { value: [], enumStrings };
      this.#done(i, {
        value: dec.pvValue(facts, d, meta, mode),
        severity: SEVERITY_NAMES[d.severity ?? 0] ?? String(d.severity),
        status: ALARM_STATUS_NAMES[d.status ?? 0] ?? String(d.status),
      });
    } catch (err) {
      this.#fail(i, new DeviceError(`${this.#what(i)}: bad reply: ${err}`));
    }
  }

  #what(i: number): string {
    return `reading ${this.#pvs[i]!}`;
  }

  #done(i: number, outcome: Values | Error): void {
    if (this.#state[i] === DONE) return;
    this.#state[i] = DONE;
    this.#results[i] = outcome;
    if (--this.#left === 0) this.#finish();
  }

  /** PV `i` failed (its device's name is put on the error at the end: {@linkcode #named}). */
  #fail(i: number, err: Error): void {
    this.#failed = true;
    this.#done(i, err);
  }

  /** A circuit that failed: its PVs fail with why (the others go on). */
  #lost(c: BatchCircuit, err: unknown): void {
    if (c.closed) return;
    c.close();
    const index = this.#circuits.indexOf(c);
    const message = messageOf(err);
    for (let i = 0; i < this.#n; i++) {
      if (this.#circuit[i] === index && this.#state[i] !== DONE) {
        this.#fail(i, new DeviceError(`${this.#what(i)}: ${message}`));
      }
    }
  }

  #armDeadline(): void {
    let next = Infinity;
    const state = this.#state;
    const deadline = this.#deadline;
    const n = this.#n;
    for (let i = 0; i < n; i++) {
      if (state[i] !== DONE && deadline[i]! < next) next = deadline[i]!;
    }
    if (next < Infinity) this.#deadlineTimer.start(next - performance.now());
  }

  /** The PVs whose time is up fail as a `ca://` device's call does. */
  #expire(): void {
    const now = performance.now() + 1;
    const o = this.#o;
    for (let i = 0; i < this.#n; i++) {
      const state = this.#state[i]!;
      if (state === DONE || this.#deadline[i]! > now) continue;
      const pv = this.#pvs[i]!;
      const timeoutMs = this.#timeout[i]!;
      if (state === SEARCHING) {
        const where = [
          o.addrList.length ? `EPICS_CA_ADDR_LIST="${o.addrList.join(" ")}"` : "",
          `EPICS_CA_AUTO_ADDR_LIST=${o.autoAddrList ? "YES" : "NO"}`,
          `port ${o.serverPort}`,
        ].filter(Boolean).join(", ");
        this.#fail(
          i,
          new TimeoutError(
            `PV ${pv} not found: no CA server answered the search within ${
              formatMs(timeoutMs)
            } (${where}); check the name and EPICS_CA_ADDR_LIST`,
          ),
        );
      } else {
        this.#fail(
          i,
          new TimeoutError(`${this.#what(i)}: no answer within ${formatMs(timeoutMs)}`),
        );
      }
    }
    this.#armDeadline();
  }

  async #close(): Promise<void> {
    await this.#opening;
    this.#searchTimer.cancel();
    this.#deadlineTimer.cancel();
    for (const c of this.#circuits) c.close();
    await Promise.all(this.#circuits.map((c) => c.reading));
    await this.#udp?.close();
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
