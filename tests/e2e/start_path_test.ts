import assert from "node:assert/strict";
import { ROOT } from "./run_cli.ts";

/**
 * The modules of `entry`'s graph (`deno info --json`; main.ts by default) reachable from `roots`
 * (paths in this checkout) through code imports: static ones only, or dynamic ones with string
 * literals too.
 */
async function reachable(roots: string[], dynamic: boolean, entry = "main.ts"): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `${ROOT}${entry}`],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier?: string }; isDynamic?: boolean }[];
    }[];
    redirects?: Record<string, string>;
  };
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = roots.map((r) => new URL(r, `file://${ROOT}`).href);
  while (todo.length > 0) {
    const s = todo.pop()!;
    const spec = info.redirects?.[s] ?? s;
    if (seen.has(spec)) continue;
    seen.add(spec);
    for (const d of modules.get(spec)?.dependencies ?? []) {
      if ((dynamic || !d.isDynamic) && d.code?.specifier) todo.push(d.code.specifier);
    }
  }
  return [...seen];
}

/**
 * The modules `deno run main.ts read ca://…` evaluates: static imports of main.ts, cmd/read.ts and
 * the EPICS family's driver_info.ts, which the read registers (lib/drivers/families.ts).
 */
function readPathModules(): Promise<string[]> {
  // main.ts loads the verb's module itself (lib/device/lazy_module.ts); `read` is cmd/read.ts.
  return reachable(["main.ts", "cmd/read.ts", "lib/drivers/epics/driver_info.ts"], false);
}

