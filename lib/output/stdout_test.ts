import assert from "node:assert/strict";
import { BatchedSink, PipeClosed } from "./stdout.ts";

Deno.test("BatchedSink: one write per event-loop turn, in order; a failed write reaches the writer", async () => {
  const calls: string[] = [];
  const sink = new BatchedSink((text) => calls.push(text));
  sink.write("a\n");
  sink.write("b\n");
  assert.equal(calls.length, 0);
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(calls, ["a\nb\n"]);
  const small = new BatchedSink((text) => calls.push(text), 4);
  small.write("12345"); // past the limit: written at once
  assert.equal(calls.at(-1), "12345");

  let closed = false;
  const broken = new BatchedSink(() => {
    if (closed) throw new PipeClosed();
  });
  broken.write("x\n");
  closed = true;
  await new Promise((r) => setTimeout(r, 5)); // the background write fails…
  assert.throws(() => broken.write("y\n"), PipeClosed); // …and the next write says so
  assert.throws(() => broken.flush(), PipeClosed);
});
