import assert from "node:assert/strict";
import { attr } from "../../device/attr.ts";
import { decodeDbr, encodeDbr } from "../../drivers/epics/dbr.ts";
import { DBR, EPICS_EPOCH_OFFSET } from "../../drivers/epics/dbr_types.ts";
import { ConversionError, fromWrite, pvShape, type PvSnapshot, toDbrData } from "./codec.ts";

const snap = (value: PvSnapshot["value"], extra: Partial<PvSnapshot> = {}): PvSnapshot => ({
  value,
  t: EPICS_EPOCH_OFFSET + 100.25,
  severity: 0,
  status: 0,
  ...extra,
});

Deno.test("pvShape maps attr types to native DBR types", () => {
  assert.equal(pvShape(attr("x", "number")).native, DBR.DOUBLE);
  assert.equal(pvShape(attr("x", "integer")).native, DBR.LONG);
  const b = pvShape(attr("x", "boolean"));
  assert.equal(b.native, DBR.ENUM);
  assert.deepEqual(b.enumStrings, ["false", "true"]);
  const e = pvShape(attr("x", "enum", { options: ["AUTO", "1 V"] }));
  assert.equal(e.native, DBR.ENUM);
  assert.deepEqual(e.enumStrings, ["AUTO", "1 V"]);
  assert.equal(pvShape(attr("x", "string")).native, DBR.STRING);
  const arr = pvShape(attr("x", "number[]"), [1, 2, 3]);
  assert.deepEqual([arr.native, arr.count], [DBR.DOUBLE, 3]);
});

Deno.test("pvShape serves enums that DBR_CTRL_ENUM cannot hold as strings", () => {
  const many = Array.from({ length: 17 }, (_, i) => `s${i}`);
  assert.equal(pvShape(attr("x", "enum", { options: many })).native, DBR.STRING);
  const long = ["a".repeat(26)];
  assert.equal(pvShape(attr("x", "enum", { options: long })).native, DBR.STRING);
});

Deno.test("toDbrData gives GR/CTRL metadata from the attr", () => {
  const a = attr("setpoint", "number", { units: "°C", min: -20, max: 150, precision: 2 });
  const d = toDbrData(pvShape(a), snap(25), DBR.CTRL_DOUBLE, 1);
  assert.deepEqual(d.value, [25]);
  assert.equal(d.units, "°C");
  assert.equal(d.precision, 2);
  assert.deepEqual(
    [d.lowerDispLimit, d.upperDispLimit, d.lowerCtrlLimit, d.upperCtrlLimit],
    [-20, 150, -20, 150],
  );
  // Round trip through the real encoder: CTRL_DOUBLE is 88 bytes on the reference server.
  const bytes = encodeDbr(DBR.CTRL_DOUBLE, d);
  assert.equal(bytes.length, 88);
  assert.equal(decodeDbr(DBR.CTRL_DOUBLE, 1, bytes).units, "°C");
});

Deno.test("toDbrData formats strings with the precision and enums as their state", () => {
  const t = attr("t", "number", { precision: 3 });
  assert.deepEqual(toDbrData(pvShape(t), snap(1.5), DBR.STRING, 1).value, ["1.500"]);
  const e = attr("range", "enum", { options: ["AUTO", "10 V"] });
  assert.deepEqual(toDbrData(pvShape(e), snap("10 V"), DBR.STRING, 1).value, ["10 V"]);
  assert.deepEqual(toDbrData(pvShape(e), snap("10 V"), DBR.ENUM, 1).value, [1]);
  const ctrl = toDbrData(pvShape(e), snap("10 V"), DBR.CTRL_ENUM, 1);
  assert.deepEqual(ctrl.enumStrings, ["AUTO", "10 V"]);
  const b = attr("on", "boolean");
  assert.deepEqual(toDbrData(pvShape(b), snap(true), DBR.STRING, 1).value, ["true"]);
  assert.deepEqual(toDbrData(pvShape(b), snap(true), DBR.DOUBLE, 1).value, [1]);
});

Deno.test("toDbrData carries alarm and timestamp in TIME types", () => {
  const a = attr("x", "integer");
  const d = toDbrData(pvShape(a), snap(7, { severity: 2, status: 3 }), DBR.TIME_LONG, 1);
  assert.deepEqual([d.severity, d.status, d.secondsPastEpoch, d.nanoseconds], [2, 3, 100, 250e6]);
});

