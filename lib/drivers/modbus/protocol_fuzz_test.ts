import assert from "node:assert/strict";
import fc from "fast-check";
import { fuzzTest, onlyThrows } from "../../../tests/fuzz_runs.ts";
import { decodeMbap, decodeRtu, encodeRtu, rtuRequestLength, rtuResponseLength } from "./adu.ts";
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  isBadRequest,
  ModbusException,
  ModbusFrameError,
  type Request,
} from "./protocol.ts";
import { decodeRegisters, encodeRegisters, type RegisterSpec } from "./registers.ts";

/** PDUs that often start with a real function code. */
const pdu = fc.oneof(
  fc.uint8Array({ maxLength: 260 }),
  fc.tuple(
    fc.constantFrom(1, 2, 3, 4, 5, 6, 15, 16, 23, 0x83, 0x90, 0x41),
    fc.uint8Array({ maxLength: 30 }),
  )
    .map(([fcode, rest]) => Uint8Array.of(fcode, ...rest)),
);

const request: fc.Arbitrary<Request> = fc.oneof(
  fc.record({
    fc: fc.constantFrom(1, 2),
    address: fc.integer({ min: 0, max: 63000 }),
    count: fc.integer({ min: 1, max: 2000 }),
  }),
  fc.record({
    fc: fc.constantFrom(3, 4),
    address: fc.integer({ min: 0, max: 65000 }),
    count: fc.integer({ min: 1, max: 125 }),
  }),
  fc.record({
    fc: fc.constant(5),
    address: fc.integer({ min: 0, max: 65535 }),
    value: fc.boolean(),
  }),
  fc.record({
    fc: fc.constant(6),
    address: fc.integer({ min: 0, max: 65535 }),
    value: fc.integer({ min: 0, max: 65535 }),
  }),
  fc.record({
    fc: fc.constant(15),
    address: fc.integer({ min: 0, max: 60000 }),
    values: fc.array(fc.boolean(), { minLength: 1, maxLength: 1968 }),
  }),
  fc.record({
    fc: fc.constant(16),
    address: fc.integer({ min: 0, max: 65000 }),
    values: fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 1, maxLength: 123 }),
  }),
  fc.record({
    fc: fc.constant(23),
    readAddress: fc.integer({ min: 0, max: 65000 }),
    readCount: fc.integer({ min: 1, max: 125 }),
    writeAddress: fc.integer({ min: 0, max: 65000 }),
    values: fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 1, maxLength: 121 }),
  }),
) as fc.Arbitrary<Request>;

fuzzTest(
  "modbus decodeRequest: any PDU is a request or an exception to answer, never a crash",
  pdu,
  (bytes) => {
    const r = decodeRequest(bytes);
    if (isBadRequest(r)) assert.ok([1, 2, 3].includes(r.exception));
    else assert.deepEqual(decodeRequest(encodeRequest(r)), r);
  },
);

fuzzTest("modbus requests: what encodeRequest writes decodes back to itself", request, (req) => {
  assert.deepEqual(decodeRequest(encodeRequest(req)), { ...req });
});

fuzzTest(
  "modbus decodeResponse: any PDU answers a request, is an exception or a frame error",
  fc.tuple(request, pdu),
  ([req, bytes]) => {
    onlyThrows([ModbusException, ModbusFrameError], () => decodeResponse(bytes, req));
  },
);

fuzzTest(
  "modbus MBAP and RTU framing: any bytes frame or are a frame error",
  fc.uint8Array({ maxLength: 300 }),
  (bytes) => {
    onlyThrows([ModbusFrameError], () => decodeMbap(bytes));
    const f = onlyThrows([ModbusFrameError], () => decodeRtu(bytes));
    if (f) assert.deepEqual(encodeRtu(f.unit, f.pdu), bytes);
    for (const len of [rtuRequestLength(bytes), rtuResponseLength(bytes)]) {
      assert.ok(len === undefined || len === -1 || len >= 4);
    }
  },
);

fuzzTest(
  "modbus responses: a response encoded for a read decodes to the same registers",
  fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 1, maxLength: 125 }),
  (regs) => {
    const req: Request = { fc: 3, address: 0, count: regs.length };
    assert.deepEqual(decodeResponse(encodeResponse({ fc: 3, registers: regs }), req), {
      fc: 3,
      registers: regs,
    });
  },
);

fuzzTest(
  "modbus registers: float32/int32 in every word order round-trip",
  fc.tuple(
    fc.constantFrom("ABCD", "CDAB", "BADC", "DCBA"),
    fc.integer({ min: -0x80000000, max: 0x7fffffff }),
    fc.float({ noNaN: true, noDefaultInfinity: true }),
  ),
  ([order, i, f]) => {
    const s = (type: RegisterSpec["type"]): RegisterSpec => ({
      table: "holding",
      address: 0,
      type,
      order: order as RegisterSpec["order"],
      scale: 1,
      offset: 0,
    });
    assert.equal(decodeRegisters(s("int32"), encodeRegisters(s("int32"), i), 0), i);
    // -0 reads back as 0 (raw × scale + offset); every other float32 exactly.
    assert.ok(decodeRegisters(s("float32"), encodeRegisters(s("float32"), f), 0) === f);
  },
);
