/**
 * One client connection of the CA server: the TCP socket around a {@linkcode ServerCircuit}. A reader
 * frames the client's bytes into the circuit (bounded by the largest legal request; each read
 * waits its turn in the server's {@linkcode TurnQueue}, so streaming clients, however many,
 * neither hold the event loop nor take each other's share), a writer sends what the circuit has
 * whenever it wakes it; either side ending closes both.
 *
 * @module
 */
import { errorMessage } from "../../device/errors.ts";
import { MessageDecoder, type RawMessage } from "../../drivers/epics/framing.ts";
import type { TurnQueue } from "../../schedule/fair.ts";
import { ServerCircuit } from "./circuit.ts";
import type { PvTable } from "./pvs.ts";

/** What a connection needs from its server. */
export interface ConnectionContext {
  /** The PVs served. */
  table: PvTable;
  /** The server's TCP port (for searches over TCP). */
  tcpPort: number;
  /** Whether a client at this peer address may write. */
  mayWrite: (peer: string) => boolean;
  /** Replies allowed to wait unsent, bytes. */
  maxQueueBytes?: number;
  /** Largest request payload accepted, bytes (padded). */
  maxPayload: number;
  /** Timeout of device calls, ms. */
  timeoutMs?: number;
  /** The server's log. */
  log: (level: "info" | "warn", message: string) => void;
  /** Counts a circuit closed for a protocol violation. */
  onRefused: () => void;
  /** Event-loop turns shared by the reads of every connection of the server. */
  turns: TurnQueue;
}

/** A served client connection. */
export interface Connection {
  /** The socket. */
  conn: Deno.TcpConn;
  /** Its circuit. */
  circuit: ServerCircuit;
  /** Settles once both the reader and the writer have ended. */
  done: Promise<void>;
  /** Closes the connection. */
  close(): void;
}

/** Serves one accepted client connection until either side closes it. */
export function serveConnection(conn: Deno.TcpConn, ctx: ConnectionContext): Connection {
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
  const circuit = new ServerCircuit({
    table: ctx.table,
    tcpPort: ctx.tcpPort,
    wake,
    mayWrite: ctx.mayWrite(peer),
    peer,
    maxQueueBytes: ctx.maxQueueBytes,
    maxArrayBytes: ctx.maxPayload,
    timeoutMs: ctx.timeoutMs,
    log: (m) => ctx.log("info", m),
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
    const decoder = new MessageDecoder({ maxPayload: ctx.maxPayload });
    const receive = (raw: RawMessage) => circuit.receive(raw);
    try {
      while (!isClosed) {
        const n = await conn.read(buf);
        if (n === null) break;
        // Reads that waited for data all complete together in one turn of the event loop, so
        // what they brought is worked on (copied into a partial message's storage, framed,
        // answered) in this circuit's turn, after the reads and requests of that turn.
        await ctx.turns.next();
        if (isClosed) break;
        try {
          decoder.feed(buf.subarray(0, n), receive);
        } catch (err) {
          ctx.onRefused();
          ctx.log(
            "warn",
            `CA client ${peer} (${circuit.hostName || "?"}) dropped: ${errorMessage(err)}`,
          );
          break;
        }
        if (circuit.closeReason) {
          ctx.onRefused();
          break;
        }
      }
    } catch (err) {
      if (!isClosed) {
        ctx.log("info", `CA client ${peer} (${circuit.hostName || "?"}): ${errorMessage(err)}`);
      }
    }
    close();
  };
  return { conn, circuit, close, done: Promise.all([writer(), reader()]).then(() => {}) };
}
