import assert from "node:assert/strict";
import { targetSchemes } from "./families.ts";

const ROOT = new URL("../../", import.meta.url);

/** Runs `code` (a module in this checkout's root) in a fresh Deno and returns its stdout. */
async function run(code: string, cwd = ROOT.pathname): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", `${ROOT.pathname}deno.json`, "--ext=ts", code],
    cwd,
    env: { LABWIRE_CONFIG: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, err);
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("targetSchemes: the schemes of addresses, undefined for a target that is not one", () => {
  assert.deepEqual(
    targetSchemes(["ca://A", "ca://B", "SIM://gauge", "ca://C"]),
    new Set(["ca", "sim"]),
  );
  assert.deepEqual(targetSchemes([]), new Set());
  assert.equal(targetSchemes(["ca://A", "gauge"]), undefined);
  assert.equal(targetSchemes(["TCPIP0::10.0.0.5::INSTR"]), undefined);
  // a target that only starts like the last one's prefix is read again
  assert.deepEqual(targetSchemes(["ca://A", "ca:/B"]), undefined);
});

Deno.test("registerFamilies registers the families named and none of the others", async () => {
  const root = ROOT.href;
  const out = await run(`
    import { registerFamilies } from "${root}lib/drivers/families.ts";
    import { findDriver, listDrivers } from "${root}lib/device/registry.ts";
    await registerFamilies(["ca"]);
    console.log(JSON.stringify(listDrivers().map((d) => d.scheme)));
    console.log(Object.keys(findDriver("ca").options!("X:m1")!.rules).join(","));
    await registerFamilies(["modbus+rtu"]);
    console.log(JSON.stringify(listDrivers().map((d) => d.scheme)));
  `);
  const [first, rules, second] = out.split("\n");
  assert.deepEqual(JSON.parse(first!), ["ca"]);
  assert.match(rules!, /^timeout,/);
  assert.deepEqual(JSON.parse(second!), ["ca", "modbus", "modbus+rtu"]);
});

Deno.test("a family registered without its option rules has them once optionRulesLoaded resolves", async () => {
  // A read of plain ca:// addresses registers the EPICS family without its rules; whatever checks
  // options (a config file, a Lab's open) awaits optionRulesLoaded first, and a check that did
  // not is a loud bug rather than options passed unchecked.
  const root = ROOT.href;
  const out = await run(`
    import { registerFamilies } from "${root}lib/drivers/families.ts";
    import { findDriver, optionRulesLoaded } from "${root}lib/device/registry.ts";
    await registerFamilies(["ca"], false);
    try { findDriver("ca").options!("X:m1"); } catch (err) { console.log((err as Error).message); }
    await optionRulesLoaded();
    console.log(Object.keys(findDriver("ca").options!("X:m1")!.rules).join(","));
  `);
  const [before, after] = out.split("\n");
  assert.equal(before, "ca:// option rules used before loadOptions");
  assert.equal(after, "timeout,wait,as_string,pvs,motor,move_guard");
});

Deno.test("an unknown scheme registers every family, so the error lists them in their order", async () => {
  const root = ROOT.href;
  const out = await run(`
    import { registerFamilies } from "${root}lib/drivers/families.ts";
    import { findDriver } from "${root}lib/device/registry.ts";
    await registerFamilies(["ca"]);
    await registerFamilies(["nosuch"]);
    try { findDriver("nosuch"); } catch (err) { console.log((err as Error).message); }
  `);
  assert.equal(
    out,
    'no driver for "nosuch://"; known: ca://, sim://, baratron://, tcp://, serial://, scpi://, ' +
      "modbus://, modbus+rtu://, mqtt://, mqtts://, labwire://, labwire+https://, derived://",
  );
});

Deno.test("a config file is checked with every family's rules, handed over by the lab layer", async () => {
  // lib/config may not import the drivers: lib/lab/setup.ts hands registerAllFamilies to the
  // config loader, so a read of ca:// addresses beside a config file still checks the file's
  // Modbus register tables (the register-map checker loads with the Modbus family).
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/labwire.toml`,
      `[devices.raw]
address = "modbus://127.0.0.1:1502?unit=1"
registers.a = { register = 40001, type = "int32" }
registers.b = { register = 40002, type = "int16" }
`,
    );
    const root = ROOT.href;
    const out = await run(
      `
    import { loadLabConfig } from "${root}lib/lab/setup.ts";
    try {
      await loadLabConfig({ targets: ["ca://X:m1"] });
      console.log("loaded");
    } catch (err) { console.log((err as Error).message); }
  `,
      dir,
    );
    assert.match(out, /overlaps/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
