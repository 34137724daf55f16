/**
 * The EPICS Channel Access server of `labwire serve --ca`: every attribute of every device of a
 * {@linkcode Lab} becomes a PV `<prefix><device>:<attr>` that `caget`, `camonitor`, `caput`,
 * `cainfo`, pyepics and any CA client can use. Searches are answered on UDP (only for names
 * served), each client gets a TCP virtual circuit ({@linkcode Circuit}), beacons announce the
 * server (fast at start, doubling up to the beacon period). All device I/O goes through the
 * devices' managers, so CA writes are validated and queued exactly like HTTP API writes.
 *
 * Loopback first: without `interfaces` the server listens on 127.0.0.1 only. Whoever listens,
 * writes are granted per client by its TCP peer address ({@linkcode writePolicy}): by default
 * clients on loopback may write and every other client is read-only (its channels carry
 * read-only access rights, so `caput` says so, and a write sent anyway gets ECA_NOWTACCESS).
 * Each circuit's receive buffer is bounded by the largest legal request
 * (`maxArrayBytes` + header); a client that announces more, or sends garbage, loses its own
 * circuit and nothing else.
 *
 * @example
 * ```ts ignore
 * import { startCaServer } from "./server.ts";
 * const ca = await startCaServer(lab, { prefix: "LAB:", port: 0, interfaces: ["127.0.0.1"] });
 * // EPICS_CA_ADDR_LIST=127.0.0.1 EPICS_CA_AUTO_ADDR_LIST=NO EPICS_CA_SERVER_PORT=<ca.port> caget LAB:motor:position
 * await ca.close();
 * ```
 *
 * @module
 */
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import { ipFromString } from "../../device/ipv4.ts";
import type { AlarmEvent } from "../../alarm/event.ts";
import type { ThresholdRule } from "../../alarm/rules.ts";
import { errorMessage } from "../../device/errors.ts";
import type { Lab } from "../../lab/lab.ts";
import { readCString } from "../../drivers/epics/dbr_types.ts";
import { decodeDatagram, MessageDecoder, padded } from "../../drivers/epics/framing.ts";
import {
  CA_MINOR_VERSION,
  CMD,
  DEFAULT_MAX_ARRAY_BYTES,
  DO_REPLY,
  MAX_UDP_SEND,
} from "../../drivers/epics/messages.ts";
import { encodeMessage } from "../../drivers/epics/protocol.ts";
import { isLoopback } from "../listen.ts";
import { writePolicy } from "./access.ts";
import { Circuit } from "./circuit.ts";
import { type CaServerOptions, DEFAULT_PORTS, hostAndPort } from "./options.ts";
import { PvTable } from "./pvs.ts";

export type { CaServerOptions } from "./options.ts";

/** Figures of a running server. */
export interface CaServerStats {
  /** Connected clients (circuits). */
  clients: number;
  /** Open channels over all clients. */
  channels: number;
  /** Active monitors over all clients. */
  subscriptions: number;
  /** Monitor updates sent since start. */
  updatesSent: number;
  /** Monitor updates replaced by a newer value before a slow client could take them. */
  updatesCoalesced: number;
  /** UDP searches answered. */
  searchesAnswered: number;
  /** Circuits closed because the client broke the protocol or exceeded the size limit. */
  circuitsRefused: number;
  /** Beacons sent. */
  beacons: number;
}

/** A running CA server. */
export interface CaServer {
  /** The UDP search port clients use (their EPICS_CA_SERVER_PORT). */
  readonly port: number;
  /** The TCP port of the circuits (the same as `port` unless it was taken). */
  readonly tcpPort: number;
  /** The PVs served. */
  readonly pvs: PvTable;
  /** The local addresses listened on. */
  readonly interfaces: readonly string[];
  /** Who may write, in words (as logged at start). */
  readonly access: string;
  /** Every PV name served. */
  names(): string[];
  /**
   * Sets an alarm severity (0–3; 0 clears) and status on one attribute's PV, or on every PV of
   * the device when `attr` is undefined.
   */
  setAlarm(device: string, attr: string | undefined, severity: number, status: number): void;
  /**
   * Applies an alarm engine transition (give it to `AlarmEngine.on`); with the alarm's threshold
   * rule, low-side alarms show as LOLO/LOW.
   */
  alarmEvent(event: AlarmEvent, rule?: ThresholdRule): void;
  /** Current figures. */
  stats(): CaServerStats;
  /** Stops listening, drops every client and stops beacons. */
  close(): Promise<void>;
}

