import assert from "node:assert/strict";
import { main, VERBS } from "./main.ts";

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
