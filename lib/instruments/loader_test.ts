import assert from "node:assert/strict";
import { ConfigError, UsageError } from "../device/errors.ts";
import {
  addInstrumentSource,
  checkFile,
  findInstrument,
  instrumentNames,
  parseDefinition,
  rawCatalog,
  resetInstrumentSources,
  resolveEntry,
} from "./loader.ts";
import { applyInstrumentsSection } from "./config.ts";
import { BUILTIN_DEFINITIONS } from "./builtin.ts";

/** Compiles a definition from text as `instruments check` would (extends from the catalog). */
async function compile(text: string, file = "x.toml") {
  const entry = parseDefinition(text, file);
  const catalog = new Map(await rawCatalog());
  catalog.set(entry.name, entry);
  return resolveEntry(entry, catalog);
}

/** Asserts a ConfigError naming `file` and `key`, with a message matching `re`. */
async function configError(text: string, key: string, re: RegExp): Promise<void> {
  await assert.rejects(compile(text, "bad.toml"), (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    assert.equal(err.file, "bad.toml");
    assert.equal(err.key, key, err.message);
    assert.match(err.message, re);
    assert.ok(err.message.startsWith(`bad.toml: ${key}: `), err.message);
    return true;
  });
}

Deno.test("every built-in definition loads and compiles", async () => {
  const names = await instrumentNames();
  for (const file of Object.keys(BUILTIN_DEFINITIONS)) {
    assert.ok(names.includes(file.replace(/\.toml$/, "")), file);
  }
  for (const n of names) {
    const inst = await findInstrument(n);
    assert.equal(inst.name, n);
    assert.ok(inst.attrs.length > 0, n);
    assert.ok(inst.attrs.some((a) => a.attr.status), `${n} has a default reading`);
    for (const a of inst.attrs) assert.match(a.attr.name, /^[a-z][a-z0-9_]*$/);
  }
});

Deno.test("channels are declared once and expanded, with per-channel limits", async () => {
  const ls = await findInstrument("lakeshore-336");
  const names = ls.attrs.map((a) => a.attr.name);
  for (
    const n of ["temperature_a", "temperature_d", "setpoint_1", "setpoint_2", "heater_range_2"]
  ) {
    assert.ok(names.includes(n), n);
  }
  const t = ls.attrs.find((a) => a.attr.name === "temperature_c")!;
  assert.equal(t.get, "KRDG? C");
  assert.deepEqual(t.vars, { input: "C" });
  assert.equal(ls.attrs.find((a) => a.attr.name === "setpoint_2")!.set, "SETP 2,{value}");
  const psu = await compile(`
[channels.output]
ids = [1, 2, 3]
name = "ch{output}_{attr}"
[attrs.voltage]
channels = "output"
get = "VOLT? (@{output})"
set = "VOLT {value},(@{output})"
min = 0
max = { "1" = 6, "2" = 25, "3" = 25 }
units = "V"
`);
  assert.deepEqual(psu.attrs.map((a) => [a.attr.name, a.attr.max, a.set]), [
    ["ch1_voltage", 6, "VOLT {value},(@1)"],
    ["ch2_voltage", 25, "VOLT {value},(@2)"],
    ["ch3_voltage", 25, "VOLT {value},(@3)"],
  ]);
  assert.equal(psu.name, "x");
  assert.equal(psu.protocol, "scpi");
});

Deno.test("extends merges tables key by key (34465A over 34461A)", async () => {
  const a = await findInstrument("keysight-34461a");
  const b = await findInstrument("keysight-34465a");
  assert.equal(b.model, "34465A");
  assert.deepEqual(b.attrs.map((x) => x.attr.name), a.attrs.map((x) => x.attr.name));
  const nplc = b.attrs.find((x) => x.base === "nplc")!;
  assert.deepEqual(nplc.values, [0.02, 0.06, 0.2, 1, 10, 100]);
  assert.equal(nplc.set, "[SENSe:]VOLTage:DC:NPLCycles {value}", "inherited key");
  assert.match(b.simIdn, /,34465A,/);
  assert.equal(b.transport.port, 5025);
});

