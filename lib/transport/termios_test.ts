import assert from "node:assert/strict";
import {
  applySettings,
  BAUD_CONSTANTS,
  C,
  decodeTermios,
  encodeTermios,
  I,
  L,
  O,
  readSettings,
  type Termios,
  TERMIOS_SIZE,
  VMIN,
  VTIME,
} from "./termios.ts";

/** A termios as a fresh Linux tty has it (cooked, echo, 38400 8N1): from `stty -g` of a pty. */
function cooked(): Termios {
  return {
    iflag: I.ICRNL | I.IXON,
    oflag: O.OPOST | 0o4, // ONLCR
    cflag: 0o17 | C.CS8 | C.CREAD | C.HUPCL,
    lflag: L.ISIG | L.ICANON | L.ECHO | L.ECHOE | L.ECHOK | L.IEXTEN,
    line: 0,
    cc: new Uint8Array(32).fill(1),
    ispeed: 0o17,
    ospeed: 0o17,
  };
}

Deno.test("struct termios encodes at glibc x86_64 offsets and decodes back", () => {
  const t = { ...cooked(), line: 3, ispeed: 0o10001, ospeed: 0o16 };
  const bytes = encodeTermios(t);
  assert.equal(bytes.length, TERMIOS_SIZE);
  const v = new DataView(bytes.buffer);
  assert.equal(v.getUint32(0, true), t.iflag);
  assert.equal(v.getUint32(8, true), t.cflag);
  assert.equal(bytes[16], 3);
  assert.equal(bytes[17], 1);
  assert.equal(bytes[48], 1);
  assert.equal(bytes[49], 0); // padding
  assert.equal(v.getUint32(52, true), 0o10001);
  assert.equal(v.getUint32(56, true), 0o16);
  assert.deepStrictEqual(decodeTermios(bytes), t);
});

Deno.test("57600 7O1: baud bits, CS7, PARENB|PARODD|INPCK, one stop bit, raw mode", () => {
  const t = applySettings(cooked(), { baud: 57600, bits: 7, parity: "odd", stop: 1, flow: "none" });
  assert.equal(t.cflag & C.CBAUD, 0o10001);
  assert.equal(t.ispeed, 0o10001);
  assert.equal(t.cflag & C.CSIZE, C.CS7);
  assert.ok(t.cflag & C.PARENB && t.cflag & C.PARODD);
  assert.ok(t.iflag & I.INPCK);
  assert.equal(t.cflag & C.CSTOPB, 0);
  assert.ok(t.cflag & C.CLOCAL && t.cflag & C.CREAD);
  assert.equal(t.lflag & (L.ICANON | L.ECHO | L.ISIG), 0);
  assert.equal(t.oflag & O.OPOST, 0);
  assert.equal(t.iflag & (I.ICRNL | I.IXON), 0);
  assert.equal(t.cc[VMIN], 1);
  assert.equal(t.cc[VTIME], 0);
  assert.deepStrictEqual(readSettings(t), {
    baud: 57600,
    bits: 7,
    parity: "odd",
    stop: 1,
    flow: "none",
  });
});

Deno.test("every setting reads back as written", () => {
  for (const baud of [300, 9600, 19200, 38400, 115200, 921600]) {
    for (const parity of ["none", "even", "odd", "mark", "space"] as const) {
      for (const flow of ["none", "rtscts", "xonxoff"] as const) {
        const s = { baud, bits: 8 as const, parity, stop: 2 as const, flow };
        assert.deepStrictEqual(readSettings(applySettings(cooked(), s)), s);
      }
    }
  }
  assert.equal(BAUD_CONSTANTS.get(19200), 0o16);
  assert.throws(
    () => applySettings(cooked(), { baud: 12345, bits: 8, parity: "none", stop: 1, flow: "none" }),
    RangeError,
  );
});
