import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import { SimDevice } from "../drivers/sim/device.ts";
import { Lab } from "./lab.ts";
import { DeviceError } from "../device/errors.ts";
import { DeviceManager, type ReadingTarget } from "./manager.ts";
import type { Device, Reading } from "../device/device.ts";
import type { Attr, Values } from "../device/attr.ts";
import { registerDriver } from "../device/registry.ts";
import { parseAddress } from "../device/address.ts";
import { createSim } from "../drivers/sim/driver.ts";

function benchConfig(text: string) {
  return parseConfig(text, "<test>");
}

Deno.test("concurrent callers never interleave I/O on one device", async () => {
  // strict=1 makes the sim device fail any call that starts while another is in flight.
  const lab = await Lab.open(benchConfig(`[devices.m]
address = "sim://motor?id=q1&strict=1&latency=2ms&jitter=3ms"
`));
  try {
    const m = lab.get("m");
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      calls.push(m.sample());
      calls.push(m.write("position", (i % 5) - 2));
      calls.push(m.read(["readback"]));
    }
    const results = await Promise.allSettled(calls);
    const failures = results.filter((r) => r.status === "rejected");
    assert.deepEqual(failures, []);
    const readings = await Promise.all(calls.filter((_, i) => i % 3 === 0)) as { error?: string }[];
    assert.ok(
      readings.every((r) => r.error === undefined),
      JSON.stringify(readings.find((r) => r.error)),
    );
    assert.equal((m.device as SimDevice).overlaps, 0);
  } finally {
    await lab.close();
  }
});

Deno.test("without the queue the same calls do overlap (the detector works)", async () => {
  const lab = await Lab.open(benchConfig(`[devices.m]
address = "sim://motor?id=q2&latency=2ms&jitter=3ms"
`));
  try {
    const dev = lab.get("m").device as SimDevice;
    await Promise.allSettled(Array.from({ length: 10 }, () => dev.read()));
    assert.ok(dev.overlaps > 0);
  } finally {
    await lab.close();
  }
});

Deno.test("a slow subscriber drops old readings and never stalls sampling", async () => {
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge"
`));
  try {
    const m = lab.get("g");
    const slow = m.subscribe(5);
    const fast = m.subscribe(1000);
    for (let i = 0; i < 200; i++) await m.sample();
    assert.equal(fast.size, 200);
    assert.equal(slow.size, 5);
    const first = await slow.next();
    assert.equal(first?.dropped, 195);
    assert.equal(m.stats.reads, 200);
    slow.close();
    fast.close();
    assert.equal(m.subscriberCount, 0);
  } finally {
    await lab.close();
  }
});

Deno.test("a failed read is a reading with an error, and the device shows as down", async () => {
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge?error_rate=1"
`));
  try {
    const m = lab.get("g");
    const r = await m.sample();
    assert.equal(typeof r.error, "string");
    assert.deepEqual(r.values, {});
    assert.equal(m.state, "down");
    assert.equal(m.stats.errors, 1);
    await assert.rejects(() => m.read());
  } finally {
    await lab.close();
  }
});