Deno.test("Attr fields come from the definition; types follow the parse rule", async () => {
  const dmm = await findInstrument("keysight-34461a");
  const get = (n: string) => dmm.attrs.find((a) => a.attr.name === n)!.attr;
  assert.deepEqual(get("voltage_dc"), {
    name: "voltage_dc",
    type: "number",
    rw: false,
    status: true,
    units: "V",
    precision: 7,
    description: "DC voltage, one autoranged measurement (MEAS:VOLT:DC?)",
  });
  assert.equal(get("function").type, "enum");
  assert.ok(get("function").options!.includes("voltage_ac"));
  assert.equal(get("autorange").type, "boolean");
  assert.equal(get("sample_count").type, "integer");
  assert.equal(get("sample_count").min, 1);
  assert.deepEqual(dmm.actions.map((a) => a.name), ["reset", "clear", "initiate", "trigger"]);
  assert.equal(dmm.transport.readTermination, "\n");
  assert.equal(dmm.errors?.query, "SYSTem:ERRor?");
  const ls = await findInstrument("lakeshore-336");
  assert.deepEqual(
    [
      ls.transport.port,
      ls.transport.baud,
      ls.transport.bits,
      ls.transport.parity,
      ls.transport.stop,
    ],
    [7777, 57600, 7, "odd", 1],
  );
  assert.equal(ls.errors?.suffix, ";*ESR?");
  assert.equal(ls.identify?.onMismatch, "refuse");
  assert.equal(ls.attrs.find((a) => a.attr.name === "reading_status_a")!.attr.type, "string");
});

Deno.test("malformed definitions: errors name the file and the key", async () => {
  await configError('[attrs.v]\nget = "X?"\nunits = 3', "attrs.v.units", /string/);
  await configError(
    '[attrs.v]\nget = "X?"\nunts = "V"',
    "attrs.v",
    /unknown key "unts" \(did you mean "units"\?\)/,
  );
  await assert.rejects(
    compile('protocl = "scpi"\n[attrs.v]\nget = "X?"', "bad.toml"),
    /^ConfigError: bad\.toml: unknown key "protocl" \(did you mean "protocol"\?\)/,
  );
  await configError('protocol = "modbs"\n[attrs.v]\nget = "X?"', "protocol", /scpi/);
  await configError(
    'protocol = "modbus"\n[attrs.v]\nget = "X?"',
    "attrs.v.get",
    /for message-based instruments/,
  );
  await configError(
    '[attrs.v]\nget = "X?"\nparse = "enum"',
    "attrs.v",
    /enum needs options or a map/,
  );
  await configError('[attrs.v]\nget = "X?"\nparse = "flags"', "attrs.v.bits", /flags need bits/);
  await configError(
    '[attrs.v]\nget = "X?"\nregex = "(unclosed"',
    "attrs.v.regex",
    /regular expression/,
  );
  await configError('[attrs.v]\nget = "X?"\nregex = "=\\\\d+"', "attrs.v.regex", /capture group/);
  await configError(
    '[attrs.v]\nget = "X? {output}"',
    "attrs.v.get",
    /unknown placeholder \{output\}/,
  );
  await configError('[attrs.v]\nset = "X"', "attrs.v.set", /needs \{value\}/);
  await configError(
    '[attrs.v]\nget = "X?"\nchannels = "out"',
    "attrs.v.channels",
    /no channel group "out"/,
  );
  await configError(
    '[attrs.v]\nget = "X?"\nstatus = true\n[attrs.w]\nset = "W {value}"\nstatus = true',
    "attrs.w.status",
    /needs get/,
  );
  await configError('[attrs.V]\nget = "X?"', "attrs.V", /snake_case/);
  // A flat reading is {"t":…,"device":…,<attr>:…,"error"?}: those names would collide.
  await configError('[attrs.error]\nget = "X?"', "attrs.error", /key of every reading/);
  await configError('[attrs.t]\nget = "X?"', "attrs.t", /key of every reading/);
  await configError('[attrs.v]\nget = "X?"\nmin = 5\nmax = 1', "attrs.v", /min 5 is above max 1/);
  await configError(
    '[attrs.v]\nget = "X?"\nlayout = "poll"\ntoken = "a"',
    "attrs.v.layout",
    /no layout "poll"/,
  );
  await configError('[attrs.v]\nget = "X?"\ntoken = "gas"', "attrs.v.token", /needs a layout/);
  await configError(
    '[attrs.v]\nget = "X?"\nparse = "number"\ntype = "string"',
    "attrs.v.type",
    /does not fit/,
  );
  await configError(
    '[errors]\nsuffix = "*ESR?"\n[attrs.v]\nget = "X?"',
    "errors.suffix",
    /start with ";"/,
  );
  await configError(
    '[identify]\nmatch = "["\n[attrs.v]\nget = "X?"',
    "identify.match",
    /regular expression/,
  );
  await configError(
    'extends = "nothing-like-it"\n[attrs.v]\nget = "X?"',
    "extends",
    /unknown instrument "nothing-like-it"/,
  );
  await configError(
    '[attrs.v]\nget = "X?"\nsim = { follows = "w" }',
    "attrs.v.sim.follows",
    /no attribute "w"/,
  );
  await configError("name = 3", "name", /string/);
  await configError('[transport]\nbits = 9\n[attrs.v]\nget = "X?"', "transport.bits", /./);
  await configError(
    '[transport]\ntimeout = "soon"\n[attrs.v]\nget = "X?"',
    "transport.timeout",
    /not a duration/,
  );
  await configError('description = "nothing"', "attrs", /at least one attribute/);
  await assert.rejects(compile("a = [", "bad.toml"), /bad\.toml: not valid TOML/);
});

