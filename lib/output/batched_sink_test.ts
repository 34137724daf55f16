import assert from "node:assert/strict";
import { evalInChild } from "../../tests/fixtures/deno_eval.ts";
import { onTimeout } from "../schedule/timer.ts";
import { BatchedSink } from "./batched_sink.ts";
import { PipeClosed } from "./stdout.ts";

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

Deno.test("BatchedSink with a delay: writes over several event-loop turns go out as one batch", async () => {
  const calls: string[] = [];
  const sink = new BatchedSink((text) => calls.push(text), 64 * 1024, 300);
  for (const line of ["a\n", "b\n", "c\n"]) {
    sink.write(line);
    // Another turn of the event loop, as between two answers of round trips.
    await new Promise((r) => setTimeout(r, 0));
  }
  assert.deepEqual(calls, [], "held until the batch's delay has passed");
  await new Promise((r) => setTimeout(r, 400));
  assert.deepEqual(calls, ["a\nb\nc\n"]);
  sink.write("d\n");
  sink.flush();
  assert.deepEqual(calls, ["a\nb\nc\n", "d\n"], "flush writes at once");
});

Deno.test("BatchedSink with a delay: a write into an old batch joins it, and the batch goes out once, with its timer", async () => {
  const calls: string[] = [];
  // The earlier tests' timers (300 ms at most) fire first: none is left for the batch to share.
  await new Promise((r) => setTimeout(r, 400));
  // A long delay, so that a loaded machine's slow turns cannot write the batch before "b" joins it.
  const sink = new BatchedSink((text) => calls.push(text), 64 * 1024, 4000);
  sink.write("a\n");
  await new Promise((r) => setTimeout(r, 2100));
  sink.write("b\n"); // the batch is more than half its delay old: still held
  assert.deepEqual(calls, []);
  for (let waited = 0; calls.length === 0 && waited < 10_000; waited += 50) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(calls, ["a\nb\n"]);
  sink.write("c\n"); // a new batch, held again
  assert.deepEqual(calls, ["a\nb\n"]);
  sink.flush();
  assert.deepEqual(calls, ["a\nb\n", "c\n"]);
});

Deno.test("BatchedSink without a target: the bytes of every write reach stdout in order, past the buffer and in any script", async () => {
  const module = import.meta.resolve("./batched_sink.ts");
  const code = `
    import { BatchedSink } from "${module}";
    const sink = new BatchedSink(undefined, 1000);
    for (let i = 0; i < 3000; i++) sink.write(\`{"i":\${i},"s":"µ€𝄞"}\\n\`);
    sink.write("x".repeat(5000) + "\\n"); // longer than the buffer
    await new Promise((r) => setTimeout(r, 5)); // the background write
    sink.write("last\\n");
    sink.flush();
  `;
  const stdout = await evalInChild(code);
  const want = Array.from({ length: 3000 }, (_, i) => `{"i":${i},"s":"µ€𝄞"}\n`).join("") +
    "x".repeat(5000) + "\nlast\n";
  assert.equal(stdout, want);
});

Deno.test("BatchedSink with a delay: a batch goes out with a timer already armed within its delay, not on one of its own", async () => {
  const calls: string[] = [];
  let other = false;
  onTimeout(100, () => other = true);
  // A minute: the batch goes out with the 100 ms timer (or a later one armed by an earlier test
  // of this process, all of them due within seconds), not a minute later.
  const sink = new BatchedSink((text) => calls.push(text), 64 * 1024, 60_000);
  sink.write("a\n");
  sink.write("b\n");
  for (let waited = 0; calls.length === 0 && waited < 10_000; waited += 50) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(other, true);
  assert.deepEqual(calls, ["a\nb\n"]);
  // Once written, the next batch is still written at the latest its delay after it began.
  const late = new BatchedSink((text) => calls.push(text), 64 * 1024, 200);
  late.write("c\n");
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(calls, ["a\nb\n", "c\n"]);
});

Deno.test("BatchedSink: a character outside the BMP cut between two writes or parts comes out whole, also across a flush", () => {
  const text = 'a😀b🧪\u{1d11e}"' + "\n";
  const cuts = [2, 5, 7]; // each between the two UTF-16 units of a character
  for (const bytes of [true, false]) {
    const got: string[] = [];
    const decoder = new TextDecoder();
    const sink = bytes
      ? new BatchedSink(undefined, 1000, 0, (b) => got.push(decoder.decode(b, { stream: true })))
      : new BatchedSink((t) => got.push(t));
    sink.write(text.slice(0, cuts[0]));
    sink.flush(); // a batch goes out between the two halves
    sink.part(text, cuts[0], cuts[1]);
    sink.part(""); // an empty piece changes nothing
    sink.part(text.slice(cuts[1], cuts[2]));
    sink.write(text.slice(cuts[2]));
    sink.write("\ud83dx\n"); // a lone high surrogate: U+FFFD in bytes, as the encoder makes it
    sink.flush();
    const lone = bytes ? "\ufffd" : "\ud83d";
    assert.equal(got.join(""), text + lone + "x\n", bytes ? "bytes" : "text");
  }
});

Deno.test("BatchedSink.end: a high surrogate held at the last write goes out alone, as TextEncoder writes it", () => {
  for (const bytes of [true, false]) {
    const got: string[] = [];
    const raw: number[] = [];
    const sink = bytes
      ? new BatchedSink(undefined, 1000, 0, (b) => raw.push(...b))
      : new BatchedSink((t) => got.push(t));
    sink.write("a\ud83d");
    sink.flush(); // a flush between writes still holds it for its low half
    sink.end();
    if (bytes) assert.deepEqual(raw, [...new TextEncoder().encode("a\ud83d")], "bytes");
    else assert.equal(got.join(""), "a\ud83d", "text");
    sink.end(); // nothing more to write
    if (bytes) assert.equal(raw.length, 4);
    else assert.equal(got.join(""), "a\ud83d");
  }
});

Deno.test("BatchedSink without a target: texts and parts of every length, short and long, are the bytes TextEncoder makes of them", () => {
  const encoder = new TextEncoder();
  const alphabet = ["a", "{", '"', "µ", "€", "😀", "\ud83d", "\udc00", "\n"];
  for (let n = 0; n <= 130; n++) {
    // ASCII with, from n = 20 on, a non-ASCII character or a lone surrogate in its middle.
    let text = "";
    for (let i = 0; i < n; i++) {
      text += n >= 20 && i === n >> 1 ? alphabet[n % alphabet.length]! : String(i % 10);
    }
    const raw: number[] = [];
    const sink = new BatchedSink(undefined, 1 << 20, 0, (b) => raw.push(...b));
    sink.part("[");
    sink.part(text);
    sink.part(`<${text}>`, 1, text.length + 1);
    sink.write("]\n");
    sink.flush();
    const want = encoder.encode(`[${text}${text}]\n`);
    assert.deepEqual(raw, [...want], `length ${n}`);
  }
});