Deno.test("last and lastGood: a failed reading hides no good one, a good one is both", async () => {
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge"
`));
  try {
    const m = lab.get("g");
    assert.equal(m.last, undefined);
    assert.equal(m.lastGood, undefined);
    const failed0: Reading = { t: 1, device: "g", values: {}, error: "no answer" };
    m.publish(failed0);
    assert.equal(m.last, failed0);
    assert.equal(m.lastGood, undefined);
    const good1: Reading = { t: 2, device: "g", values: { pressure: 1 } };
    m.publish(good1);
    assert.equal(m.last, good1);
    assert.equal(m.lastGood, good1);
    const failed2: Reading = { t: 3, device: "g", values: {}, error: "no answer" };
    const failed3: Reading = { t: 4, device: "g", values: {}, error: "timeout" };
    m.publish(failed2);
    m.publish(failed3);
    assert.equal(m.last, failed3);
    assert.equal(m.lastGood, good1);
    const good4: Reading = { t: 5, device: "g", values: { pressure: 2 } };
    m.publish(good4);
    m.publish({ t: 6, device: "g", values: {}, error: "no answer" });
    assert.equal(m.lastGood, good4);
    // a quiet read (a derived device's) is kept the same way, published to no listener
    const r = await m.sample(["pressure"], { quiet: true });
    assert.equal(m.last, r);
    assert.equal(m.lastGood, r);
  } finally {
    await lab.close();
  }
});

Deno.test("write validates before any I/O and returns the read-back", async () => {
  const lab = await Lab.open(benchConfig(`[devices.t]
address = "sim://thermo"
`));
  try {
    const m = lab.get("t");
    assert.equal(await m.write("setpoint", 30), 30);
    await assert.rejects(() => m.write("temperature", 3), /read-only/);
    await assert.rejects(() => m.write("setpointt", 3), /did you mean|no attribute/);
    assert.equal(m.stats.writes, 1);
  } finally {
    await lab.close();
  }
});

Deno.test("a caller that gives up while a hung call holds the queue is answered at once, and its call never starts", async () => {
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge?seed=1"
`));
  try {
    const m = lab.get("g");
    let release!: () => void;
    const hung = m.exclusive(() => new Promise<void>((r) => (release = r)));
    const giveUp = new AbortController();
    let started = false;
    const waiting = m.exclusive(() => {
      started = true;
      return Promise.resolve("ran");
    }, giveUp.signal);
    giveUp.abort(new Error("stopping"));
    await assert.rejects(waiting, /stopping/);
    release();
    await hung;
    await m.exclusive(() => Promise.resolve());
    assert.equal(started, false);
  } finally {
    await lab.close();
  }
});

Deno.test("attrLists: every device's attributes; one that fails gets an empty list", async () => {
  // a driver whose devices cannot list their attributes
  registerDriver({
    scheme: "noattrs",
    summary: "test",
    example: "noattrs://x",
    open: (address) => {
      const dead = createSim(parseAddress("sim://gauge"));
      dead.attrs = () => Promise.reject(new Error(`${address.text}: no answer`));
      return Promise.resolve(dead);
    },
  });
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge?seed=1"
[devices.dead]
address = "noattrs://x"
`));
  try {
    const lists = await lab.attrLists(200);
    assert.deepEqual([...lists.keys()], ["g", "dead"]);
    assert.ok(lists.get("g")!.some((a) => a.name === "pressure"));
    assert.deepEqual(lists.get("dead"), []);
  } finally {
    await lab.close();
  }
});

Deno.test("followPushed refuses a device that does not push", async () => {
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge?seed=1"
`));
  try {
    await assert.rejects(lab.get("g").followPushed(undefined, () => {}), /does not push updates/);
  } finally {
    await lab.close();
  }
});

