import assert from "node:assert/strict";

const MODULE = new URL("./reader_gone.ts", import.meta.url).href;

Deno.test("stdoutReaderGone: false while the pipe's reader is there, true once it closed it", async () => {
  // A child asks once, says so on stderr, then asks until the answer changes (10 s hang guard).
  const code = `
    import { stdoutReaderGone } from "${MODULE}";
    console.error("first " + stdoutReaderGone());
    const end = Date.now() + 10_000;
    while (!stdoutReaderGone() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    console.error("then " + stdoutReaderGone());
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) break;
    text += value;
  }
  assert.equal(text, "first false\n");
  await child.stdout.cancel();
  while (true) {
    const { value, done } = await lines.read();
    if (done) break;
    text += value;
  }
  await child.status;
  assert.equal(text, "first false\nthen true\n");
});
