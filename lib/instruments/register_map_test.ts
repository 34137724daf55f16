/** Register maps in definitions: what compiles, and every mistake naming the file and the key. */
import assert from "node:assert/strict";
import { ConfigError } from "../device/errors.ts";
import { parseDefinition, rawCatalog, resolveEntry } from "./loader.ts";
import type { Instrument } from "./definition.ts";

async function compile(text: string, file = "bad.toml"): Promise<Instrument> {
  const entry = parseDefinition(`protocol = "modbus"\n${text}`, file);
  const catalog = new Map(await rawCatalog());
  catalog.set(entry.name, entry);
  return resolveEntry(entry, catalog);
}

async function configError(text: string, key: string, re: RegExp): Promise<void> {
  await assert.rejects(compile(text), (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    assert.equal(err.key, key, err.message);
    assert.match(err.message, re);
    assert.ok(err.message.startsWith(`bad.toml: ${key}: `), err.message);
    return true;
  });
}

Deno.test("register attributes: tables, 40001 notation, types, word orders, channels with a stride", async () => {
  const inst = await compile(`
[modbus]
word_order = "CDAB"
unit = 3
[channels.zone]
ids = [1, 2]
[attrs.pv]
channels = "zone"
register = 40361
stride = 5000
type = "float32"
status = true
[attrs.sp]
table = "holding"
address = 2160
type = "float32"
word_order = "ABCD"
write = true
[attrs.run]
register = 2069
write = true
[attrs.alarm]
table = "holding"
address = 10
type = "bit"
bit = 3
[attrs.lamp]
table = "holding"
address = 10
type = "bit"
bit = 4
write = true
[attrs.temp]
table = "input"
address = 0
type = "int16"
scale = 0.1
offset = -40
units = "°C"
`);
  const r = Object.fromEntries(inst.attrs.map((a) => [a.attr.name, a.register!]));
  assert.deepEqual([r.pv_1!.table, r.pv_1!.address, r.pv_2!.address, r.pv_1!.order], [
    "holding",
    360,
    5360,
    "CDAB",
  ]);
  assert.equal(r.sp!.order, "ABCD");
  assert.equal(r.sp!.write, 16);
  assert.deepEqual([r.run!.table, r.run!.address, r.run!.write], ["coil", 2068, 5]);
  assert.equal(r.lamp!.write, 6);
  assert.equal(inst.modbus?.unit, 3);
  const attrs = Object.fromEntries(inst.attrs.map((a) => [a.attr.name, a.attr]));
  assert.equal(attrs.temp!.type, "number");
  assert.equal(attrs.run!.type, "boolean");
  assert.equal(attrs.pv_1!.rw, false);
  assert.equal(inst.transport.port, 502);
  assert.equal(inst.transport.parity, "even");
});

Deno.test("bad maps: overlaps, out of range, wrong notation, wrong keys name the file and the key", async () => {
  await configError(
    '[attrs.a]\ntable = "holding"\naddress = 100\ntype = "float32"\n[attrs.b]\nregister = 40102',
    "attrs.b",
    /b \(holding register 101\) overlaps a \(attrs\.a: holding register 100…101\)/,
  );
  await configError(
    '[channels.c]\nids = [1, 2, 3]\n[attrs.p]\nchannels = "c"\ntable = "holding"\naddress = 0\nstride = 1\ntype = "float32"',
    "attrs.p",
    /p_2 \(holding register 1…2\) overlaps p_1/,
  );
  await configError(
    '[attrs.a]\ntable = "holding"\naddress = 65535\ntype = "uint32"',
    "attrs.a.address",
    /would span holding register 65535…65536, past the last address 65535/,
  );
  await configError(
    "[attrs.a]\nregister = 40000",
    "attrs.a.register",
    /not a manual register number/,
  );
  await configError(
    "[attrs.a]\nregister = 20001",
    "attrs.a.register",
    /not a manual register number/,
  );
  await configError(
    '[attrs.a]\nregister = 40001\ntable = "holding"\naddress = 0',
    "attrs.a",
    /either register .* or table and address/,
  );
  await configError("[attrs.a]\naddress = 5", "attrs.a", /where is it\? give table = "holding"/);
  await configError(
    '[attrs.a]\ntable = "input"\naddress = 0\nwrite = true',
    "attrs.a.write",
    /input registers are read-only/,
  );
  await configError(
    '[attrs.a]\ntable = "coil"\naddress = 0\ntype = "int16"',
    "attrs.a.type",
    /holds one bit/,
  );
  await configError(
    '[attrs.a]\ntable = "holding"\naddress = 0\ntype = "float32"\nwrite = 6',
    "attrs.a.write",
    /use 16/,
  );
  await configError(
    '[attrs.a]\ntable = "holding"\naddress = 0\nget = "X?"',
    "attrs.a.get",
    /message-based/,
  );
  await configError(
    '[attrs.a]\ntable = "holding"\naddress = 0\ntype = "bit"',
    "attrs.a.bit",
    /needs bit = 0…15/,
  );
  await configError(
    '[attrs.a]\ntable = "holding"\naddress = 0\nmap = { x = "y" }',
    "attrs.a.map",
    /raw register values/,
  );
  await configError(
    '[attrs.a]\ntable = "holding"\naddress = 0\nsim = { approach = "b" }',
    "attrs.a.sim.approach",
    /no attribute "b"/,
  );
  await configError(
    '[attrs.a]\ntable = "holding"\naddress = 0\nword_order = "ABDC"',
    "attrs.a.word_order",
    /ABCD/,
  );
  await configError(
    '[identify]\nquery = "*IDN?"\n[attrs.a]\nregister = 1',
    "identify",
    /not Modbus/,
  );
  await assert.rejects(
    compile('[transport]\nunit = "A"\n[attrs.a]\nregister = 1'),
    /transport\.unit: a Modbus unit id goes in \[modbus\] unit = N/,
  );
  // A Modbus key in a message-based definition says which protocol it needs.
  const entry = parseDefinition('[attrs.v]\nget = "X?"\nregister = 40001', "msg.toml");
  assert.throws(
    () => resolveEntry(entry, new Map([[entry.name, entry]])),
    /msg\.toml: attrs\.v\.register: "register" is a Modbus key/,
  );
});
