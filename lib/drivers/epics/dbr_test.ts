import assert from "node:assert/strict";
import { type DbrData, decodeDbr, encodeDbr } from "./dbr.ts";
import {
  DBR,
  DBR_TYPE_NAMES,
  dbrFamily,
  dbrOf,
  dbrSize,
  nativeOf,
  readCString,
  TIME_TYPES,
  valueOffset,
  writeCString,
} from "./dbr_types.ts";

function sample(type: number, count: number): DbrData {
  const native = nativeOf(type);
  const family = dbrFamily(type);
  const value = native === DBR.STRING
    ? Array.from({ length: count }, (_, i) => `s${i}-é`)
    : Array.from({ length: count }, (_, i) => native === DBR.FLOAT ? i + 0.5 : i + 2);
  const d: DbrData = { value };
  if (!["plain", "ackt", "acks", "class"].includes(family)) {
    d.status = 3;
    d.severity = 2;
  }
  if (family === "time") {
    d.secondsPastEpoch = 1_000_000_000;
    d.nanoseconds = 123_456_789;
  }
  if (family === "stsack") {
    d.ackt = 1;
    d.acks = 2;
  }
  if ((family === "gr" || family === "ctrl") && native !== DBR.STRING) {
    if (native === DBR.ENUM) d.enumStrings = ["Off", "On", "Fault"];
    else {
      d.units = "mm";
      if (native === DBR.FLOAT || native === DBR.DOUBLE) d.precision = 4;
      Object.assign(d, {
        upperDispLimit: 100,
        lowerDispLimit: 1,
        upperAlarmLimit: 90,
        upperWarningLimit: 80,
        lowerWarningLimit: 20,
        lowerAlarmLimit: 10,
      });
      if (family === "ctrl") Object.assign(d, { upperCtrlLimit: 95, lowerCtrlLimit: 5 });
    }
  }
  return d;
}

Deno.test("every DBR type encodes and decodes back, scalar and array", () => {
  for (let type = 0; type <= 38; type++) {
    for (const count of [0, 1, 5]) {
      const data = sample(type, count);
      const bytes = encodeDbr(type, data);
      assert.equal(bytes.length, dbrSize(type, count), DBR_TYPE_NAMES[type]);
      assert.deepEqual(decodeDbr(type, count, bytes), data, `${DBR_TYPE_NAMES[type]} × ${count}`);
    }
  }
});

Deno.test("layouts: value offsets and sizes from db_access.h", () => {
  const offsets: Record<string, number> = {
    STS_CHAR: 5,
    STS_DOUBLE: 8,
    TIME_STRING: 12,
    TIME_SHORT: 14,
    TIME_ENUM: 14,
    TIME_CHAR: 15,
    TIME_DOUBLE: 16,
    GR_SHORT: 24,
    GR_LONG: 36,
    GR_FLOAT: 40,
    GR_DOUBLE: 64,
    GR_CHAR: 19,
    GR_ENUM: 422,
    CTRL_SHORT: 28,
    CTRL_LONG: 44,
    CTRL_FLOAT: 48,
    CTRL_DOUBLE: 80,
    CTRL_CHAR: 21,
    GR_STRING: 4,
    CTRL_STRING: 4,
  };
  for (const [name, at] of Object.entries(offsets)) {
    assert.equal(valueOffset(DBR[name as keyof typeof DBR]), at, name);
  }
  assert.equal(dbrSize(DBR.CTRL_DOUBLE, 1), 88);
  assert.equal(dbrSize(DBR.CTRL_ENUM, 1), 424);
  assert.equal(dbrSize(DBR.TIME_STRING, 1), 52);
  assert.equal(dbrOf("ctrl", DBR.LONG), DBR.CTRL_LONG);
  // the batch reader's TIME types are dbrOf's, one per native type
  assert.deepEqual(TIME_TYPES, [
    DBR.TIME_STRING,
    DBR.TIME_SHORT,
    DBR.TIME_FLOAT,
    DBR.TIME_ENUM,
    DBR.TIME_CHAR,
    DBR.TIME_LONG,
    DBR.TIME_DOUBLE,
  ]);
  assert.equal(nativeOf(DBR.TIME_ENUM), DBR.ENUM);
  assert.equal(DBR_TYPE_NAMES[34], "DBR_CTRL_DOUBLE");
  assert.throws(() => dbrSize(39, 1), RangeError);
  assert.throws(() => decodeDbr(DBR.DOUBLE, 2, new Uint8Array(8)), RangeError);
});

Deno.test("strings: NUL ends them, garbage after it is ignored, UTF-8 is not cut in half", () => {
  const field = new Uint8Array([104, 105, 0, 0xff, 0x41]);
  assert.equal(readCString(field, 0, 5), "hi");
  const buf = new Uint8Array(8).fill(0xaa);
  writeCString(buf, 0, 4, "éé"); // 4 bytes of UTF-8 do not fit 3 + NUL
  assert.deepEqual(Array.from(buf.subarray(0, 4)), [0xc3, 0xa9, 0, 0]);
  assert.equal(readCString(buf, 0, 4), "é");
  const long = encodeDbr(DBR.STRING, { value: ["x".repeat(60)] });
  assert.equal(decodeDbr(DBR.STRING, 1, long).value[0], "x".repeat(39));
  assert.throws(() => encodeDbr(DBR.DOUBLE, { value: ["abc"] }), TypeError);
  assert.deepEqual(decodeDbr(DBR.DOUBLE, 1, encodeDbr(DBR.DOUBLE, { value: ["2.5"] })).value, [
    2.5,
  ]);
  assert.deepEqual(decodeDbr(DBR.SHORT, 1, encodeDbr(DBR.SHORT, { value: [-3.7] })).value, [-3]);
});
