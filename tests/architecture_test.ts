/**
 * The import direction of DESIGN.md's layer list, checked on the source: every static import,
 * re-export and string-literal dynamic import of every `.ts` file under `lib/` and `cmd/` is
 * parsed, and the test fails when a file imports from a layer above its own, or when files
 * import each other in a cycle.
 *
 * @module
 */
import assert from "node:assert/strict";
import { walk } from "./architecture.ts";
import { findCycles, importsOf, layerOf, LAYERS, violations } from "./architecture.ts";

const ROOT = new URL("../", import.meta.url);

/** Every source file under lib/ and cmd/, with its relative imports resolved to repo paths. */
async function graph(): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const dir of ["lib", "cmd"]) {
    for await (const path of walk(new URL(`${dir}/`, ROOT), dir)) {
      const text = await Deno.readTextFile(new URL(path, ROOT));
      out.set(path, importsOf(path, text));
    }
  }
  return out;
}

Deno.test("architecture: every file under lib/ and cmd/ belongs to a layer", async () => {
  const files = [...(await graph()).keys()];
  assert.ok(files.length > 100, `only ${files.length} files found`);
  const orphans = files.filter((f) => layerOf(f) === undefined);
  assert.deepEqual(orphans, [], "add these folders to LAYERS in tests/architecture.ts");
});

Deno.test("architecture: no file imports from a layer above its own", async () => {
  const found = violations(await graph());
  assert.deepEqual(
    found,
    [],
    "imports against the layer order (DESIGN.md, Layers):\n" + found.join("\n"),
  );
});

Deno.test("architecture: no import cycles between files", async () => {
  const cycles = findCycles(await graph());
  assert.deepEqual(cycles, [], "files that import each other:\n" + cycles.join("\n"));
});

Deno.test("architecture: the checker sees imports a regex on lines would miss or mistake", () => {
  const text = [
    `import { a } from "../device/attr.ts";`,
    `import type {`,
    `  B,`,
    `} from "../device/device.ts";`,
    `export { c } from "./c.ts";`,
    `import "../drivers/mod.ts";`,
    `const m = await import("../server/app.ts");`,
    `/** @example`,
    ` * import { x } from "../cmd/x.ts";`,
    ` */`,
    `// import { y } from "../cmd/y.ts";`,
    `const url = "http://example.com/"; // a string with // inside`,
    `import { z } from "zod";`,
  ].join("\n");
  assert.deepEqual(importsOf("lib/lab/x.ts", text), [
    "lib/device/attr.ts",
    "lib/device/device.ts",
    "lib/lab/c.ts",
    "lib/drivers/mod.ts",
    "lib/server/app.ts",
  ]);
});

Deno.test("architecture: a lower layer importing a higher one is reported; the reverse is not", () => {
  const g = new Map([
    ["lib/device/attr.ts", ["lib/lab/lab.ts"]],
    ["lib/lab/lab.ts", ["lib/device/attr.ts"]],
    ["lib/drivers/sim/driver.ts", ["lib/drivers/baratron/driver.ts"]],
    ["lib/drivers/baratron/driver.ts", ["lib/drivers/sim/faults.ts"]],
  ]);
  assert.deepEqual(violations(g), [
    "lib/device/attr.ts (lib/device) imports lib/lab/lab.ts (lib/lab)",
    "lib/drivers/sim/driver.ts (lib/drivers/sim) imports lib/drivers/baratron/driver.ts (lib/drivers/baratron)",
  ]);
  assert.deepEqual(findCycles(g), ["lib/device/attr.ts -> lib/lab/lab.ts -> lib/device/attr.ts"]);
});

Deno.test("architecture: driver families are peers; the CA server add-on sits in the server layer", () => {
  assert.equal(
    layerOf("lib/drivers/epics/driver.ts")?.rank,
    layerOf("lib/drivers/modbus/x.ts")?.rank,
  );
  assert.notEqual(
    layerOf("lib/drivers/epics/driver.ts")?.name,
    layerOf("lib/drivers/modbus/x.ts")?.name,
  );
  assert.equal(layerOf("lib/server/ca/server.ts")?.name, "lib/server");
  assert.ok(LAYERS.length > 10);
});
