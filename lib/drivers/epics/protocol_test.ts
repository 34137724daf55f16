import assert from "node:assert/strict";
import {
  type CaMessage,
  CMD,
  concatBytes,
  decodeDatagram,
  decodeHeader,
  decodeMessage,
  type Direction,
  encodeHeader,
  encodeMessage,
  frame,
  MessageDecoder,
  padded,
  ProtocolError,
  type RawMessage,
} from "./protocol.ts";
import { DBR, dbrFamily, decodeDbr, encodeDbr, epicsToUnix } from "./dbr.ts";
import { ECA, ecaName } from "./eca.ts";
import { CAPTURED, hex } from "./testdata/softioc_captured.ts";

function one(bytes: Uint8Array): RawMessage {
  const msgs = new MessageDecoder().push(bytes);
  assert.equal(msgs.length, 1);
  return msgs[0]!;
}

/** Equal except where the re-encoded byte is 0 and the original has garbage (pads, after NUL). */
function assertSameExceptPad(original: Uint8Array, reencoded: Uint8Array, what: string): void {
  assert.equal(reencoded.length, original.length, `${what}: length`);
  for (let i = 0; i < original.length; i++) {
    if (reencoded[i] !== original[i] && reencoded[i] !== 0) {
      assert.fail(`${what}: byte ${i} is ${reencoded[i]}, captured ${original[i]}`);
    }
  }
}

/** Re-encodes a message, rebuilding any DBR payload from its decoded form. */
function reencode(m: CaMessage): Uint8Array {
  if (m.kind === "read_notify_resp" || m.kind === "event_add_resp") {
    if (m.payload.length === 0) return encodeMessage(m);
    const data = decodeDbr(m.dbrType, m.count, m.payload);
    return encodeMessage({ ...m, payload: encodeDbr(m.dbrType, data) });
  }
  return encodeMessage(m);
}

function decoded(key: string): CaMessage {
  return decodeMessage(one(hex(CAPTURED[key]!)), "to_client");
}

function dbrOfVector(key: string) {
  const m = decoded(key);
  assert.ok(m.kind === "read_notify_resp" || m.kind === "event_add_resp");
  assert.equal(m.status, ECA.NORMAL);
  return decodeDbr(m.dbrType, m.count, m.payload);
}

Deno.test("captured server messages decode and re-encode to the same bytes (pads aside)", () => {
  for (const [key, text] of Object.entries(CAPTURED)) {
    const bytes = hex(text);
    const raws = key.startsWith("udp_") ? decodeDatagram(bytes) : [one(bytes)];
    const again = concatBytes(raws.map((r) => reencode(decodeMessage(r, "to_client"))));
    assertSameExceptPad(bytes, again, key);
    for (const r of raws) {
      const m = decodeMessage(r, "to_client");
      assert.deepEqual(decodeMessage(one(reencode(m)), "to_client").kind, m.kind, key);
    }
  }
});

Deno.test("every DBR read of a double ao decodes to its value and metadata", () => {
  for (let t = 0; t <= 34; t++) {
    const d = dbrOfVector(`read_T:ao_${t}_0`);
    const native = t % 7;
    // The server converts 1.5: "1.500" with PREC 3 as a string, truncated to 1 as an integer.
    const expected = native === DBR.STRING
      ? ["1.500"]
      : native === DBR.FLOAT || native === DBR.DOUBLE
      ? [1.5]
      : [1];
    assert.deepEqual(d.value, expected, `type ${t}`);
    const family = dbrFamily(t);
    if (family !== "plain") assert.equal(d.severity, 0, `type ${t}`);
    if (family === "time") {
      // Stamped at IOC start, in 2026: after 2020 and before 2100.
      const unix = epicsToUnix(d.secondsPastEpoch!, d.nanoseconds);
      assert.ok(unix > 1.6e9 && unix < 4.1e9, `type ${t} stamp ${unix}`);
    }
  }
  const ctrl = dbrOfVector("read_T:ao_34_0");
  assert.equal(ctrl.units, "mm");
  assert.equal(ctrl.precision, 3);
  assert.deepEqual(
    [
      ctrl.upperDispLimit,
      ctrl.lowerDispLimit,
      ctrl.upperAlarmLimit,
      ctrl.upperWarningLimit,
      ctrl.lowerWarningLimit,
      ctrl.lowerAlarmLimit,
      ctrl.upperCtrlLimit,
      ctrl.lowerCtrlLimit,
    ],
    [100, -100, 40, 30, -30, -40, 50, -50],
  );
  const grLong = dbrOfVector("read_T:ao_26_0");
  assert.equal(grLong.upperDispLimit, 100);
  assert.equal(grLong.lowerAlarmLimit, -40);
  const ctrlChar = dbrOfVector("read_T:ao_32_0");
  assert.equal(ctrlChar.upperCtrlLimit, 50);
  assert.equal(ctrlChar.lowerCtrlLimit, 256 - 50);
});