interface Connection {
  conn: Deno.TcpConn;
  circuit: Circuit;
  done: Promise<void>;
  close(): void;
}

/** Bytes a circuit reads before it lets the event loop turn (timers, HTTP, other clients). */
const YIELD_EVERY_BYTES = 256 * 1024;

function bindUdp(host: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    // SO_REUSEADDR like rsrv: several servers on one host can all hear broadcast searches.
    const s = dgram.createSocket({ type: "udp4", reuseAddr: true });
    s.once("error", reject);
    s.bind(port, host, () => {
      s.off("error", reject);
      resolve(s);
    });
  });
}

function closeUdp(s: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      s.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

function listenTcp(hostname: string, port: number): Deno.TcpListener {
  return Deno.listen({ hostname, port, transport: "tcp" });
}

/** Opens TCP listeners and UDP search sockets on every interface, on one port number. */
async function bindAll(
  interfaces: string[],
  port: number,
): Promise<{ tcp: Deno.TcpListener[]; udp: dgram.Socket[]; udpPort: number; tcpPort: number }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 10; attempt++) {
    const tcp: Deno.TcpListener[] = [];
    const udp: dgram.Socket[] = [];
    try {
      let first: Deno.TcpListener;
      try {
        first = listenTcp(interfaces[0]!, port);
      } catch (err) {
        // Like rsrv: another server owns the TCP port; take any (searches tell clients which).
        if (port === 0 || !(err instanceof Deno.errors.AddrInUse)) throw err;
        first = listenTcp(interfaces[0]!, 0);
      }
      tcp.push(first);
      const tcpPort = first.addr.port;
      for (const host of interfaces.slice(1)) tcp.push(listenTcp(host, tcpPort));
      const udpPort = port === 0 ? tcpPort : port;
      for (const host of interfaces) udp.push(await bindUdp(host, udpPort));
      return { tcp, udp, udpPort, tcpPort };
    } catch (err) {
      lastError = err;
      for (const l of tcp) l.close();
      await Promise.all(udp.map(closeUdp));
      if (port !== 0) break;
    }
  }
  throw new Error(
    `cannot listen for Channel Access on ${interfaces.join(", ")} port ${port}: ${
      errorMessage(lastError)
    } (set EPICS_CAS_SERVER_PORT or [ca] port to a free port)`,
  );
}

/** Broadcast addresses of the IPv4 interfaces (those in `only`, when given). */
function broadcastAddresses(only: string[] | undefined): string[] {
  const out = new Set<string>();
  let list: Deno.NetworkInterfaceInfo[] = [];
  try {
    list = Deno.networkInterfaces();
  } catch {
    return [];
  }
  for (const i of list) {
    if (i.family !== "IPv4" || i.address.startsWith("127.")) continue;
    if (only && !only.includes(i.address)) continue;
    const ip = ipFromString(i.address);
    const mask = ipFromString(i.netmask);
    if (ip === undefined || mask === undefined) continue;
    const b = (ip | ~mask) >>> 0;
    out.add([b >>> 24, (b >>> 16) & 255, (b >>> 8) & 255, b & 255].join("."));
  }
  return [...out];
}

/**
 * Starts a CA server over `lab`. Options come from the caller only (use `caServeOptions` or
 * `caEnvOptions` to honour EPICS_CAS_* variables); defaults: port 5064 on 127.0.0.1 only,
 * writes from loopback clients only, requests up to 16384 bytes of array data, beacons every
 * 15 s at most to the configured addresses, every broadcast address of the interfaces listened
 * on, or the local repeater when listening on loopback only.
 */