Deno.test("sampleTo answers with what the caller makes of the reading, published like sample's", async () => {
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge?seed=4"

[devices.bad]
address = "sim://gauge?error_rate=1"
`));
  try {
    const m = lab.get("g");
    const seen: number[] = [];
    m.onReading((r) => seen.push(r.t));
    // idle queue, then a busy one (three at once: the later two wait for the first)
    const idle = await m.sampleTo(
      undefined,
      undefined,
      (r) => ({ t: r.t, keys: Object.keys(r.values) }),
    );
    assert.deepEqual(idle.keys, ["pressure", "pressure_units"]);
    const busy = await Promise.all(
      [0, 1, 2].map(() => m.sampleTo(["pressure"], undefined, (r) => r)),
    );
    assert.deepEqual(busy.map((r) => Object.keys(r.values)), [["pressure"], ["pressure"], [
      "pressure",
    ]]);
    assert.deepEqual(seen, [idle.t, ...busy.map((r) => r.t)], "every reading published");
    assert.equal(m.last, busy[2]);
    assert.equal(m.stats.reads, 4);
    // a failed read is a reading with its error, handed over like a good one
    const bad = lab.get("bad");
    const failed = await bad.sampleTo(undefined, undefined, (r) => r);
    assert.match(failed.error ?? "", /./);
    assert.equal(bad.state, "down");
    // an answer that throws rejects (the HTTP route answers it as an error)
    await assert.rejects(
      m.sampleTo(undefined, undefined, () => {
        throw new Error("refused");
      }),
      /refused/,
    );
    assert.equal(m.stats.reads, 5, "the reading was taken all the same");
  } finally {
    await lab.close();
  }
});

Deno.test("join: callers that find the device busy share its next read, started after each of them arrived", async () => {
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge?seed=4&latency=20ms"
`));
  try {
    const m = lab.get("g");
    const device = m.device;
    const read = device.read.bind(device);
    // Every read of the device: when it started; its values say which read they came from.
    const begins: number[] = [];
    // The read whose start brings one more caller (none yet).
    let callAt = -1;
    device.read = (names, opts) => {
      const n = begins.push(performance.now()) - 1;
      if (n === callAt) call();
      return read(names, opts).then((v) => ({ ...v, n }));
    };
    const published: Reading[] = [];
    m.onReading((r) => published.push(r));
    const opts = { join: true };
    const calls: { at: number; wall: number; answer: Reading | Promise<Reading> }[] = [];
    const call = () => {
      const at = performance.now();
      calls.push({ at, wall: Date.now(), answer: m.sampleTo(undefined, opts, (r) => r) });
    };
    // 64 at once: the first reads an idle device, the other 63 share the one read after it.
    for (let i = 0; i < 64; i++) call();
    // A caller arriving once that shared read has started gets a read of its own.
    callAt = 1;
    await Promise.all(calls.map((c) => c.answer));
    assert.equal(calls.length, 65, "the shared read started (and a caller came)");
    const readings = await Promise.all(calls.map((c) => c.answer));
    assert.equal(m.stats.reads, 3, "three reads for 65 callers");
    assert.equal(begins.length, 3);
    assert.deepEqual(readings.map((r) => r.values.n), [0, ...new Array(63).fill(1), 2]);
    assert.deepEqual(
      published,
      [readings[0], readings[1], readings[64]],
      "each read published once",
    );
    for (let i = 0; i < calls.length; i++) {
      const n = readings[i]!.values.n as number;
      assert.ok(begins[n]! >= calls[i]!.at, `caller ${i} got read ${n}, started before it called`);
      // The reading's time is when its read started (epoch ms, at most 1 ms behind).
      assert.ok(Math.round(readings[i]!.t * 1000) >= calls[i]!.wall - 1);
    }
    // A call queued after a waiting read ends the joining: a later caller reads after that call.
    const before = m.stats.reads;
    const first = m.sampleTo(undefined, opts, (r) => r); // idle: starts at once
    const queued = m.sampleTo(undefined, opts, (r) => r); // waits, joinable
    let ran = -1;
    const other = m.exclusive(() => {
      ran = begins.length;
      return Promise.resolve();
    });
    const later = m.sampleTo(undefined, opts, (r) => r);
    const [, q, , l] = await Promise.all([first, queued, other, later]);
    assert.equal(m.stats.reads, before + 3);
    assert.notEqual(q, l);
    assert.ok(
      (l.values.n as number) >= ran,
      "the later caller's read started after the other call",
    );
    // Different attributes, or no `join`, never share.
    const a = m.sampleTo(undefined, opts, (r) => r);
    const b = m.sampleTo(["pressure"], opts, (r) => r);
    const c = m.sampleTo(undefined, undefined, (r) => r);
    const d = m.sampleTo(undefined, undefined, (r) => r);
    const distinct = new Set(await Promise.all([a, b, c, d]));
    assert.equal(distinct.size, 4);
  } finally {
    await lab.close();
  }
});

