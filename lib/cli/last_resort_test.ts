import assert from "node:assert/strict";

// The handlers are process-wide, so they are exercised in a child process of their own.
const CHILD = `
import { installLastResort } from ${
  JSON.stringify(new URL("./last_resort.ts", import.meta.url).href)
};
installLastResort();
Promise.reject(new Error("lost promise"));
setTimeout(() => { throw new Error("thrown in a timer"); }, 10);
setTimeout(() => console.log("still alive"), 100);
`;

Deno.test("last resort: an unhandled rejection and an uncaught error are logged, the process lives on", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", CHILD],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "still alive");
  assert.match(stderr, /labwire: unhandled rejection .*Error: lost promise/);
  assert.match(stderr, /labwire: unhandled error .*Error: thrown in a timer/);
});