Deno.test("toDbrData pads or truncates arrays to the requested count; 0 is the current length", () => {
  const a = attr("w", "number[]");
  const shape = pvShape(a, [1, 2, 3]);
  assert.deepEqual(toDbrData(shape, snap([1, 2, 3]), DBR.DOUBLE, 0).value, [1, 2, 3]);
  assert.deepEqual(toDbrData(shape, snap([1, 2, 3]), DBR.DOUBLE, 5).value, [1, 2, 3, 0, 0]);
  assert.deepEqual(toDbrData(shape, snap([1, 2, 3]), DBR.DOUBLE, 2).value, [1, 2]);
});

Deno.test("toDbrData refuses text that is not a number as a numeric type", () => {
  const s = attr("name", "string");
  assert.throws(() => toDbrData(pvShape(s), snap("abc"), DBR.DOUBLE, 1), ConversionError);
  assert.deepEqual(toDbrData(pvShape(s), snap("12"), DBR.DOUBLE, 1).value, [12]);
});

Deno.test("fromWrite refuses a string count its payload cannot hold, without building it", () => {
  const s = pvShape(attr("label", "string", { rw: true }));
  // 8 bytes claiming 10^7 strings took 9 s and 570 MB before (found by fuzzing).
  assert.throws(() => fromWrite(s, DBR.STRING, 10_000_000, new Uint8Array(8)), ConversionError);
  assert.throws(() => fromWrite(s, DBR.STRING, 2, new Uint8Array(40)), /needs 80 bytes, got 40/);
  // Only the last string may be short, as libca sends it.
  const two = new Uint8Array(48);
  two.set(new TextEncoder().encode("a"));
  two.set(new TextEncoder().encode("bc"), 40);
  assert.equal(fromWrite(s, DBR.STRING, 2, two), "a");
});

Deno.test("fromWrite turns payloads into values DeviceManager.write validates", () => {
  const num = pvShape(attr("p", "number", { rw: true }));
  assert.equal(fromWrite(num, DBR.DOUBLE, 1, encodeDbr(DBR.DOUBLE, { value: [2.5] })), 2.5);
  // libca sends a lone DBR_STRING as text + NUL padded to 8 bytes, not 40.
  const short = new Uint8Array(8);
  short.set(new TextEncoder().encode("1.5"));
  assert.equal(fromWrite(num, DBR.STRING, 1, short), "1.5");
  const en = pvShape(attr("r", "enum", { rw: true, options: ["AUTO", "10 V"] }));
  assert.equal(fromWrite(en, DBR.ENUM, 1, encodeDbr(DBR.ENUM, { value: [1] })), 1);
  assert.equal(fromWrite(en, DBR.STRING, 1, encodeDbr(DBR.STRING, { value: ["10 V"] })), "10 V");
  assert.equal(fromWrite(en, DBR.STRING, 1, encodeDbr(DBR.STRING, { value: ["1"] })), 1);
  const b = pvShape(attr("on", "boolean", { rw: true }));
  assert.equal(fromWrite(b, DBR.ENUM, 1, encodeDbr(DBR.ENUM, { value: [0] })), false);
  const arr = pvShape(attr("w", "number[]", { rw: true }), [0, 0]);
  assert.deepEqual(
    fromWrite(arr, DBR.DOUBLE, 2, encodeDbr(DBR.DOUBLE, { value: [4, 5] })),
    [4, 5],
  );
});

Deno.test("toDbrData publishes the alarm rules' limits, NaN where none is in force", () => {
  const a = attr("temperature", "number", { units: "K", precision: 1 });
  const shape = { ...pvShape(a), alarmLimits: { upperAlarm: 80, upperWarning: 60, lowerAlarm: 5 } };
  const d = toDbrData(shape, snap(25), DBR.CTRL_DOUBLE, 1);
  assert.deepEqual(
    [d.upperAlarmLimit, d.upperWarningLimit, d.lowerWarningLimit, d.lowerAlarmLimit],
    [80, 60, NaN, 5],
  );
  const long = toDbrData(pvShape(attr("n", "integer")), snap(3), DBR.CTRL_LONG, 1);
  assert.equal(long.upperAlarmLimit, 0, "an integer type cannot carry NaN");
  // An attribute with its own limits (a ca:// PV served again) passes them on.
  const own = attr("v", "number", {
    limits: {
      display: { low: 0, high: 10 },
      warning: { low: 1, high: 9 },
      alarm: { low: null, high: 9.5 },
      control: { low: 0, high: 10 },
    },
  });
  const o = toDbrData(pvShape(own), snap(5), DBR.GR_DOUBLE, 1);
  assert.deepEqual([o.upperAlarmLimit, o.upperWarningLimit, o.lowerWarningLimit], [9.5, 9, 1]);
  assert.ok(Number.isNaN(o.lowerAlarmLimit));
});
