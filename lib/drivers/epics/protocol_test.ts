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
  ipFromString,
  ipToString,
  MessageDecoder,
  padded,
  ProtocolError,
  type RawMessage,
} from "./protocol.ts";
import { DBR, dbrFamily, decodeDbr, encodeDbr, epicsToUnix } from "./dbr.ts";
import { ECA, ecaName } from "./eca.ts";

/**
 * Bytes captured from the reference server (softIoc 7.0.3.1, rsrv) serving
 * tests/interop/fixtures/ca_test.db with P=T:, on loopback. Keys name what was asked:
 * `read_<pv>_<dbr type>_<count>` is the READ_NOTIFY reply. The waveforms had been written first:
 * T:wave = [1.5, -2, 3.25, 1e10, 0], T:wchar = [104, 105, 33, 0, 200, 7],
 * T:wshort = [-1, 300, 7], T:wfloat = [0.5, -1.25]. Pad bytes carry the server's garbage.
 */
const CAPTURED: Record<string, string> = {
  "udp_search_resp":
    "000000000001000d0000000700000000000600083ba00000ffffffff00000001000d000000000000",
  "tcp_version": "000000000000000d0000000000000000",
  "access_rights_T:ao": "00160000000000000000006400000003",
  "create_chan_resp_T:ao": "00120000000600010000006400000012",
  "access_rights_T:long": "00160000000000000000006500000003",
  "create_chan_resp_T:long": "00120000000500010000006500000013",
  "access_rights_T:mbbi": "00160000000000000000006600000003",
  "create_chan_resp_T:mbbi": "00120000000300010000006600000014",
  "access_rights_T:str": "00160000000000000000006700000003",
  "create_chan_resp_T:str": "00120000000000010000006700000015",
  "access_rights_T:wave": "00160000000000000000006800000003",
  "create_chan_resp_T:wave": "00120000000600100000006800000016",
  "access_rights_T:wchar": "00160000000000000000006900000003",
  "create_chan_resp_T:wchar": "00120000000400200000006900000017",
  "access_rights_T:wshort": "00160000000000000000006a00000003",
  "create_chan_resp_T:wshort": "00120000000100080000006a00000018",
  "access_rights_T:wfloat": "00160000000000000000006b00000003",
  "create_chan_resp_T:wfloat": "00120000000200040000006b00000019",
  "access_rights_T:ro": "00160000000000000000006c00000001",
  "create_chan_resp_T:ro": "00120000000600010000006c0000001a",
  "create_ch_fail": "001a000000000000000003e700000000",
  "write_notify_resp": "00130000000600050000000100000001",
  "write_notify_resp_char": "00130000000400060000000100000002",
  "write_notify_resp_short": "00130000000100030000000100000003",
  "write_notify_resp_float": "00130000000200020000000100000004",
  "write_notify_ro": "00130000000600010000017800000005",
  "read_T:ao_0_0":
    "000f002800000001000000010000000a312e3530300000010000006c0000001a000000000000000000000000" +
    "000000000000000000000000",
  "read_T:ao_1_0": "000f000800010001000000010000000b0001000000000000",
  "read_T:ao_2_0": "000f000800020001000000010000000c3fc0000000000000",
  "read_T:ao_3_0": "000f000800030001000000010000000d0001000000000000",
  "read_T:ao_4_0": "000f000800040001000000010000000e0100000000000000",
  "read_T:ao_5_0": "000f000800050001000000010000000f0000000100000000",
  "read_T:ao_6_0": "000f00080006000100000001000000103ff8000000000000",
  "read_T:ao_7_0":
    "000f003000070001000000010000001100000000312e35303000006c0000001a000000000000000000000000" +
    "0000000000000000000000000000000000000000",
  "read_T:ao_8_0": "000f00080008000100000001000000120000000000010000",
  "read_T:ao_9_0": "000f0008000900010000000100000013000000003fc00000",
  "read_T:ao_10_0": "000f0008000a000100000001000000140000000000010000",
  "read_T:ao_11_0": "000f0008000b000100000001000000150000000000010000",
  "read_T:ao_12_0": "000f0008000c000100000001000000160000000000000001",
  "read_T:ao_13_0": "000f0010000d0001000000010000001700000000000000013ff8000000000000",
  "read_T:ao_14_0":
    "000f0038000e00010000000100000018000000004568769c027e2cdc312e3530300000000000000000000000" +
    "00000000000000000000000000000000000000000000000000000000",
  "read_T:ao_15_0": "000f0010000f00010000000100000019000000004568769c027e2cdc312e0001",
  "read_T:ao_16_0": "000f001000100001000000010000001a000000004568769c027e2cdc3fc00000",
  "read_T:ao_17_0": "000f001000110001000000010000001b000000004568769c027e2cdc3fc00001",
  "read_T:ao_18_0": "000f001000120001000000010000001c000000004568769c027e2cdc3fc00001",
  "read_T:ao_19_0": "000f001000130001000000010000001d000000004568769c027e2cdc00000001",
  "read_T:ao_20_0":
    "000f001800140001000000010000001e000000004568769c027e2cdc000000013ff8000000000000",
  "read_T:ao_21_0":
    "000f003000150001000000010000001f00000000312e353030002cdc000000013ff800000000000000000000" +
    "0000000000000000000000000000000000000000",
  "read_T:ao_22_0":
    "000f0020001600010000000100000020000000006d6d0000000000000064ff9c0028001effe2ffd800010000" +
    "00000000",
  "read_T:ao_23_0":
    "000f003000170001000000010000002100000000000300006d6d00000000000042c80000c2c8000042200000" +
    "41f00000c1f00000c22000003fc0000000000000",
  "read_T:ao_24_0":
    "000f01a800180001000000010000002200000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000001",
  "read_T:ao_25_0":
    "000f0018001900010000000100000023000000006d6d000000000000649c281ee2d8000100000000",
  "read_T:ao_26_0":
    "000f0028001a00010000000100000024000000006d6d00000000000000000064ffffff9c000000280000001e" +
    "ffffffe2ffffffd800000001",
  "read_T:ao_27_0":
    "000f0048001b0001000000010000002500000000000300006d6d0000000000004059000000000000c0590000" +
    "000000004044000000000000403e000000000000c03e000000000000c0440000000000003ff8000000000000",
  "read_T:ao_28_0":
    "000f0030001c0001000000010000002600000000312e353030000000000000004059000000000000c0590000" +
    "000000004044000000000000403e000000000000",
  "read_T:ao_29_0":
    "000f0020001d00010000000100000027000000006d6d0000000000000064ff9c0028001effe2ffd80032ffce" +
    "00010000",
  "read_T:ao_30_0":
    "000f0038001e0001000000010000002800000000000300006d6d00000000000042c80000c2c8000042200000" +
    "41f00000c1f00000c220000042480000c24800003fc0000000000000",
  "read_T:ao_31_0":
    "000f01a8001f0001000000010000002900000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000001",
  "read_T:ao_32_0":
    "000f001800200001000000010000002a000000006d6d000000000000649c281ee2d832ce00010000",
  "read_T:ao_33_0":
    "000f003000210001000000010000002b000000006d6d00000000000000000064ffffff9c000000280000001e" +
    "ffffffe2ffffffd800000032ffffffce00000001",
  "read_T:ao_34_0":
    "000f005800220001000000010000002c00000000000300006d6d0000000000004059000000000000c0590000" +
    "000000004044000000000000403e000000000000c03e000000000000c0440000000000004049000000000000" +
    "c0490000000000003ff8000000000000",
  "read_T:long_5_0": "000f000800050001000000010000002d0000002a00000000",
  "read_T:long_12_0": "000f0008000c0001000000010000002e000000000000002a",
  "read_T:long_19_0": "000f001000130001000000010000002f00000000456876601ac848e20000002a",
  "read_T:long_26_0":
    "000f0028001a0001000000010000003000000000636f756e74730000000003e8000000000000000000000000" +
    "00000000000000000000002a",
  "read_T:long_33_0":
    "000f003000210001000000010000003100000000636f756e74730000000003e8000000000000000000000000" +
    "0000000000000000000003e8000000000000002a",
  "read_T:long_1_0": "000f0008000100010000000100000032002a000000000000",
  "read_T:long_29_0":
    "000f0020001d0001000000010000003300000000636f756e7473000003e80000000000000000000003e80000" +
    "002a0000",
  "read_T:long_22_0":
    "000f002000160001000000010000003400000000636f756e7473000003e800000000000000000000002a0000" +
    "00000000",
  "read_T:long_15_0": "000f0010000f0001000000010000003500000000456876601ac848e203e8002a",
  "read_T:long_8_0": "000f000800080001000000010000003600000000002a0000",
  "read_T:mbbi_3_0": "000f00080003000100000001000000370002000000000000",
  "read_T:mbbi_0_0":
    "000f002800000001000000010000003854776f00000000000000000000000000000000000000000000000000" +
    "0000000000000000000003e8",
  "read_T:mbbi_10_0": "000f0008000a000100000001000000390000000000020000",
  "read_T:mbbi_17_0": "000f001000110001000000010000003a00000000456876601ac8696700000002",
  "read_T:mbbi_24_0":
    "000f01a800180001000000010000003b0000000000045a65726f000000000000000000000000000000000000" +
    "000000004f6e65000000000000000000000000000000000000000000000054776f0000000000000000000000" +
    "0000000000000000000000005468726565000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000002",
  "read_T:mbbi_31_0":
    "000f01a8001f0001000000010000003c0000000000045a65726f000000000000000000000000000000000000" +
    "000000004f6e65000000000000000000000000000000000000000000000054776f0000000000000000000000" +
    "0000000000000000000000005468726565000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000002",
  "read_T:mbbi_14_0":
    "000f0038000e0001000000010000003d00000000456876601ac8696754776f00000000000000000000000000" +
    "00000000000000000000000000000000000000000000000000000000",
  "read_T:str_0_0":
    "000f002800000001000000010000003e68656c6c6f20776f726c640000000000000000000000000000000000" +
    "000000000000000000000000",
  "read_T:str_7_0":
    "000f003000070001000000010000003f0000000068656c6c6f20776f726c6400000000000000000000000000" +
    "0000000000000000000000000000000000000000",
  "read_T:str_14_0":
    "000f0038000e0001000000010000004000000000456876601ac882af68656c6c6f20776f726c640000000000" +
    "00000000000000000000000000000000000000000000000000000000",
  "read_T:str_21_0":
    "000f00300015000100000001000000410000000068656c6c6f20776f726c6400000000000000000000000000" +
    "0000000000000000000000000000000000000000",
  "read_T:str_28_0":
    "000f0030001c000100000001000000420000000068656c6c6f20776f726c6400000000000000000000000000" +
    "0000000000000000000000000000000000000000",
  "read_T:str_37_0":
    "000f0030002500010000000100000043000000000001000068656c6c6f20776f726c64000000000000000000" +
    "0000000000000000000000000000000000000000",
  "read_T:str_38_0":
    "000f0028002600010000000100000044737472696e67696e0000000000000000000000000000000000000000" +
    "000000000000000000000000",
  "read_T:wave_6_0":
    "000f00280006000500000001000000453ff8000000000000c000000000000000400a0000000000004202a05f" +
    "200000000000000000000000",
  "read_T:wave_20_0":
    "000f003800140005000000010000004600000000456876ba33de202d000000003ff8000000000000c0000000" +
    "00000000400a0000000000004202a05f200000000000000000000000",
  "read_T:wave_34_0":
    "000f007800220005000000010000004700000000000176ba4100000000000000000000000000000000000000" +
    "000000007ff80000000000007ff80000000000007ff80000000000007ff80000000000000000000000000000" +
    "00000000000000003ff8000000000000c000000000000000400a0000000000004202a05f2000000000000000" +
    "00000000",
  "read_T:wave_0_0":
    "000f00c8000000050000000100000048312e3500000176ba4100000000000000000000000000000000000000" +
    "000000007ff80000000000002d322e30000000007ff80000000000007ff80000000000000000000000000000" +
    "0000000000000000332e330000000000c000000000000000400a0000000000004202a05f2000000000000000" +
    "0000000031303030303030303030302e30000000000000000000000000000000000000000000000000000000" +
    "302e3000000000000000000000000000000000000000000000000000000000000000000000000000",
  "read_T:wave_6_16":
    "000f00800006001000000001000000493ff8000000000000c000000000000000400a0000000000004202a05f" +
    "2000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000",
  "read_T:wchar_4_0": "000f000800040006000000010000004a68692100c8070000",
  "read_T:wchar_11_0": "000f0010000b0006000000010000004b00000000c868692100c8070000000000",
  "read_T:wchar_18_0":
    "000f001800120006000000010000004c00000000456876ba33e2376800000068692100c807000000",
  "read_T:wchar_25_0":
    "000f002000190006000000010000004d0000000000000000000000000000000000000068692100c80702a05f" +
    "20000000",
  "read_T:wchar_32_0":
    "000f002000200006000000010000004e00000000000000000000000000000000000000006968692100c8075f" +
    "20000000",
  "read_T:wshort_1_0": "000f000800010003000000010000004fffff012c00070000",
  "read_T:wshort_15_0":
    "000f0018000f0003000000010000005000000000456876ba33e59d960000ffff012c000769686921",
  "read_T:wshort_29_0":
    "000f0028001d0003000000010000005100000000000000000000000000000000000000000000000000000000" +
    "ffff012c0007000000000000",
  "read_T:wfloat_2_0": "000f00080002000200000001000000523f000000bfa00000",
  "read_T:wfloat_16_0":
    "000f001800100002000000010000005300000000456876ba33e8c2e13f000000bfa0000000000000",
  "read_T:wfloat_23_0":
    "000f003000170002000000010000005400000000000076ba000000000000000000000000000000007fc00000" +
    "7fc000007fc000007fc000003f000000bfa00000",
  "read_T:wfloat_30_0":
    "000f0038001e0002000000010000005500000000000076ba000000000000000000000000000000007fc00000" +
    "7fc000007fc000007fc0000000000000000000003f000000bfa00000",
  "read_T:wfloat_9_0": "000f0010000900020000000100000056000000003f000000bfa0000000000000",
  "event_add_resp":
    "00010018001400010000000100000037000000004568769c027e2cdc000000003ff8000000000000",
  "event_add_resp_alarm":
    "0001001800140001000000010000003700030002456876ba349aeeab000000004046800000000000",
  "event_cancel_resp": "00010000001400010000001200000037",
  "echo": "00170000000000000000000000000000",
  "read_char_as_double": "000f000800060001000000010000005a405a000000000000",
  "read_string_as_enum": "000f000800030001000000980000005b0000000000000000",
  "error_write_ro":
    "000b0018000000000000006c0000017800040008000600010000001a0000005e543a726f00000000",
  "read_array_count1": "000f000800060001000000010000005f3ff8000000000000",
  "event_add_mask0":
    "000b004000000000000000640000003000010010000600010000001200000038737562736372697074696f6e" +
    "20696e7374616c6c20696e746f207265636f726420543a616f206661696c656400000000",
  "beacon": "000d0000000d3c040000000000000000",
  "clear_channel_resp": "000c0000000000000000000000000005",
  "error_bad_sid":
    "000b004000000000ffffffff0000008e000f0000000600010000030900000009426164205265736f75726365" +
    "204944206174202e2e2f727372762f63616d6573736167652e632e373237000000000000",
};

function hex(text: string): Uint8Array {
  return new Uint8Array(text.match(/../g)!.map((b) => parseInt(b, 16)));
}

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

Deno.test("IPv4 addresses convert to and from u32", () => {
  assert.equal(ipToString(0x7f000001), "127.0.0.1");
  assert.equal(ipFromString("10.0.0.255"), 0x0a0000ff);
  assert.equal(ipFromString("300.0.0.1"), undefined);
  assert.equal(ipFromString("localhost"), undefined);
});
