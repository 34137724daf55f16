import assert from "node:assert/strict";
import fc from "fast-check";
import { fuzzTest, onlyThrows } from "../../../tests/fuzz_runs.ts";
import {
  decodeBlock,
  decodeBlockValues,
  encodeBlock,
  encodeBlockValues,
  parseAnswer,
  ParseError,
} from "./protocol.ts";
import { type Layout, type ParseRule } from "../../instruments/template.ts";

const enc = new TextEncoder();

/** Bytes that are often nearly a block: a hash, a digit count, digits, data. */
const blockish = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.tuple(
    fc.constantFrom("#", "#0", "#1", "#2", "#3", "#9", "x"),
    fc.constantFrom("", "5", "12", "-1", "1e3", "0x1", " 12", "+3", "abc", "999999999"),
    fc.uint8Array({ maxLength: 30 }),
  ).map(([h, n, data]) => {
    const head = enc.encode(h + n);
    const out = new Uint8Array(head.length + data.length);
    out.set(head);
    out.set(data, head.length);
    return out;
  }),
);

fuzzTest(
  "decodeBlock: any bytes are a block, incomplete, or a ParseError; a block lies within them",
  blockish,
  (bytes) => {
    const b = onlyThrows([ParseError], () => decodeBlock(bytes));
    if (b === undefined) return;
    // "#", one digit n, n decimal digits of length, then exactly that many bytes of data.
    const n = bytes[1]! - 0x30;
    const digits = String.fromCharCode(...bytes.subarray(2, 2 + n));
    assert.match(digits, /^\d+$/, `length field ${JSON.stringify(digits)}`);
    assert.equal(b.data.length, Number(digits));
    assert.equal(b.size, 2 + n + b.data.length);
    assert.ok(b.size <= bytes.length);
  },
);

fuzzTest(
  "encodeBlock/decodeBlock round-trip, with anything after the block left alone",
  fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 10 })),
  ([data, after]) => {
    const block = encodeBlock(data);
    const bytes = new Uint8Array(block.length + after.length);
    bytes.set(block);
    bytes.set(after, block.length);
    const b = decodeBlock(bytes)!;
    assert.deepEqual(b.data, data);
    assert.equal(b.size, block.length);
  },
);

fuzzTest(
  "encodeBlockValues/decodeBlockValues round-trip binary floats",
  fc.tuple(
    fc.constantFrom("f32le", "f32be", "f64le", "f64be") as fc.Arbitrary<"f32le">,
    fc.array(fc.double(), { maxLength: 20 }),
  ),
  ([encoding, values]) => {
    const want = encoding.startsWith("f32") ? values.map(Math.fround) : values;
    assert.deepEqual(decodeBlockValues(encodeBlockValues(values, encoding), encoding), want);
  },
);

fuzzTest(
  "decodeBlockValues: any bytes are numbers or a ParseError",
  fc.tuple(blockish, fc.constantFrom("ascii", "f32le", "f64be") as fc.Arbitrary<"ascii">),
  ([bytes, encoding]) => {
    const v = onlyThrows([ParseError], () => decodeBlockValues(bytes, encoding));
    if (v !== undefined && encoding === "ascii") assert.ok(v.every(Number.isFinite));
  },
);

const layout: Layout = {
  name: "alicat",
  split: " ",
  skip: 1,
  byCount: { 4: ["pressure", "temperature", "flow", "setpoint"], 2: ["pressure", "flow"] },
  statusWords: ["MOV", "LCK", "HLD"],
  textField: "gas",
};
/** Parse rules as instrument definitions write them. */
const rule: fc.Arbitrary<ParseRule> = fc.oneof(
  fc.constantFrom<ParseRule>(
    { kind: "number" },
    { kind: "integer" },
    { kind: "boolean" },
    { kind: "string" },
    { kind: "numbers" },
    { kind: "number", token: 2 },
    { kind: "number", token: -1, split: " " },
    { kind: "number", regex: /V=([-+.\dE]+)/ },
    { kind: "integer", mask: 0x1ff, map: { "0": "air", "1": "Ar" } },
    { kind: "enum", map: { AUTO: "auto", "10": "10 V" } },
    { kind: "flags", bits: [[1, "over"], [2, "under"], [2 ** 31, "high"]] },
    { kind: "number", layout, token: "flow" },
    { kind: "string", layout, token: "gas" },
    { kind: "string", layout, token: "constructor" },
    { kind: "block", block: "ascii" },
    { kind: "block", block: "f64le" },
    { kind: "number", scale: 1e-3 },
  ),
);
const answer = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    "+1.23450000E+00",
    "CH1,5.000,1.0000",
    "A +014.74 +025.00 +000.00 +000.00 Air MOV",
  ),
  fc.constantFrom("ON", "'OFF'", "V=3.5", "1e400", "0x10", "4294967297", "#15hello", "#0", "", " "),
  fc.array(fc.oneof(fc.double().map(String), fc.constantFrom("Air", "MOV", "LCK", ",", " ")), {
    maxLength: 8,
  }).map((t) => t.join(" ")),
);

fuzzTest(
  "parseAnswer: any answer under any rule is a value or a ParseError",
  fc.tuple(answer, rule, fc.boolean()),
  ([text, r, bytes]) => {
    const v = onlyThrows([ParseError], () => parseAnswer(bytes ? enc.encode(text) : text, r));
    if (typeof v === "number") assert.ok(Number.isFinite(v), `${v}`);
  },
);
