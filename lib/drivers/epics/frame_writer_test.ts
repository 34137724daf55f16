import assert from "node:assert/strict";
import { FrameWriter, NameFrames } from "./frame_writer.ts";
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

Deno.test("NameFrames are the messages FrameWriter.text writes, for ASCII and other names", () => {
  const ascii = ["XXX:m1.VAL", "", "1234567", "12345678", "PV:" + "x".repeat(300), "B:pv000999"];
  const other = [...ascii, "température:℃", "é", "ü" + "y".repeat(40), "abcdefé", "a\ud800"];
  for (const names of [ascii, other]) {
    const searches = NameFrames.of(names, 6, 5, 13);
    const creates = searches.retagged(18, 0, 0x12345, 13);
    const bySearch = new FrameWriter(16);
    const byCreate = new FrameWriter(16);
    for (const [k, name] of names.entries()) {
      bySearch.text(6, 5, 13, k + 1, k + 1, name);
      byCreate.text(18, 0, 0x12345, k + 1, 13, name);
      // Each message is found by its index.
      const one = new FrameWriter(16);
      one.text(18, 0, 0x12345, k + 1, 13, name);
      assert.deepEqual(creates.bytes.subarray(creates.at[k]!, creates.at[k + 1]!), one.take());
    }
    assert.deepEqual(searches.bytes, bySearch.take());
    assert.deepEqual(creates.bytes, byCreate.take());
    assert.equal(creates.at[names.length], creates.bytes.length);
  }
});

Deno.test("NameFrames refuse a name too long for a CA message", () => {
  assert.throws(() => NameFrames.of(["ok", "é".repeat(0x7ffc)], 6, 5, 13), /a 65528-byte name/);
  assert.equal(NameFrames.of(["ok", "é".repeat(0x7ffb)], 6, 5, 13).at[2], 16 + 8 + 16 + 65528);
});

Deno.test("FrameWriter.copy and claim append after what was written, growing the buffer", () => {
  const frames = NameFrames.of(["A", "B".repeat(20), "C"], 18, 0, 0);
  const w = new FrameWriter(16);
  w.header(0, 0, 13, 0, 0);
  assert.equal(w.copy(frames.bytes, frames.at[1]!, frames.at[3]!), 16 + 16 + 24 + 16 + 8);
  const at = w.claim(32);
  assert.equal(at, 80);
  w.view.setUint32(at, 15 << 16);
  w.view.setUint32(at + 4, (20 << 16) | 1);
  w.view.setUint32(at + 8, 7);
  w.view.setUint32(at + 12, 2);
  w.view.setUint32(at + 16, 15 << 16);
  w.view.setUint32(at + 20, (20 << 16) | 1);
  w.view.setUint32(at + 24, 8);
  w.view.setUint32(at + 28, 3);
  assert.equal(w.length, 112);
  const want = new FrameWriter(16);
  want.header(0, 0, 13, 0, 0);
  want.text(18, 0, 0, 2, 2, "B".repeat(20));
  want.text(18, 0, 0, 3, 3, "C");
  want.header(15, 20, 1, 7, 2);
  want.header(15, 20, 1, 8, 3);
  assert.deepEqual(w.take(), want.take());
});

Deno.test("FrameWriter.text refuses a name too long for a CA message, ASCII or not", () => {
  const w = new FrameWriter();
  assert.throws(() => w.text(18, 0, 13, 1, 13, "x".repeat(0xfff8)), RangeError);
  assert.throws(() => w.text(18, 0, 13, 1, 13, "é".repeat(0x7ffc)), /a 65528-byte name/);
  // Too long even as UTF-16 units: the message still counts its UTF-8 bytes.
  assert.throws(() => w.text(18, 0, 13, 1, 13, "é".repeat(0xfff8)), /a 131056-byte name/);
  assert.equal(w.length, 0);
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

Deno.test("FrameWriter.finish gives what take gives, as a view of the writer's own buffer", () => {
  const w = new FrameWriter(1024);
  w.header(0, 1, 13, 1, 0);
  w.text(6, 5, 13, 1, 1, "XXX:m1.VAL");
  const want = new FrameWriter(16);
  want.header(0, 1, 13, 1, 0);
  want.text(6, 5, 13, 1, 1, "XXX:m1.VAL");
  const bytes = w.finish();
  assert.deepEqual(bytes, want.take());
  // A view of the 1,024-byte buffer written into, not a copy of the 48 bytes.
  assert.equal(bytes.buffer.byteLength, 1024);
});
