import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { loadModule } from "./lazy_module.ts";

const ROOT = new URL("../../", import.meta.url);

/** Every `loadModule<typeof import("X")>(new URL("Y", import.meta.url))` of the program's code. */
async function lazyTargets(): Promise<{ file: string; typed: string; loaded: string }[]> {
  const out: { file: string; typed: string; loaded: string }[] = [];
  const walk = async (dir: URL, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory && ["cmd", "lib"].includes(path.split("/")[0]!)) {
        await walk(new URL(`${e.name}/`, dir), path);
      } else if (e.isFile && path.endsWith(".ts") && !path.endsWith("_test.ts")) {
        if (rel === "" && path !== "main.ts") continue;
        const text = await Deno.readTextFile(new URL(e.name, dir));
        const re = /loadModule<typeof import\("([^"]+)"\)>\(\s*new URL\("([^"]+)"/g;
        for (const m of text.matchAll(re)) {
          const base = new URL(path, ROOT);
          const typed = new URL(m[1]!, base).pathname.slice(ROOT.pathname.length);
          const loaded = new URL(m[2]!, base).pathname.slice(ROOT.pathname.length);
          out.push({ file: path, typed, loaded });
        }
      }
    }
  };
  await walk(ROOT, "");
  return out;
}

Deno.test("every module loaded by loadModule is the one its type names and is in deno compile's --include", async () => {
  const targets = await lazyTargets();
  // main.ts's verbs and the driver families at least
  assert.ok(targets.some((t) => t.loaded === "cmd/read.ts"));
  assert.ok(targets.some((t) => t.loaded === "lib/drivers/baratron/driver.ts"));
  const included = new Set(
    [...denoJson.tasks.compile.matchAll(/--include (\S+)/g)].map((m) => m[1]),
  );
  for (const t of targets) {
    assert.equal(t.loaded, t.typed, `${t.file}: loads ${t.loaded} but is typed as ${t.typed}`);
    assert.ok(included.has(t.loaded), `${t.file} loads ${t.loaded}: add --include ${t.loaded}`);
  }
});

Deno.test("loadModule imports a module by its URL", async () => {
  const mod = await loadModule<typeof import("./lazy_module.ts")>(
    new URL("./lazy_module.ts", import.meta.url),
  );
  assert.equal(mod.loadModule, loadModule);
});
