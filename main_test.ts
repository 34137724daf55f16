import assert from "node:assert/strict";
import { errorLine, main, VERBS } from "./main.ts";

Deno.test("every verb loads, and main's summary is the command's own", async () => {
  for (const verb of VERBS) {
    const command = await verb.load();
    assert.equal(command.name, verb.name);
    assert.equal(verb.summary, command.summary, `summary of ${verb.name}`);
    assert.ok(command.help.includes(`labwire ${verb.name}`), `${verb.name} --help shows usage`);
    assert.match(command.help, /Examples?:/, `${verb.name} --help has examples`);
  }
});

Deno.test("main returns usage errors as exit codes instead of exiting", async () => {
  assert.equal(await main(["--version"]), 0);
  assert.equal(await main(["no-such-verb"]), 2);
  assert.equal(await main(["read", "--no-such-flag"]), 2);
});

Deno.test("the README's verb table lists every verb", async () => {
  const readme = await Deno.readTextFile(new URL("./README.md", import.meta.url));
  const start = readme.indexOf("## Every verb at a glance");
  const table = readme.slice(start, readme.indexOf("\n\n", readme.indexOf("| verb", start)));
  const listed = [...table.matchAll(/^\| `labwire ([a-z]+)/gm)].map((m) => m[1]);
  assert.deepEqual(listed, VERBS.map((v) => v.name));
});

Deno.test("a verb's error names the verb once, and a subcommand it names goes into the prefix", () => {
  const cases: [verb: string, message: string, line: string][] = [
    [
      "session",
      "session info: give the session FILE",
      "labwire session info: give the session FILE",
    ],
    ["position", "position save: give a NAME", "labwire position save: give a NAME"],
    // other messages keep the verb's prefix as they are
    ["read", "gauge: no answer within 1 s", "labwire read: gauge: no answer within 1 s"],
    [
      "task",
      "task start needs a DEVICE and a TECHNIQUE",
      "labwire task: task start needs a DEVICE and a TECHNIQUE",
    ],
    ["scan", "scan.toml: not valid TOML", "labwire scan: scan.toml: not valid TOML"],
  ];
  for (const [verb, message, line] of cases) assert.equal(errorLine(verb, message), line);
  assert.equal(errorLine("session", "x", (s) => `<${s}>`), "<labwire session:> x");
  assert.equal(errorLine("session", "session add: x", (s) => `<${s}>`), "<labwire session add:> x");
});

Deno.test("a verb's own usage error does not repeat the verb after main's prefix", async () => {
  const cases: string[][] = [
    ["devices", "bench.toml", "extra"],
    ["monitor", "bench.toml", "extra"],
    ["serve", "bench.toml", "extra"],
    ["query"],
    ["write"],
  ];
  const original = console.error;
  try {
    for (const args of cases) {
      const lines: string[] = [];
      console.error = (...parts: unknown[]) => lines.push(parts.join(" "));
      assert.equal(await main(args), 2, args.join(" "));
      const first = lines[0] ?? "";
      assert.match(first, new RegExp(`^labwire ${args[0]}: `), first);
      assert.doesNotMatch(first, new RegExp(`^labwire ${args[0]}: ${args[0]} `), first);
    }
  } finally {
    console.error = original;
  }
});