Deno.test("join: a shared read's failure and a throwing answer reach each caller alone", async () => {
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge?seed=4&latency=5ms"
`));
  try {
    const m = lab.get("g");
    const opts = { join: true };
    const first = m.sampleTo(undefined, opts, (r) => r.values);
    const failing = m.sampleTo(undefined, opts, () => {
      throw new Error("refused");
    });
    const rescued = m.sampleTo(undefined, opts, () => {
      throw new Error("refused");
    }, (err) => `answered: ${(err as Error).message}`);
    const fine = m.sampleTo(undefined, opts, (r) => r.values);
    const results = await Promise.allSettled([first, failing, rescued, fine]);
    assert.equal(m.stats.reads, 2);
    assert.equal(results[0]!.status, "fulfilled");
    assert.equal(results[1]!.status, "rejected");
    assert.deepEqual(results[2], { status: "fulfilled", value: "answered: refused" });
    assert.equal(results[3]!.status, "fulfilled");
    // A failed shared read is a reading with its error for every caller.
    const device = m.device;
    device.read = () => Promise.reject(new DeviceError("no answer", "g"));
    const failed = await Promise.all([0, 1, 2].map(() => m.sampleTo(undefined, opts, (r) => r)));
    assert.deepEqual(failed.map((r) => r.error), ["no answer", "no answer", "no answer"]);
    assert.equal(failed[1], failed[2]);
  } finally {
    await lab.close();
  }
});

Deno.test("join: a failed of a joiner that throws rejects that caller alone, on a good or failed read", async () => {
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge?seed=6&latency=5ms"
`));
  try {
    const m = lab.get("g");
    const opts = { join: true };
    const refuse = (): never => {
      throw new Error("refused");
    };
    const fail = (): never => {
      throw new Error("failed too");
    };
    const round = () =>
      // The first starts on the idle queue; the second queues the shared read, the others join.
      Promise.allSettled([
        m.sampleTo(undefined, opts, (r) => r.error ?? "ok"),
        m.sampleTo(undefined, opts, refuse, fail),
        m.sampleTo(undefined, opts, refuse, fail),
        m.sampleTo(undefined, opts, (r) => r.error ?? "ok"),
      ]);
    const statuses = ["fulfilled", "rejected", "rejected", "fulfilled"];
    const good = await round();
    assert.equal(m.stats.reads, 2);
    assert.deepEqual(good.map((r) => r.status), statuses);
    assert.equal((good[1] as PromiseRejectedResult).reason.message, "failed too");
    assert.equal((good[2] as PromiseRejectedResult).reason.message, "failed too");
    assert.equal((good[3] as PromiseFulfilledResult<string>).value, "ok");
    // A read that fails: still a reading (with its error) handed to each answer.
    m.device.read = () => Promise.reject(new DeviceError("no answer", "g"));
    const bad = await round();
    assert.equal(m.stats.reads, 4);
    assert.deepEqual(bad.map((r) => r.status), statuses);
    assert.equal((bad[2] as PromiseRejectedResult).reason.message, "failed too");
    assert.equal((bad[3] as PromiseFulfilledResult<string>).value, "no answer");
  } finally {
    await lab.close();
  }
});

