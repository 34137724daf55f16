/**
 * The ports the wire-protocol simulators serve on, shared by every family (`message`, `modbus`):
 * a loopback-first TCP listener that a disconnect fault can take down for a while (the port
 * refuses connections, then listens again), and a pseudo-terminal master seen as a connection.
 *
 * @example
 * ```ts ignore
 * const port = listenTcp({ hostname: "127.0.0.1", port: 0 }, (conn) => serve(conn));
 * port.pause(5000); // a disconnect fault: refused for 5 s
 * port.close();
 * ```
 *
 * @module
 */
import { UsageError } from "../../device/errors.ts";
import { openPty, type Pty } from "../../transport/pty.ts";
import { joinBytes } from "../../transport/framing.ts";
import { FaultInjector, type FaultOptions, NO_FAULTS } from "./faults.ts";
import { Random } from "./random.ts";

/** A bidirectional connection a simulator serves (a TCP connection or a PTY master). */
export interface SimConn {
  /** Reads into `buf`; null at the end. */
  read(buf: Uint8Array): Promise<number | null>;
  /** Writes some of `buf`. */
  write(buf: Uint8Array): Promise<number>;
  /** Closes. */
  close(): void;
}

/** A listening TCP port of a simulator. */
export interface SimPort {
  /** The port listened on (chosen by the OS when 0 was asked). */
  readonly port: number;
  /** Stops listening for `forMs`, then listens on the same port again (a disconnect fault). */
  pause(forMs: number): void;
  /** Stops listening for good. */
  close(): void;
}

/**
 * Listens on `hostname:port` and hands every connection (no Nagle delay) to `onConn`; a port in
 * use is a {@linkcode UsageError} saying what to do.
 */
export function listenTcp(
  where: { hostname: string; port: number },
  onConn: (conn: Deno.TcpConn) => void,
): SimPort {
  let listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr> | undefined;
  let closed = false;
  let restart: ReturnType<typeof setTimeout> | undefined;
  const accept = async (l: Deno.Listener<Deno.TcpConn, Deno.NetAddr>) => {
    try {
      for await (const conn of l) {
        conn.setNoDelay(true);
        onConn(conn);
      }
    } catch {
      // The listener was closed (shutdown or a disconnect fault).
    }
  };
  const listen = (port: number) => {
    try {
      listener = Deno.listen({ hostname: where.hostname, port, transport: "tcp" });
    } catch (err) {
      if (err instanceof Deno.errors.AddrInUse) {
        throw new UsageError(
          `cannot listen on ${where.hostname}:${port}: the port is in use`,
          "choose another --listen port, or port 0 for any free port",
          { cause: err },
        );
      }
      throw new UsageError(
        `cannot listen on ${where.hostname}:${port}: ${(err as Error).message}`,
        undefined,
        { cause: err },
      );
    }
    accept(listener);
    return listener.addr.port;
  };
  const port = listen(where.port);
  return {
    port,
    pause(forMs) {
      if (!listener || closed) return;
      listener.close();
      listener = undefined;
      restart = setTimeout(() => {
        restart = undefined;
        if (closed) return;
        try {
          listen(port);
        } catch {
          // Someone took the port meanwhile: stay down rather than crash the simulator.
        }
      }, forMs);
    },
    close() {
      closed = true;
      if (restart !== undefined) clearTimeout(restart);
      try {
        listener?.close();
      } catch {
        // Already closed.
      }
      listener = undefined;
    },
  };
}

/**
 * A pseudo-terminal's master as a {@linkcode SimConn}. Closing it does nothing: the line stays,
 * a disconnect fault only silences the instrument (a serial device that lost power).
 */
export function ptyConn(pty: Pty): SimConn {
  let leftover: Uint8Array | undefined;
  return {
    async read(buf) {
      let chunk = leftover;
      leftover = undefined;
      chunk ??= await pty.stream.read();
      if (chunk.length > buf.length) leftover = chunk.subarray(buf.length);
      const n = Math.min(buf.length, chunk.length);
      buf.set(chunk.subarray(0, n));
      return n;
    },
    async write(buf) {
      await pty.stream.write(buf);
      return buf.length;
    },
    close() {},
  };
}