Deno.test("observed payload sizes match the facts sheet", () => {
  const size = (k: string) => one(hex(CAPTURED[k]!)).payloadSize;
  assert.equal(size("read_T:ao_34_0"), 88); // CTRL_DOUBLE
  assert.equal(size("read_T:long_33_0"), 48); // CTRL_LONG
  assert.equal(size("read_T:mbbi_17_0"), 16); // TIME_ENUM
  assert.equal(size("read_T:str_14_0"), 56); // TIME_STRING
  assert.equal(size("read_T:mbbi_31_0"), 424); // CTRL_ENUM
});

Deno.test("long, enum and string records decode in every family", () => {
  assert.deepEqual(dbrOfVector("read_T:long_33_0").value, [42]);
  assert.equal(dbrOfVector("read_T:long_33_0").units, "counts");
  assert.equal(dbrOfVector("read_T:long_33_0").upperCtrlLimit, 1000);
  assert.deepEqual(dbrOfVector("read_T:long_15_0").value, [42]);
  for (const t of [3, 10, 17, 24, 31]) {
    assert.deepEqual(dbrOfVector(`read_T:mbbi_${t}_0`).value, [2]);
  }
  assert.deepEqual(dbrOfVector("read_T:mbbi_31_0").enumStrings, ["Zero", "One", "Two", "Three"]);
  assert.deepEqual(dbrOfVector("read_T:mbbi_0_0").value, ["Two"]);
  assert.deepEqual(dbrOfVector("read_T:mbbi_14_0").value, ["Two"]);
  for (const t of [0, 7, 14, 21, 28, 37]) {
    assert.deepEqual(dbrOfVector(`read_T:str_${t}_0`).value, ["hello world"], `type ${t}`);
  }
  assert.equal(dbrOfVector("read_T:str_37_0").ackt, 1);
  assert.deepEqual(dbrOfVector("read_T:str_38_0").value, ["stringin"]);
});

Deno.test("arrays decode with their current length", () => {
  const wave = [1.5, -2, 3.25, 1e10, 0];
  assert.deepEqual(dbrOfVector("read_T:wave_6_0").value, wave);
  assert.deepEqual(dbrOfVector("read_T:wave_20_0").value, wave);
  const ctrl = dbrOfVector("read_T:wave_34_0");
  assert.deepEqual(ctrl.value, wave);
  assert.equal(ctrl.units, "A");
  assert.equal(ctrl.precision, 1);
  assert.deepEqual(dbrOfVector("read_T:wave_0_0").value, [
    "1.5",
    "-2.0",
    "3.3",
    "10000000000.0",
    "0.0",
  ]);
  const full = dbrOfVector("read_T:wave_6_16").value;
  assert.equal(full.length, 16);
  assert.deepEqual(full.slice(0, 5), wave);
  for (const t of [4, 11, 18, 25, 32]) {
    assert.deepEqual(dbrOfVector(`read_T:wchar_${t}_0`).value, [104, 105, 33, 0, 200, 7]);
  }
  for (const t of [1, 15, 29]) {
    assert.deepEqual(dbrOfVector(`read_T:wshort_${t}_0`).value, [-1, 300, 7]);
  }
  for (const t of [2, 9, 16, 23, 30]) {
    assert.deepEqual(dbrOfVector(`read_T:wfloat_${t}_0`).value, [0.5, -1.25]);
  }
  assert.deepEqual(dbrOfVector("read_array_count1").value, [1.5]);
});

