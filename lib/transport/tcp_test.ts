import assert from "node:assert/strict";
import { DeviceError, TimeoutError, UsageError } from "../device/errors.ts";
import { openTcp, parseTcpTarget } from "./tcp.ts";
import { sleep } from "./abortable.ts";
import { debianPython, peerTest } from "../../tests/peers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A free loopback port (listened on, then released). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("parseTcpTarget needs a port and checks its range", () => {
  assert.deepStrictEqual(parseTcpTarget("10.0.0.7:5025"), { host: "10.0.0.7", port: 5025 });
  assert.deepStrictEqual(parseTcpTarget("[::1]:7777"), { host: "[::1]", port: 7777 });
  assert.throws(() => parseTcpTarget("10.0.0.7"), UsageError);
  assert.throws(() => parseTcpTarget("h:70000"), /out of range/);
});

Deno.test("a refused connect names the address; the stream connects once a listener appears", async () => {
  const port = freePort();
  const s = openTcp("127.0.0.1", port, { backoffMin: 20, backoffMax: 40 });
  try {
    await assert.rejects(s.write(enc.encode("x"), { timeout: 1000 }), (e: unknown) => {
      assert.ok(e instanceof DeviceError);
      assert.match(e.message, new RegExp(`tcp://127\\.0\\.0\\.1:${port}: connection refused`));
      assert.match(e.message, /remote-control socket/);
      return true;
    });
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    const accepted = listener.accept();
    // Calls within the backoff (20 ms after one failure) fail at once; the next one connects.
    await sleep(50);
    await s.write(enc.encode("hello"), { timeout: 1000 });
    const conn = await accepted;
    const buf = new Uint8Array(16);
    const n = await conn.read(buf);
    assert.equal(dec.decode(buf.subarray(0, n ?? 0)), "hello");
    await conn.write(enc.encode("back"));
    assert.equal(dec.decode(await s.read({ timeout: 1000 })), "back");
    conn.close();
    listener.close();
  } finally {
    s.close();
  }
});

Deno.test("a read past its deadline is a TimeoutError; reset() reconnects; EOF is reported", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const s = openTcp("127.0.0.1", port);
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) conns.push(c);
  })();
  try {
    await s.connect({ timeout: 1000 });
    await assert.rejects(s.read({ timeout: 50 }), (e: unknown) => {
      assert.ok(e instanceof TimeoutError);
      assert.match(e.message, /read: nothing within 50 ms/);
      return true;
    });
    assert.equal(s.connected, true);
    s.reset();
    assert.equal(s.connected, false);
    await s.connect({ timeout: 1000 });
    while (conns.length < 2) await new Promise((r) => setTimeout(r, 5));
    conns[1]!.close();
    await assert.rejects(s.read({ timeout: 1000 }), /closed by the other end/);
    assert.equal(s.connected, false);
  } finally {
    s.close();
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    // the peer loop ends with the test; how it ended is not what the test checks
    await accepting.catch(() => {});
  }
});

Deno.test("close() fails a pending read and later calls", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const s = openTcp("127.0.0.1", (listener.addr as Deno.NetAddr).port);
  try {
    await s.connect({ timeout: 1000 });
    const conn = await listener.accept();
    const pending = s.read({ timeout: 5000 });
    s.close();
    await assert.rejects(pending, /closed/);
    await assert.rejects(s.write(enc.encode("x")), /closed/);
    conn.close();
  } finally {
    listener.close();
  }
});

peerTest(
  "a connect that gets no SYN-ACK fails at the connect timeout, naming the address",
  () => debianPython() ? [] : ["python3"],
  async () => {
    // A listener with a full accept queue (backlog 0, one connection parked, never accepted):
    // Linux drops further SYNs, so a connect hangs as to a powered-off instrument.
    const py = new Deno.Command(debianPython()!, {
      args: [
        "-c",
        [
          "import socket, sys, time",
          "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)",
          "port = s.getsockname()[1]",
          "fill = socket.create_connection(('127.0.0.1', port), timeout=2)",
          "print(port, flush=True)",
          "sys.stdin.read()",
        ].join("\n"),
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const reader = py.stdout.getReader();
    const port = Number(dec.decode((await reader.read()).value).trim());
    reader.releaseLock();
    const s = openTcp("127.0.0.1", port, { connectTimeout: 300 });
    try {
      await assert.rejects(s.connect({ timeout: 5000 }), (e: unknown) => {
        assert.ok(e instanceof TimeoutError, String(e));
        assert.match(
          e.message,
          new RegExp(`connect to tcp://127\\.0\\.0\\.1:${port}: no answer within 300 ms`),
        );
        return true;
      });
    } finally {
      s.close();
      await py.stdin.close();
      await py.stdout.cancel();
      await py.status;
    }
  },
);
