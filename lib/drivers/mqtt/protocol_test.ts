import assert from "node:assert/strict";
import {
  checkValues,
  decodeValue,
  encodeCommand,
  jsonPointer,
  PayloadError,
  specAttr,
  valueSpecs,
} from "./protocol.ts";

const TASMOTA =
  '{"Time":"2026-12-01T13:40:00","ENERGY":{"Total":1.234,"Power":42,"Voltage":230,"Factor":[0.9,0.8]}}';

Deno.test("jsonPointer follows RFC 6901 (arrays, ~0 and ~1)", () => {
  const doc = JSON.parse(TASMOTA);
  assert.equal(jsonPointer(doc, "/ENERGY/Power"), 42);
  assert.equal(jsonPointer(doc, "/ENERGY/Factor/1"), 0.8);
  assert.equal(jsonPointer(doc, "/ENERGY/Factor/01"), undefined);
  assert.equal(jsonPointer(doc, "/ENERGY/Current"), undefined);
  assert.equal(jsonPointer({ "a/b": { "~c": 1 } }, "/a~1b/~0c"), 1);
  assert.deepEqual(jsonPointer(doc, ""), doc);
  assert.equal(jsonPointer({ toString: 1 }, "/constructor"), undefined);
});

Deno.test("values come from JSON pointers or plain payloads, typed", () => {
  const specs = valueSpecs("tele/plug1/SENSOR", {
    power: { pointer: "/ENERGY/Power", units: "W" },
    relay: {
      topic: "stat/plug1/POWER",
      type: "boolean",
      payload_on: "ON",
      payload_off: "OFF",
      command: "cmnd/plug1/POWER",
    },
    name: { pointer: "/Time", type: "string" },
  });
  const [power, relay, name] = specs;
  assert.equal(decodeValue(power!, TASMOTA), 42);
  assert.equal(decodeValue(relay!, "ON"), true);
  assert.equal(decodeValue(relay!, "OFF"), false);
  assert.equal(decodeValue(name!, TASMOTA), "2026-12-01T13:40:00");
  assert.equal(relay!.topic, "stat/plug1/POWER");
  const [plain] = valueSpecs("lab/t1", undefined, { units: "°C" });
  assert.equal(plain!.name, "value");
  assert.equal(decodeValue(plain!, " 21.5\n"), 21.5);
  assert.equal(decodeValue(plain!, '"21.5"'), 21.5, "numeric text is a number");
  assert.equal(decodeValue(plain!, "null"), null);
  assert.throws(() => decodeValue(plain!, "hot"), PayloadError);
  assert.throws(() => decodeValue(power!, "42"), /no \/ENERGY\/Power/);
  assert.throws(() => decodeValue(power!, "{not json"), /not JSON/);
  const [count] = valueSpecs("c", { n: { type: "integer" } });
  assert.throws(() => decodeValue(count!, "1.5"), /expected integer/);
});

Deno.test("a value with a command topic is writable; commands are plain payloads", () => {
  const [power, relay] = valueSpecs("t", {
    power: { pointer: "/P", min: 0, max: 10 },
    relay: { type: "boolean", command: "cmnd/POWER", payload_on: "ON", payload_off: "OFF" },
  });
  assert.deepEqual(
    { rw: specAttr(power!).rw, min: specAttr(power!).min, max: specAttr(power!).max },
    { rw: false, min: 0, max: 10 },
  );
  assert.equal(specAttr(relay!).rw, true);
  assert.equal(encodeCommand(relay!, false), "OFF");
  assert.equal(encodeCommand(power!, 2.5), "2.5");
  assert.equal(encodeCommand(power!, "idle"), "idle");
});

Deno.test("checkValues names the key that is wrong", () => {
  assert.equal(checkValues({ power: { pointer: "/P" } }), undefined);
  const cases: [unknown, RegExp, string[]][] = [
    [{ power: { pointer: "P" } }, /starts with "\/"/, ["power", "pointer"]],
    [{ power: { topic: "a/+/b" } }, /wildcards/, ["power", "topic"]],
    [{ power: { type: "float" } }, /expected one of number/, ["power", "type"]],
    [{ power: { pointr: "/P" } }, /unknown key/, ["power", "pointr"]],
    [{ Power: {} }, /snake_case/, ["Power"]],
    [{ power: { min: "0" } }, /expected a number/, ["power", "min"]],
    ["x", /expected a table/, []],
  ];
  for (const [raw, message, path] of cases) {
    const p = checkValues(raw);
    assert.ok(p, JSON.stringify(raw));
    assert.match(p.message, message);
    assert.deepEqual(p.path, path);
  }
});
