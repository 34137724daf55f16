import assert from "node:assert/strict";
import { decodeText, encodeBlock, encodeText, Framer, parseTermination } from "./framing.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const LF = te.encode("\n");
const CRLF = te.encode("\r\n");

/** Feeds `bytes` to a fresh framer split at every position into 1..3 chunks, collecting lines. */
function everySplit(text: string, take: (f: Framer) => Uint8Array | undefined): string[][] {
  const bytes = te.encode(text);
  const results: string[][] = [];
  for (let i = 0; i <= bytes.length; i++) {
    for (let j = i; j <= bytes.length; j++) {
      const f = new Framer();
      const got: string[] = [];
      for (const part of [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]) {
        f.push(part);
        for (let x = take(f); x !== undefined; x = take(f)) got.push(td.decode(x));
      }
      results.push(got);
    }
  }
  return results;
}

Deno.test("lines split at LF whatever the chunking", () => {
  for (const got of everySplit("a\nbc\n\nxyz", (f) => f.line(LF))) {
    assert.deepStrictEqual(got, ["a", "bc", ""]);
  }
});

Deno.test("lines split at CRLF even when CR and LF arrive in different chunks", () => {
  for (const got of everySplit("1.5\r\n2\r3\r\n", (f) => f.line(CRLF))) {
    assert.deepStrictEqual(got, ["1.5", "2\r3"]);
  }
});

Deno.test("an empty termination takes whatever is held", () => {
  const f = new Framer();
  assert.deepStrictEqual(f.line(new Uint8Array()), undefined);
  f.push(te.encode("abc"));
  assert.deepStrictEqual(td.decode(f.line(new Uint8Array())!), "abc");
  assert.deepStrictEqual(f.size, 0);
});

Deno.test("a line longer than the limit is an error and the buffer is dropped", () => {
  const f = new Framer({ maxLine: 8 });
  f.push(te.encode("0123456789"));
  assert.throws(() => f.line(LF), {
    name: "FramingError",
    message: new RegExp(escape("longer than 8 bytes")),
  });
  assert.deepStrictEqual(f.size, 0);
});

Deno.test("definite blocks parse across every split, termination consumed", () => {
  const text = "#15he\nlo\n#210abcdefghij\nnext\n";
  // Two blocks (the data may contain the termination), then a line.
  const taker = () => {
    let n = 0;
    return (f: Framer) => {
      const x = n < 2 ? f.block(LF) : f.line(LF);
      if (x !== undefined) n++;
      return x;
    };
  };
  const bytes = te.encode(text);
  for (let i = 0; i <= bytes.length; i++) {
    for (let j = i; j <= bytes.length; j++) {
      const f = new Framer();
      const take = taker();
      const got: string[] = [];
      for (const part of [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]) {
        f.push(part);
        for (let x = take(f); x !== undefined; x = take(f)) got.push(td.decode(x));
      }
      assert.deepStrictEqual(got, ["he\nlo", "abcdefghij", "next"]);
    }
  }
});

Deno.test("a block's termination is skipped when it arrives after the block", () => {
  const f = new Framer();
  f.push(te.encode("#13abc"));
  assert.deepStrictEqual(td.decode(f.block(CRLF)!), "abc");
  f.push(te.encode("\r"));
  f.push(te.encode("\nok\r\n"));
  assert.deepStrictEqual(td.decode(f.line(CRLF)!), "ok");
});

Deno.test("a block without termination leaves the following bytes alone", () => {
  const f = new Framer();
  f.push(te.encode("#12ab7\n"));
  assert.deepStrictEqual(td.decode(f.block(LF)!), "ab");
  assert.deepStrictEqual(td.decode(f.line(LF)!), "7");
});

Deno.test("indefinite #0 blocks end at the termination", () => {
  for (const got of everySplit("#0\x01\x02\x03\n", (f) => f.block(LF))) {
    assert.deepStrictEqual(got, ["\x01\x02\x03"]);
  }
  assert.throws(
    () => {
      const f = new Framer();
      f.push(te.encode("#0abc"));
      f.block(new Uint8Array());
    },
    { name: "FramingError", message: /needs a read termination/ },
  );
});

Deno.test("leading whitespace before a block is skipped; other bytes are an error", () => {
  const f = new Framer();
  f.push(te.encode(" \r\n#14wxyz"));
  assert.deepStrictEqual(td.decode(f.block(LF)!), "wxyz");
  const g = new Framer();
  g.push(te.encode("1.0,2.0\n"));
  assert.throws(() => g.block(LF), {
    name: "FramingError",
    message: new RegExp(escape('got "1.0,2.0\\n"')),
  });
  const h = new Framer();
  h.push(te.encode("#x12"));
  assert.throws(() => h.block(LF), {
    name: "FramingError",
    message: new RegExp(escape("followed by a digit")),
  });
  const k = new Framer();
  k.push(te.encode("#3a00"));
  assert.throws(() => k.block(LF), {
    name: "FramingError",
    message: new RegExp(escape("non-digit")),
  });
});

Deno.test("a block larger than the limit is refused before its data arrives", () => {
  const f = new Framer({ maxBlock: 100 });
  f.push(te.encode("#41000"));
  assert.throws(() => f.block(LF), {
    name: "FramingError",
    message: new RegExp(escape("larger than the limit 100")),
  });
});

