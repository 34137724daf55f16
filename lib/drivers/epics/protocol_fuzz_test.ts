import assert from "node:assert/strict";
import fc from "fast-check";
import { cutPoints, fuzzTest, onlyThrows, splitAt } from "../../../tests/fuzz_runs.ts";
import {
  concatBytes,
  decodeDatagram,
  decodeHeader,
  encodeHeader,
  EXTENDED_HEADER_SIZE,
  frame,
  type Header,
  MessageDecoder,
  padded,
  ProtocolError,
  type RawMessage,
} from "./framing.ts";
import { type CaMessage, CMD, type Direction } from "./messages.ts";
import { decodeMessage, encodeMessage } from "./protocol.ts";

const u16 = fc.integer({ min: 0, max: 0xfffe });
const u32 = fc.nat({ max: 0xffffffff }).map((n) => n >>> 0);
/** Element counts: mostly small, sometimes beyond 16 bits (extended headers). */
const count = fc.oneof(u16, u32);
/** Text a C string can carry: no NUL, well-formed UTF-16. */
const cText = fc.string({ maxLength: 40, unit: "grapheme" }).filter((s) => !s.includes("\0"));
const payload = fc.uint8Array({ maxLength: 64 });
const float32 = fc.float();
const header: fc.Arbitrary<Header> = fc.record({
  command: u16,
  payloadSize: fc.oneof(u16, u32),
  dataType: u16,
  dataCount: count,
  p1: u32,
  p2: u32,
});

/** Every message a client sends, with fields inside their wire ranges. */
const toServer: fc.Arbitrary<CaMessage> = fc.oneof(
  fc.record({ kind: fc.constant("version"), priority: u16, minor: u16, sequence: u32 }),
  fc.record({
    kind: fc.constant("event_add"),
    dbrType: u16,
    count,
    sid: u32,
    subid: u32,
    mask: u16,
    low: float32,
    high: float32,
    to: float32,
  }),
  fc.record({ kind: fc.constant("event_cancel"), dbrType: u16, count, sid: u32, subid: u32 }),
  fc.record({ kind: fc.constant("read"), dbrType: u16, count, sid: u32, ioid: u32 }),
  fc.record({
    kind: fc.constantFrom("write", "write_notify"),
    dbrType: u16,
    count,
    sid: u32,
    ioid: u32,
    payload,
  }),
  fc.record({
    kind: fc.constant("search"),
    reply: fc.boolean(),
    minor: u16,
    cid: u32,
    name: cText,
  }),
  fc.record({ kind: fc.constantFrom("events_off", "events_on", "echo") }),
  fc.record({ kind: fc.constant("clear_channel"), sid: u32, cid: u32 }),
  fc.record({ kind: fc.constant("read_notify"), dbrType: u16, count, sid: u32, ioid: u32 }),
  fc.record({ kind: fc.constant("create_chan"), cid: u32, minor: u32, name: cText }),
  fc.record({ kind: fc.constantFrom("client_name", "host_name"), name: cText }),
) as fc.Arbitrary<CaMessage>;

/** Every message a server (or repeater) sends. */
const toClient: fc.Arbitrary<CaMessage> = fc.oneof(
  fc.record({ kind: fc.constant("version"), priority: u16, minor: u16, sequence: u32 }),
  fc.record({
    kind: fc.constantFrom("event_add_resp", "read_notify_resp"),
    dbrType: u16,
    count,
    status: u32,
    subid: u32,
    payload,
  }).map((m) =>
    m.kind === "event_add_resp" ? m : {
      kind: m.kind,
      dbrType: m.dbrType,
      count: m.count,
      status: m.status,
      ioid: m.subid,
      payload: m.payload,
    }
  ),
  fc.record({ kind: fc.constant("search_resp"), port: u16, ip: u32, cid: u32, minor: u16 }),
  fc.record({ kind: fc.constant("not_found"), minor: u16, cid: u32 }),
  fc.record({ kind: fc.constant("error"), cid: u32, status: u32, request: header, message: cText }),
  fc.record({ kind: fc.constant("clear_channel"), sid: u32, cid: u32 }),
  fc.record({ kind: fc.constant("beacon"), minor: u16, port: u16, beaconId: u32, ip: u32 }),
  fc.record({ kind: fc.constantFrom("repeater_confirm", "repeater_register"), ip: u32 }),
  fc.record({
    kind: fc.constant("create_chan_resp"),
    nativeType: u16,
    nativeCount: count,
    cid: u32,
    sid: u32,
  }),
  fc.record({
    kind: fc.constant("write_notify_resp"),
    dbrType: u16,
    count,
    status: u32,
    ioid: u32,
  }),
  fc.record({
    kind: fc.constant("access_rights"),
    cid: u32,
    read: fc.boolean(),
    write: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("echo") }),
  fc.record({ kind: fc.constantFrom("create_ch_fail", "server_disconn"), cid: u32 }),
) as fc.Arbitrary<CaMessage>;

