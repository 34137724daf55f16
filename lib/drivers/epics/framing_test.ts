import assert from "node:assert/strict";
import {
  concatBytes,
  decodeHeader,
  DECODER_BLOCK_BYTES,
  encodeHeader,
  frame,
  frameText,
  MessageDecoder,
  padded,
  ProtocolError,
  type RawMessage,
} from "./framing.ts";
import { CMD } from "./messages.ts";
import { decodeMessage, encodeMessage } from "./protocol.ts";
import { decodeDbr, encodeDbr } from "./dbr.ts";
import { DBR } from "./dbr_types.ts";
import { ECA } from "./eca.ts";
import { CAPTURED, hex, one } from "./testdata/softioc_captured.ts";

Deno.test("the streaming decoder frames messages whatever the split", () => {
  const stream = concatBytes(
    Object.entries(CAPTURED).filter(([k]) => !k.startsWith("udp_")).map(([, v]) => hex(v)),
  );
  const whole = new MessageDecoder().push(stream);
  assert.equal(whole.length, Object.keys(CAPTURED).length - 1);
  for (const step of [1, 3, 7, 16, 17, 100, 1000]) {
    const d = new MessageDecoder();
    const got: RawMessage[] = [];
    for (let i = 0; i < stream.length; i += step) got.push(...d.push(stream.subarray(i, i + step)));
    assert.equal(d.buffered, 0);
    assert.deepEqual(got, whole, `step ${step}`);
  }
  // feed(): views are transient, so the caller may reuse its read buffer.
  const d = new MessageDecoder();
  const buf = new Uint8Array(64);
  const kinds: string[] = [];
  for (let i = 0; i < stream.length; i += 64) {
    const n = Math.min(64, stream.length - i);
    buf.set(stream.subarray(i, i + n));
    d.feed(buf.subarray(0, n), (m) => kinds.push(decodeMessage(m, "to_client").kind));
  }
  assert.deepEqual(kinds, whole.map((m) => decodeMessage(m, "to_client").kind));
});

Deno.test("headers: standard, extended for big payloads and counts, padding", () => {
  const std = { command: 1, payloadSize: 16, dataType: 20, dataCount: 1, p1: 5, p2: 0xfffffffe };
  assert.deepEqual(decodeHeader(encodeHeader(std)), { header: std, size: 16 });
  const big = { command: 15, payloadSize: 0x10000, dataType: 6, dataCount: 8192, p1: 1, p2: 2 };
  const e = encodeHeader(big);
  assert.equal(e.length, 24);
  assert.deepEqual(decodeHeader(e), { header: big, size: 24 });
  const many = { ...big, payloadSize: 8, dataCount: 0x10000 };
  assert.deepEqual(decodeHeader(encodeHeader(many))!.header, many);
  assert.equal(decodeHeader(e.subarray(0, 20)), undefined);
  assert.equal(decodeHeader(e.subarray(0, 10)), undefined);

  const payload = new Float64Array(9000);
  payload[8999] = 7;
  const msg = encodeMessage({
    kind: "read_notify_resp",
    dbrType: DBR.DOUBLE,
    count: 9000,
    status: ECA.NORMAL,
    ioid: 3,
    payload: encodeDbr(DBR.DOUBLE, { value: Array.from(payload) }),
  });
  assert.equal(msg.length, 24 + 72000);
  const m = decodeMessage(one(msg), "to_client");
  assert.ok(m.kind === "read_notify_resp");
  assert.equal(decodeDbr(m.dbrType, m.count, m.payload).value[8999], 7);

  assert.equal(padded(0), 0);
  assert.equal(padded(1), 8);
  assert.equal(padded(8), 8);
  assert.equal(padded(41), 48);
  const named = encodeMessage({ kind: "client_name", name: "operator" });
  assert.equal(named.length, 16 + 16); // "operator\0" padded to 16
  assert.equal(frame({ command: 23, dataType: 0, dataCount: 0, p1: 0, p2: 0 }).length, 16);
});

Deno.test("the decoder refuses an oversized message at its header, before any payload", () => {
  // A WRITE announcing 15 MB with an extended header: the limit is the largest legal message.
  const head = encodeHeader({
    command: CMD.WRITE,
    payloadSize: 15 * 1024 * 1024,
    dataType: DBR.DOUBLE,
    dataCount: 15 * 1024 * 1024 / 8,
    p1: 1,
    p2: 1,
  });
  assert.equal(head.length, 24);
  assert.throws(() => new MessageDecoder({ maxPayload: 16384 }).push(head), ProtocolError);
  // The same header dribbled in byte by byte fails as soon as it is complete.
  const d = new MessageDecoder({ maxPayload: 16384 });
  for (let i = 0; i < 23; i++) assert.deepEqual(d.push(head.subarray(i, i + 1)), []);
  assert.throws(() => d.push(head.subarray(23)), /exceeds the 16384-byte limit/);
  // A message of exactly the limit is legal.
  const legal = frame({
    command: CMD.WRITE,
    dataType: DBR.CHAR,
    dataCount: 16384,
    p1: 1,
    p2: 2,
  }, new Uint8Array(16384).fill(7));
  const ok = new MessageDecoder({ maxPayload: 16384 });
  let got: RawMessage[] = [];
  for (let i = 0; i < legal.length; i += 1000) {
    got = got.concat(ok.push(legal.subarray(i, i + 1000)));
    // What is held is what has arrived, never more.
    assert.ok(ok.buffered <= Math.min(i + 1000, legal.length) % legal.length);
  }
  assert.equal(got.length, 1);
  assert.equal(got[0]!.payload.length, 16384);
  assert.ok(got[0]!.payload.every((b) => b === 7));
});

