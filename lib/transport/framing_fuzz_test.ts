import assert from "node:assert/strict";
import fc from "fast-check";
import { cutPoints, fuzzTest, onlyThrows, splitAt } from "../../tests/fuzz_runs.ts";
import {
  decodeText,
  encodeBlock,
  encodeText,
  type Encoding,
  Framer,
  FramingError,
  parseTermination,
} from "./framing.ts";

const TERMS = ["\n", "\r", "\r\n", "\n\r", ";", "\0"].map((t) => new TextEncoder().encode(t));

const cuts = cutPoints(10);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A termination and lines that do not contain any of its bytes. */
const linesCase = fc.constantFrom(...TERMS).chain((term) =>
  fc.record({
    term: fc.constant(term),
    lines: fc.array(
      fc.uint8Array({ maxLength: 40 }).map((l) => l.filter((b) => !term.includes(b))),
      { maxLength: 10 },
    ),
    at: cuts,
  })
);

fuzzTest(
  "Framer: lines come back whole however the reads split them",
  linesCase,
  ({ term, lines, at }) => {
    const stream = concat(lines.flatMap((l) => [l, term]));
    const f = new Framer();
    const got: Uint8Array[] = [];
    for (const part of splitAt(stream, at)) {
      f.push(part);
      for (let l = f.line(term); l; l = f.line(term)) got.push(l);
    }
    assert.deepEqual(got, lines);
    assert.equal(f.size, 0);
  },
);

fuzzTest(
  "Framer: blocks come back whole however the reads split them",
  fc.record({
    term: fc.constantFrom(new Uint8Array(0), ...TERMS),
    blocks: fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }),
    at: cuts,
  }),
  ({ term, blocks, at }) => {
    const stream = concat(blocks.flatMap((b) => [encodeBlock(b), term]));
    const f = new Framer();
    const got: Uint8Array[] = [];
    for (const part of splitAt(stream, at)) {
      f.push(part);
      for (let b = f.block(term); b; b = f.block(term)) got.push(b);
    }
    assert.deepEqual(got, blocks);
    assert.equal(f.size, 0);
  },
);

/** Bytes an instrument (or line noise) might send: blocks, digits, hashes, anything. */
const noise = fc.array(
  fc.oneof(
    fc.uint8Array({ maxLength: 20 }),
    fc.constantFrom("#", "#0", "#1", "#9999999999", "#3100", "\n", "\r\n", " ", "#2", "12").map((
      s,
    ) => new TextEncoder().encode(s)),
    fc.uint8Array({ maxLength: 50 }).map(encodeBlock),
  ),
  { maxLength: 10 },
).map(concat);

fuzzTest(
  "Framer: any bytes give lines, blocks or a FramingError, and it never holds more than its limit",
  fc.record({
    bytes: noise,
    at: cuts,
    term: fc.constantFrom(new Uint8Array(0), ...TERMS),
    blocks: fc.boolean(),
    max: fc.constantFrom(16, 64, 1 << 20),
  }),
  ({ bytes, at, term, blocks, max }) => {
    const f = new Framer({ maxLine: max, maxBlock: max });
    for (const part of splitAt(bytes, at)) {
      f.push(part);
      for (;;) {
        const got = onlyThrows([FramingError], () => blocks ? f.block(term) : f.line(term));
        if (got === undefined) break;
        assert.ok(got.length <= Math.max(max, bytes.length));
      }
      if (!blocks && term.length > 0) assert.ok(f.size <= max + part.length, `${f.size} held`);
    }
  },
);

fuzzTest(
  "encodeText/decodeText round-trip what an encoding can carry",
  fc.tuple(
    fc.constantFrom<Encoding>("ascii", "latin1", "utf-8"),
    fc.string({ unit: "grapheme", maxLength: 30 }),
  ),
  ([encoding, text]) => {
    const bytes = onlyThrows([FramingError], () => encodeText(text, encoding));
    if (bytes === undefined) {
      assert.notEqual(encoding, "utf-8", "UTF-8 carries any text");
      return;
    }
    assert.equal(decodeText(bytes, encoding), text);
  },
);

fuzzTest(
  "parseTermination: any text is a termination or a FramingError",
  fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.array(
      fc.constantFrom("\\n", "\\r", "\\x0", "\\x06", "\\", "x", "LF", "crlf", "\\t", "\\\\"),
      {
        maxLength: 4,
      },
    ).map((p) => p.join("")),
  ),
  (text) => {
    onlyThrows([FramingError], () => parseTermination(text));
  },
);
