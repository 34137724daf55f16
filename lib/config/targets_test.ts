import assert from "node:assert/strict";
import fc from "fast-check";
import { registerDriver } from "../device/registry.ts";
import { NO_OPTIONS, resolveTargets } from "./targets.ts";

registerDriver({
  scheme: "ca",
  summary: "test",
  example: "ca://X",
  defaultName: (a) => a.target.trim(),
  open: () => Promise.reject(new Error("not opened in this test")),
});

/** The names as the one-set loop gave them before names in order skipped the set. */
function namesOneByOne(names: string[]): string[] {
  const used = new Set<string>();
  return names.map((base) => {
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}#${i}`;
    used.add(name);
    return name;
  });
}

Deno.test("resolveTargets names repeated targets PV#2, PV#3 in the order given, sorted or not", () => {
  // Few names, so repeats are common (" A" is named "A" too); sorted lists take the comparison
  // of neighbours, the others the set.
  const pv = fc.constantFrom("A", "B", "C:1", " A", "A:2", "a");
  fc.assert(
    fc.property(fc.array(pv, { minLength: 1, maxLength: 8 }), fc.boolean(), (pvs, sort) => {
      const list = sort ? [...pvs].sort() : pvs;
      const devices = resolveTargets(list.map((p) => `ca://${p}`), { devices: [], sections: {} });
      assert.deepEqual(devices.map((d) => d.name), namesOneByOne(list.map((p) => p.trim())));
      for (const d of devices) assert.equal(d.options, NO_OPTIONS);
    }),
  );
});

Deno.test("resolveTargets keeps a thousand distinct PVs in order, each its own name", () => {
  const pvs = Array.from({ length: 1000 }, (_, i) => `B:pv${String(i).padStart(6, "0")}`);
  const names = resolveTargets(pvs.map((p) => `ca://${p}`), { devices: [], sections: {} })
    .map((d) => d.name);
  assert.deepEqual(names, pvs);
  const twice = resolveTargets(["ca://B:x", "ca://B:x"], { devices: [], sections: {} });
  assert.deepEqual(twice.map((d) => d.name), ["B:x", "B:x#2"]);
});
