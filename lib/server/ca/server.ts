/**
 * The EPICS Channel Access server of `labwire serve --ca`: every attribute of every device of a
 * {@linkcode Lab} becomes a PV `<prefix><device>:<attr>` that `caget`, `camonitor`, `caput`,
 * `cainfo`, pyepics and any CA client can use. Searches are answered on UDP (only for names
 * served; `search.ts`), each client gets a TCP virtual circuit (`connection.ts`, `circuit.ts`),
 * beacons announce the server (`beacons.ts`: fast at start, doubling up to the beacon period). All device I/O goes through the
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
import type dgram from "node:dgram";
import type { AlarmEvent } from "../../alarm/event.ts";
import type { ThresholdRule } from "../../alarm/rules.ts";
import { errorMessage } from "../../device/errors.ts";
import { ipFromString } from "../../device/ipv4.ts";
import type { Lab } from "../../lab/lab.ts";
import { padded } from "../../drivers/epics/framing.ts";
import { DEFAULT_MAX_ARRAY_BYTES } from "../../drivers/epics/messages.ts";
import { TurnQueue } from "../../schedule/fair.ts";
import { isLoopback } from "../listen.ts";
import { writePolicy } from "./access.ts";
import { beaconDestinations, startBeacons } from "./beacons.ts";
import { type Connection, type ConnectionContext, serveConnection } from "./connection.ts";
import { type CaServerOptions, DEFAULT_PORTS } from "./options.ts";
import { PvTable } from "./pvs.ts";
import { searchReplies } from "./search.ts";
import { bindAll, closeUdp } from "./sockets.ts";

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
    alarmLimits: options.alarmLimits,
  });
  let policy;
  try {
    policy = writePolicy({ write: options.write, writeHosts: options.writeHosts });
  } catch (err) {
    table.close();
    throw err;
  }
  const interfaces = options.interfaces?.length ? options.interfaces : ["127.0.0.1"];
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
  // A device removed at run time: clients holding its PVs are told, as an IOC tells of a
  // deleted record, and search again (finding the device's new PVs when it was reopened).
  table.onRemoved((pvs) => {
    for (const c of connections) c.circuit.dropPvs(pvs);
  });
  const totals = {
    updatesSent: 0,
    updatesCoalesced: 0,
    searchesAnswered: 0,
    beacons: 0,
    circuitsRefused: 0,
  };
  let closed = false;

  udp.forEach((sock, i) => {
    const host = interfaces[i]!;
    const replyIp = host === "0.0.0.0" ? 0xffffffff : ipFromString(host) ?? 0xffffffff;
    const served = (name: string) => table.get(name) !== undefined;
    sock.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
      if (closed) return;
      const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
      const { datagrams, answered } = searchReplies(bytes, served, tcpPort, replyIp);
      totals.searchesAnswered += answered;
      for (const d of datagrams) sock.send(d, rinfo.port, rinfo.address, () => {});
    });
    sock.on("error", (err: Error) => log("warn", `CA search socket: ${err.message}`));
  });

  const context: ConnectionContext = {
    table,
    tcpPort,
    mayWrite: (peer) => policy.mayWrite(peer),
    maxQueueBytes: options.maxQueueBytes,
    maxPayload,
    timeoutMs: options.timeoutMs,
    log,
    onRefused: () => totals.circuitsRefused++,
    turns: new TurnQueue(),
  };
  const handle = (conn: Deno.TcpConn) => {
    const c = serveConnection(conn, context);
    connections.add(c);
    c.done.then(() => {
      totals.updatesSent += c.circuit.stats.updatesSent;
      totals.updatesCoalesced += c.circuit.stats.updatesCoalesced;
      connections.delete(c);
    });
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

  const destinations = beaconDestinations({
    beaconAddrs: options.beaconAddrs,
    beaconPort: options.beaconPort ?? DEFAULT_PORTS.beacon,
    autoBeacon: options.autoBeacon,
    interfaces,
  });
  const beacons = destinations.length === 0 ? undefined : await startBeacons({
    destinations,
    interfaces,
    tcpPort,
    periodMs: (options.beaconPeriod ?? 15) * 1000,
    onSent: () => totals.beacons++,
  });

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
      const beaconsClosed = beacons?.close();
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
      await beaconsClosed;
      table.close();
    },
  };
}
