import assert from "node:assert/strict";
import { TimeoutError } from "../device/errors.ts";
import type { ByteStream, IoOptions } from "./byte_stream.ts";
import type { Framer } from "./framing.ts";
import { MessageLine } from "./message.ts";
import { type Keyed, UnansweredBefore } from "./pipeline.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A stream the test drives: it records every write and delivers what `answer` pushes. */
class ScriptedStream implements ByteStream {
  readonly label = "test://line";
  closed = false;
  connected = true;
  readonly opens = 1;
  /** Every write, as text. */
  readonly writes: string[] = [];
  resets = 0;
  #queued: Uint8Array[] = [];
  #wake: (() => void) | undefined;

  connect(): Promise<void> {
    return Promise.resolve();
  }

  write(bytes: Uint8Array): Promise<void> {
    this.writes.push(dec.decode(bytes));
    return Promise.resolve();
  }

  read(opts: IoOptions = {}): Promise<Uint8Array> {
    const next = this.#queued.shift();
    if (next) return Promise.resolve(next);
    return new Promise((resolve, reject) => {
      const wake = () => resolve(this.#queued.shift()!);
      this.#wake = wake;
      const fail = (reason: unknown) => {
        if (this.#wake === wake) this.#wake = undefined;
        reject(reason);
      };
      opts.cancel?.hook(fail);
      opts.signal?.addEventListener("abort", () => fail(opts.signal!.reason), { once: true });
    });
  }

  /** Delivers `bytes` to the reader. */
  answer(bytes: string | Uint8Array): void {
    this.#queued.push(typeof bytes === "string" ? enc.encode(bytes) : bytes);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  discard(): void {
    this.#queued = [];
  }

  reset(): void {
    this.resets++;
  }

  close(): void {
    this.closed = true;
  }
}

/** A toy keyed protocol: "key:value\n". */
const parse = (framer: Framer): Keyed<string> | undefined => {
  const raw = framer.line(enc.encode("\n"));
  if (raw === undefined) return undefined;
  const [k, v] = dec.decode(raw).split(":");
  return { key: Number(k), value: v! };
};

/** Lets queued microtasks and promise reactions run (the pipeline writes in one). */
const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("window 8: queries made together go out in one write; answers come back in order", async () => {
  const s = new ScriptedStream();
  const line = new MessageLine(s, { window: 8 });
  assert.equal(line.window, 8);
  const answers = Promise.all(["A?", "B?", "C?"].map((c) => line.query(c)));
  await settle();
  assert.deepEqual(s.writes, ["A?\nB?\nC?\n"]);
  s.answer("1\n2\r\n");
  s.answer("3\n");
  assert.deepEqual(await answers, ["1", "2", "3"]);
  line.close();
});

Deno.test("the window bounds what is in flight; the rest goes out as answers land", async () => {
  const s = new ScriptedStream();
  const line = new MessageLine(s, { window: 2 });
  const answers = Promise.all(["A?", "B?", "C?", "D?"].map((c) => line.query(c)));
  await settle();
  assert.deepEqual(s.writes, ["A?\nB?\n"]);
  s.answer("1\n");
  await settle();
  assert.deepEqual(s.writes, ["A?\nB?\n", "C?\n"]);
  s.answer("2\n3\n4\n");
  assert.deepEqual(await answers, ["1", "2", "3", "4"]);
  line.close();
});

Deno.test("in order: a timeout closes the connection under the requests behind it", async () => {
  const s = new ScriptedStream();
  const line = new MessageLine(s, { window: 8 });
  const a = line.query("A?", { timeout: 30 });
  const b = line.query("B?", { timeout: 5000 });
  let first = "";
  await assert.rejects(a, (e) => {
    assert.ok(e instanceof TimeoutError);
    assert.match(e.message, /no answer to "A\?" within 30 ms; check the address, /);
    first = e.message;
    return true;
  });
  // The request behind fails with the first cause and what to check: whichever of the two
  // reaches the user, it names the request that got no answer.
  await assert.rejects(b, (e) => {
    assert.ok(e instanceof UnansweredBefore);
    assert.equal(e.message, first);
    assert.equal(e.request, "A?");
    return true;
  });
  assert.equal(s.resets, 1);
  // The next query is a fresh start: its answer is its own.
  const c = line.query("C?");
  await settle();
  s.answer("3\n");
  assert.equal(await c, "3");
  // The deadline reads as every other duration in messages does (formatMs): 1.2 s, not 1200 ms.
  const slow = line.query("S?", { timeout: 1200 });
  const behind = line.query("T?", { timeout: 5000 });
  await assert.rejects(slow, TimeoutError);
  await assert.rejects(behind, (e) => {
    assert.ok(e instanceof TimeoutError);
    assert.match(e.message, /no answer to "S\?" within 1\.2 s; /);
    return true;
  });
  line.close();
});

Deno.test("keyed answers match their requests in any order; a lost one is dropped, not the link", async () => {
  const s = new ScriptedStream();
  const line = new MessageLine(s, { window: 8 });
  const send = (key: number, timeout = 5000) =>
    line.send(enc.encode(`${key}\n`), key, parse, { timeout }, `request ${key}`);
  const one = send(1, 40);
  const two = send(2);
  const three = send(3);
  await settle();
  assert.deepEqual(s.writes, ["1\n2\n3\n"]);
  s.answer("3:c\n2:b\n");
  assert.equal(await three, "c");
  assert.equal(await two, "b");
  // The device answers, just not request 1: it fails alone and the connection stays.
  await assert.rejects(one, TimeoutError);
  assert.equal(s.resets, 0);
  const four = send(4);
  await settle();
  s.answer("1:late\n4:d\n");
  assert.equal(await four, "d");
  assert.equal(line.strays, 1);
  line.close();
});

Deno.test("an exchange waiting for the line gets it between flights, never inside one", async () => {
  const s = new ScriptedStream();
  const line = new MessageLine(s, { window: 8 });
  const first = Promise.all([line.query("A?"), line.query("B?")]);
  await settle();
  const ex = line.exchange(async (io) => {
    await io.write("X");
    return await io.readLine();
  });
  const later = line.query("C?");
  await settle();
  // C? waits behind the exchange, which waits for A? and B? to land.
  assert.deepEqual(s.writes, ["A?\nB?\n"]);
  s.answer("1\n2\n");
  assert.deepEqual(await first, ["1", "2"]);
  await settle();
  assert.deepEqual(s.writes, ["A?\nB?\n", "X\n"]);
  s.answer("x\n");
  assert.equal(await ex, "x");
  await settle();
  assert.deepEqual(s.writes, ["A?\nB?\n", "X\n", "C?\n"]);
  s.answer("3\n");
  assert.equal(await later, "3");
  line.close();
});

Deno.test("between flights the pipeline keeps the line: stale bytes are dropped, an exchange gets it at once", async () => {
  const s = new ScriptedStream();
  const line = new MessageLine(s, { window: 8 });
  const a = line.query("A?");
  await settle();
  s.answer("1\n");
  assert.equal(await a, "1");
  // Nothing in flight: a late line arrives; the next query does not take it for its answer.
  s.answer("stale\n");
  const b = line.query("B?");
  await settle();
  s.answer("2\n");
  assert.equal(await b, "2");
  // An exchange on the idle line runs at once, reading the stream itself.
  const ex = line.exchange(async (io) => {
    await io.write("X");
    return await io.readLine();
  });
  await settle();
  assert.deepEqual(s.writes, ["A?\n", "B?\n", "X\n"]);
  s.answer("x\n");
  assert.equal(await ex, "x");
  // And the pipeline takes the line back for the next query.
  const c = line.query("C?");
  await settle();
  s.answer("3\n");
  assert.equal(await c, "3");
  assert.deepEqual(s.writes, ["A?\n", "B?\n", "X\n", "C?\n"]);
  line.close();
});

Deno.test("an aborted query in flight still takes its own answer; the next gets the next", async () => {
  const s = new ScriptedStream();
  const line = new MessageLine(s, { window: 8 });
  const ctrl = new AbortController();
  const a = line.query("A?", { signal: ctrl.signal });
  const b = line.query("B?");
  await settle();
  ctrl.abort(new Error("stopped"));
  await assert.rejects(a, /stopped/);
  s.answer("1\n2\n");
  assert.equal(await b, "2");
  line.close();
});

Deno.test("closing the line fails what is queued and in flight", async () => {
  const s = new ScriptedStream();
  const line = new MessageLine(s, { window: 2 });
  const all = ["A?", "B?", "C?"].map((c) => line.query(c));
  await settle();
  line.close();
  for (const p of all) await assert.rejects(p, /closed/);
});

Deno.test("window 1, a minimum delay or a line that flushes instead of closing: one at a time", () => {
  const s = new ScriptedStream();
  assert.equal(new MessageLine(s, {}).window, 1);
  assert.equal(new MessageLine(s, { window: 8, minDelay: 10 }).window, 1);
  assert.equal(new MessageLine(s, { window: 8, resetOnTimeout: false }).window, 1);
});

Deno.test("one deadline per pipeline: a later request with a shorter timeout still expires on time; closing leaves none", async () => {
  const { deadlines } = await import("./deadline.ts");
  const before = deadlines.size;
  const s = new ScriptedStream();
  const line = new MessageLine(s, { window: 8 });
  const send = (key: number, timeout: number) =>
    line.send(enc.encode(`${key}\n`), key, parse, { timeout }, `request ${key}`);
  const slow = send(1, 5000);
  const t0 = performance.now();
  const quick = send(2, 40);
  await settle();
  s.answer("9:other\n"); // the device answers something: a lost request fails alone
  await assert.rejects(quick, TimeoutError);
  assert.ok(performance.now() - t0 < 1000, "expired at its own deadline, not the first request's");
  s.answer("1:a\n");
  assert.equal(await slow, "a");
  assert.equal(
    deadlines.size,
    before + 1,
    "an idle pipeline keeps its one deadline until it fires",
  );
  line.close();
  assert.equal(deadlines.size, before);
});

Deno.test("a busy line's requests, not each timed when made, still never fail before their timeout", async () => {
  const s = new ScriptedStream();
  const line = new MessageLine(s, { window: 8 });
  const send = (key: number, timeout: number) =>
    line.send(enc.encode(`${key}\n`), key, parse, { timeout }, `request ${key}`);
  // A lone caller's many requests, each answered at once: past the first few dozen, the line is
  // busy (its first request goes out a turn later; a lone caller's later ones at once).
  for (let key = 1; key <= 100; key++) {
    const answer = send(key, 300);
    if (key === 1) await settle();
    s.answer(`${key}:ok\n`);
    assert.equal(await answer, "ok");
  }
  // Then one gets no answer: it fails, not before its timeout, and within a bound (a request
  // left untimed with nothing to time it would never fail).
  const t0 = performance.now();
  const lost = send(101, 300);
  await assert.rejects(lost, TimeoutError);
  const waited = performance.now() - t0;
  assert.ok(waited >= 300, `failed after ${waited} ms, before its 300 ms`);
  assert.ok(waited < 3000, `failed only after ${waited} ms`);
  line.close();
});

Deno.test("not connected: a query and those behind it fail for the connection, not for a command", async () => {
  for (const window of [1, 8]) {
    const s = new ScriptedStream();
    s.connected = false; // the connection request got no answer (yet)
    const line = new MessageLine(s, { window });
    const a = line.query("A?", { timeout: 30 });
    const b = line.query("B?", { timeout: window === 1 ? 30 : 5000 });
    for (const r of await Promise.allSettled([a, b])) {
      assert.equal(r.status, "rejected");
      const e = (r as PromiseRejectedResult).reason;
      assert.ok(e instanceof TimeoutError);
      assert.match(e.message, /^connect to test:\/\/line: no answer within 30 ms; /, `${window}`);
    }
    line.close();
  }
});
