import assert from "node:assert/strict";
import { benchArgs, BENCHES, summaryTable } from "./run.ts";

/** Modules under tests/bench/ that benchmarks import (or run); they measure nothing themselves. */
const LIBRARIES = [
  "ca_read_floor.ts",
  "child.ts",
  "derived_cases.ts",
  "memory_probe.ts",
  "mqtt_central.ts",
  "proc_stats.ts",
  "serve_bare.ts",
  "serve_bench_setup.ts",
  "shipped_flags.ts",
  "targets.ts",
  "run.ts",
];

const dir = new URL("./", import.meta.url);
const scripts = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) => n.endsWith(".ts") && !n.endsWith("_test.ts") && !LIBRARIES.includes(n))
  .sort();

Deno.test("every benchmark script is wired into deno task bench", () => {
  const wired = BENCHES.map((b) => b.script).sort();
  assert.deepEqual(wired, scripts);
  assert.equal(new Set(BENCHES.map((b) => b.name)).size, BENCHES.length, "names are unique");
});

Deno.test("every benchmark script checks its figures against targets", () => {
  for (const s of scripts) {
    const text = Deno.readTextFileSync(new URL(s, dir));
    assert.match(text, /new Targets\(/, `${s} does not check targets`);
    const name = BENCHES.find((b) => b.script === s)!.name;
    assert.ok(text.includes(`new Targets("${name}")`), `${s} reports as "${name}"`);
  }
});

Deno.test("the libraries are imported by benchmarks (they are not benchmarks)", () => {
  const texts = scripts.map((s) => Deno.readTextFileSync(new URL(s, dir)));
  for (const lib of LIBRARIES.filter((l) => l !== "run.ts")) {
    assert.ok(texts.some((t) => t.includes(`"./${lib}"`)), `${lib} is imported by a benchmark`);
  }
});

Deno.test("the summary table has one aligned row per figure", () => {
  const table = summaryTable([
    {
      bench: "scan",
      figure: "overhead median",
      measured: "0.0075 ms",
      target: "<= 0.1 ms",
      ok: true,
    },
    {
      bench: "serve",
      figure: "GET /metrics p99 vs bare",
      measured: "2.1x",
      target: "<= 1.5x",
      ok: false,
    },
  ]);
  const lines = table.split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^\| bench +\| figure +\| measured +\| target +\| result \|$/);
  assert.match(lines[2]!, /^\| scan +\| overhead median +\| 0\.0075 ms \| <= 0\.1 ms \| OK +\|$/);
  assert.match(lines[3]!, /\| MISSED \|$/);
  assert.equal(new Set(lines.map((l) => l.length)).size, 1);
});

Deno.test("the README's benchmark section names every benchmark", () => {
  const readme = Deno.readTextFileSync(new URL("../../README.md", import.meta.url));
  const section = readme.slice(readme.indexOf("## Benchmarks"));
  for (const b of BENCHES) assert.ok(section.includes(`\`${b.name}\``), `README names ${b.name}`);
});

Deno.test("deno task bench: names pick benchmarks, options after -- go to their scripts", () => {
  assert.deepEqual(benchArgs([]), { names: BENCHES.map((b) => b.name), extra: [] });
  assert.deepEqual(benchArgs(["ca-read-many", "--", "--runs", "9"]), {
    names: ["ca-read-many"],
    extra: ["--runs", "9"],
  });
  assert.match(
    benchArgs(["ca-read-many", "--runs", "9"]) as string,
    /^--runs is a script's option: put it after --, e\.g\. deno task bench ca-read-many -- --runs 9$/,
  );
  assert.match(benchArgs(["fanot"]) as string, /^unknown benchmark: fanot; known: fanout, /);
});
