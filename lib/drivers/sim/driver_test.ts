import assert from "node:assert/strict";
import { parseAddress } from "../../device/address.ts";
import type { Value } from "../../device/attr.ts";
import { TimeoutError, UsageError } from "../../device/errors.ts";
import { openDevice } from "../../lab/open.ts";
import { findDriver, registerDriver } from "../../device/registry.ts";
import { createSim, openSim, simDriver } from "./driver.ts";
import { SIM_KINDS } from "./kinds.ts";
import { SIM_INFO, SIM_KIND_INFO, SIM_KIND_NAMES, simOptionRules } from "./driver_info.ts";

const T0 = 1_764_000_000_000;
// Registered here rather than through lib/drivers/mod.ts, so these tests need no other driver.
registerDriver(simDriver);

Deno.test("sim:// registers under its scheme and names devices by kind or id", () => {
  assert.equal(findDriver("sim"), simDriver);
  assert.equal(simDriver.defaultName!(parseAddress("sim://gauge?seed=3")), "gauge");
  assert.equal(simDriver.defaultName!(parseAddress("sim://motor?id=m2")), "m2");
});

Deno.test("an unknown kind is a usage error listing the kinds, with did-you-mean", async () => {
  await assert.rejects(() => openSim(parseAddress("sim://gauges")), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /kinds: gauge, thermo, motor, dmm, det, bank/);
    assert.equal(e.hint, 'did you mean "gauge"?');
    return true;
  });
});

Deno.test("every kind of the start-up list (driver_info.ts) has its model, in the same order", () => {
  assert.deepEqual(SIM_KINDS.map((k) => k.kind), SIM_KIND_NAMES);
  for (const k of SIM_KINDS) {
    assert.deepEqual(k.options, SIM_KIND_INFO[k.kind as keyof typeof SIM_KIND_INFO].options);
  }
});

Deno.test("the registry's sim:// entry checks kinds and options without the simulators", () => {
  // lib/drivers/mod.ts registers SIM_INFO and loads ./driver.ts on the first open.
  assert.equal(SIM_INFO.options, simDriver.options);
  assert.deepEqual(Object.keys(simOptionRules("Gauge/")!.rules).slice(-2), ["setpoint", "units"]);
  assert.equal(simOptionRules("gauges"), undefined);
  assert.equal(simOptionRules("constructor"), undefined);
  assert.equal(SIM_INFO.summary, simDriver.summary);
});

Deno.test("openDevice applies ?timeout= and config options reach the kind", async () => {
  const slow = await openDevice({
    name: "g",
    address: parseAddress("sim://gauge?timeout=40ms&timeout_rate=1"),
    interval: 1000,
    options: {},
  });
  assert.equal(slow.name, "g");
  await assert.rejects(() => slow.read(), (e: unknown) => {
    assert.ok(e instanceof TimeoutError);
    assert.match(e.message, /within 40 ms/);
    return true;
  });
  await slow.close();
  const cfg = await openDevice({
    name: "chamber",
    address: parseAddress("sim://gauge?seed=1"),
    interval: 1000,
    options: { setpoint: 100, units: "Pa" },
  });
  const v = await cfg.read();
  assert.equal(v.pressure_units, "Pa");
  assert.ok(Math.abs((v.pressure as number) - 100) < 5);
  await cfg.close();
  await assert.rejects(
    () =>
      openDevice({
        name: "x",
        address: parseAddress("sim://gauge"),
        interval: 1000,
        options: { setpiont: 1 },
      }),
    /unknown option "setpiont"/,
  );
});

Deno.test("devices with the same seed agree; another seed does not", async () => {
  let t = T0;
  const clock = () => t;
  for (const kind of ["gauge", "thermo", "dmm", "bank"]) {
    const a = createSim(parseAddress(`sim://${kind}?seed=11`), {}, clock);
    const b = createSim(parseAddress(`sim://${kind}?seed=11`), {}, clock);
    const c = createSim(parseAddress(`sim://${kind}?seed=12`), {}, clock);
    let differ = 0;
    for (let i = 0; i < 20; i++, t += 997) {
      const va = await a.read();
      // b is read more often than a: the values still agree at the same instant.
      await b.read();
      assert.deepEqual(await b.read(), va, kind);
      if (JSON.stringify(await c.read()) !== JSON.stringify(va)) differ++;
    }
    assert.ok(differ > 10, `${kind}: seed 12 differs from seed 11`);
    await Promise.all([a.close(), b.close(), c.close()]);
  }
  const d1 = createSim(parseAddress("sim://det?seed=3&motor=sd"), {}, clock);
  const d2 = createSim(parseAddress("sim://det?seed=3&motor=sd"), {}, clock);
  assert.deepEqual(await d1.read(), await d2.read());
  await Promise.all([d1.close(), d2.close()]);
});

Deno.test("every kind reads every declared attribute with its declared type", async () => {
  const ok = (type: string, v: Value, options?: string[]) => {
    switch (type) {
      case "number":
        return typeof v === "number" && Number.isFinite(v);
      case "integer":
        return Number.isInteger(v);
      case "boolean":
        return typeof v === "boolean";
      case "string":
        return typeof v === "string";
      case "enum":
        return typeof v === "string" && (options ?? []).includes(v);
      default:
        return false;
    }
  };
  for (const k of SIM_KINDS) {
    assert.ok(k.summary.length > 10);
    const d = createSim(
      parseAddress(`sim://${k.kind}?id=every_${k.kind}${k.kind === "det" ? "&motor=every" : ""}`),
    );
    const attrs = await d.attrs();
    const values = await d.read(attrs.map((a) => a.name));
    for (const a of attrs) {
      assert.ok(a.description, `${k.kind}.${a.name} has a description`);
      assert.ok(ok(a.type, values[a.name]!, a.options), `${k.kind}.${a.name} = ${values[a.name]}`);
      if (a.type === "number") assert.notEqual(a.precision, undefined, `${k.kind}.${a.name}`);
    }
    assert.ok(Object.keys(await d.read()).length > 0, `${k.kind} has a default reading`);
    await d.close();
  }
});
