import assert from "node:assert/strict";
import { SocketOps } from "./socket_ops.ts";

/** A connected pair on loopback: the client end and the server's end. */
async function pair(): Promise<{ client: Deno.TcpConn; server: Deno.TcpConn; close(): void }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  listener.close();
  return {
    client,
    server,
    close() {
      for (const c of [client, server]) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    },
  };
}

/** `conn` with its public methods only: no resource id, as a connection not the runtime's own. */
function publicOnly(conn: Deno.Conn): Deno.Conn {
  return {
    read: (b: Uint8Array) => conn.read(b),
    write: (b: Uint8Array) => conn.write(b),
    close: () => conn.close(),
  } as unknown as Deno.Conn;
}

Deno.test("socket ops: a runtime connection is read and written through its resource id", async () => {
  const p = await pair();
  try {
    const io = new SocketOps(p.client);
    assert.equal(io.direct, true);
    assert.equal(new SocketOps(publicOnly(p.client)).direct, false);
  } finally {
    p.close();
  }
});

for (const [name, wrap] of [["direct", (c: Deno.Conn) => c], ["public", publicOnly]] as const) {
  Deno.test(`socket ops (${name}): bytes both ways, then 0 at the end of the stream`, async () => {
    const p = await pair();
    try {
      const io = new SocketOps(wrap(p.client));
      assert.equal(await io.write(new TextEncoder().encode("ping")), 4);
      const got = new Uint8Array(16);
      assert.equal(await p.server.read(got), 4);
      assert.equal(new TextDecoder().decode(got.subarray(0, 4)), "ping");
      await p.server.write(new TextEncoder().encode("pong!"));
      const buf = new Uint8Array(16);
      assert.equal(await io.read(buf), 5);
      assert.equal(new TextDecoder().decode(buf.subarray(0, 5)), "pong!");
      p.server.close();
      assert.equal(await io.read(buf), 0);
    } finally {
      p.close();
    }
  });

  Deno.test(`socket ops (${name}): a read pending when the connection closes rejects`, async () => {
    const p = await pair();
    try {
      const conn = wrap(p.client);
      const io = new SocketOps(conn);
      const read = io.read(new Uint8Array(16));
      conn.close();
      await assert.rejects(read);
    } finally {
      p.close();
    }
  });
}
