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

Deno.test("a verb's error line: the verb once, and the subcommand a usage error carries", () => {
  assert.equal(
    errorLine("read", "gauge: no answer within 1 s"),
    "labwire read: gauge: no answer within 1 s",
  );
  assert.equal(
    errorLine("session", "give the session FILE", undefined, "info"),
    "labwire session info: give the session FILE",
  );
  // a message is never parsed for a subcommand: only the error says which it is
  assert.equal(
    errorLine("scan", "scan.toml: not valid TOML"),
    "labwire scan: scan.toml: not valid TOML",
  );
  assert.equal(errorLine("session", "x", (s) => `<${s}>`), "<labwire session:> x");
  assert.equal(errorLine("session", "x", (s) => `<${s}>`, "add"), "<labwire session add:> x");
});

Deno.test("a subcommand's usage error names the verb and the subcommand once, in the prefix", async () => {
  const cases: [args: string[], line: string][] = [
    [["task", "start"], "labwire task start: give a DEVICE and a TECHNIQUE"],
    [["task", "stop"], "labwire task stop: give one task ID, e.g. labwire task stop t3"],
    [["task", "list", "x"], 'labwire task list: unexpected "x"; filter with --device or --state'],
    [["task", "data", "t1", "--device", "d"], "labwire task data: --device does not apply here"],
    [["position", "save"], "labwire position save: give a NAME"],
    [
      ["task", "start", "--local", "--demo", "thermo", "sampel"],
      'labwire task start: thermo cannot run "sampel"; it can run: sample, hold',
    ],
    [["session", "info"], "labwire session info: give the session FILE"],
    // a mistake the session reader finds is said under the subcommand too
    [
      ["session", "info", "/nonexistent/x.sqlite"],
      "labwire session info: no session file /nonexistent/x.sqlite",
    ],
    [
      ["position", "save", "bad name", "m.x"],
      'labwire position save: "bad name" is not a position name: use letters, digits, _ . and - (at most 64)',
    ],
    [
      ["session", "add", "f.sqlite"],
      "labwire session add: give KEY=VALUE pairs, e.g. flow_sccm=20 valve=open",
    ],
  ];
  const original = console.error;
  try {
    for (const [args, line] of cases) {
      const lines: string[] = [];
      console.error = (...parts: unknown[]) => lines.push(parts.join(" "));
      assert.equal(await main([...args, "--no-color"]), 2, args.join(" "));
      assert.equal(lines[0], line, args.join(" "));
    }
  } finally {
    console.error = original;
  }
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