export async function startCaServer(lab: Lab, options: CaServerOptions = {}): Promise<CaServer> {
  const log = options.log ?? (() => {});
  const table = await PvTable.open(lab, {
    prefix: options.prefix,
    warn: (m) => log("warn", m),
    attrsTimeoutMs: options.timeoutMs,
  });
  let policy;
  try {
    policy = writePolicy({ write: options.write, writeHosts: options.writeHosts });
  } catch (err) {
    table.close();
    throw err;
  }
  const interfaces = options.interfaces?.length ? options.interfaces : ["127.0.0.1"];
  const wildcard = interfaces.includes("0.0.0.0");
  const loopbackOnly = interfaces.every(isLoopback);
  // The largest legal request is a write of maxArrayBytes of data plus an extended header.
  const maxPayload = padded(Math.max(DEFAULT_MAX_ARRAY_BYTES, options.maxArrayBytes ?? 0));
  let bound;
  try {
    bound = await bindAll(interfaces, options.port ?? DEFAULT_PORTS.server);
  } catch (err) {
    table.close();
    throw err;
  }
  const { tcp, udp, udpPort, tcpPort } = bound;
  const connections = new Set<Connection>();
  const totals = {
    updatesSent: 0,
    updatesCoalesced: 0,
    searchesAnswered: 0,
    beacons: 0,
    circuitsRefused: 0,
  };
  let closed = false;

  // --- UDP searches ---------------------------------------------------------------------
  udp.forEach((sock, i) => {
    const host = interfaces[i]!;
    const replyIp = host === "0.0.0.0" ? 0xffffffff : ipFromString(host) ?? 0xffffffff;
    sock.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      let raws;
      try {
        raws = decodeDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
      } catch {
        return; // not CA, or truncated: searches are retried by clients anyway
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
          if (table.get(name)) {
            replies.push(encodeMessage({
              kind: "search_resp",
              port: tcpPort,
              ip: replyIp,
              cid: raw.p1,
              minor: CA_MINOR_VERSION,
            }));
          } else if (raw.dataType === DO_REPLY) {
            replies.push(
              encodeMessage({ kind: "not_found", minor: CA_MINOR_VERSION, cid: raw.p1 }),
            );
          }
        }
      }
      if (replies.length === 0 || closed) return;
      totals.searchesAnswered += replies.length;
      const version = encodeMessage({
        kind: "version",
        priority,
        minor: CA_MINOR_VERSION,
        sequence,
      });
      let batch: Uint8Array[] = [version];
      let size = version.length;
      const flush = () => {
        sock.send(Buffer.concat(batch), rinfo.port, rinfo.address, () => {});
        batch = [version];
        size = version.length;
      };
      for (const r of replies) {
        if (size + r.length > MAX_UDP_SEND) flush();
        batch.push(r);
        size += r.length;
      }
      flush();
    });
    sock.on("error", (err: Error) => log("warn", `CA search socket: ${err.message}`));
  });

  // --- TCP circuits ---------------------------------------------------------------------
  const handle = (conn: Deno.TcpConn) => {
    try {
      conn.setNoDelay(true);
      // Like rsrv: a client host that vanishes without closing is found by TCP keepalive.
      conn.setKeepAlive(true);
    } catch { /* not fatal */ }
    let wakeUp: (() => void) | undefined;
    const wake = () => {
      const w = wakeUp;
      wakeUp = undefined;
      w?.();
    };
    const peer = (conn.remoteAddr as Deno.NetAddr).hostname;
    const circuit = new Circuit({
      table,
      tcpPort,
      wake,
      mayWrite: policy.mayWrite(peer),
      peer,
      maxQueueBytes: options.maxQueueBytes,
      maxArrayBytes: maxPayload,
      timeoutMs: options.timeoutMs,
      log: (m) => log("info", m),
    });
    let isClosed = false;
    const close = () => {
      if (isClosed) return;
      isClosed = true;
      circuit.close();
      try {
        conn.close();
      } catch { /* already closed */ }
      wake();
    };
    const writer = async () => {
      try {
        while (!isClosed) {
          if (circuit.closeReason) break;
          const chunk = circuit.take();
          if (!chunk) {
            await new Promise<void>((r) => wakeUp = r);
            continue;
          }
          let at = 0;
          while (at < chunk.length) at += await conn.write(chunk.subarray(at));
        }
      } catch { /* the client went away */ }
      close();
    };
    const reader = async () => {
      const buf = new Uint8Array(64 * 1024);
      const decoder = new MessageDecoder({ maxPayload });
      let sinceYield = 0;
      try {
        while (!isClosed) {
          const n = await conn.read(buf);
          if (n === null) break;
          try {
            decoder.feed(buf.subarray(0, n), (raw) => circuit.receive(raw));
          } catch (err) {
            totals.circuitsRefused++;
            log(
              "warn",
              `CA client ${peer} (${circuit.hostName || "?"}) dropped: ${errorMessage(err)}`,
            );
            break;
          }
          if (circuit.closeReason) {
            totals.circuitsRefused++;
            break;
          }
          // A client streaming without pause gets no more than its share: let timers, HTTP
          // and the other clients in between its reads.
          sinceYield += n;
          if (sinceYield >= YIELD_EVERY_BYTES) {
            sinceYield = 0;
            await new Promise((r) => setTimeout(r, 0));
          }
        }
      } catch (err) {
        if (!isClosed) {
          log("info", `CA client ${peer} (${circuit.hostName || "?"}): ${errorMessage(err)}`);
        }
      }
      close();
    };
    const c: Connection = {
      conn,
      circuit,
      close,
      done: Promise.all([writer(), reader()]).then(() => {
        totals.updatesSent += circuit.stats.updatesSent;
        totals.updatesCoalesced += circuit.stats.updatesCoalesced;
        connections.delete(c);
      }),
    };
    connections.add(c);
  };
  const acceptLoops = tcp.map(async (listener) => {
    try {
      for await (const conn of listener) {
        if (closed) {
          conn.close();
          break;
        }
        handle(conn);
      }
    } catch (err) {
      if (!closed) log("warn", `CA server stopped accepting: ${errorMessage(err)}`);
    }
  });

  // --- Beacons ----------------------------------------------------------------------------
  const beaconPort = options.beaconPort ?? DEFAULT_PORTS.beacon;
  const destinations = (options.beaconAddrs ?? []).map((a) => hostAndPort(a, beaconPort));
  if (options.autoBeacon ?? true) {
    if (loopbackOnly && destinations.length === 0) {
      // Nobody beyond this host can hear us: tell the local repeater, for fast reconnects.
      destinations.push({ host: "127.0.0.1", port: beaconPort });
    } else {
      const only = wildcard ? undefined : interfaces;
      for (const host of broadcastAddresses(only)) destinations.push({ host, port: beaconPort });
    }
  }
  let beaconSock: dgram.Socket | undefined;
  let beaconTimer: ReturnType<typeof setTimeout> | undefined;
  if (destinations.length > 0) {
    beaconSock = await bindUdp(wildcard ? "0.0.0.0" : interfaces[0]!, 0);
    beaconSock.setBroadcast(true);
    beaconSock.on("error", () => {});
    const beaconIp = wildcard ? 0 : ipFromString(interfaces[0]!) ?? 0;
    const period = (options.beaconPeriod ?? 15) * 1000;
    let delay = 20;
    let id = 0;
    const send = () => {
      if (closed || !beaconSock) return;
      const msg = encodeMessage({
        kind: "beacon",
        minor: CA_MINOR_VERSION,
        port: tcpPort,
        beaconId: id++,
        ip: beaconIp,
      });
      for (const d of destinations) beaconSock.send(msg, d.port, d.host, () => {});
      totals.beacons++;
      delay = Math.min(delay * 2, period);
      beaconTimer = setTimeout(send, delay);
    };
    beaconTimer = setTimeout(send, 0);
  }

  const where = loopbackOnly ? " (loopback only)" : "";
  log(
    "info",
    `CA server: ${table.size} PVs${table.size > 0 ? ` (e.g. ${table.names()[0]})` : ""} on ${
      interfaces.join(", ")
    }${where} port ${udpPort}` +
      (tcpPort !== udpPort ? ` (TCP ${tcpPort})` : "") + `; ${policy.describe()}`,
  );
  if (!loopbackOnly && policy.mode === "all") {
    log("warn", 'CA server: [ca] write = "all": any host that can reach this one may write');
  }

  return {
    port: udpPort,
    tcpPort,
    pvs: table,
    interfaces,
    access: policy.describe(),
    names: () => table.names(),
    setAlarm: (device, attr, severity, status) => table.setAlarm(device, attr, severity, status),
    alarmEvent: (e, rule) => table.alarmEvent(e, rule),
    stats() {
      let channels = 0;
      let subscriptions = 0;
      let updatesSent = totals.updatesSent;
      let updatesCoalesced = totals.updatesCoalesced;
      for (const c of connections) {
        channels += c.circuit.channelCount;
        subscriptions += c.circuit.subscriptionCount;
        updatesSent += c.circuit.stats.updatesSent;
        updatesCoalesced += c.circuit.stats.updatesCoalesced;
      }
      return {
        clients: connections.size,
        channels,
        subscriptions,
        updatesSent,
        updatesCoalesced,
        searchesAnswered: totals.searchesAnswered,
        beacons: totals.beacons,
        circuitsRefused: totals.circuitsRefused,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (beaconTimer !== undefined) clearTimeout(beaconTimer);
      for (const l of tcp) {
        try {
          l.close();
        } catch { /* already closed */ }
      }
      await Promise.all(acceptLoops);
      const open = [...connections];
      for (const c of open) c.close();
      await Promise.all(open.map((c) => c.done));
      await Promise.all(udp.map(closeUdp));
      if (beaconSock) await closeUdp(beaconSock);
      table.close();
    },
  };
}
