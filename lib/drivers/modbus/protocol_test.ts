import assert from "node:assert/strict";
import {
  crc16,
  decodeMbap,
  decodeRtu,
  encodeMbap,
  encodeMbapRequest,
  encodeRtu,
  mbapLength,
  rtuRequestLength,
  rtuResponseLength,
  rtuSilenceMs,
} from "./adu.ts";
import {
  decodeReadRegisters,
  decodeRequest,
  decodeResponse,
  describeException,
  encodeException,
  encodeRequest,
  encodeResponse,
  EXCEPTION_NAMES,
  isBadRequest,
  ModbusException,
  ModbusFrameError,
  packBits,
  type Request,
  unpackBits,
} from "./protocol.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g) ?? [], (b) => parseInt(b, 16));
const show = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("CRC-16/MODBUS vectors (low byte first on the wire)", () => {
  assert.equal(crc16(hex("010300000001")), 0x0a84);
  assert.equal(crc16(hex("01030000000a")), 0xcdc5);
  assert.equal(crc16(hex("1103006b0003")), 0x8776);
  assert.equal(crc16(hex("010600010003")), 0x0b98);
  // The CRC-16/MODBUS check value of "123456789".
  assert.equal(crc16(new TextEncoder().encode("123456789")), 0x4b37);
  assert.equal(show(encodeRtu(0x11, hex("03006b0003"))), "1103006b00037687");
});

Deno.test("frames captured from pymodbus: FC3 read 3 at 0", () => {
  const req: Request = { fc: 3, address: 0, count: 3 };
  assert.equal(show(encodeMbap(1, 1, encodeRequest(req))), "000100000006010300000003");
  const answer = hex("0001 0000 0009 01 03 06 0065 0066 0067");
  const h = decodeMbap(answer);
  assert.deepEqual(h, { transaction: 1, protocol: 0, length: 9, unit: 1 });
  assert.deepEqual(decodeResponse(answer.subarray(7), req), { fc: 3, registers: [101, 102, 103] });
  // The client's one-array encoding and in-place decoding of the same frames.
  assert.equal(show(encodeMbapRequest(1, 1, req)), "000100000006010300000003");
  assert.equal(mbapLength(answer), 9);
  assert.deepEqual(decodeReadRegisters(answer, 7, 3, 0, 3), [101, 102, 103]);
  // The server side reproduces pymodbus' answer byte for byte.
  assert.deepEqual(decodeRequest(hex("0300000003")), req);
  assert.equal(
    show(encodeMbap(1, 1, encodeResponse({ fc: 3, registers: [0x65, 0x66, 0x67] }))),
    show(answer),
  );
});

Deno.test("frames captured from pymodbus: FC16 write 2 at 5, FC15 bits low first", () => {
  const req: Request = { fc: 16, address: 5, values: [0x1234, 0x5678] };
  assert.equal(show(encodeRequest(req)), "1000050002041234" + "5678");
  assert.deepEqual(decodeResponse(hex("1000050002"), req), { fc: 16, address: 5, count: 2 });
  const coils: Request = {
    fc: 15,
    address: 0,
    values: [true, false, true, true, false, false, false, false, true],
  };
  assert.equal(show(encodeRequest(coils)), "0f0000000902" + "0d01");
  assert.deepEqual(decodeRequest(encodeRequest(coils)), coils);
  assert.deepEqual(unpackBits(packBits([true, false, true]), 3), [true, false, true]);
});

Deno.test("frames captured from pymodbus: unknown FC 0x41 and count 0 are exceptions", () => {
  const bad = decodeRequest(hex("41 0000"));
  assert.ok(isBadRequest(bad));
  assert.equal(show(encodeException(bad.fc, bad.exception)), "c101");
  const zero = decodeRequest(hex("03 0000 0000"));
  assert.ok(isBadRequest(zero));
  assert.equal(show(encodeException(zero.fc, zero.exception)), "8303");
});

