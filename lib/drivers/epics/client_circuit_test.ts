import assert from "node:assert/strict";
import { ClientCircuit, type ClientEvent } from "./client_circuit.ts";
import { decodeDbr, encodeDbr } from "./dbr.ts";
import { DBR } from "./dbr_types.ts";
import { ECA } from "./eca.ts";
import { concatBytes, encodeHeader, MessageDecoder, ProtocolError } from "./framing.ts";
import { type CaMessage, DBE } from "./messages.ts";
import { decodeMessage, encodeMessage } from "./protocol.ts";
import { CAPTURED, hex } from "./testdata/softioc_captured.ts";
import { UNKNOWN_COMMAND_HEADER } from "./testdata/ca_arbitraries.ts";

/** The channels of the captured session, by the client ids the reference server answered. */
const CHANNELS: [number, string][] = [
  [100, "T:ao"],
  [101, "T:long"],
  [102, "T:mbbi"],
  [103, "T:str"],
  [104, "T:wave"],
  [105, "T:wchar"],
  [106, "T:wshort"],
  [107, "T:wfloat"],
  [108, "T:ro"],
];

function sent(c: ClientCircuit): CaMessage[] {
  const bytes = c.take();
  if (!bytes) return [];
  return new MessageDecoder().push(bytes).map((r) => decodeMessage(r, "to_server"));
}

function captured(...keys: string[]): Uint8Array {
  return concatBytes(keys.map((k) => hex(CAPTURED[k]!)));
}

/** A circuit whose channels the captured server has created. */
function connectedCircuit(): ClientCircuit {
  const c = new ClientCircuit({ clientName: "me", hostName: "pc" });
  for (const [cid, name] of CHANNELS) c.createChannel(cid, name);
  c.take();
  c.receive(captured(
    "tcp_version",
    ...CHANNELS.flatMap(([, n]) => [`access_rights_${n}`, `create_chan_resp_${n}`]),
  ));
  return c;
}

Deno.test("the handshake and CREATE_CHAN go out in one buffer; the server's replies connect", () => {
  let wakes = 0;
  const c = new ClientCircuit({ clientName: "me", hostName: "pc", wake: () => wakes++ });
  for (const [cid, name] of CHANNELS) c.createChannel(cid, name);
  assert.equal(wakes, 1, "woken once, when the queue stopped being empty");
  const out = sent(c);
  assert.deepEqual(out.slice(0, 3), [
    { kind: "version", priority: 0, minor: 13, sequence: 0 },
    { kind: "client_name", name: "me" },
    { kind: "host_name", name: "pc" },
  ]);
  assert.deepEqual(
    out.slice(3),
    CHANNELS.map(([cid, name]) => ({ kind: "create_chan", cid, minor: 13, name })),
  );
  assert.equal(c.take(), undefined);

  const events = c.receive(captured(
    "tcp_version",
    ...CHANNELS.flatMap(([, n]) => [`access_rights_${n}`, `create_chan_resp_${n}`]),
  ));
  assert.deepEqual(events.map((e) => e.kind), CHANNELS.map(() => "connected"));
  assert.deepEqual(events[0], {
    kind: "connected",
    cid: 100,
    sid: 18,
    nativeType: DBR.DOUBLE,
    nativeCount: 1,
    read: true,
    write: true,
  });
  const wave = events.find((e) => e.kind === "connected" && e.cid === 104);
  assert.ok(wave?.kind === "connected");
  assert.deepEqual([wave.nativeType, wave.nativeCount], [DBR.DOUBLE, 16]);
  const ro = events.find((e) => e.kind === "connected" && e.cid === 108);
  assert.ok(ro?.kind === "connected");
  assert.deepEqual([ro.read, ro.write], [true, false]);
  assert.ok(c.isConnected(100));
  assert.equal(c.serverMinor, 13);
  assert.equal(c.defaultCount(104), 0, "minor 13: count 0 asks for the current length");
});

Deno.test("CREATE_CH_FAIL forgets the channel; a reply for a cleared channel clears it", () => {
  const c = new ClientCircuit({ clientName: "me", hostName: "pc" });
  c.createChannel(999, "T:nothing");
  c.createChannel(100, "T:ao");
  c.take();
  assert.deepEqual(c.receive(captured("create_ch_fail")), [{ kind: "create_failed", cid: 999 }]);
  assert.equal(c.channelCount, 1);
  c.clearChannel(100);
  assert.equal(c.take(), undefined, "not created yet: nothing to clear on the server");
  assert.deepEqual(c.receive(captured("access_rights_T:ao", "create_chan_resp_T:ao")), []);
  assert.deepEqual(sent(c), [{ kind: "clear_channel", sid: 18, cid: 100 }]);
});

Deno.test("reads carry the server's id and every captured reply decodes", () => {
  const c = connectedCircuit();
  c.read(100, 10, DBR.STRING);
  c.read(104, 11, DBR.DOUBLE, 16);
  assert.deepEqual(sent(c), [
    { kind: "read_notify", dbrType: DBR.STRING, count: 0, sid: 18, ioid: 10 },
    { kind: "read_notify", dbrType: DBR.DOUBLE, count: 16, sid: 22, ioid: 11 },
  ]);
  const keys = Array.from({ length: 35 }, (_, t) => `read_T:ao_${t}_0`);
  const events = c.receive(captured(...keys));
  assert.equal(events.length, 35);
  events.forEach((e, t) => {
    assert.ok(e.kind === "read", keys[t]);
    assert.equal(e.ioid, 10 + t);
    assert.equal(e.status, ECA.NORMAL);
    assert.equal(e.result!.type, t);
    const m = decodeMessage(new MessageDecoder().push(hex(CAPTURED[keys[t]!]!))[0]!, "to_client");
    assert.ok(m.kind === "read_notify_resp");
    assert.deepEqual(e.result!.data, decodeDbr(m.dbrType, m.count, m.payload));
  });
  const [asDouble] = c.receive(captured("read_T:ao_6_0"));
  assert.ok(asDouble?.kind === "read");
  assert.equal(asDouble.result!.data.value[0], 1.5);
  assert.deepEqual(c.receive(captured("read_string_as_enum")), [
    { kind: "read", ioid: 91, status: ECA.GETFAIL },
  ]);
});