/** What the shared serving code needs of a family's simulator. */
export interface ServedSim {
  /** Set by the TCP port: a disconnect fault takes the port down for `forMs`. */
  onDisconnect?: (forMs: number) => void;
  /** Ends the simulator's connections. */
  close(): void;
}

/** Where a simulator listens on TCP. */
export interface TcpPlace {
  /** Interface (default 127.0.0.1). */
  hostname?: string;
  /** Port (0 = any free port). */
  port?: number;
}

/** Where a simulator on a pseudo-terminal can also be found. */
export interface PtyPlace {
  /** Also make a symlink to the slave at this path (e.g. /tmp/alicat). */
  link?: string;
}

/** A simulator listening on TCP. */
export interface TcpSimulatorOf<S> {
  /** The simulator (models, counts). */
  sim: S;
  /** Listening port. */
  port: number;
  /** The address clients open, e.g. `tcp://HOST:PORT?instrument=NAME`. */
  address: string;
  /** Stops listening and closes connections. */
  close(): Promise<void>;
}

/** A simulator on a pseudo-terminal of its own. */
export interface PtySimulatorOf<S> {
  /** The simulator (models, counts). */
  sim: S;
  /** The slave's path, `/dev/pts/N`: the serial port clients open. */
  path: string;
  /** The address clients open, e.g. `serial:///dev/pts/N?instrument=NAME`. */
  address: string;
  /** Closes the pseudo-terminal. */
  close(): Promise<void>;
}

/**
 * Serves `sim` on TCP at `where` (default 127.0.0.1, any free port): `serve` takes each
 * connection, a disconnect fault pauses the port, and `address` names it from `HOST:PORT`.
 */
export function serveOnTcp<S extends ServedSim>(
  sim: S,
  serve: (sim: S, conn: Deno.TcpConn) => unknown,
  where: TcpPlace,
  address: (hostPort: string) => string,
): Promise<TcpSimulatorOf<S>> {
  const hostname = where.hostname ?? "127.0.0.1";
  const listening = listenTcp({ hostname, port: where.port ?? 0 }, (conn) => serve(sim, conn));
  sim.onDisconnect = (forMs) => listening.pause(forMs);
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return Promise.resolve({
    sim,
    port: listening.port,
    address: address(`${host}:${listening.port}`),
    close() {
      listening.close();
      sim.close();
      return Promise.resolve();
    },
  });
}

/**
 * Serves `sim` on the master of a new pseudo-terminal (with a symlink at `where.link` if given);
 * `address` names the slave's path. The pty keeps its default settings: a client sets its own
 * when it opens the port (a pty set to 7O1 beforehand makes a client's 7O1 tcsetattr fail with
 * EINVAL).
 */
export function serveOnPty<S extends ServedSim>(
  sim: S,
  serve: (sim: S, conn: SimConn) => Promise<void>,
  where: PtyPlace,
  address: (path: string) => string,
): Promise<PtySimulatorOf<S>> {
  const pty = openPty({ link: where.link });
  // the simulator ends when its pty closes; that is not an error
  const served = serve(sim, ptyConn(pty)).catch(() => {});
  return Promise.resolve({
    sim,
    path: pty.path,
    address: address(pty.path),
    async close() {
      sim.close();
      pty.close();
      await served;
    },
  });
}

/** The connections a simulator serves and its delayed replies: written, dropped or closed together. */
export class SimConnections {
  readonly #conns = new Set<SimConn>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  /** Starts serving `conn`. */
  add(conn: SimConn): void {
    this.#conns.add(conn);
  }

  /** Stops serving `conn` (its loop ended). */
  delete(conn: SimConn): void {
    this.#conns.delete(conn);
  }