Deno.test("encodeBlock round-trips through Framer.block", () => {
  const data = new Uint8Array(1234).map((_, i) => i & 0xff);
  const block = encodeBlock(data);
  assert.deepStrictEqual(td.decode(block.subarray(0, 6)), "#41234");
  const f = new Framer();
  f.push(block);
  assert.deepStrictEqual(f.block(LF), data);
  assert.deepStrictEqual(td.decode(encodeBlock(new Uint8Array())), "#10");
});

Deno.test("ascii and latin1 refuse what they cannot carry; bytes decode one to one", () => {
  assert.deepStrictEqual(encodeText("A\r", "ascii"), new Uint8Array([65, 13]));
  assert.deepStrictEqual(encodeText("°", "latin1"), new Uint8Array([0xb0]));
  assert.throws(() => encodeText("25 °C", "ascii"), {
    name: "FramingError",
    message: new RegExp(escape("cannot be sent in ascii")),
  });
  assert.deepStrictEqual(encodeText("°", "utf-8"), new Uint8Array([0xc2, 0xb0]));
  assert.deepStrictEqual(decodeText(new Uint8Array([0x06, 0xb0]), "latin1"), "\x06°");
  assert.deepStrictEqual(decodeText(new Uint8Array([0xc2, 0xb0]), "utf-8"), "°");
});

Deno.test("terminations by name or escape", () => {
  assert.deepStrictEqual(parseTermination("LF"), "\n");
  assert.deepStrictEqual(parseTermination("crlf"), "\r\n");
  assert.deepStrictEqual(parseTermination("\\r\\n"), "\r\n");
  assert.deepStrictEqual(parseTermination("\\x06"), "\x06");
  assert.deepStrictEqual(parseTermination("none"), "");
  assert.deepStrictEqual(parseTermination("\n"), "\n");
  assert.throws(() => parseTermination("lfrc"), {
    name: "FramingError",
    message: new RegExp(escape('unknown termination name "lfrc" (did you mean "LFCR"?)')),
  });
  assert.throws(() => parseTermination("\\q"), {
    name: "FramingError",
    message: new RegExp(escape("bad termination")),
  });
  // Every name, LFCR too, as the unknown-name error lists them.
  assert.throws(() => parseTermination("\\q"), {
    message: /names are CRLF, LFCR, LF, CR, NONE$/,
  });
});

/** A regular expression matching `text` literally. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("peek(n) shows the first n bytes without taking them", () => {
  const f = new Framer();
  f.push(new Uint8Array([0, 5, 0xaa]));
  assert.equal(f.peek(4), undefined);
  assert.deepStrictEqual(f.peek(2), new Uint8Array([0, 5]));
  assert.equal(f.size, 3);
  f.push(new Uint8Array([0xbb]));
  assert.deepStrictEqual(f.bytes(4), new Uint8Array([0, 5, 0xaa, 0xbb]));
  assert.equal(f.peek(1), undefined);
});

Deno.test("byteAt(i) reads one held byte without taking it, from where taking stopped", () => {
  const f = new Framer();
  f.push(new Uint8Array([1, 2, 3]));
  assert.equal(f.byteAt(0), 1);
  assert.equal(f.byteAt(2), 3);
  assert.equal(f.byteAt(3), undefined);
  f.bytes(2);
  assert.equal(f.byteAt(0), 3);
  assert.equal(f.byteAt(1), undefined);
});

Deno.test("bytes(n) takes exactly n bytes whatever the chunking, then lines go on", () => {
  const text = "\x01\x02\n\x04\x05ok\n";
  const bytes = te.encode(text);
  for (let i = 0; i <= bytes.length; i++) {
    const f = new Framer();
    f.push(bytes.subarray(0, i));
    const first = f.bytes(5);
    if (i < 5) assert.equal(first, undefined);
    f.push(bytes.subarray(i));
    const data = first ?? f.bytes(5);
    assert.deepStrictEqual(data, new Uint8Array([1, 2, 10, 4, 5]));
    assert.equal(td.decode(f.line(LF)!), "ok");
  }
});

Deno.test("Framer.lend: whole messages read in place, the part not whole yet kept after keep()", () => {
  const f = new Framer();
  const arrival = new TextEncoder().encode("one\ntw");
  f.lend(arrival, arrival.length);
  assert.equal(new TextDecoder().decode(f.line(new Uint8Array([10]))), "one");
  f.keep();
  // The lender reuses its bytes: what was kept is the framer's own copy.
  arrival.fill(0x78);
  f.lend(new TextEncoder().encode("o\n"), 2); // something is held: pushed, not lent
  assert.equal(new TextDecoder().decode(f.line(new Uint8Array([10]))), "two");
  assert.equal(f.size, 0);
  // Cleared while lent: the framer's own buffer is back and empty.
  f.lend(arrival, 3);
  f.clear();
  assert.equal(f.size, 0);
  f.push(new TextEncoder().encode("x\n"));
  assert.equal(new TextDecoder().decode(f.line(new Uint8Array([10]))), "x");
  assert.ok(f.buffer !== arrival);
});
