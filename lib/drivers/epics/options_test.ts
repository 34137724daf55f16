import assert from "node:assert/strict";
import { devicePvs, MAX_PVS, type PvSpec, readPvs } from "./options.ts";

Deno.test("pvs: a table of suffixes or entries, in the order written", () => {
  const r = readPvs({
    temp: ":T",
    setpoint: { pv: ":SP", units: "K", precision: 2, type: "number", rw: true },
    busy: { pv: ":BUSY", type: "boolean", status: false, description: "acquiring" },
  });
  assert.deepEqual(r, {
    ok: true,
    value: [
      { name: "temp", suffix: ":T" },
      { name: "setpoint", suffix: ":SP", units: "K", precision: 2, type: "number", rw: true },
      { name: "busy", suffix: ":BUSY", type: "boolean", status: false, description: "acquiring" },
    ],
  });
});

Deno.test("pvs: an address' text form reads like the table", () => {
  assert.deepEqual(readPvs("position=:VAL, readback=.RBV"), {
    ok: true,
    value: [{ name: "position", suffix: ":VAL" }, { name: "readback", suffix: ".RBV" }],
  });
  const r = readPvs("position");
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : "", /"position" is not NAME=SUFFIX/);
});

Deno.test("pvs: each mistake names the attribute and key that is wrong", () => {
  const cases: [unknown, string[] | undefined, RegExp][] = [
    [{ "read back": ":RBV" }, ["read back"], /cannot name an attribute/],
    [{ t: ":T" }, ["t"], /not t, device or error/],
    [{ x: ": T" }, ["x"], /no spaces or commas/],
    [{ x: "" }, ["x"], /expected the PV name suffix/],
    [{ x: 3 }, ["x"], /expected a PV suffix or a table/],
    [{ x: { pv: ":X", typ: "number" } }, ["x", "typ"], /unknown key; a pvs entry takes: pv, type/],
    [{ x: { units: "mm" } }, ["x", "pv"], /expected the PV name suffix/],
    [{ x: { pv: ":X", type: "float" } }, ["x", "type"], /expected one of number, integer/],
    [{ x: { pv: ":X", precision: 2.5 } }, ["x", "precision"], /whole number/],
    [{ x: { pv: ":X", status: "yes" } }, ["x", "status"], /true or false/],
    [{}, undefined, /at least one/],
    [[":VAL"], undefined, /expected a table/],
  ];
  for (const [v, path, re] of cases) {
    const r = readPvs(v);
    assert.equal(r.ok, false, JSON.stringify(v));
    if (r.ok) continue;
    assert.deepEqual(r.path, path, JSON.stringify(v));
    assert.match(r.message, re, JSON.stringify(v));
  }
  const many = Object.fromEntries(
    Array.from({ length: MAX_PVS + 1 }, (_, i) => [`a${i}`, `:${i}`]),
  );
  assert.match((readPvs(many) as { message: string }).message, /at most 64/);
});

Deno.test("a motor's roles default to the record's fields and take the entries of the same name", () => {
  const specs = devicePvs(undefined, true);
  assert.deepEqual(
    specs.map((s) => [s.name, s.suffix, s.type]),
    [
      ["position", ".VAL", undefined],
      ["readback", ".RBV", undefined],
      ["done", ".DMOV", "boolean"],
      ["stop", ".STOP", "boolean"],
    ],
  );
  const given: PvSpec[] = [
    { name: "velocity", suffix: ":VELO" },
    { name: "done", suffix: ":DMOV" },
    { name: "readback", suffix: ":RBV", units: "um" },
  ];
  const motor = devicePvs(given, true);
  assert.deepEqual(motor.map((s) => `${s.name}=${s.suffix}`), [
    "position=.VAL",
    "readback=:RBV",
    "done=:DMOV",
    "stop=.STOP",
    "velocity=:VELO",
  ]);
  // the role keeps its type and access unless the entry declares them
  assert.equal(motor[2]!.type, "boolean");
  assert.equal(motor[1]!.rw, false);
  assert.equal(motor[1]!.units, "um");
  assert.equal(motor[3]!.status, false);
  // without motor semantics the entries are the attributes
  assert.deepEqual(devicePvs(given, false), given);
});
