import assert from "node:assert/strict";
import { UsageError } from "../../device/errors.ts";
import { parseRawRequest } from "./raw.ts";

Deno.test("raw Modbus requests: reads, typed reads, writes", () => {
  assert.deepEqual(parseRawRequest("read holding 4096 2"), {
    op: "read",
    table: "holding",
    address: 4096,
    count: 2,
  });
  assert.deepEqual(parseRawRequest("read coils 2068"), {
    op: "read",
    table: "coil",
    address: 2068,
    count: 1,
  });
  assert.deepEqual(parseRawRequest("READ input 0x10 float32 cdab"), {
    op: "read",
    table: "input",
    address: 16,
    type: "float32",
    order: "CDAB",
  });
  assert.deepEqual(parseRawRequest("write holding 4097 250"), {
    op: "write",
    table: "holding",
    address: 4097,
    values: [250],
  });
  assert.deepEqual(parseRawRequest("write holding 5 0x1234,-1"), {
    op: "write",
    table: "holding",
    address: 5,
    values: [0x1234, 0xffff],
  });
  assert.deepEqual(parseRawRequest("write coil 2068 off"), {
    op: "write",
    table: "coil",
    address: 2068,
    values: [false],
  });
});

Deno.test("raw Modbus requests: mistakes are usage errors showing the syntax", () => {
  for (
    const bad of [
      "get holding 1",
      "read hold 1",
      "read holding",
      "read holding 70000",
      "read holding 65535 2",
      "write input 1 2",
      "write holding 1",
      "write holding 1 70000",
      "write coil 1 maybe",
      "read holding 1 float32 ABDC",
      "read coil 1 float32",
    ]
  ) {
    assert.throws(() => parseRawRequest(bad), UsageError, bad);
  }
  assert.throws(
    () => parseRawRequest("read hold 1"),
    /"hold" is not a table: coil, discrete, input or holding/,
  );
});