Deno.test("sampleFor hands each reading to its target, published like sample's; an abort is lost", async () => {
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge?seed=5"

[devices.bad]
address = "sim://gauge?error_rate=1"

[devices.slow]
address = "sim://gauge?latency=200ms"
`));
  try {
    /** A target that records what it is handed, and a promise of its first outcome. */
    const target = () => {
      const got: { done: Reading[]; lost: unknown[] } = { done: [], lost: [] };
      let settle!: () => void;
      const settled = new Promise<void>((r) => (settle = r));
      const to: ReadingTarget = {
        done: (r) => {
          got.done.push(r);
          settle();
        },
        lost: (e) => {
          got.lost.push(e);
          settle();
        },
      };
      return { got, to, settled };
    };
    const m = lab.get("g");
    const seen: Reading[] = [];
    m.onReading((r) => seen.push(r));
    // idle queue
    const idle = target();
    m.sampleFor(undefined, undefined, performance.now(), idle.to);
    await idle.settled;
    assert.equal(idle.got.done.length, 1);
    assert.deepEqual(Object.keys(idle.got.done[0]!.values), ["pressure", "pressure_units"]);
    assert.equal(m.last, idle.got.done[0]);
    // a busy queue: the second waits for the first, then goes to its own target
    const first = target();
    const second = target();
    m.sampleFor(["pressure"], undefined, performance.now(), first.to);
    m.sampleFor(["pressure"], undefined, performance.now(), second.to);
    await Promise.all([first.settled, second.settled]);
    assert.deepEqual(
      [first.got.done.length, second.got.done.length, first.got.lost.length],
      [1, 1, 0],
    );
    assert.equal(m.last, second.got.done[0]);
    assert.deepEqual(seen, [idle.got.done[0], first.got.done[0], second.got.done[0]]);
    assert.equal(m.stats.reads, 3);
    // a failed read is a reading with its error
    const failed = target();
    lab.get("bad").sampleFor(undefined, undefined, performance.now(), failed.to);
    await failed.settled;
    assert.match(failed.got.done[0]?.error ?? "", /./);
    // the caller's abort while the read runs: lost with the abort's reason, no reading
    const stop = new AbortController();
    const aborted = target();
    lab.get("slow").sampleFor(undefined, { signal: stop.signal }, performance.now(), aborted.to);
    stop.abort(new Error("stopping"));
    await aborted.settled;
    assert.deepEqual(aborted.got.done, []);
    assert.match(String(aborted.got.lost[0]), /stopping/);
  } finally {
    await lab.close();
  }
});

Deno.test("sampleTo with failed: what the answer throws resolves to failed's answer, idle or busy", async () => {
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge?seed=4"
`));
  try {
    const m = lab.get("g");
    const refuse = () => {
      throw new Error("refused");
    };
    const failed = (err: unknown) => `answered: ${(err as Error).message}`;
    assert.equal(await m.sampleTo(undefined, undefined, refuse, failed), "answered: refused");
    // a busy queue: the later two wait for the first
    const busy = await Promise.all([
      m.sampleTo(undefined, undefined, () => "ok", failed),
      m.sampleTo(undefined, undefined, refuse, failed),
      m.sampleTo(undefined, undefined, (r) => r.device, failed),
    ]);
    assert.deepEqual(busy, ["ok", "answered: refused", "g"]);
    assert.equal(m.stats.reads, 4, "every reading was taken");
  } finally {
    await lab.close();
  }
});

