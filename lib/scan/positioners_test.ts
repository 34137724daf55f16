import assert from "node:assert/strict";
import { attr } from "../device/attr.ts";
import { defaultReadback } from "./positioners.ts";

const motor = [
  attr("position", "number", { rw: true }),
  attr("readback", "number"),
  attr("velocity", "number", { rw: true }),
  attr("gap", "number", { rw: true }),
  attr("gap_rbv", "number"),
];

Deno.test("the device-wide read-back belongs to the main setpoint only", () => {
  assert.equal(defaultReadback(motor, "position"), "readback");
  assert.equal(defaultReadback(motor, "velocity"), "velocity");
});

Deno.test("an attribute's own read-back (ATTR_rbv, ATTR_readback) wins", () => {
  assert.equal(defaultReadback(motor, "gap"), "gap_rbv");
  assert.equal(defaultReadback([attr("x", "number", { rw: true })], "x"), "x");
});
