import assert from "node:assert/strict";
import { httpReply, HttpResponder } from "./http_responder.ts";
import { RequestFrame, scanRequest } from "./http_codec.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** An echo server: answers `METHOD TARGET BODY` as text/plain. */
function echo(): HttpResponder {
  return new HttpResponder("127.0.0.1", 0, (req, b) => {
    const line = `${dec.decode(b.subarray(req.methodStart, req.methodEnd))} ` +
      `${dec.decode(b.subarray(req.targetStart, req.targetEnd))} ` +
      dec.decode(req.body.subarray(req.bodyStart, req.bodyEnd));
    return httpReply(200, "text/plain", line);
  });
}

/** Sends `raw` on a fresh connection and reads until `answers` answers or the peer closes. */
async function exchange(port: number, raw: string[], until: (text: string) => boolean) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let text = "";
  try {
    for (const part of raw) {
      await conn.write(enc.encode(part));
      await new Promise((r) => setTimeout(r, 5));
    }
    const buf = new Uint8Array(4096);
    while (!until(text)) {
      const n = await conn.read(buf);
      if (n === null) return { text, closed: true };
      text += dec.decode(buf.subarray(0, n));
    }
    return { text, closed: false };
  } finally {
    conn.close();
  }
}

const count = (s: string, sub: string) => s.split(sub).length - 1;

Deno.test("scanRequest: content-length and chunked bodies, pipelined, split anywhere", () => {
  const raw = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
    "POST /b?q=1 HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\r\nde\r\n1;x=y\r\nf\r\n0\r\n\r\n" +
    "GET / HTTP/1.0\r\n\r\n";
  const b = enc.encode(raw);
  const f = new RequestFrame();
  const seen: string[] = [];
  let at = 0;
  while (at < b.length) {
    // Every shorter prefix asks for more bytes rather than failing.
    for (let cut = at; cut < b.length; cut++) {
      const whole = scanRequest(b.subarray(0, cut), at, cut, f);
      if (whole) {
        assert.ok(f.used <= cut);
        break;
      }
    }
    assert.ok(scanRequest(b, at, b.length, f));
    seen.push(
      `${dec.decode(b.subarray(f.methodStart, f.methodEnd))} ${
        dec.decode(b.subarray(f.targetStart, f.targetEnd))
      } ${dec.decode(f.body.subarray(f.bodyStart, f.bodyEnd))} ${f.close}`,
    );
    at = f.used;
  }
  assert.deepEqual(seen, ["POST /a abc false", "POST /b?q=1 def false", "GET /  true"]);
});

Deno.test("scanRequest: malformed request lines and lengths are refused", () => {
  const f = new RequestFrame();
  for (
    const raw of [
      "hello\r\n\r\n",
      "POST /x HTTP/2.0\r\n\r\n",
      "POST /x\r\n\r\n",
      "POST /x HTTP/1.1\r\ncontent-length: 2x\r\n\r\n",
      "POST /x HTTP/1.1\r\ncontent-length: 999999999\r\n\r\n",
      "POST /x HTTP/1.1\r\nno colon here\r\n\r\n",
    ]
  ) {
    const b = enc.encode(raw);
    assert.throws(() => scanRequest(b, 0, b.length, f), raw);
  }
});

Deno.test("responder: keep-alive, pipelining in order, Connection: close, HTTP/1.0", async () => {
  const server = echo();
  try {
    // Three requests in one write: three answers, in order, on one connection.
    const req = (path: string, body: string, extra = "") =>
      `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;
    const piped = await exchange(
      server.port,
      [req("/1", "a") + req("/2", "bb") + req("/3", "ccc")],
      (t) => count(t, "HTTP/1.1 200 OK") === 3 && t.endsWith("ccc"),
    );
    assert.equal(piped.closed, false, "kept alive");
    assert.deepEqual(
      [...piped.text.matchAll(/\r\n\r\n(POST [^H]*)/g)].map((m) => m[1]),
      ["POST /1 a", "POST /2 bb", "POST /3 ccc"],
    );
    // A request split over several writes is answered once it is whole.
    const split = await exchange(
      server.port,
      ["POST /s HT", "TP/1.1\r\ncontent-le", "ngth: 4\r\n\r\nab", "cd"],
      (t) => t.endsWith("POST /s abcd"),
    );
    assert.match(split.text, /^HTTP\/1\.1 200 OK\r\ncontent-type: text\/plain\r\n/);
    // Connection: close and HTTP/1.0 answer, then close.
    const closing = await exchange(
      server.port,
      [req("/c", "x", "connection: close\r\n")],
      () => false,
    );
    assert.equal(closing.closed, true);
    assert.match(closing.text, /POST \/c x$/);
    // HEAD: the status and headers of the answer, no body (the content-length still says it).
    const head = await exchange(
      server.port,
      ["HEAD /h HTTP/1.1\r\nconnection: close\r\n\r\n"],
      () => false,
    );
    assert.match(head.text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*content-length: 8\r\n\r\n$/);
    const old = await exchange(server.port, ["GET /old HTTP/1.0\r\n\r\n"], () => false);
    assert.equal(old.closed, true);
    assert.match(old.text, /GET \/old $/);
  } finally {
    await server.close();
  }
});

Deno.test("responder: 100 Continue before the body; a malformed request gets 400 and a close", async () => {
  const server = echo();
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      await conn.write(
        enc.encode("POST /e HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n"),
      );
      const buf = new Uint8Array(1024);
      const n = await conn.read(buf);
      assert.equal(dec.decode(buf.subarray(0, n!)), "HTTP/1.1 100 Continue\r\n\r\n");
      await conn.write(enc.encode("ok"));
      const m = await conn.read(buf);
      assert.match(dec.decode(buf.subarray(0, m!)), /^HTTP\/1\.1 200 OK\r\n[\s\S]*POST \/e ok$/);
    } finally {
      conn.close();
    }
    const bad = await exchange(server.port, ["NONSENSE\r\n\r\n"], () => false);
    assert.equal(bad.closed, true);
    assert.match(bad.text, /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*not an HTTP\/1\.x request line/);
  } finally {
    await server.close();
  }
});

Deno.test("responder: a null answer closes the connection; pause refuses, resume serves again", async () => {
  let answer = true;
  const server = new HttpResponder(
    "127.0.0.1",
    0,
    () => answer ? httpReply(200, "text/plain", "yes") : null,
  );
  try {
    answer = false;
    const dropped = await exchange(server.port, ["GET / HTTP/1.1\r\n\r\n"], () => false);
    assert.deepEqual(dropped, { text: "", closed: true });
    answer = true;
    await server.pause();
    assert.equal(server.listening, false);
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: server.port }),
      Deno.errors.ConnectionRefused,
    );
    server.resume();
    const back = await exchange(server.port, ["GET / HTTP/1.1\r\n\r\n"], (t) => t.endsWith("yes"));
    assert.match(back.text, /^HTTP\/1\.1 200 OK\r\n/);
  } finally {
    await server.close();
  }
  // Closed: the port is free again at once.
  Deno.listen({ hostname: "127.0.0.1", port: server.port }).close();
});
