import assert from "node:assert/strict";
import fc from "fast-check";
import { attr, type AttrType, type Value } from "../../device/attr.ts";
import { fuzzTest, onlyThrows } from "../../../tests/fuzz_runs.ts";
import { encodeDbr } from "../../drivers/epics/dbr.ts";
import { DBR } from "../../drivers/epics/dbr_types.ts";
import { ConversionError, fromWrite, pvShape, toDbrData } from "./codec.ts";

const TYPES: AttrType[] = ["number", "integer", "boolean", "string", "enum", "number[]"];

const anyValue: fc.Arbitrary<Value> = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.string({ maxLength: 50 }),
  fc.constantFrom("mode1", "1", " 2 ", "", "NaN", "1e400"),
  fc.array(fc.double(), { maxLength: 10 }),
  fc.constant(null),
);

/** An attribute as a driver declares it, with options and limits at their edges. */
const anyAttr = fc.record({
  type: fc.constantFrom(...TYPES),
  rw: fc.boolean(),
  units: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
  precision: fc.option(fc.integer({ min: -5, max: 40 }), { nil: undefined }),
  min: fc.option(fc.double(), { nil: undefined }),
  max: fc.option(fc.double(), { nil: undefined }),
  options: fc.option(
    fc.array(fc.oneof(fc.constantFrom("mode0", "mode1", "on"), fc.string({ maxLength: 30 })), {
      maxLength: 20,
    }),
    { nil: undefined },
  ),
}).map(({ type, ...extra }) => {
  const clean = Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined));
  return attr("a", type, clean);
});

// Every read and monitor update goes through toDbrData and encodeDbr: a value the server holds
// must become a payload of any requested type, or a ConversionError the circuit answers with
// ECA_GETFAIL — never another exception (which would reject a reply promise).
fuzzTest(
  "toDbrData: any attribute value becomes any readable DBR type, or a ConversionError",
  fc.tuple(
    anyAttr,
    anyValue,
    anyValue,
    fc.integer({ min: 0, max: DBR.CTRL_DOUBLE }),
    fc.nat(40),
    fc.double({ min: 0, max: 5e9, noNaN: true }),
    fc.integer({ min: 0, max: 3 }),
  ),
  ([a, created, now, dbrType, count, t, severity]) => {
    const shape = pvShape(a, created);
    const data = onlyThrows(
      [ConversionError],
      () => toDbrData(shape, { value: now, t, severity, status: 0 }, dbrType, count),
    );
    if (data === undefined) return;
    assert.equal(data.value.length, count === 0 ? Math.max(1, data.value.length) : count);
    encodeDbr(dbrType, data);
  },
);

// A client's put: whatever type, count and payload it sends, the server gets a value to
// validate or a refusal; the work is bounded by the payload, not by the count the client claims.
fuzzTest(
  "fromWrite: any put payload is a value or a refusal, in time bounded by its size",
  fc.tuple(
    anyAttr,
    fc.integer({ min: 0, max: DBR.DOUBLE }),
    fc.oneof(fc.nat(16), fc.nat(0xffffffff)),
    fc.uint8Array({ maxLength: 128 }),
  ),
  ([a, dbrType, count, payload]) => {
    onlyThrows([ConversionError, RangeError], () => fromWrite(pvShape(a), dbrType, count, payload));
  },
);