Deno.test("every function code round-trips request and response", () => {
  const cases: [Request, Parameters<typeof encodeResponse>[0]][] = [
    [{ fc: 1, address: 2068, count: 10 }, { fc: 1, bits: [true, ...Array(9).fill(false)] }],
    [{ fc: 2, address: 0, count: 3 }, { fc: 2, bits: [false, true, false] }],
    [{ fc: 3, address: 4096, count: 2 }, { fc: 3, registers: [250, 251] }],
    [{ fc: 4, address: 7, count: 1 }, { fc: 4, registers: [65535] }],
    [{ fc: 5, address: 2068, value: true }, { fc: 5, address: 2068, value: true }],
    [{ fc: 6, address: 4097, value: 250 }, { fc: 6, address: 4097, value: 250 }],
    [{ fc: 15, address: 3, values: [true, true] }, { fc: 15, address: 3, count: 2 }],
    [{ fc: 16, address: 9, values: [1, 2, 3] }, { fc: 16, address: 9, count: 3 }],
    [
      { fc: 23, readAddress: 0, readCount: 2, writeAddress: 10, values: [7] },
      { fc: 23, registers: [4, 5] },
    ],
  ];
  for (const [req, res] of cases) {
    assert.deepEqual(decodeRequest(encodeRequest(req)), req, `request ${req.fc}`);
    assert.deepEqual(decodeResponse(encodeResponse(res), req), res, `response ${req.fc}`);
  }
  assert.equal(show(encodeRequest({ fc: 5, address: 2068, value: true })), "050814ff00");
  assert.equal(show(encodeRequest({ fc: 5, address: 2068, value: false })), "0508140000");
});

Deno.test("requests beyond the protocol limits are refused before the wire", () => {
  assert.throws(() => encodeRequest({ fc: 3, address: 0, count: 126 }), /1…125/);
  assert.throws(() => encodeRequest({ fc: 1, address: 0, count: 2001 }), /1…2000/);
  assert.throws(() => encodeRequest({ fc: 16, address: 0, values: Array(124).fill(0) }), /1…123/);
  assert.throws(
    () => encodeRequest({ fc: 15, address: 0, values: Array(1969).fill(true) }),
    /1…1968/,
  );
  assert.throws(
    () =>
      encodeRequest({
        fc: 23,
        readAddress: 0,
        readCount: 1,
        writeAddress: 0,
        values: Array(122).fill(0),
      }),
    /1…121/,
  );
  assert.throws(() => encodeRequest({ fc: 3, address: 65535, count: 2 }), /past 65535/);
  assert.throws(() => encodeRequest({ fc: 6, address: 0, value: 70000 }), /0…65535/);
  // The server side answers the same mistakes with "illegal data value".
  const r = decodeRequest(hex("03 0000 007e"));
  assert.ok(isBadRequest(r) && r.exception === 3);
});