Deno.test("a large message arriving in small reads is copied once, not once per read", () => {
  const size = 15 * 1024 * 1024;
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) payload[i] = (i >> 12) & 255;
  const bytes = frame(
    { command: CMD.WRITE, dataType: DBR.CHAR, dataCount: size, p1: 3, p2: 4 },
    payload,
  );
  const d = new MessageDecoder({ maxPayload: 16 * 1024 * 1024 });
  const read = new Uint8Array(64 * 1024);
  let seen: RawMessage | undefined;
  for (let i = 0; i < bytes.length; i += read.length) {
    const n = Math.min(read.length, bytes.length - i);
    // Held: exactly what has arrived of the message, nothing announced but unsent.
    assert.equal(d.buffered, i);
    read.set(bytes.subarray(i, i + n));
    d.feed(read.subarray(0, n), (m) => {
      seen = { ...m, payload: m.payload.slice() };
    });
  }
  assert.ok(seen, "the message was delivered");
  assert.equal(seen.p2, 4);
  assert.deepEqual(seen.payload, payload);
  assert.equal(d.buffered, 0);
  // Each byte copied once as it arrived and once when the message was put together (copying
  // everything held on every read would be ~120 times the size).
  assert.equal(d.stats.bytesCopied, 2 * bytes.length);
  assert.equal(d.stats.assembled, 1);
});

Deno.test("a split message is kept in blocks: no piece per read, no joining when it fits one", () => {
  const size = 60_000;
  const payload = new Uint8Array(size).map((_, i) => i % 251);
  const bytes = frame(
    { command: CMD.WRITE, dataType: DBR.CHAR, dataCount: size, p1: 1, p2: 2 },
    payload,
  );
  const d = new MessageDecoder();
  let got: RawMessage[] = [];
  // The header itself arrives split, then the payload in 1000-byte reads.
  for (const [from, to] of [[0, 10], [10, 1000]]) {
    got = got.concat(d.push(bytes.subarray(from, to)));
  }
  for (let i = 1000; i < bytes.length; i += 1000) {
    assert.equal(d.buffered, i, "what is held is what has arrived");
    got = got.concat(d.push(bytes.subarray(i, i + 1000)));
  }
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.payload, payload);
  // Every byte was copied once into one block of exactly the message's size, which the
  // message is delivered from (the split header also cost its 10 held bytes and the 24 joined
  // to read it).
  assert.equal(got[0]!.payload.buffer.byteLength, bytes.length);
  assert.equal(d.stats.bytesCopied, bytes.length + 10 + 24);
  assert.equal(d.stats.assembled, 1);
  assert.equal(d.buffered, 0);
  assert.equal(d.reserved, 0);
});

Deno.test("a large message's blocks grow with what has arrived, not with what it announces", () => {
  const size = 15 * 1024 * 1024;
  const head = encodeHeader({
    command: CMD.WRITE,
    payloadSize: size,
    dataType: DBR.CHAR,
    dataCount: size,
    p1: 1,
    p2: 1,
  });
  const d = new MessageDecoder({ maxPayload: 16 * 1024 * 1024 });
  d.push(concatBytes([head, new Uint8Array(100)]));
  // Announcing 15 MB and sending 100 bytes costs a read buffer's worth.
  assert.equal(d.buffered, 124);
  assert.equal(d.reserved, 64 * 1024);
  const chunk = new Uint8Array(64 * 1024);
  for (let sent = 100; sent + chunk.length < size; sent += chunk.length) {
    d.push(chunk);
    assert.ok(d.reserved <= 2 * d.buffered, `${d.reserved} reserved for ${d.buffered} held`);
    assert.ok(d.reserved - d.buffered <= DECODER_BLOCK_BYTES);
  }
});

Deno.test("the decoder frames any split of mixed short, empty and extended messages", () => {
  const msgs = [
    encodeMessage({ kind: "echo" }),
    frame(
      { command: CMD.WRITE, dataType: DBR.CHAR, dataCount: 70000, p1: 1, p2: 2 },
      new Uint8Array(70000).fill(1),
    ),
    encodeMessage({ kind: "version", priority: 0, minor: 13 }),
    frame(
      { command: CMD.WRITE, dataType: DBR.CHAR, dataCount: 5, p1: 3, p2: 4 },
      new Uint8Array(5).fill(2),
    ),
    encodeMessage({ kind: "echo" }),
  ];
  const stream = concatBytes(msgs);
  const whole = new MessageDecoder().push(stream);
  assert.equal(whole.length, msgs.length);
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    const d = new MessageDecoder();
    const got: RawMessage[] = [];
    let i = 0;
    while (i < stream.length) {
      const step = 1 + rand(round % 2 === 0 ? 40 : 30000);
      got.push(...d.push(stream.subarray(i, i + step)));
      i += step;
    }
    assert.equal(d.buffered, 0);
    assert.deepEqual(got, whole, `round ${round}`);
  }
});

Deno.test("frameText frames a name as frame() of its UTF-8 bytes and a NUL would", () => {
  const h = { command: 18, dataType: 0, dataCount: 13, p1: 7, p2: 13 };
  for (const name of ["XXX:m1.VAL", "", "1234567", "12345678", "température:℃"]) {
    const bytes = new TextEncoder().encode(name);
    const payload = new Uint8Array(bytes.length + 1);
    payload.set(bytes);
    assert.deepEqual(frameText(h, name), frame(h, payload), name);
  }
});
