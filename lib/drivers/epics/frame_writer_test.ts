import assert from "node:assert/strict";
import { EncodedTexts, FrameWriter } from "./frame_writer.ts";
import { frame } from "./framing.ts";

/** What `frame()` makes of a name: its UTF-8 bytes and a NUL, padded to 8. */
function framedName(name: string, p1: number): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  const payload = new Uint8Array(bytes.length + 1);
  payload.set(bytes);
  return frame({ command: 18, dataType: 0, dataCount: 13, p1, p2: 13 }, payload);
}

Deno.test("FrameWriter.text writes each name as frame() of its UTF-8 bytes, one after another", () => {
  // Non-ASCII at the start, in the middle (an ASCII prefix already copied when it is met) and
  // at the end; names long enough to make the writer grow while it writes one of them.
  const names = [
    "XXX:m1.VAL",
    "",
    "1234567",
    "12345678",
    "température:℃",
    "é",
    "PV:" + "x".repeat(300) + "ü",
    "ü" + "y".repeat(40),
    // Bytes that just fill the room the characters ask for (7 of 8, the NUL the 8th), one byte
    // more than that, and a lone surrogate (written as U+FFFD, as the encoder does).
    "abcdeé",
    "abcdefé",
    "a\ud800",
    "B:pv000999",
  ];
  const w = new FrameWriter(16);
  names.forEach((name, i) => w.text(18, 0, 13, i + 1, 13, name));
  const expected = names.map((name, i) => framedName(name, i + 1));
  const whole = new Uint8Array(expected.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of expected) {
    whole.set(b, at);
    at += b.length;
  }
  assert.deepEqual(w.take(), whole);
});

Deno.test("FrameWriter.encoded writes the bytes FrameWriter.text writes, for ASCII and other names", () => {
  const ascii = ["XXX:m1.VAL", "", "1234567", "12345678", "PV:" + "x".repeat(300), "B:pv000999"];
  const other = [...ascii, "température:℃", "é", "ü" + "y".repeat(40), "abcdefé", "a\ud800"];
  for (const names of [ascii, other]) {
    const texts = new EncodedTexts(names);
    const byText = new FrameWriter(16);
    const byBytes = new FrameWriter(16);
    // In another order than encoded: each text is found by its index.
    for (let k = names.length - 1; k >= 0; k--) {
      byText.text(18, 0, 13, k + 1, 13, names[k]!);
      byBytes.encoded(18, 0, 13, k + 1, 13, texts, k);
    }
    assert.deepEqual(byBytes.take(), byText.take());
  }
});

Deno.test("FrameWriter.encoded refuses a name too long for a CA message", () => {
  const w = new FrameWriter();
  const texts = new EncodedTexts(["ok", "é".repeat(0x7ffc)]);
  assert.throws(() => w.encoded(18, 0, 13, 2, 13, texts, 1), /a 65528-byte name/);
  assert.equal(w.length, 0);
  w.encoded(18, 0, 13, 1, 13, texts, 0);
  assert.equal(w.length, 16 + 8);
});

Deno.test("FrameWriter.text refuses a name too long for a CA message, ASCII or not", () => {
  const w = new FrameWriter();
  assert.throws(() => w.text(18, 0, 13, 1, 13, "x".repeat(0xfff8)), RangeError);
  assert.throws(() => w.text(18, 0, 13, 1, 13, "é".repeat(0x7ffc)), /a 65528-byte name/);
  // Too long even as UTF-16 units: the message still counts its UTF-8 bytes.
  assert.throws(() => w.text(18, 0, 13, 1, 13, "é".repeat(0xfff8)), /a 131056-byte name/);
  assert.equal(w.length, 0);
});

Deno.test("FrameWriter.truncate takes back what was written after a length, and only that", () => {
  const w = new FrameWriter(16);
  w.text(6, 5, 13, 1, 1, "first");
  const kept = w.length;
  w.text(6, 5, 13, 2, 2, "x".repeat(40));
  w.truncate(kept);
  w.text(6, 5, 13, 3, 3, "third");
  const expected = new FrameWriter();
  expected.text(6, 5, 13, 1, 1, "first");
  expected.text(6, 5, 13, 3, 3, "third");
  assert.deepEqual(w.take(), expected.take());
  assert.throws(() => w.truncate(1), RangeError);
});

Deno.test("FrameWriter.header writes every field as 16 or 32 bits, high bits and all", () => {
  // Two 16-bit fields go in one 32-bit write: a field with its top bit set, or a count past 16
  // bits (kept to its low 16, as a 16-bit write did), must not spill into its neighbour.
  const cases = [
    [15, 20, 0, 7, 1],
    [0xffff, 0x8001, 0xfffe, 0xffffffff, 0x80000000],
    [23, 20, 0x12345, 0, 0],
  ] as const;
  const w = new FrameWriter(16);
  const want = new Uint8Array(16 * cases.length);
  const v = new DataView(want.buffer);
  for (const [k, [command, type, count, p1, p2]] of cases.entries()) {
    w.header(command, type, count, p1, p2);
    v.setUint16(16 * k, command);
    v.setUint16(16 * k + 4, type);
    v.setUint16(16 * k + 6, count);
    v.setUint32(16 * k + 8, p1);
    v.setUint32(16 * k + 12, p2);
  }
  assert.deepEqual(w.take(), want);
});
