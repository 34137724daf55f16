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

/**
 * Writes a config with a good simulated gauge beside a baratron gauge at the hung server, both
 * sampled every 200 ms: the bench that the hung-device tests and benchmark run.
 */
export async function writeHungBench(path: string, hung: HungServer): Promise<void> {
  // The hung gauge waits a minute for every answer: nothing else may wait with it.
  await Deno.writeTextFile(
    path,
    `
[devices.good]
address = "sim://gauge?seed=1"
interval = "200ms"

[devices.hung]
address = "baratron://127.0.0.1:${hung.port}?timeout=60s"
interval = "200ms"
`,
  );
}
