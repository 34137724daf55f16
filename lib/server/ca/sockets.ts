/**
 * The listening sockets of the CA server: a TCP listener and a UDP search socket per interface,
 * on one port number (rsrv's way: when another server owns the TCP port, any free one is taken
 * and searches tell clients which).
 *
 * @module
 */
import dgram from "node:dgram";
import { errorMessage } from "../../device/errors.ts";

/** Binds a UDP socket with SO_REUSEADDR, as rsrv does. */
export function bindUdp(host: string, port: number): Promise<dgram.Socket> {
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

/** Closes a UDP socket; resolves even when it was closed already. */
export function closeUdp(s: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      s.close(() => resolve());
    } catch {
      // Closed already (an error closed it): nothing left to release.
      resolve();
    }
  });
}

function listenTcp(hostname: string, port: number): Deno.TcpListener {
  return Deno.listen({ hostname, port, transport: "tcp" });
}

/** The sockets of a server: TCP listeners and UDP search sockets, one of each per interface. */
export interface BoundSockets {
  /** TCP listeners, in the order of the interfaces. */
  tcp: Deno.TcpListener[];
  /** UDP search sockets, in the order of the interfaces. */
  udp: dgram.Socket[];
  /** The UDP (search) port. */
  udpPort: number;
  /** The TCP port (the search port unless another server owns it). */
  tcpPort: number;
}

/** Opens TCP listeners and UDP search sockets on every interface, on one port number. */
export async function bindAll(interfaces: string[], port: number): Promise<BoundSockets> {
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
