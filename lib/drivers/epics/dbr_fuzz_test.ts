import assert from "node:assert/strict";
import fc from "fast-check";
import { fuzzTest, onlyThrows } from "../../../tests/fuzz_runs.ts";
import { type DbrData, decodeDbr, encodeDbr } from "./dbr.ts";
import {
  cStringBytes,
  DBR,
  dbrSize,
  LAST_DBR_TYPE,
  MAX_ENUM_STATES,
  MAX_ENUM_STRING_SIZE,
  MAX_STRING_SIZE,
  MAX_UNITS_SIZE,
  nativeOf,
} from "./dbr_types.ts";

const anyType = fc.oneof(
  fc.integer({ min: 0, max: LAST_DBR_TYPE }),
  fc.integer({ min: -5, max: 70000 }),
);
const anyCount = fc.oneof(fc.nat(64), fc.nat(0xffffffff));

fuzzTest(
  "decodeDbr: any type, count and bytes give data or a RangeError",
  fc.tuple(anyType, anyCount, fc.uint8Array({ maxLength: 600 })),
  ([type, count, bytes]) => {
    const d = onlyThrows([RangeError], () => decodeDbr(type, count, bytes));
    if (d === undefined) return;
    assert.equal(d.value.length, count);
    assert.ok(dbrSize(type, count) <= bytes.length);
  },
);

/** A C string that fits a field of `size` bytes with its NUL. */
const cString = (size: number) =>
  fc.string({ maxLength: size, unit: "grapheme" }).filter((s) =>
    !s.includes("\0") && cStringBytes(s) < size
  );

/** Values a native type holds exactly. */
function elementOf(native: number): fc.Arbitrary<number | string> {
  switch (native) {
    case DBR.STRING:
      return cString(MAX_STRING_SIZE);
    case DBR.SHORT:
      return fc.integer({ min: -32768, max: 32767 });
    case DBR.FLOAT:
      return fc.float();
    case DBR.ENUM:
      return fc.integer({ min: 0, max: 65535 });
    case DBR.CHAR:
      return fc.integer({ min: 0, max: 255 });
    case DBR.LONG:
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    default:
      return fc.double();
  }
}

const int16 = fc.integer({ min: -32768, max: 32767 });
const u16 = fc.integer({ min: 0, max: 65535 });
const u32 = fc.nat({ max: 0xffffffff });

/** A type and data with every field a type could carry, each inside what its wire field holds. */
const typedData = fc.integer({ min: 0, max: LAST_DBR_TYPE }).chain((type) => {
  const native = nativeOf(type);
  const el = elementOf(native);
  return fc.record({
    type: fc.constant(type),
    data: fc.record({
      value: fc.array(el, { maxLength: 8 }) as fc.Arbitrary<number[] | string[]>,
      status: int16,
      severity: int16,
      secondsPastEpoch: u32,
      nanoseconds: u32,
      units: cString(MAX_UNITS_SIZE),
      precision: int16,
      upperDispLimit: el,
      lowerDispLimit: el,
      upperAlarmLimit: el,
      upperWarningLimit: el,
      lowerWarningLimit: el,
      lowerAlarmLimit: el,
      upperCtrlLimit: el,
      lowerCtrlLimit: el,
      enumStrings: fc.array(cString(MAX_ENUM_STRING_SIZE), { maxLength: MAX_ENUM_STATES }),
      ackt: u16,
      acks: u16,
    }, { noNullPrototype: true }),
  }, { noNullPrototype: true });
});

fuzzTest(
  "DBR: encode → decode gives back every field the type carries",
  typedData,
  ({ type, data }) => {
    const bytes = encodeDbr(type, data as DbrData);
    assert.equal(bytes.length, dbrSize(type, data.value.length));
    const back = decodeDbr(type, data.value.length, bytes);
    for (const [k, v] of Object.entries(back)) {
      assert.deepEqual(v, data[k as keyof typeof data], `${k} of DBR type ${type}`);
    }
  },
);