Deno.test("writes with and without notification, and their failures", () => {
  const c = connectedCircuit();
  const payload = encodeDbr(DBR.DOUBLE, { value: [1, 2, 3, 4, 5] });
  c.write(104, 1, DBR.DOUBLE, 5, payload, true);
  c.write(108, 94, DBR.DOUBLE, 1, encodeDbr(DBR.DOUBLE, { value: [1] }), false);
  const [notify, plain] = sent(c);
  assert.ok(notify?.kind === "write_notify" && plain?.kind === "write");
  assert.deepEqual([notify.sid, notify.ioid, notify.count], [22, 1, 5]);
  assert.deepEqual([plain.sid, plain.ioid], [26, 94]);
  assert.deepEqual(c.receive(captured("write_notify_resp", "write_notify_ro", "error_write_ro")), [
    { kind: "written", ioid: 1, status: ECA.NORMAL },
    { kind: "written", ioid: 5, status: ECA.NOWTACCESS },
    { kind: "write_error", cid: 108, status: ECA.NOWTACCESS, message: "T:ro" },
  ]);
});

Deno.test("monitors: EVENT_ADD of TIME by default, updates, cancel, a refused subscription", () => {
  const c = connectedCircuit();
  assert.equal(c.subscribe(100, 55, DBE.VALUE | DBE.ALARM), DBR.TIME_DOUBLE);
  assert.deepEqual(sent(c), [{
    kind: "event_add",
    dbrType: DBR.TIME_DOUBLE,
    count: 0,
    sid: 18,
    subid: 55,
    mask: 5,
    low: 0,
    high: 0,
    to: 0,
  }]);
  const [update, alarm] = c.receive(captured("event_add_resp", "event_add_resp_alarm"));
  assert.ok(update?.kind === "update" && alarm?.kind === "update");
  assert.equal(update.subid, 55);
  assert.equal(update.result!.type, DBR.TIME_DOUBLE);
  assert.deepEqual(alarm.result!.data.value, [45]);
  assert.deepEqual([alarm.result!.data.severity, alarm.result!.data.status], [2, 3]);

  c.unsubscribe(55);
  assert.deepEqual(sent(c), [
    { kind: "event_cancel", dbrType: DBR.TIME_DOUBLE, count: 0, sid: 18, subid: 55 },
  ]);
  assert.deepEqual(c.receive(captured("event_cancel_resp", "event_add_resp")), []);

  c.subscribe(100, 56, 0, DBR.DOUBLE, 1);
  c.take();
  const [refused] = c.receive(captured("event_add_mask0"));
  assert.ok(refused?.kind === "monitor_error");
  assert.deepEqual([refused.subid, refused.status], [56, ECA.ALLOCMEM]);
  assert.match(refused.message, /subscription install into record T:ao failed/);
});

Deno.test("server errors, ECHO, clearing and a stream split anywhere", () => {
  const c = connectedCircuit();
  const all = captured("error_bad_sid", "echo", "clear_channel_resp", "read_array_count1");
  const whole = c.receive(all);
  assert.equal(whole.length, 2);
  assert.deepEqual(whole[0]!.kind, "request_error");
  assert.deepEqual(
    [(whole[0] as Extract<ClientEvent, { kind: "request_error" }>).ioid, whole[0]!.status],
    [9, ECA.INTERNAL],
  );
  assert.ok(whole[1]!.kind === "read" && whole[1].ioid === 95);
  for (let cut = 1; cut < all.length; cut += 7) {
    const events = [...c.receive(all.subarray(0, cut)), ...c.receive(all.subarray(cut))];
    assert.deepEqual(events, whole, `split at ${cut}`);
  }
  c.echo();
  c.clearChannel(100);
  assert.deepEqual(sent(c), [{ kind: "echo" }, { kind: "clear_channel", sid: 18, cid: 100 }]);
  assert.throws(() => c.read(100, 1, DBR.DOUBLE), /not connected/);

  // A command this client does not know is reported and skipped; the circuit stays usable.
  const unknown = encodeHeader(UNKNOWN_COMMAND_HEADER);
  const [odd, read] = c.receive(concatBytes([unknown, hex(CAPTURED["read_T:ao_6_0"]!)]));
  assert.equal(odd?.kind, "server_error");
  assert.equal(read?.kind, "read");
});

Deno.test("a reply beyond the array limit is a protocol error at its header", () => {
  const c = new ClientCircuit({ clientName: "me", hostName: "pc", maxArrayBytes: 16384 });
  const big = encodeMessage({
    kind: "read_notify_resp",
    dbrType: DBR.DOUBLE,
    count: 4096,
    status: ECA.NORMAL,
    ioid: 1,
    payload: new Uint8Array(32768),
  });
  assert.throws(() => c.receive(big.subarray(0, 24)), ProtocolError);
});