Deno.test("handshake, monitor, access and error messages from the reference server", () => {
  assert.deepEqual(decoded("tcp_version"), {
    kind: "version",
    priority: 0,
    minor: 13,
    sequence: 0,
  });
  assert.deepEqual(decoded("access_rights_T:ro"), {
    kind: "access_rights",
    cid: 108,
    read: true,
    write: false,
  });
  assert.deepEqual(decoded("access_rights_T:ao"), {
    kind: "access_rights",
    cid: 100,
    read: true,
    write: true,
  });
  const created = decoded("create_chan_resp_T:wave");
  assert.ok(created.kind === "create_chan_resp");
  assert.equal(created.nativeType, DBR.DOUBLE);
  assert.equal(created.nativeCount, 16);
  assert.equal(created.cid, 104);
  assert.deepEqual(decoded("create_ch_fail"), { kind: "create_ch_fail", cid: 999 });
  const ro = decoded("write_notify_ro");
  assert.ok(ro.kind === "write_notify_resp");
  assert.equal(ecaName(ro.status), "ECA_NOWTACCESS");
  const ok = decoded("write_notify_resp");
  assert.ok(ok.kind === "write_notify_resp");
  assert.equal(ok.status, ECA.NORMAL);
  assert.equal(ok.count, 5);

  const alarm = dbrOfVector("event_add_resp_alarm");
  assert.deepEqual(alarm.value, [45]);
  assert.equal(alarm.severity, 2); // MAJOR: above HIHI 40
  assert.equal(alarm.status, 3); // HIHI
  const cancel = decoded("event_cancel_resp");
  assert.ok(cancel.kind === "event_add_resp");
  assert.equal(cancel.payload.length, 0);
  assert.equal(cancel.subid, 55);

  const err = decoded("error_write_ro");
  assert.ok(err.kind === "error");
  assert.equal(err.status, ECA.NOWTACCESS);
  assert.equal(err.request.command, CMD.WRITE);
  assert.equal(err.message, "T:ro");
  const bad = decoded("error_bad_sid");
  assert.ok(bad.kind === "error");
  assert.equal(bad.status, ECA.INTERNAL);
  assert.equal(bad.cid, 0xffffffff);
  assert.equal(bad.request.command, CMD.READ_NOTIFY);
  assert.equal(bad.request.p1, 777);
  assert.match(bad.message, /Bad Resource ID/);
  const getfail = decoded("read_string_as_enum");
  assert.ok(getfail.kind === "read_notify_resp");
  assert.equal(getfail.status, ECA.GETFAIL);
  assert.deepEqual(decoded("clear_channel_resp"), { kind: "clear_channel", sid: 0, cid: 5 });
  assert.deepEqual(decoded("beacon"), {
    kind: "beacon",
    minor: 13,
    port: 15364,
    beaconId: 0,
    ip: 0,
  });
  assert.deepEqual(decoded("echo"), { kind: "echo" });
});

Deno.test("a UDP search reply carries VERSION then the server port, address and minor version", () => {
  const [version, found] = decodeDatagram(hex(CAPTURED["udp_search_resp"]!)).map((r) =>
    decodeMessage(r, "to_client")
  );
  assert.deepEqual(version, { kind: "version", priority: 1, minor: 13, sequence: 7 });
  assert.deepEqual(found, { kind: "search_resp", port: 15264, ip: 0xffffffff, cid: 1, minor: 13 });
  assert.equal(one(hex(CAPTURED["udp_search_resp"]!).subarray(16)).payloadSize, 8);
});

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