  /**
   * Writes `bytes` to `conn` after `delayMs` (a simulated latency), unless the simulator was
   * closed or the connection dropped meanwhile. Without a delay, one promise per write (the
   * write's own): a round trip's answer costs no async frame.
   */
  send(conn: SimConn, bytes: Uint8Array, delayMs: number): Promise<void> {
    if (delayMs > 0) return this.#sendLater(conn, bytes, delayMs);
    if (this.#closed || !this.#conns.has(conn)) return Promise.resolve();
    return conn.write(bytes).then((n) => {
      if (n < bytes.length) return this.send(conn, bytes.subarray(n), 0);
    });
  }

  async #sendLater(conn: SimConn, bytes: Uint8Array, delayMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        resolve();
      }, delayMs);
      this.#timers.add(t);
    });
    await this.send(conn, bytes, 0);
  }

  /** Closes every connection (a disconnect fault, or the end). */
  closeAll(): void {
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // Already closed.
      }
    }
  }

  /** Closes every connection and drops every pending reply, for good. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.closeAll();
  }
}

/** Text → bytes, one byte per character (latin1: ACK/ENQ and binary blocks intact). */
export function textToBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Sends one reply on the connection being served, `delayMs` from now and after the ones before it. */
export type Reply = (bytes: Uint8Array, delayMs: number) => void;

/**
 * {@linkcode Reply} for a text answer, one byte per character (latin1: ACK/ENQ and binary
 * blocks intact), written into the connection's output buffer without an array of its own.
 */
export type ReplyText = (text: string, delayMs: number) => void;

/** Largest output buffer kept between writes; a bigger one (a block answer) is let go. */
const KEEP_OUTBOX = 64 * 1024;

/**
 * The replies due now on one connection: gathered in a reused buffer and written with one write
 * per batch, one write in flight at a time (two buffers: one being written, one filling). What
 * piles up while a write is in flight goes out in the next one, as an instrument's TCP stack
 * sends what its output queue holds.
 */
class Outbox {
  #buf = new Uint8Array(1024);
  #spare = new Uint8Array(1024);
  #len = 0;
  #writing = false;
  #drained: (() => void)[] = [];

  /** `write` sends bytes (failures dropped: the next read ends a dead connection). */
  constructor(readonly write: (bytes: Uint8Array) => Promise<void>) {}

  /** True while nothing waits to be written and no write is in flight. */
  get idle(): boolean {
    return !this.#writing && this.#len === 0;
  }

  /** Appends `bytes`. */
  bytes(bytes: Uint8Array): void {
    this.#room(bytes.length).set(bytes, this.#len);
    this.#len += bytes.length;
  }

  /** Appends `text`, one byte per character. */
  text(text: string): void {
    const buf = this.#room(text.length);
    let n = this.#len;
    for (let i = 0; i < text.length; i++) buf[n++] = text.charCodeAt(i) & 0xff;
    this.#len = n;
  }

