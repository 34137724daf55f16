import assert from "node:assert/strict";
import { concatBytes, decodeDatagram, MessageDecoder, ProtocolError } from "./framing.ts";
import { type CaMessage, CMD, type Direction } from "./messages.ts";
import { decodeMessage, encodeMessage } from "./protocol.ts";
import { decodeDbr, encodeDbr } from "./dbr.ts";
import { DBR, dbrFamily, epicsToUnix } from "./dbr_types.ts";
import { ECA, ecaName } from "./eca.ts";
import { CAPTURED, hex, one } from "./testdata/softioc_captured.ts";
import { UNKNOWN_COMMAND_HEADER } from "./testdata/ca_arbitraries.ts";

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
    () => decodeMessage({ ...UNKNOWN_COMMAND_HEADER, payload: new Uint8Array() }, "to_client"),
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
