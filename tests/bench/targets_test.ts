import assert from "node:assert/strict";
import { figureLine, FIGURES_ENV, formatNumber, parseFigureLine, Targets } from "./targets.ts";

Deno.test("a figure line parses back to the figure", () => {
  const f = {
    bench: "serve",
    figure: "GET /api/devices req/s vs bare",
    measured: "91.2 %",
    target: ">= 85 %",
    ok: true,
  };
  assert.deepEqual(parseFigureLine(figureLine(f)), f);
  const missed = { ...f, ok: false, measured: "12 %" };
  assert.equal(
    figureLine(missed),
    "MISSED | serve | GET /api/devices req/s vs bare | 12 % | >= 85 %",
  );
  assert.deepEqual(parseFigureLine(figureLine(missed)), missed);
  assert.equal(parseFigureLine("fan-out: 1000 gauges"), undefined);
});

Deno.test("check compares with the limit; NaN misses; figures go to the file", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/figures.jsonl`;
  const before = Deno.env.get(FIGURES_ENV);
  Deno.env.set(FIGURES_ENV, path);
  const log = console.log;
  const printed: string[] = [];
  console.log = (s: string) => printed.push(s);
  try {
    const t = new Targets("x");
    assert.equal(t.check("at most", 10, "<=", 10, "ms"), true);
    assert.equal(t.check("at least", 0.5, ">=", 0.85), false);
    assert.equal(t.check("nan", NaN, "<=", 1), false);
    assert.equal(t.require("delivered", true, "yes", "yes"), true);
    assert.equal(t.ok, false);
    assert.deepEqual(printed, [
      "OK     | x | at most | 10 ms | <= 10 ms",
      "MISSED | x | at least | 0.5 | >= 0.85",
      "MISSED | x | nan | NaN | <= 1",
      "OK     | x | delivered | yes | yes",
    ]);
    const lines = (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines, t.figures);
  } finally {
    console.log = log;
    if (before === undefined) Deno.env.delete(FIGURES_ENV);
    else Deno.env.set(FIGURES_ENV, before);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("formatNumber keeps a few significant decimals", () => {
  assert.equal(formatNumber(3), "3");
  assert.equal(formatNumber(7.8349), "7.83");
  assert.equal(formatNumber(0.22912), "0.229");
  assert.equal(formatNumber(141.53), "141.5");
  assert.equal(formatNumber(0.0075123), "0.00751");
  assert.equal(formatNumber(NaN), "NaN");
});

Deno.test("finish exits 1 on a miss or when nothing was checked, 0 when all met", async () => {
  const url = new URL("./targets.ts", import.meta.url).href;
  const run = async (body: string) =>
    (await new Deno.Command(Deno.execPath(), {
      args: ["eval", `import { Targets } from "${url}"; const t = new Targets("x"); ${body}`],
      stdout: "null",
      stderr: "null",
      env: { [FIGURES_ENV]: "" },
    }).output()).code;
  assert.equal(await run(`t.check("a", 1, "<=", 2); t.finish();`), 0);
  assert.equal(await run(`t.check("a", 1, "<=", 2); t.check("b", 3, "<=", 2); t.finish();`), 1);
  assert.equal(await run(`t.finish();`), 1);
  assert.equal(await run(`t.missingPeer(["wrk"], "apt-get install wrk");`), 1);
});
