import assert from "node:assert/strict";
import { attr, enumOption, findAttr, parseValue, validateWrite } from "./attr.ts";
import { UsageError, WriteRejected } from "./errors.ts";

const position = attr("position", "number", { rw: true, min: -10, max: 10, units: "mm" });
const mode = attr("mode", "enum", { rw: true, options: ["DC V", "AC V"] });
const count = attr("count", "integer", { rw: true, min: 0 });
const on = attr("on", "boolean", { rw: true });
const pressure = attr("pressure", "number", { units: "torr" });

Deno.test("validateWrite accepts values within the declaration", () => {
  assert.equal(validateWrite(position, 3), 3);
  assert.equal(validateWrite(position, "-2.5"), -2.5);
  assert.equal(validateWrite(mode, "AC V"), "AC V");
  assert.equal(validateWrite(mode, 0), "DC V");
  assert.equal(validateWrite(count, 4), 4);
  assert.equal(validateWrite(on, "off"), false);
});

Deno.test("validateWrite refuses read-only, wrong type, out of limits and non-options", () => {
  assert.throws(
    () => validateWrite(pressure, 1),
    (e) => e instanceof WriteRejected && /read-only/.test(e.message),
  );
  assert.throws(() => validateWrite(position, 11), /above the upper limit 10 mm/);
  assert.throws(() => validateWrite(position, -11), /below the lower limit -10 mm/);
  assert.throws(() => validateWrite(position, "abc"), /expected a number/);
  assert.throws(() => validateWrite(position, true), /expected a number/);
  assert.throws(() => validateWrite(count, 1.5), /expected an integer/);
  assert.throws(() => validateWrite(mode, "Ohm"), /not one of "DC V", "AC V"/);
  assert.throws(() => validateWrite(on, "maybe"), /true or false/);
});

Deno.test("parseValue reads arrays and booleans from text", () => {
  assert.deepEqual(parseValue(attr("wave", "number[]", { rw: true }), "1, 2 3"), [1, 2, 3]);
  assert.equal(parseValue(on, "YES"), true);
  assert.equal(parseValue(attr("s", "string", { rw: true }), " x "), " x ");
});

Deno.test("findAttr suggests the closest attribute", () => {
  assert.throws(
    () => findAttr([position, pressure], "presure", "gauge"),
    (e) =>
      e instanceof UsageError && e.hint === 'did you mean "pressure"?' &&
      /gauge has no attribute/.test(e.message),
  );
});

Deno.test("an enum write takes what a person types for an option: case, spaces, a bare number", () => {
  const range = attr("range", "enum", {
    rw: true,
    options: ["AUTO", "100 mV", "1 V", "10 V", "100 V", "1000 V"],
  });
  assert.equal(validateWrite(range, "10"), "10 V");
  assert.equal(validateWrite(range, "10V"), "10 V");
  assert.equal(validateWrite(range, "auto"), "AUTO");
  assert.equal(validateWrite(range, "1e3"), "1000 V");
  assert.equal(validateWrite(mode, "ac v"), "AC V");
  // 100 could be 100 mV or 100 V: refused, naming the options.
  assert.throws(() => validateWrite(range, "100"), /"100" is not one of "AUTO", "100 mV"/);
  assert.throws(() => validateWrite(range, "7"), /is not one of/);
  assert.equal(enumOption(["on", "ON"], "On"), undefined);
});

Deno.test("an EPICS enum (indexed) takes a state's name or its index, and lists both when refused", () => {
  const shutter = attr("value", "enum", {
    rw: true,
    options: ["Closed", "Open", "2", "Fault"],
    indexed: true,
  });
  assert.equal(validateWrite(shutter, "Open"), "Open");
  assert.equal(validateWrite(shutter, "0"), "Closed");
  assert.equal(validateWrite(shutter, 3), "Fault");
  // A state named "2" wins over index 2, as on an IOC; "open" still finds "Open".
  assert.equal(validateWrite(shutter, "2"), "2");
  assert.equal(validateWrite(shutter, "open"), "Open");
  assert.throws(
    () => validateWrite(shutter, "7"),
    /"7" is not a state of this PV; write a state's name or its index: 0 "Closed", 1 "Open", 2 "2", 3 "Fault"/,
  );
  // Not indexed (an instrument's range): "2" is no index.
  assert.throws(() =>
    validateWrite(attr("r", "enum", { rw: true, options: ["a", "b", "c"] }), "2")
  );
});