  /** Writes what is gathered, unless a write is in flight (then it goes when that lands). */
  flush(): void {
    if (this.#writing || this.#len === 0) return;
    const data = this.#buf.subarray(0, this.#len);
    this.#buf = this.#spare;
    this.#spare = data.buffer.byteLength > KEEP_OUTBOX
      ? new Uint8Array(1024)
      : new Uint8Array(data.buffer);
    this.#len = 0;
    this.#writing = true;
    this.write(data).then(this.#landed, this.#failed);
  }

  /** Resolves once everything gathered so far has been written (or dropped). */
  drained(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  readonly #landed = () => {
    this.#writing = false;
    if (this.#len > 0) this.flush();
    else this.#wake();
  };

  readonly #failed = () => {
    this.#writing = false;
    this.#len = 0;
    this.#wake();
  };

  #wake(): void {
    const waiting = this.#drained;
    if (waiting.length === 0) return;
    this.#drained = [];
    for (const resolve of waiting) resolve();
  }

  /** The buffer to append `n` bytes to, grown when they do not fit. */
  #room(n: number): Uint8Array {
    if (this.#len + n <= this.#buf.length) return this.#buf;
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    grown.set(this.#buf.subarray(0, this.#len));
    return this.#buf = grown;
  }
}

/** What a family's simulator does with the bytes of one connection. */
export interface ConnHandler {
  /** Takes the next chunk read; a throw ends the connection (and is rethrown by the serving). */
  data(chunk: Uint8Array): void;
  /** Called once the connection ended, before its pending replies are awaited. */
  end?(): void;
}

/**
 * What every family's simulator shares: its fault decisions (seeded as every family seeds them),
 * the connections it serves, and the disconnect fault that drops them and takes the TCP port
 * down for a while. A family adds its models and how it frames and answers bytes.
 */
export abstract class ConnectedSimulator implements ServedSim {
  /** The fault decisions, message by message. */
  readonly faults: FaultInjector;
  /** Noise of garbage answers. */
  protected readonly garbage: Random;
  readonly #links = new SimConnections();
  /** Called when a disconnect fault starts (the TCP server stops listening for a while). */
  onDisconnect?: (forMs: number) => void;

  /** Seeds the fault decisions and the garbage from `seed`. */
  constructor(faults: FaultOptions | undefined, seed: number) {
    this.faults = new FaultInjector(faults ?? NO_FAULTS, new Random(seed * 7919 + 13));
    this.garbage = new Random(seed * 104729 + 7);
  }

  /**
   * Serves `conn` until it ends or the simulator closes: every chunk read (at most `bufferSize`
   * bytes) goes to the handler `start` makes, whose replies go out in order even when a fault
   * delays one. Replies due at once that pile up (several commands in one chunk, or answers
   * made while a write is in flight) go out in one write, from a reused buffer.
   */
  protected async serveConn(
    conn: SimConn,
    bufferSize: number,
    start: (reply: Reply, replyText: ReplyText) => ConnHandler,
  ): Promise<void> {
    const links = this.#links;
    links.add(conn);
    const buf = new Uint8Array(bufferSize);
    const out = new Outbox((bytes) => links.send(conn, bytes, 0));
    let reading = false;
    // Replies behind a delayed one (a latency fault) go through this chain, in order; the
    // outbox is used again once the chain has drained.
    let chain: Promise<void> | undefined;
    let batch: Uint8Array[] | undefined;
    const later = (bytes: Uint8Array, delayMs: number) => {
      if (delayMs > 0) {
        batch = undefined;
        const before = chain ?? out.drained();
        // a reply to a client that went away is dropped; the next read ends the connection
        const mine: Promise<void> = before.then(() => links.send(conn, bytes, delayMs)).catch(
          () => {},
        ).finally(() => {
          if (chain === mine) chain = undefined;
        });
        chain = mine;
        return;
      }
      if (batch) {
        batch.push(bytes);
        return;
      }
      const parts = batch = [bytes];
      const mine: Promise<void> = chain!.then(() => {
        if (batch === parts) batch = undefined;
        return links.send(conn, joinBytes(parts), 0);
      }).catch(() => {}).finally(() => {
        if (chain === mine) chain = undefined;
      });
      chain = mine;
    };
    const reply: Reply = (bytes, delayMs) => {
      if (delayMs > 0 || chain) later(bytes, delayMs);
      else {
        out.bytes(bytes);
        if (!reading) out.flush();
      }
    };
    const replyText: ReplyText = (text, delayMs) => {
      if (delayMs > 0 || chain) later(textToBytes(text), delayMs);
      else {
        out.text(text);
        if (!reading) out.flush();
      }
    };
    const handler = start(reply, replyText);
    try {
      for (;;) {
        let n: number | null;
        try {
          n = await conn.read(buf);
        } catch {
          break;
        }
        if (n === null) break;
        reading = true;
        try {
          handler.data(buf.subarray(0, n));
        } finally {
          reading = false;
          out.flush();
        }
      }
    } finally {
      handler.end?.();
      await out.drained();
      while (chain) await chain;
      links.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed by a disconnect fault.
      }
    }
  }

  /** A disconnect fault: drops every connection and takes the TCP port down for a while. */
  protected disconnect(): void {
    this.#links.closeAll();
    this.onDisconnect?.(this.faults.options.disconnectForMs);
  }

  /** Closes every connection and timer. */
  close(): void {
    this.#links.close();
    this.onDisconnect?.(this.faults.options.disconnectForMs);
  }
}
