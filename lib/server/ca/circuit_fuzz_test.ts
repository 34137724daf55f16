import assert from "node:assert/strict";
import fc from "fast-check";
import "../../drivers/mod.ts";
import { parseConfig } from "../../config/load.ts";
import { Lab } from "../../lab/lab.ts";
import { fuzzTest, unhandledRejections } from "../../../tests/fuzz_runs.ts";
import { encodeDbr } from "../../drivers/epics/dbr.ts";
import { DBR } from "../../drivers/epics/dbr_types.ts";
import {
  encodeHeader,
  type Header,
  MessageDecoder,
  type RawMessage,
} from "../../drivers/epics/framing.ts";
import { type CaMessage } from "../../drivers/epics/messages.ts";
import { decodeMessage, encodeMessage } from "../../drivers/epics/protocol.ts";
import { ServerCircuit } from "./circuit.ts";
import { PvTable } from "./pvs.ts";
import { bareHeader, u32 } from "../../drivers/epics/testdata/ca_arbitraries.ts";
import "./test_device.ts";

const lab = await Lab.open(parseConfig(`
[devices.thermo]
address = "sim://thermo?seed=1"
[devices.dmm]
address = "sim://dmm?seed=2"
[devices.fake]
address = "catypes://x?n=3"
`));
const table = await PvTable.open(lab, { prefix: "F:" });
const NAMES = table.names();

// Mostly channels that exist, types and counts a client may ask for; sometimes anything.
const sid = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 7 }), weight: 8 },
  { arbitrary: u32, weight: 1 },
);
const dbrType = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 34 }), weight: 6 },
  { arbitrary: fc.integer({ min: 0, max: 0xfffe }), weight: 1 },
);
const count = fc.oneof(
  { arbitrary: fc.nat(4), weight: 6 },
  { arbitrary: fc.nat(0xfffe), weight: 1 },
  { arbitrary: u32, weight: 1 },
);
/** Write payloads: real encodings of numbers and text, or random bytes. */
const putPayload = fc.oneof(
  fc.uint8Array({ maxLength: 96 }),
  fc.double().map((v) => encodeDbr(DBR.DOUBLE, { value: [v] })),
  fc.string({ maxLength: 39 }).map((s) => encodeDbr(DBR.STRING, { value: [s] })),
  fc.integer({ min: 0, max: 30 }).map((i) => encodeDbr(DBR.ENUM, { value: [i] })),
);
const header: fc.Arbitrary<Header> = bareHeader;

/** What a client (or a broken or hostile one) sends after opening a few channels. */
const request: fc.Arbitrary<CaMessage | Header> = fc.oneof(
  fc.record({ kind: fc.constant("read_notify"), dbrType, count, sid, ioid: u32 }),
  fc.record({
    kind: fc.constantFrom("write", "write_notify"),
    dbrType,
    count,
    sid,
    ioid: u32,
    payload: putPayload,
  }),
  fc.record({
    kind: fc.constant("event_add"),
    dbrType,
    count,
    sid,
    subid: fc.nat(8),
    mask: fc.nat(0xffff),
  }),
  fc.record({ kind: fc.constant("event_cancel"), dbrType, count, sid, subid: fc.nat(8) }),
  fc.record({ kind: fc.constant("clear_channel"), sid, cid: u32 }),
  fc.record({ kind: fc.constantFrom("events_off", "events_on", "echo") }),
  fc.record({
    kind: fc.constant("search"),
    reply: fc.boolean(),
    minor: fc.nat(13),
    cid: u32,
    name: fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 20 })),
  }),
  fc.record({
    kind: fc.constant("create_chan"),
    cid: u32,
    minor: fc.nat(13),
    name: fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 20 })),
  }),
  header,
) as fc.Arbitrary<CaMessage | Header>;

const session = fc.record({
  open: fc.shuffledSubarray(NAMES, { minLength: 1, maxLength: 6 }),
  requests: fc.array(request, { maxLength: 12 }),
  mayWrite: fc.boolean(),
});

const unhandled = unhandledRejections();

// The server side of one circuit, fed what a client sends: every reply it queues must be a
// well-formed message, a protocol violation closes only this circuit, and nothing escapes as
// an exception or an unhandled rejection (either would take the whole daemon down).
fuzzTest(
  "CA circuit: any client conversation gets well-formed replies, never an exception",
  session,
  async ({ open, requests, mayWrite }) => {
    const circuit = new ServerCircuit({
      table,
      wake: () => {},
      mayWrite,
      timeoutMs: 200,
      moveTimeoutMs: 50,
    });
    const out = new MessageDecoder();
    const replies: RawMessage[] = [];
    const drain = () => {
      for (let b = circuit.take(); b; b = circuit.take()) replies.push(...out.push(b));
    };
    try {
      const input = new MessageDecoder();
      const send = (m: CaMessage | Header) => {
        const bytes = "kind" in m ? encodeMessage(m) : encodeHeader(m);
        for (const raw of input.push(bytes)) circuit.receive(raw);
      };
      send({ kind: "version", priority: 0, minor: 13 });
      open.forEach((name, i) => send({ kind: "create_chan", cid: i + 1, minor: 13, name }));
      for (const r of requests) {
        send(r);
        drain();
      }
      // Replies that wait for a device read or write come a few microtasks later.
      for (let i = 0; i < 20; i++) {
        await Promise.resolve();
        drain();
      }
      for (const r of replies) decodeMessage(r, "to_client");
      assert.equal(out.buffered, 0, "a reply was cut short");
    } finally {
      circuit.close();
    }
    assert.deepEqual(unhandled.splice(0), []);
  },
);

Deno.test({
  name: "CA circuit fuzz: close the lab",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    table.close();
    await lab.close();
  },
});
