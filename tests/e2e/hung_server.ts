/**
 * A TCP server that accepts connections and never answers: a hung instrument for fault tests.
 *
 * @module
 */

/** A running hung server. */
export interface HungServer {
  /** Its loopback port. */
  port: number;
  /** Closes the listener and every connection. */
  close(): void;
}

/** Listens on a free loopback port, accepting and never answering. */
export function hungServer(): HungServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    try {
      for await (const c of listener) conns.push(c);
    } catch { /* closed */ }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      listener.close();
      for (const c of conns) c.close();
    },
  };
}
