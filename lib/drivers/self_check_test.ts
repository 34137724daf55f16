import assert from "node:assert/strict";
import {
  findInstrument,
  instrumentNames,
  parseDefinition,
  rawCatalog,
  resolveEntry,
} from "../instruments/loader.ts";
import { anotherValue, selfCheck } from "./self_check.ts";
import { attr } from "../device/attr.ts";

Deno.test("every built-in definition passes its self-check", async () => {
  for (const name of await instrumentNames()) {
    const steps = await selfCheck(await findInstrument(name));
    assert.deepEqual(steps.filter((s) => !s.ok), [], name);
    assert.ok(steps.some((s) => s.step.startsWith("read ")), name);
  }
});

Deno.test("a self-check names the step that fails and what went wrong", async () => {
  const entry = parseDefinition(
    `extends = "scpi"
[attrs.mode]
get = "MODE?"
set = "MODE {value}"
parse = "enum"
map = { "1" = "one", "2" = "two" }
sim = { value = "zero" }
`,
    "broken.toml",
  );
  const catalog = new Map(await rawCatalog());
  catalog.set(entry.name, entry);
  const steps = await selfCheck(resolveEntry(entry, catalog));
  const bad = steps.filter((s) => !s.ok);
  assert.equal(bad.length, 1, JSON.stringify(bad));
  assert.equal(bad[0]!.step, "read mode");
  assert.match(bad[0]!.detail, /"MODE\?" answered "zero": unexpected answer "zero"/);
  assert.ok(steps.find((s) => s.step === "write mode")?.ok, "the write still works");
});

Deno.test("anotherValue: a valid different value of each type", () => {
  assert.equal(anotherValue(attr("b", "boolean", { rw: true }), true), false);
  assert.equal(anotherValue(attr("e", "enum", { rw: true, options: ["a", "b"] }), "a"), "b");
  assert.equal(anotherValue(attr("n", "number", { rw: true, min: 0, max: 6 }), 0), 3);
  assert.equal(anotherValue(attr("n", "number", { rw: true, min: 0, max: 6 }), 3), 3.5);
  assert.equal(anotherValue(attr("n", "number", { rw: true }), 0, [0.1, 1, 10]), 0.1);
  assert.equal(anotherValue(attr("i", "integer", { rw: true, min: 1, max: 9 }), 5), 6);
  assert.equal(anotherValue(attr("s", "string", { rw: true }), "labwire"), "check");
});

Deno.test("SCPI block arrays (ascii and binary) and number lists end to end over TCP", async () => {
  for (const enc of ["ascii", "f32le", "f64be"]) {
    const inst = resolveEntry(
      parseDefinition(
        `[attrs.trace]
get = "TRACe:DATA?"
parse = "block"
block = "${enc}"
status = true
sim = { value = [1.5, -2, 3.25] }
[attrs.list]
get = "LIST?"
parse = "numbers"
sim = { value = [1, 2] }
`,
        `block-${enc}.toml`,
      ),
      new Map(),
    );
    const steps = await selfCheck(inst);
    assert.deepEqual(steps.map((s) => [s.step, s.ok, s.detail]), [
      ["read", true, '{"trace":[1.5,-2,3.25]}'],
      ["read trace", true, "[1.5,-2,3.25]"],
      ["read list", true, "[1,2]"],
    ], enc);
  }
});