Deno.test("labwire read of an address loads neither zod, the TOML parser nor the config schema", async () => {
  const modules = await readPathModules();
  assert.ok(modules.some((m) => m.endsWith("/lib/config/plain_targets.ts")), "graph walked");
  // Each of these cost start-up time of every read (zod and the schema ~70 ms of CPU); they load when a
  // config file is read, a --demo bench starts, or another verb needs them.
  for (const heavy of [/npm:\/?zod@/, /\/vendor\/smol-toml\//, /\/lib\/config\/schema\.ts$/]) {
    assert.deepEqual(modules.filter((m) => heavy.test(m)), [], `${heavy} is on the read path`);
  }
});

Deno.test("a config file of only devices is checked without zod or the config schema", async () => {
  // lib/config/file.ts loads lab_config.ts first and the whole schema only for other sections:
  // zod and the schemas kept ~12 MB resident in `stream` of 1,000 gauges (README, sixth round).
  const modules = await reachable(["lib/config/lab_config.ts"], true, "lib/config/lab_config.ts");
  assert.ok(modules.some((m) => m.endsWith("/lib/config/device_tables.ts")), "graph walked");
  for (const heavy of [/npm:\/?zod@/, /\/lib\/config\/(schema|devices_schema|fields)\.ts$/]) {
    assert.deepEqual(modules.filter((m) => heavy.test(m)), [], `${heavy} is on the devices path`);
  }
});

Deno.test("a config file of only devices is read without any npm package", async () => {
  // Importing one npm package (the TOML parser was the last) makes Deno resolve it through its npm
  // machinery, whose code pages stayed resident: ~1.8 MB of RSS in `stream` of 1,000 gauges.
  const modules = await reachable(["lib/config/lab_config.ts"], true, "lib/config/lab_config.ts");
  assert.ok(modules.some((m) => m.endsWith("/vendor/smol-toml/parse.js")), "graph walked");
  assert.deepEqual(modules.filter((m) => m.startsWith("npm:") || m.startsWith("node:")), []);
});

Deno.test("labwire read of plain ca:// addresses loads no option rules", async () => {
  // The rules (the config layer's builders, the EPICS family's pvs, motor and move_guard: ~18 KB,
  // ~2.7 M instructions of the read) check options, and `ca://NAME` has none: they load when a
  // config file is checked or a Lab opens a device (lib/device/registry.ts optionRulesLoaded).
  const modules = await readPathModules();
  assert.ok(modules.some((m) => m.endsWith("/lib/drivers/epics/driver_info.ts")), "graph walked");
  const rules = modules.filter((m) => /\/lib\/(config|drivers\/epics)\/options\.ts$/.test(m));
  assert.deepEqual(rules, []);
});

Deno.test("labwire read of plain addresses loads no parser of the other address forms", async () => {
  // `scheme://target` a thousand times is read by lib/device/plain_address.ts and
  // lib/config/plain_targets.ts; options, %-escapes, VISA strings, hosts and ports
  // (lib/device/address.ts, visa.ts, host_port.ts) and names from the config file
  // (lib/config/targets.ts) were ~4.6 M instructions of every read of ca:// PVs.
  const modules = await readPathModules();
  assert.ok(modules.some((m) => m.endsWith("/lib/device/plain_address.ts")), "graph walked");
  const forms = modules.filter((m) =>
    /\/lib\/(device\/(address|visa|host_port)|config\/(targets|file_name))\.ts$/.test(m)
  );
  assert.deepEqual(forms, []);
});

Deno.test("labwire read that names no flag loads neither the flag parser nor the flag readers", async () => {
  // cmd/read.ts reads arguments none of which starts with "-" itself (plainReadArgs):
  // cmd/read_args.ts, lib/cli/flags.ts, argv.ts, time_args.ts and lib/config/duration.ts (~23 KB)
  // load for a flag only.
  const modules = await readPathModules();
  assert.ok(modules.some((m) => m.endsWith("/cmd/read.ts")), "graph walked");
  const flags = modules.filter((m) =>
    /\/(cmd\/read_args|lib\/cli\/(flags|argv|time_args)|lib\/config\/duration)\.ts$/.test(m)
  );
  assert.deepEqual(flags, []);
});

Deno.test("labwire read of addresses loads the attribute code only for --attrs or --describe", async () => {
  // A plain read names no attribute: lib/device/attr.ts (~9 KB) loads when one is named.
  const modules = await readPathModules();
  assert.ok(modules.some((m) => m.endsWith("/lib/output/batch_document.ts")), "graph walked");
  assert.deepEqual(modules.filter((m) => m.endsWith("/lib/device/attr.ts")), []);
});

Deno.test("labwire read that one batch covers loads neither the Lab's way nor the record writers", async () => {
  // With --no-lazy every function of a loaded module is compiled and loaded from the code cache:
  // cmd/read_devices.ts (devices one by one, mixed outcomes) and lib/output/record.ts (per-reading
  // writers, readingsDocument, attrRecord) were ~1.6 M instructions of every read of ca:// PVs.
  const modules = await readPathModules();
  assert.ok(modules.some((m) => m.endsWith("/lib/output/batch_document.ts")), "graph walked");
  const general = modules.filter((m) => /\/(cmd\/read_devices|lib\/output\/record)\.ts$/.test(m));
  assert.deepEqual(general, []);
});

Deno.test("labwire read of addresses loads neither the batched output writer nor its timers", async () => {
  // read writes one document: BatchedSink (stream's and query's batches, ~7 KB) and the timers it
  // rides on (lib/schedule/timer.ts, ~9 KB) were ~3 M instructions of every read's start.
  const modules = await readPathModules();
  assert.ok(modules.some((m) => m.endsWith("/lib/output/stdout.ts")), "graph walked");
  const batched = modules.filter((m) => /\/(output\/batched_sink|schedule\/timer)\.ts$/.test(m));
  assert.deepEqual(batched, []);
});

Deno.test("labwire read of an address loads no node: module (Node's compatibility layer)", async () => {
  // node:util alone (for parseArgs) cost ~25 ms of CPU per start: lib/cli/argv.ts replaces it.
  const modules = await readPathModules();
  assert.deepEqual(modules.filter((m) => m.startsWith("node:")), []);
});

Deno.test("labwire read starts without the code of the driver families it may not use", async () => {
  // Each family registers a light driver_info.ts and loads its code on its first open: ~40 ms
  // of CPU at every start when EPICS, Modbus, the message lines and HTTP were all static.
  const modules = await readPathModules();
  assert.ok(modules.some((m) => m.endsWith("/lib/drivers/epics/driver_info.ts")), "graph walked");
  for (const heavy of ["epics", "modbus", "message", "baratron", "derived", "mqtt", "labwire"]) {
    const loaded = modules.filter((m) =>
      m.includes(`/lib/drivers/${heavy}/`) && !/\/(driver_info|options)\.ts$/.test(m)
    );
    assert.deepEqual(loaded, [], `${heavy} is on the start path`);
  }
  // The expression parser of [derived.NAME] devices loads with the derived driver.
  assert.deepEqual(modules.filter((m) => m.endsWith("/lib/device/expression.ts")), []);
  assert.deepEqual(
    modules.filter((m) => /\/lib\/transport\/(serial|stream|http|tcp)\.ts$/.test(m)),
    [],
  );
});

Deno.test("labwire read of ca:// addresses loads no other driver family's option rules", async () => {
  // Every family's driver_info.ts and option rules were static imports of main.ts: the Modbus
  // register-map checker (5 modules), the sim:// kinds, MQTT's value rules, ~30 M instructions
  // of `main.ts --version`. A read registers the families its targets name (families.ts).
  const modules = await readPathModules();
  assert.ok(modules.some((m) => m.endsWith("/lib/drivers/families.ts")), "graph walked");
  const others = modules.filter((m) =>
    /\/lib\/drivers\/[a-z]+\//.test(m) && !m.includes("/lib/drivers/epics/")
  );
  assert.deepEqual(others, []);
  assert.deepEqual(modules.filter((m) => m.includes("/lib/instruments/")), []);
});

Deno.test("deno run reads no other verb's modules before main.ts runs", async () => {
  // `deno run` reads (and hashes) every module its graph reaches through code imports, dynamic
  // ones included, before it runs: with every verb and driver family behind a literal
  // `import()`, a read read all ~290 modules and resolved every npm package (~55 ms of CPU).
  const seen = await reachable(["main.ts"], true);
  assert.ok(seen.some((m) => m.endsWith("/lib/drivers/families.ts")), "graph walked");
  const heavy = seen.filter((m) =>
    /\/cmd\/|\/lib\/server\/|\/lib\/drivers\/[a-z]+\/driver\.ts$|^npm:/.test(m)
  );
  assert.deepEqual(heavy, []);
});

Deno.test("labwire read of ca:// or baratron:// targets loads none of the simulators", async () => {
  // The sim:// kinds and their option rules are one small module (sim/driver_info.ts); the 15
  // modules of the simulators (models, noise, faults, world) loaded at every start when
  // sim/driver.ts was static, and load now on a sim:// open or --demo.
  const modules = await reachable([
    "main.ts",
    "cmd/read.ts",
    // what a read registers for ca:// and baratron:// targets (lib/drivers/families.ts) and
    // loads on their first open (lib/device/lazy_module.ts)
    "lib/drivers/epics/driver_info.ts",
    "lib/drivers/baratron/driver_info.ts",
    "lib/drivers/epics/client_batch.ts",
    "lib/drivers/epics/driver.ts",
    "lib/drivers/baratron/driver.ts",
  ], false);
  assert.ok(modules.some((m) => m.endsWith("/lib/drivers/epics/framing.ts")), "graph walked");
  const sims = modules.filter((m) =>
    /\/lib\/drivers\/(sim\/|simulators\.ts$|demo\.ts$|[a-z]+\/simulator\.ts$)/.test(m)
  );
  assert.deepEqual(sims, []);
});

Deno.test("the batch CA reader loads the general DBR decoder only for a reply that needs it", async () => {
  // A read of a thousand number PVs decodes each reply in place (client_batch.ts #scalar): the
  // decoder, the value mapping and the attribute code load for strings, enums and arrays only.
  // The stream decoder of the shared client (framing.ts) stays off it too: the batch scans its
  // replies itself and writes with frame_writer.ts.
  const modules = await reachable(["lib/drivers/epics/client_batch.ts"], false);
  assert.ok(modules.some((m) => m.endsWith("/lib/drivers/epics/frame_writer.ts")), "graph walked");
  const decoders = modules.filter((m) =>
    /\/lib\/drivers\/epics\/(dbr|driver_values|framing)\.ts$|\/lib\/device\/attr\.ts$/.test(m)
  );
  assert.deepEqual(decoders, []);
});

Deno.test("the modules labwire read of addresses loads are ASCII", async () => {
  // One character beyond ASCII (a dash in a comment) makes V8 hold a module's whole source as
  // two bytes a character, decoded from UTF-8 at every start: ~0.8 M instructions over this
  // graph. Comments write "-", "->", "..."; strings escape theirs ("\u2014").
  const modules = await readPathModules();
  assert.ok(modules.some((m) => m.endsWith("/cmd/read.ts")), "graph walked");
  // Tab, newline and carriage return to "~": every character these files may hold.
  const wide = [];
  for (const m of modules.filter((m) => m.startsWith("file:") && m.endsWith(".ts"))) {
    if (/[^\t-~]/.test(await Deno.readTextFile(new URL(m)))) wide.push(m);
  }
  assert.deepEqual(wide, []);
});

Deno.test("the modules the batch CA reader loads are ASCII", async () => {
  // Loaded by every read of ca:// PVs, as the start path is (above): client_udp.ts had two
  // dashes beyond ASCII, so V8 held it as two bytes a character.
  const modules = await reachable(["lib/drivers/epics/client_batch.ts"], false);
  assert.ok(modules.some((m) => m.endsWith("/lib/drivers/epics/client_udp.ts")), "graph walked");
  const wide = [];
  for (const m of modules.filter((m) => m.startsWith("file:") && m.endsWith(".ts"))) {
    if (/[^\t-~]/.test(await Deno.readTextFile(new URL(m)))) wide.push(m);
  }
  assert.deepEqual(wide, []);
});

Deno.test("labwire read of ca:// PVs loads the device clock without the device model", async () => {
  // cmd/read.ts needs nowSeconds and the batch reader formatMs (lib/device/clock.ts): the model
  // around them (lib/device/device.ts, 7.3 KB) was ~0.4 M instructions of every such read.
  const modules = [
    ...await readPathModules(),
    ...await reachable(["lib/drivers/epics/client_batch.ts"], false),
  ];
  assert.ok(modules.some((m) => m.endsWith("/lib/device/clock.ts")), "graph walked");
  assert.deepEqual(modules.filter((m) => m.endsWith("/lib/device/device.ts")), []);
});