Deno.test("a reading's time is the wall clock at the read's start, to the millisecond", async () => {
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge?seed=4"
`));
  try {
    const m = lab.get("g");
    for (let i = 0; i < 50; i++) {
      const before = Date.now();
      const r = await m.sample();
      const after = Date.now();
      const ms = r.t * 1000;
      assert.ok(ms >= before - 1 && ms <= after, `${ms} between ${before} and ${after}`);
      assert.ok(Math.abs(ms - Math.round(ms)) < 1e-3, `${ms}: whole milliseconds`);
    }
  } finally {
    await lab.close();
  }
});

/**
 * A device whose reads answer through `readTo` when the test says so (and whose `read` must not
 * be used): what is asked, in order, and the pending callbacks.
 */
class CallbackDevice implements Device {
  readonly name = "cb";
  readonly address = "test://cb";
  readonly driver = "test";
  readonly log: string[] = [];
  pending: { done: (v: Values) => void; failed: (e: unknown) => void } | undefined;
  /** What the next `readTo` does before it returns: nothing (wait), answer, fail, throw, or both. */
  next: "wait" | "done" | "fail" | "throw" | "fail-throw" = "wait";
  /** The read's start the last `readTo` was handed. */
  at: number | undefined;
  attrs(): Promise<Attr[]> {
    return Promise.resolve([]);
  }
  read(): Promise<Values> {
    this.log.push("read");
    return Promise.resolve({ via: "read" });
  }
  readTo(
    _names: readonly string[] | undefined,
    _opts: unknown,
    done: (v: Values) => void,
    failed: (e: unknown) => void,
    at?: number,
  ): void {
    this.log.push("readTo");
    this.at = at;
    if (this.next === "done") return done({ p: 0 });
    if (this.next === "fail") return failed(new DeviceError("refused at once", this.name));
    if (this.next === "throw") throw new DeviceError("threw at once", this.name);
    if (this.next === "fail-throw") {
      failed(new DeviceError("refused at once", this.name));
      throw new DeviceError("threw after refusing", this.name);
    }
    this.pending = { done, failed };
  }
  write(): Promise<void> {
    this.log.push("write");
    return Promise.resolve();
  }
  techniques(): string[] {
    return [];
  }
  close(): Promise<void> {
    this.log.push("close");
    return Promise.resolve();
  }
}

/** A manager of a {@linkcode CallbackDevice}, and a target recording what its readings became. */
function callbackManager() {
  const dev = new CallbackDevice();
  const m = new DeviceManager(dev, {
    name: "cb",
    address: parseAddress("sim://gauge"),
    interval: 1000,
    options: {},
  });
  const got: Reading[] = [];
  const lost: unknown[] = [];
  const to: ReadingTarget = { done: (r) => got.push(r), lost: (e) => lost.push(e) };
  return { dev, m, got, lost, to };
}

Deno.test("sampleFor reads through the device's readTo when it has one; calls queued behind it wait for its end", async () => {
  const { dev, m, got, lost, to } = callbackManager();
  m.sampleFor(undefined, undefined, performance.now(), to);
  assert.deepEqual(dev.log, ["readTo"]);
  // A call made while that read runs waits for it, like behind a read's promise.
  const queued = m.exclusive(() => dev.write());
  const second = m.sample();
  await Promise.resolve();
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(dev.log, ["readTo"]);
  dev.pending!.done({ p: 1 });
  assert.deepEqual(got.map((r) => r.values), [{ p: 1 }]);
  assert.equal(m.last, got[0]);
  await queued;
  assert.deepEqual((await second).values, { via: "read" });
  assert.deepEqual(dev.log, ["readTo", "write", "read"]);
  // A failure handed back before readTo returns, and a throw: readings with their error, and
  // the queue is free again after each.
  dev.next = "fail";
  m.sampleFor(undefined, undefined, performance.now(), to);
  dev.next = "throw";
  m.sampleFor(undefined, undefined, performance.now(), to);
  assert.deepEqual(got.slice(1).map((r) => r.error), [
    "refused at once",
    "threw at once",
  ]);
  assert.equal(m.stats.errors, 2);
  // close waits for a read in flight
  dev.next = "wait";
  m.sampleFor(undefined, undefined, performance.now(), to);
  const closing = m.close();
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(dev.log.includes("close"), false);
  dev.pending!.failed(new DeviceError("gone", "cb"));
  await closing;
  assert.deepEqual(dev.log.slice(-2), ["readTo", "close"]);
  assert.equal(got.at(-1)?.error, "gone");
  assert.deepEqual(lost, []);
});

Deno.test("readTo: an answer before it returns took no time (latency 0, no clock read), a later one its time; sample and sampleTo settle either way", async () => {
  const { dev, m } = callbackManager();
  const seen: Reading[] = [];
  m.onReading((r) => seen.push(r));
  dev.next = "done";
  const at = performance.now();
  const r = await m.sample(undefined, undefined, at);
  assert.deepEqual(r.values, { p: 0 });
  assert.deepEqual(dev.log, ["readTo"]);
  assert.equal(dev.at, at, "the device is handed the read's start");
  assert.deepEqual(seen, [r], "published");
  assert.equal(m.stats.lastLatencyMs, 0);
  assert.equal(m.stats.latencySumMs, 0);
  assert.equal(m.stats.latencyBuckets[0], 1);
  // Answered after readTo returned: the promise waits for the answer, the latency is measured.
  dev.next = "wait";
  let made: string | undefined;
  const later = m.sampleTo(undefined, undefined, (r) => (made = `p=${r.values.p}`));
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(made, undefined);
  dev.pending!.done({ p: 7 });
  assert.equal(await later, "p=7");
  assert.ok(m.stats.lastLatencyMs > 0, "the wait is the latency");
  assert.equal(m.stats.latencySumMs, m.stats.lastLatencyMs);
  assert.equal(m.stats.latencyBuckets.reduce((a, b) => a + b), 2);
  // An answer that throws rejects, or is failed's make of it: in the turn and later.
  const refuse = () => {
    throw new Error("refused");
  };
  const failed = (err: unknown) => `failed: ${(err as Error).message}`;
  dev.next = "done";
  await assert.rejects(m.sampleTo(undefined, undefined, refuse), /refused/);
  assert.equal(await m.sampleTo(undefined, undefined, refuse, failed), "failed: refused");
  dev.next = "wait";
  const refused = m.sampleTo(undefined, undefined, refuse, failed);
  dev.pending!.done({ p: 8 });
  assert.equal(await refused, "failed: refused");
  const rejected = m.sampleTo(undefined, undefined, refuse);
  dev.pending!.done({ p: 9 });
  await assert.rejects(rejected, /refused/);
  // A failure in the turn, and a throw: readings with their error.
  dev.next = "fail";
  assert.equal((await m.sample()).error, "refused at once");
  dev.next = "throw";
  assert.equal((await m.sample()).error, "threw at once");
  assert.equal(m.stats.reads, 8);
  assert.equal(m.stats.errors, 2);
  assert.equal(seen.length, 8, "every reading published");
  await m.close();
});

Deno.test("sampleTo: a read answered in its turn reads the wall clock alone; one answered later is timed from readTo's return", async () => {
  const { dev, m } = callbackManager();
  dev.next = "done";
  await m.sampleTo(undefined, undefined, (r) => r); // the process clock synced, if it was due
  const now = performance.now;
  let monoReads = 0;
  performance.now = () => {
    monoReads++;
    return now.call(performance);
  };
  try {
    for (let i = 0; i < 200; i++) {
      const before = Date.now();
      const r = await m.sampleTo(undefined, undefined, (r) => r);
      const after = Date.now();
      const ms = r.t * 1000;
      assert.ok(ms >= before && ms <= after, `${ms} between ${before} and ${after}`);
      assert.equal(ms, Math.round(ms), "whole milliseconds");
      // Within a millisecond while the system clock runs evenly; a step of it since the last
      // re-sync (a VM's clock corrected) moves the estimate by the step, re-synced within 1 s.
      const mono = now.call(performance);
      assert.ok(Math.abs(dev.at! - mono) < 1000, `${dev.at} handed: the monotonic time of it`);
    }
    // The wall clock re-synced with the monotonic one at most once a second.
    assert.ok(monoReads <= 1, `${monoReads} performance.now() for 200 instant reads`);
    assert.equal(m.stats.latencySumMs, 0);
    dev.next = "wait";
    monoReads = 0;
    const later = m.sampleTo(undefined, undefined, (r) => r);
    assert.ok(monoReads >= 1, "read once readTo returned without an answer");
    await new Promise((r) => setTimeout(r, 5));
    dev.pending!.done({ p: 1 });
    const r = await later;
    assert.deepEqual(r.values, { p: 1 });
    assert.ok(m.stats.lastLatencyMs >= 4, `${m.stats.lastLatencyMs} ms: the wait`);
  } finally {
    performance.now = now;
  }
  await m.close();
});

Deno.test("sampleTo: a read answered in its turn gives answer's make of it as it is; one answered later, and a throw, a promise", async () => {
  const { dev, m } = callbackManager();
  dev.next = "done";
  assert.equal(m.sampleTo(undefined, undefined, (r) => `p=${r.values.p}`), "p=0", "no promise");
  const refuse = () => {
    throw new Error("refused");
  };
  const thrown = m.sampleTo(undefined, undefined, refuse);
  assert.ok(thrown instanceof Promise, "a throw is a rejection, not thrown at the caller");
  await assert.rejects(thrown, /refused/);
  assert.equal(m.sampleTo(undefined, undefined, refuse, () => "failed"), "failed");
  dev.next = "wait";
  const later = m.sampleTo(undefined, undefined, (r) => `p=${r.values.p}`);
  assert.ok(later instanceof Promise);
  dev.pending!.done({ p: 3 });
  assert.equal(await later, "p=3");
  // sample() gives a promise either way.
  dev.next = "done";
  const reading = m.sample();
  assert.ok(reading instanceof Promise);
  assert.deepEqual((await reading).values, { p: 0 });
  await m.close();
});

Deno.test("sampleFor: a readTo that hands back its failure and then throws ends the read once", async () => {
  const { dev, m, got, lost, to } = callbackManager();
  dev.next = "fail-throw";
  m.sampleFor(undefined, undefined, performance.now(), to);
  assert.deepEqual(got.map((r) => r.error), ["refused at once"]);
  assert.equal(m.stats.reads, 1);
  assert.equal(m.stats.errors, 1);
  // The queue is free (not owed a second end): the next read goes through readTo again, and
  // a call made while it runs still waits for it.
  dev.next = "wait";
  m.sampleFor(undefined, undefined, performance.now(), to);
  const queued = m.exclusive(() => dev.write());
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(dev.log, ["readTo", "readTo"]);
  dev.pending!.done({ p: 2 });
  await queued;
  assert.deepEqual(dev.log, ["readTo", "readTo", "write"]);
  assert.deepEqual(got.at(-1)?.values, { p: 2 });
  assert.equal(m.stats.reads, 2);
  await m.close();
  assert.deepEqual(lost, []);
});

Deno.test("listeners: every one called in the order added, for 0 to 6 of them; removing one (itself too, during a reading) takes effect from the next reading", async () => {
  const lab = await Lab.open(benchConfig(`[devices.g]
address = "sim://gauge?seed=4"
`));
  try {
    const m = lab.get("g");
    const calls: string[] = [];
    const offs: (() => boolean)[] = [];
    await m.sample();
    assert.equal(calls.length, 0);
    for (let n = 1; n <= 6; n++) {
      const name = `l${n}`;
      offs.push(m.onReading(() => calls.push(name)) as () => boolean);
      calls.length = 0;
      await m.sample();
      assert.deepEqual(calls, Array.from({ length: n }, (_, i) => `l${i + 1}`), `${n} listeners`);
    }
    // adding the same function again adds nothing
    const again = (r: Reading) => calls.push(`again ${r.device}`);
    m.onReading(again);
    m.onReading(again);
    calls.length = 0;
    await m.sample();
    assert.deepEqual(calls, ["l1", "l2", "l3", "l4", "l5", "l6", "again g"]);
    // l2 removes itself and l5 while called: both still called for this reading, not after
    let offSelf: () => boolean = () => false;
    offs[1]!();
    offSelf = m.onReading(() => {
      calls.push("once");
      offSelf();
      offs[4]!();
    }) as () => boolean;
    calls.length = 0;
    await m.sample();
    assert.deepEqual(calls, ["l1", "l3", "l4", "l5", "l6", "again g", "once"]);
    calls.length = 0;
    await m.sample();
    assert.deepEqual(calls, ["l1", "l3", "l4", "l6", "again g"]);
    assert.equal(offs[4]!(), false, "removed once");
    for (const off of offs) off();
    calls.length = 0;
    await m.sample();
    assert.deepEqual(calls, ["again g"]);
  } finally {
    await lab.close();
  }
});
