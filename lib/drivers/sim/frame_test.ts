import assert from "node:assert/strict";
import { decodeFrame, encodeFrame, garble } from "./frame.ts";
import { Random } from "./random.ts";
import { DeviceError } from "../../device/errors.ts";

const values = { pressure: 0.7512, pressure_units: "torr", moving: false, trace: [1, 2] };

Deno.test("an answer round-trips through the frame", () => {
  assert.deepEqual(decodeFrame(encodeFrame(values), "sim://gauge"), values);
});

Deno.test("every garbled answer is caught as a garbage response", () => {
  const r = new Random(42);
  for (let i = 0; i < 500; i++) {
    const bad = garble(encodeFrame(values), r);
    assert.notEqual(bad, encodeFrame(values));
    assert.throws(() => decodeFrame(bad, "sim://gauge"), (e: unknown) => {
      assert.ok(e instanceof DeviceError);
      assert.match(e.message, /^garbage response from sim:\/\/gauge: /);
      return true;
    });
  }
});

Deno.test("a well-framed answer that is not a values object is garbage too", () => {
  const body = "[1,2]";
  const framed = encodeFrame({ a: 1 }).replace('{"a":1}', body);
  assert.throws(() => decodeFrame(framed, "x"), /garbage response/);
  assert.throws(() => decodeFrame("no checksum here", "x"), /checksum mismatch/);
});
