import assert from "node:assert/strict";
import fc from "fast-check";
import { fuzzTest } from "../../tests/fuzz_runs.ts";
import { parseAnswer } from "./http_codec.ts";

const enc = new TextEncoder();

/** An answer as a server would frame it: by content-length, chunked, or by closing. */
const framed = fc.record({
  status: fc.constantFrom(200, 404, 500, 204),
  body: fc.string({ maxLength: 300 }),
  framing: fc.constantFrom("length", "chunked", "close"),
  chunk: fc.integer({ min: 1, max: 64 }),
  continued: fc.boolean(),
}).map(({ status, body, framing: asked, chunk, continued }) => {
  // A 204 has no body, so nothing frames one.
  const framing = status === 204 ? "length" : asked;
  const payload = status === 204 ? new Uint8Array() : enc.encode(body);
  let head = continued ? "HTTP/1.1 100 Continue\r\n\r\n" : "";
  head += `HTTP/1.1 ${status} X\r\nContent-Type: text/xml\r\n`;
  let tail = new Uint8Array();
  if (framing === "length") head += `Content-Length: ${payload.length}\r\n\r\n`;
  else if (framing === "close") head += "Connection: close\r\n\r\n";
  else {
    head += "Transfer-Encoding: chunked\r\n\r\n";
    const parts: Uint8Array[] = [];
    for (let i = 0; i < payload.length; i += chunk) {
      const c = payload.subarray(i, i + chunk);
      parts.push(enc.encode(`${c.length.toString(16)}\r\n`), c, enc.encode("\r\n"));
    }
    parts.push(enc.encode("0\r\n\r\n"));
    tail = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      tail.set(p, off);
      off += p.length;
    }
  }
  const h = enc.encode(head);
  const wire = framing === "chunked" ? tail : payload;
  const bytes = new Uint8Array(h.length + wire.length);
  bytes.set(h);
  bytes.set(wire, h.length);
  return { bytes, status, text: new TextDecoder().decode(payload), byClose: framing === "close" };
});

fuzzTest(
  "parseAnswer: an answer arriving in pieces is incomplete until its last byte, then whole",
  fc.tuple(framed, fc.nat()),
  ([a, cut]) => {
    const at = cut % a.bytes.length;
    const early = parseAnswer(a.bytes.subarray(0, at), false, at);
    assert.equal(early, undefined, `complete after ${at} of ${a.bytes.length} bytes`);
    // A close-delimited body is only known whole when the peer closes.
    const whole = parseAnswer(a.bytes, a.byClose, a.bytes.length);
    assert.ok(whole, "the whole answer parses");
    assert.equal(whole.used, a.bytes.length);
    assert.equal(whole.answer.status, a.status);
    assert.equal(whole.answer.text, a.text);
    assert.equal(whole.answer.headers.get("content-type"), "text/xml");
  },
);

fuzzTest(
  "parseAnswer: any bytes are an answer, more-needed, or a typed error",
  fc.tuple(
    fc.oneof(fc.uint8Array({ maxLength: 400 }), framed.map((a) => a.bytes)),
    fc.nat(),
    fc.boolean(),
  ),
  ([bytes, junkAt, eof]) => {
    const b = bytes.slice();
    if (b.length > 0) b[junkAt % b.length] = junkAt & 0xff;
    try {
      const r = parseAnswer(b, eof, b.length);
      if (r) assert.ok(r.used <= b.length);
      else assert.equal(eof, false, "at the end of the stream an answer is whole or an error");
    } catch (err) {
      assert.ok(
        err instanceof Error && ["BadAnswer", "NothingReceived"].includes(err.name),
        String(err),
      );
    }
  },
);
