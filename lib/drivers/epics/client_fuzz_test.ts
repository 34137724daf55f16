import assert from "node:assert/strict";
import dgram from "node:dgram";
import fc from "fast-check";
import { DeviceError, UsageError } from "../../device/errors.ts";
import { fuzzTest, onlyRejects, unhandledRejections } from "../../../tests/fuzz_runs.ts";
import { CaClient } from "./client.ts";
import { encodeDbr } from "./dbr.ts";
import { DBR } from "./dbr_types.ts";
import { decodeDatagram, encodeHeader, type Header, MessageDecoder } from "./framing.ts";
import { bareHeader, u32 } from "./testdata/ca_arbitraries.ts";
import { type CaMessage } from "./messages.ts";
import { decodeMessage, encodeMessage } from "./protocol.ts";

/** What the hostile server answers, decided per case. */
interface Script {
  /** Native type and count it claims for the channel. */
  nativeType: number;
  nativeCount: number;
  read: boolean;
  /** Sent in answer to a READ_NOTIFY; `ioid` is filled in for message replies. */
  replies: (CaMessage | Header | Uint8Array)[];
}

let script: Script | undefined;

// A Channel Access server that answers searches honestly and everything else as the case says.
const udp = dgram.createSocket("udp4");
await new Promise<void>((r) => udp.bind(0, "127.0.0.1", r));
const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const tcpPort = (tcp.addr as Deno.NetAddr).port;
udp.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
  try {
    for (const raw of decodeDatagram(new Uint8Array(msg))) {
      const m = decodeMessage(raw, "to_server");
      if (m.kind !== "search") continue;
      const reply = encodeMessage({
        kind: "search_resp",
        port: tcpPort,
        ip: 0xffffffff,
        cid: m.cid,
        minor: 13,
      });
      udp.send(reply, rinfo.port, rinfo.address);
    }
  } catch { /* not a search */ }
});
const conns = new Set<Deno.Conn>();
const serving = (async () => {
  for await (const conn of tcp) {
    conns.add(conn);
    serve(conn).finally(() => conns.delete(conn));
  }
})();

async function serve(conn: Deno.Conn): Promise<void> {
  const write = (b: Uint8Array) => conn.write(b).catch(() => 0);
  await write(encodeMessage({ kind: "version", priority: 0, minor: 13 }));
  const decoder = new MessageDecoder();
  try {
    for await (const chunk of conn.readable) {
      for (const raw of decoder.push(chunk)) {
        const m = decodeMessage(raw, "to_server");
        const s = script;
        if (!s) continue;
        if (m.kind === "create_chan") {
          await write(
            encodeMessage({ kind: "access_rights", cid: m.cid, read: s.read, write: true }),
          );
          await write(encodeMessage({
            kind: "create_chan_resp",
            nativeType: s.nativeType,
            nativeCount: s.nativeCount,
            cid: m.cid,
            sid: 1,
          }));
        } else if (m.kind === "read_notify") {
          for (const r of s.replies) {
            if (r instanceof Uint8Array) await write(r);
            else if ("kind" in r) {
              await write(encodeMessage("ioid" in r ? { ...r, ioid: m.ioid } as CaMessage : r));
            } else await write(encodeHeader(r));
          }
        }
      }
    }
  } catch { /* the client closed the circuit */ }
}

const dbrType = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 38 }), weight: 5 }, fc.nat(0xfffe));
const count = fc.oneof({ arbitrary: fc.nat(4), weight: 5 }, fc.nat(0xfffe), u32);
/** A reply payload: a real encoding of some type, or random bytes. */
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.double().map((v) =>
    encodeDbr(DBR.TIME_DOUBLE, { value: [v], secondsPastEpoch: 1, nanoseconds: 2 })
  ),
  fc.string({ maxLength: 39 }).map((v) => encodeDbr(DBR.STRING, { value: [v] })),
  fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 5 }).map((v) =>
    encodeDbr(DBR.LONG, { value: v })
  ),
);
const reply: fc.Arbitrary<CaMessage | Header | Uint8Array> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("read_notify_resp"),
      dbrType,
      count,
      status: fc.oneof(fc.constant(1), u32),
      ioid: fc.constant(0),
      payload,
    }),
    weight: 6,
  },
  fc.record({
    kind: fc.constant("error"),
    cid: u32,
    status: u32,
    request: fc.record({
      command: fc.nat(30),
      payloadSize: fc.constant(0),
      dataType: fc.nat(40),
      dataCount: fc.nat(5),
      p1: u32,
      p2: u32,
    }),
    message: fc.string({ maxLength: 20 }),
  }),
  fc.record({ kind: fc.constantFrom("server_disconn", "create_ch_fail"), cid: fc.nat(5) }),
  fc.record({
    kind: fc.constant("event_add_resp"),
    dbrType,
    count,
    status: u32,
    subid: u32,
    payload,
  }),
  bareHeader,
  fc.uint8Array({ minLength: 1, maxLength: 40 }),
) as fc.Arbitrary<CaMessage | Header | Uint8Array>;

const scriptArb: fc.Arbitrary<Script> = fc.record({
  nativeType: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 6 }), weight: 5 }, fc.nat(0xfffe)),
  nativeCount: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 4 }), weight: 5 }, u32),
  read: fc.oneof({ arbitrary: fc.constant(true), weight: 5 }, fc.constant(false)),
  replies: fc.array(reply, { minLength: 1, maxLength: 3 }),
});

const unhandled = unhandledRejections();

// A server that lies (wrong types, counts, lengths, garbage) costs the client a failed read,
// never an exception of another kind, an unhandled rejection or a hang.
fuzzTest(
  "CA client: any server reply to a read is a value or a DeviceError",
  scriptArb,
  async (s) => {
    script = s;
    const client = new CaClient({
      addrList: ["127.0.0.1"],
      autoAddrList: false,
      serverPort: udp.address().port,
      repeaterPort: 0,
      connTimeoutMs: 300,
      onWarning: () => {},
    });
    try {
      const ch = client.channel("FUZZ:PV");
      const result = await onlyRejects(
        [DeviceError, UsageError],
        () => ch.get({ signal: AbortSignal.timeout(150) }),
      );
      if (result !== undefined) assert.ok(result !== null);
    } catch (err) {
      // An aborted wait is how a reply that never comes ends.
      if (!(err instanceof Error && /abort|timed out|timeout/i.test(String(err.cause ?? err)))) {
        throw err;
      }
    } finally {
      await client.close();
      script = undefined;
    }
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(unhandled.splice(0), []);
  },
  { quickRuns: 50, maxRuns: 3000 },
);

Deno.test({
  name: "CA client fuzz: stop the hostile server",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    for (const c of conns) c.close();
    tcp.close();
    // the peer loop ends with the test; how it ended is not what the test checks
    await serving.catch(() => {});
    await new Promise<void>((r) => udp.close(() => r()));
  },
});