Deno.test("every exception code decodes into an error naming function, address and meaning", () => {
  const req: Request = { fc: 3, address: 4200, count: 1 };
  for (const [code, meaning] of Object.entries(EXCEPTION_NAMES)) {
    const c = Number(code);
    const err = assert.throws(
      () => decodeResponse(encodeException(3, c), req, "tc1"),
      (e: unknown) => e instanceof ModbusException && e.code === c && e.device === "tc1",
    );
    void err;
    assert.match(
      describeException(3, c, 4200),
      new RegExp(
        `^${meaning} at holding register 4200 \\(read holding registers, exception 0${
          c.toString(16).toUpperCase()
        }\\)`,
      ),
    );
  }
  assert.match(
    describeException(5, 2, 2068),
    /^illegal data address at coil 2068 \(write single coil/,
  );
  assert.match(
    describeException(4, 99, 1),
    /^unknown exception at input register 1 \(.*exception 63\)/,
  );
});

Deno.test("malformed and mismatched responses are frame errors", () => {
  const req: Request = { fc: 3, address: 0, count: 2 };
  assert.throws(() => decodeResponse(hex("03 04 0001"), req), ModbusFrameError); // truncated
  assert.throws(() => decodeResponse(hex("04 04 0001 0002"), req), /function code 4, expected 3/);
  assert.throws(() => decodeResponse(hex(""), req), /empty/);
  assert.throws(() => decodeResponse(hex("83"), req), /exception response is 2 bytes/);
  assert.throws(
    () => decodeResponse(hex("06 0001 0005"), { fc: 6, address: 1, value: 4 }),
    /echo differs/,
  );
  // Decoded in place (the PDU at byte 7 of a Modbus TCP frame): the same checks, the same words.
  const frame = (pdu: string) => hex("0001 0000 0000 01 " + pdu);
  assert.deepEqual(decodeReadRegisters(frame("03 04 0001 0002"), 7, 3, 0, 2), [1, 2]);
  assert.throws(() => decodeReadRegisters(frame("03 04 0001"), 7, 3, 0, 2), /4 data bytes/);
  assert.throws(() => decodeReadRegisters(frame("04 04 0001 0002"), 7, 3, 0, 2), /code 4/);
  assert.throws(() => decodeReadRegisters(frame(""), 7, 3, 0, 2), /empty/);
  assert.throws(() => decodeReadRegisters(frame("83"), 7, 3, 0, 2), /2 bytes/);
  assert.throws(
    () => decodeReadRegisters(frame("84 02"), 7, 4, 4200, 2),
    (e: unknown) =>
      e instanceof ModbusException && /illegal data address at input register 4200/.test(e.message),
  );
});

Deno.test("MBAP header checks: protocol id, length, truncation", () => {
  assert.throws(() => decodeMbap(hex("0001 0000 00")), /truncated MBAP/);
  assert.throws(() => decodeMbap(hex("0001 0001 0006 01")), /protocol id 1/);
  assert.throws(() => decodeMbap(hex("0001 0000 0100 01")), /length 256/);
  assert.throws(() => decodeMbap(hex("0001 0000 0001 01")), /length 1 /);
  assert.throws(() => mbapLength(hex("0001 0001 0006 01")), /protocol id 1/);
  assert.throws(() => mbapLength(hex("0001 0000 0100 01")), /length 256/);
});

Deno.test("RTU frames: CRC errors, truncation, lengths from the function code", () => {
  const frame = encodeRtu(3, encodeRequest({ fc: 3, address: 0, count: 1 }));
  assert.deepEqual(decodeRtu(frame).unit, 3);
  const corrupt = frame.slice();
  corrupt[3]! ^= 0x01;
  assert.throws(() => decodeRtu(corrupt), /CRC error.*wrong baud rate or parity/);
  assert.throws(() => decodeRtu(hex("0103")), /truncated RTU frame/);
  assert.equal(rtuRequestLength(frame), 8);
  assert.equal(rtuRequestLength(hex("01")), undefined);
  const write = encodeRtu(1, encodeRequest({ fc: 16, address: 0, values: [1, 2] }));
  assert.equal(rtuRequestLength(write.subarray(0, 6)), undefined);
  assert.equal(rtuRequestLength(write), write.length);
  const rw = encodeRtu(
    1,
    encodeRequest({ fc: 23, readAddress: 0, readCount: 1, writeAddress: 0, values: [1] }),
  );
  assert.equal(rtuRequestLength(rw), rw.length);
  assert.equal(rtuRequestLength(hex("0141")), -1);
  assert.equal(rtuResponseLength(encodeRtu(1, encodeException(3, 2))), 5);
  const answer = encodeRtu(1, encodeResponse({ fc: 3, registers: [1, 2, 3] }));
  assert.equal(rtuResponseLength(answer.subarray(0, 2)), undefined);
  assert.equal(rtuResponseLength(answer), answer.length);
  assert.equal(rtuResponseLength(encodeRtu(1, encodeResponse({ fc: 6, address: 1, value: 1 }))), 8);
});

Deno.test("RTU inter-frame silence: 3.5 characters, 1.75 ms above 19,200 baud", () => {
  assert.ok(Math.abs(rtuSilenceMs(9600) - 4.0104) < 1e-3);
  assert.ok(Math.abs(rtuSilenceMs(19200) - 2.0052) < 1e-3);
  assert.equal(rtuSilenceMs(38400), 1.75);
  assert.equal(rtuSilenceMs(115200), 1.75);
});