/** What decoding gives back: plain objects, payloads with their pad bytes. */
function expected(m: CaMessage): CaMessage {
  if (m.kind === "error") return { ...m, request: { ...m.request } };
  if (!("payload" in m)) return { ...m };
  const p = new Uint8Array(padded(m.payload.length));
  p.set(m.payload);
  return { ...m, payload: p };
}

function roundTrip(direction: Direction) {
  return (m: CaMessage) => {
    const bytes = encodeMessage(m);
    assert.equal(bytes.length % 8, 0, "messages are padded to 8 bytes");
    const raws = decodeDatagram(bytes);
    assert.equal(raws.length, 1);
    assert.deepEqual(decodeMessage(raws[0]!, direction), expected(m));
  };
}

fuzzTest("CA: client messages round-trip (encode → decode)", toServer, roundTrip("to_server"));
fuzzTest("CA: server messages round-trip (encode → decode)", toClient, roundTrip("to_client"));

fuzzTest("CA: headers round-trip, extended when a size needs 32 bits", header, (h) => {
  const bytes = encodeHeader(h);
  const d = decodeHeader(bytes);
  assert.deepEqual(d, { header: { ...h }, size: bytes.length });
  assert.equal(
    bytes.length === EXTENDED_HEADER_SIZE,
    h.payloadSize >= 0xffff || h.dataCount >= 0xffff,
  );
});

const cuts = cutPoints(12);

function plain(m: RawMessage) {
  return { ...m, payload: [...m.payload] };
}

fuzzTest(
  "CA: a stream of messages decodes the same however the reads split it",
  fc.tuple(fc.array(fc.oneof(toServer, toClient), { maxLength: 12 }), cuts),
  ([messages, at]) => {
    const whole = concatBytes(messages.map(encodeMessage));
    const want = decodeDatagram(whole).map(plain);
    const pushed = new MessageDecoder();
    const got = splitAt(whole, at).flatMap((part) => pushed.push(part)).map(plain);
    assert.deepEqual(got, want);
    assert.equal(pushed.buffered, 0);
    // feed(): views are valid during the callback only, and the caller reuses its buffer.
    const fed = new MessageDecoder();
    const seen: ReturnType<typeof plain>[] = [];
    const buf = new Uint8Array(whole.length);
    for (const part of splitAt(whole, at)) {
      buf.set(part);
      fed.feed(buf.subarray(0, part.length), (m) => seen.push(plain(m)));
      buf.fill(0xa5);
    }
    assert.deepEqual(seen, want);
  },
);

/** Random bytes, random real messages, and real messages with a random header spliced in. */
const streamBytes = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.array(fc.oneof(toServer, toClient, header.map((h) => encodeHeader(h))), { maxLength: 8 }).map(
    (parts) => concatBytes(parts.map((p) => p instanceof Uint8Array ? p : encodeMessage(p))),
  ),
);

fuzzTest(
  "CA: any byte stream frames into messages or a ProtocolError, the same however it is split",
  fc.tuple(streamBytes, cuts, fc.constantFrom(64, 1024, 16 * 1024 * 1024)),
  ([bytes, at, maxPayload]) => {
    const one = new MessageDecoder({ maxPayload });
    const whole = onlyThrows([ProtocolError], () => one.push(bytes).map(plain));
    const d = new MessageDecoder({ maxPayload });
    const got: ReturnType<typeof plain>[] = [];
    for (const part of splitAt(bytes, at)) {
      const msgs = onlyThrows([ProtocolError], () => d.push(part));
      if (msgs === undefined) {
        assert.equal(whole, undefined, "only the split stream failed");
        return; // the circuit is closed here
      }
      for (const m of msgs) {
        assert.equal(m.payload.length, m.payloadSize);
        assert.ok(m.payloadSize <= maxPayload);
        got.push(plain(m));
      }
      assert.ok(d.buffered <= EXTENDED_HEADER_SIZE + maxPayload, `${d.buffered} bytes held`);
    }
    assert.notEqual(whole, undefined, "only the whole stream failed");
    assert.deepEqual(got, whole);
    assert.equal(d.buffered, one.buffered);
  },
);

fuzzTest(
  "CA: any framed message decodes to a typed message or a ProtocolError, both directions",
  fc.tuple(header, payload, fc.constantFrom<Direction>("to_server", "to_client")),
  ([h, body, direction]) => {
    const command = h.command % 32; // mostly known commands, some unknown
    const raw = decodeDatagram(frame({ ...h, command }, body))[0]!;
    const m = onlyThrows([ProtocolError], () => decodeMessage(raw, direction));
    if (m !== undefined) assert.equal(typeof m.kind, "string");
  },
);

fuzzTest("CA: any datagram splits into messages or a ProtocolError", streamBytes, (bytes) => {
  const msgs = onlyThrows([ProtocolError], () => decodeDatagram(bytes));
  if (msgs !== undefined) {
    assert.equal(concatBytes(msgs.map((m) => m.payload)).length <= bytes.length, true);
  }
});

Deno.test("CA: known command codes are not ProtocolErrors", () => {
  // Guards the fuzz property above: `command % 32` reaches every code in CMD.
  assert.ok(Object.values(CMD).every((c) => c < 32));
});
