/**
 * The CA client's UDP socket: searches out, search replies and beacons in. It uses Deno's own
 * datagram socket when the runtime offers it (`"unstable": ["net"]` in deno.json, as labwire
 * runs), which starts in a few milliseconds, and `node:dgram` otherwise - loaded only then, since
 * Node's compatibility layer costs a `labwire read` of one PV several times its CA work.
 *
 * @module
 */
import type { Destination } from "./client_env.ts";
import { FrameWriter } from "./frame_writer.ts";
import { CMD } from "./messages.ts";

/** Deno's datagram socket, as far as this module uses it (an unstable API: typed here). */
interface DatagramConn {
  send(
    data: Uint8Array,
    addr: { transport: "udp"; hostname: string; port: number },
  ): Promise<number>;
  receive(buf?: Uint8Array): Promise<[Uint8Array, { hostname: string; port: number }]>;
  close(): void;
}

type ListenDatagram = (
  opts: { transport: "udp"; hostname: string; port: number },
) => DatagramConn;

/** The raw socket under a {@linkcode SearchSocket}. */
interface Port {
  /** Sends; settles once the datagram went out (a failure is warned about, not thrown). */
  send(datagram: Uint8Array, host: string, port: number): Promise<void>;
  allowBroadcast(): void;
  close(): Promise<void>;
}

async function nativePort(
  listen: ListenDatagram,
  onDatagram: (bytes: Uint8Array, from: string) => void,
  warn: (message: string) => void,
): Promise<Port> {
  const conn = listen({ transport: "udp", hostname: "0.0.0.0", port: 0 });
  let closed = false;
  const receiving = (async () => {
    const buf = new Uint8Array(65536);
    while (!closed) {
      let got: [Uint8Array, { hostname: string }];
      try {
        got = await conn.receive(buf);
      } catch (err) {
        if (!closed) warn(`CA UDP socket: ${err instanceof Error ? err.message : err}`);
        return;
      }
      if (closed) return; // arrived as the socket closed: nothing is delivered after close()
      onDatagram(got[0], got[1].hostname);
    }
  })();
  await Promise.resolve();
  return {
    send(datagram, host, port) {
      return conn.send(datagram, { transport: "udp", hostname: host, port }).then(
        () => {},
        (err) => {
          if (!closed) warn(`CA UDP socket: sending to ${host}:${port}: ${err}`);
        },
      );
    },
    // Deno's datagram sockets are opened with SO_BROADCAST already.
    allowBroadcast() {},
    close() {
      closed = true;
      conn.close();
      // The pending receive ends on a later turn of the event loop (its rejection is caught
      // above, and nothing is delivered after `closed`): waiting for that turn held a batch
      // read of 1,000 PVs 4-9 ms (wall, loaded machine) after its last reply.
      void receiving;
      return Promise.resolve();
    },
  };
}

async function nodePort(
  onDatagram: (bytes: Uint8Array, from: string) => void,
  warn: (message: string) => void,
): Promise<Port> {
  const { default: dgram } = await import("node:dgram");
  const sock = dgram.createSocket("udp4");
  sock.on(
    "message",
    (msg: Uint8Array, rinfo: { address: string; port: number }) =>
      onDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), rinfo.address),
  );
  sock.on("error", (err: Error) => warn(`CA UDP socket: ${err.message}`));
  await new Promise<void>((resolve) => sock.bind(0, resolve));
  return {
    send: (datagram, host, port) =>
      new Promise<void>((resolve) =>
        sock.send(datagram, port, host, (err: Error | null) => {
          if (err) warn(`CA UDP socket: sending to ${host}:${port}: ${err.message}`);
          resolve();
        })
      ),
    allowBroadcast: () => sock.setBroadcast(true),
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

/** The client's UDP socket: searches out, search replies and beacons in. */
export class SearchSocket {
  readonly #port: Port;

  private constructor(port: Port) {
    this.#port = port;
  }

  /**
   * Binds an ephemeral port; every datagram received goes to `onDatagram`. `native: false`
   * takes `node:dgram` even where Deno's socket is available.
   */
  static async open(
    onDatagram: (bytes: Uint8Array, from: string) => void,
    warn: (message: string) => void,
    native = true,
  ): Promise<SearchSocket> {
    const listen = native
      ? (Deno as unknown as { listenDatagram?: ListenDatagram }).listenDatagram
      : undefined;
    const port = typeof listen === "function"
      ? await nativePort(listen, onDatagram, warn)
      : await nodePort(onDatagram, warn);
    return new SearchSocket(port);
  }

  /** Allows sending to broadcast addresses. */
  allowBroadcast(): void {
    this.#port.allowBroadcast();
  }

  /**
   * Sends each datagram to each destination; settles once all went out. (Deno sends when its
   * event loop runs: a caller about to keep the thread busy awaits this first.)
   */
  send(datagrams: readonly Uint8Array[], destinations: readonly Destination[]): Promise<void> {
    const sending: Promise<void>[] = [];
    for (const datagram of datagrams) {
      for (const d of destinations) sending.push(this.#port.send(datagram, d.host, d.port));
    }
    return Promise.all(sending).then(() => {});
  }

  /** Asks the caRepeater on `port` to forward beacons here; harmless when there is none. */
  registerWithRepeater(port: number): void {
    // REPEATER_REGISTER from 127.0.0.1 (framed here: this module loads without the protocol's).
    const w = new FrameWriter(16);
    w.header(CMD.REPEATER_REGISTER, 0, 0, 0, 0x7f000001);
    this.#port.send(w.take(), "127.0.0.1", port);
  }

  /** Closes the socket. */
  close(): Promise<void> {
    return this.#port.close();
  }
}