Deno.test("unknown instrument: did-you-mean and the way to list them", async () => {
  await assert.rejects(findInstrument("keysight-34416a"), (err: unknown) => {
    assert.ok(err instanceof UsageError);
    assert.match(err.message, /unknown instrument "keysight-34416a"/);
    assert.match(err.hint ?? "", /did you mean "keysight-34461a"/);
    return true;
  });
  await assert.rejects(findInstrument("zzz"), (err: unknown) => {
    assert.match((err as UsageError).hint ?? "", /labwire instruments list/);
    return true;
  });
});

Deno.test("user definitions: a folder, a file, the config section; a user file replaces a built-in", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/my-psu.toml`,
      '[attrs.voltage]\nget = "VOLT?"\nstatus = true\n',
    );
    await Deno.writeTextFile(
      `${dir}/scpi.toml`,
      'description = "mine"\n[attrs.idn]\nget = "*IDN?"\nparse = "string"\n',
    );
    await Deno.writeTextFile(`${dir}/notes.txt`, "not a definition");
    resetInstrumentSources();
    await assert.rejects(findInstrument("my-psu"), /unknown instrument/);
    addInstrumentSource(dir);
    assert.equal((await findInstrument("my-psu")).source, `${dir}/my-psu.toml`);
    assert.equal((await findInstrument("scpi")).description, "mine");
    resetInstrumentSources();
    assert.equal((await findInstrument("scpi")).source, "built-in:scpi.toml");
    const cfgDir = await Deno.makeTempDir();
    await Deno.mkdir(`${cfgDir}/defs`);
    await Deno.copyFile(`${dir}/my-psu.toml`, `${cfgDir}/defs/lab-psu.toml`);
    assert.deepEqual(applyInstrumentsSection({ path: "defs" }, `${cfgDir}/labwire.toml`), [
      `${cfgDir}/defs`,
    ]);
    assert.equal((await findInstrument("lab-psu")).attrs[0]!.attr.name, "voltage");
    assert.throws(
      () => applyInstrumentsSection({ paths: "x" }, "l.toml"),
      /l\.toml: instruments\.paths: unknown key/,
    );
    assert.throws(
      () => applyInstrumentsSection({ path: 3 }, "l.toml"),
      /l\.toml: instruments\.path: expected a folder/,
    );
    assert.throws(
      () => applyInstrumentsSection("x", "l.toml"),
      /l\.toml: instruments: expected a table/,
    );
    resetInstrumentSources();
    addInstrumentSource(`${dir}/missing`);
    await assert.rejects(findInstrument("scpi"), /missing: no such file or directory/);
    await Deno.remove(cfgDir, { recursive: true });
  } finally {
    resetInstrumentSources();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkFile validates one file, its extends from the catalog", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/dmm2.toml`, 'extends = "keysight-34461a"\nmodel = "34470A"\n');
    const inst = await checkFile(`${dir}/dmm2.toml`);
    assert.equal(inst.name, "dmm2");
    assert.equal(inst.model, "34470A");
    await assert.rejects(checkFile(`${dir}/nope.toml`), /nope\.toml: file not found/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