Deno.test("every command round-trips in its direction", () => {
  const payload = encodeDbr(DBR.DOUBLE, { value: [2.5] });
  const cases: [CaMessage, Direction][] = [
    [{ kind: "version", priority: 5, minor: 13, sequence: 0 }, "to_server"],
    [{
      kind: "event_add",
      dbrType: DBR.TIME_DOUBLE,
      count: 1,
      sid: 3,
      subid: 9,
      mask: 5,
      low: 0,
      high: 0,
      to: 0,
    }, "to_server"],
    [{ kind: "event_add_resp", dbrType: 6, count: 1, status: 1, subid: 9, payload }, "to_client"],
    [{ kind: "event_cancel", dbrType: 20, count: 1, sid: 3, subid: 9 }, "to_server"],
    [{ kind: "read", dbrType: 6, count: 1, sid: 3, ioid: 4 }, "to_server"],
    [{ kind: "write", dbrType: 6, count: 1, sid: 3, ioid: 4, payload }, "to_server"],
    [{ kind: "search", reply: true, minor: 13, cid: 77, name: "XXX:m1.VAL" }, "to_server"],
    [{ kind: "search", reply: false, minor: 13, cid: 78, name: "A" }, "to_server"],
    [{ kind: "search_resp", port: 5064, ip: 0x7f000001, cid: 77, minor: 13 }, "to_client"],
    [{ kind: "not_found", minor: 13, cid: 77 }, "to_client"],
    [{ kind: "events_off" }, "to_server"],
    [{ kind: "events_on" }, "to_server"],
    [{
      kind: "error",
      cid: 4,
      status: ECA.BADTYPE,
      request: { command: 15, payloadSize: 0, dataType: 99, dataCount: 1, p1: 3, p2: 4 },
      message: "bad type",
    }, "to_client"],
    [{ kind: "clear_channel", sid: 3, cid: 4 }, "to_server"],
    [{ kind: "clear_channel", sid: 3, cid: 4 }, "to_client"],
    [{ kind: "beacon", minor: 13, port: 5064, beaconId: 12, ip: 0x7f000001 }, "to_client"],
    [{ kind: "read_notify", dbrType: 34, count: 0, sid: 3, ioid: 5 }, "to_server"],
    [{
      kind: "read_notify_resp",
      dbrType: 6,
      count: 1,
      status: 1,
      ioid: 5,
      payload,
    }, "to_client"],
    [{ kind: "repeater_confirm", ip: 0x7f000001 }, "to_client"],
    [{ kind: "create_chan", cid: 1, minor: 13, name: "T:ao" }, "to_server"],
    [{ kind: "create_chan_resp", nativeType: 6, nativeCount: 1, cid: 1, sid: 2 }, "to_client"],
    [{ kind: "write_notify", dbrType: 6, count: 1, sid: 2, ioid: 6, payload }, "to_server"],
    [{ kind: "write_notify_resp", dbrType: 6, count: 1, status: 1, ioid: 6 }, "to_client"],
    [{ kind: "client_name", name: "me" }, "to_server"],
    [{ kind: "host_name", name: "host.example" }, "to_server"],
    [{ kind: "access_rights", cid: 1, read: true, write: false }, "to_client"],
    [{ kind: "echo" }, "to_server"],
    [{ kind: "repeater_register", ip: 0x7f000001 }, "to_server"],
    [{ kind: "create_ch_fail", cid: 1 }, "to_client"],
    [{ kind: "server_disconn", cid: 1 }, "to_client"],
  ];
  const seen = new Set<string>();
  for (const [m, dir] of cases) {
    const bytes = encodeMessage(m);
    assert.equal(bytes.length % 8, 0, m.kind);
    const back = decodeMessage(one(bytes), dir);
    const norm = (x: CaMessage) =>
      "payload" in x ? { ...x, payload: Array.from(x.payload.subarray(0, payload.length)) } : x;
    assert.deepEqual(norm(back), norm(m), m.kind);
    seen.add(m.kind);
  }
  assert.equal(seen.size, 28); // every kind of CaMessage
  assert.throws(
    () =>
      decodeMessage(
        {
          command: 99,
          payloadSize: 0,
          dataType: 0,
          dataCount: 0,
          p1: 0,
          p2: 0,
          payload: new Uint8Array(),
        },
        "to_client",
      ),
    ProtocolError,
  );
  assert.throws(
    () => new MessageDecoder({ maxPayload: 8 }).push(hex(CAPTURED["read_T:ao_34_0"]!)),
    ProtocolError,
  );
  assert.throws(
    () => decodeDatagram(hex(CAPTURED["read_T:ao_34_0"]!).subarray(0, 40)),
    ProtocolError,
  );
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
