import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import type { Reading } from "../device/device.ts";
import { attr, type Values } from "../device/attr.ts";
import { registerDriver } from "../device/registry.ts";
import { Lab } from "./lab.ts";
import { Sampler, SLOT_DEVICES, spread } from "./sampler.ts";
import { benchToml } from "../../tests/fixtures/sim_bench.ts";

/** Every reading `lab`'s devices publish from now on, in the order they come. */
function recordReadings(lab: Lab): Reading[] {
  const seen: Reading[] = [];
  for (const m of lab.managers) m.onReading((r) => seen.push(r));
  return seen;
}

Deno.test("the sampler reads every device on each tick and publishes the readings", async () => {
  const lab = await Lab.open(parseConfig(
    benchToml({ a: "sim://gauge", b: "sim://thermo" }, "10ms") +
      benchToml({ c: "sim://dmm" }, "25ms"),
  ));
  try {
    const seen = recordReadings(lab);
    const missed = new Map<string, number>();
    const sampler = new Sampler(lab, {
      count: 4,
      onMissed: (devices, n) => devices.forEach((d) => missed.set(d, (missed.get(d) ?? 0) + n)),
    });
    await sampler.run();
    // Each of the 4 deadlines is a reading or, on a loaded machine, a reported miss.
    const by = (d: string) => seen.filter((r) => r.device === d).length + (missed.get(d) ?? 0);
    assert.deepEqual([by("a"), by("b"), by("c")], [4, 4, 4]);
    assert.ok(seen.length > 0);
    assert.equal(sampler.stats.expected, 12);
    assert.equal(sampler.stats.started + sampler.stats.missed, 12);
  } finally {
    await lab.close();
  }
});

Deno.test("a failing device is retried with backoff while others go on", async () => {
  const lab = await Lab.open(parseConfig(`[devices.bad]
address = "sim://gauge?error_rate=1"
[devices.good]
address = "sim://gauge"
`));
  try {
    const seen = recordReadings(lab);
    const missed = new Map<string, number>();
    const sampler = new Sampler(lab, {
      interval: 5,
      count: 20,
      onMissed: (devices, n) => devices.forEach((d) => missed.set(d, (missed.get(d) ?? 0) + n)),
    });
    await sampler.run();
    const bad = seen.filter((r) => r.device === "bad");
    const good = seen.filter((r) => r.device === "good");
    // Every deadline is either sampled or reported missed (a loaded machine may overrun).
    assert.equal(good.length + (missed.get("good") ?? 0), 20);
    assert.ok(bad.every((r) => r.error !== undefined));
    // Backoff doubles: attempts at ticks 0, 1, 3, 7, 15 (plus or minus a missed deadline).
    assert.ok(bad.length >= 2 && bad.length <= 6, `bad device tried ${bad.length} times`);
    assert.ok(sampler.stats.backedOff > 0);
  } finally {
    await lab.close();
  }
});

Deno.test("an overrun that reaches the count is reported as missed deadlines", async () => {
  const lab = await Lab.open(parseConfig(`[devices.a]
address = "sim://gauge"
`));
  try {
    let readings = 0;
    let reported = 0;
    lab.managers[0]!.onReading(() => {
      // The first reading's consumer holds the loop past every later deadline of the count.
      if (readings++ === 0) {
        const until = performance.now() + 80;
        while (performance.now() < until) { /* busy */ }
      }
    });
    const sampler = new Sampler(lab, {
      interval: 10,
      count: 4,
      onMissed: (_devices, n) => reported += n,
    });
    await sampler.run();
    // The stall ends the count: the deadlines it swallowed are reported, none silently lost.
    assert.ok(reported >= 2, `reported ${reported}`);
    assert.equal(readings + reported, 4);
    assert.equal(sampler.stats.expected, 4);
    assert.equal(sampler.stats.started + sampler.stats.missed, 4);
  } finally {
    await lab.close();
  }
});

Deno.test("a large group is spread over its interval in slots; a small one starts together", () => {
  assert.deepEqual(spread(10, 500), { per: 10, slotMs: 500 });
  assert.deepEqual(spread(SLOT_DEVICES, 500), { per: SLOT_DEVICES, slotMs: 500 });
  assert.deepEqual(spread(1000, 500), { per: 63, slotMs: 31.25 });
  // Slots are at least 2 ms apart: a short interval packs more devices into each.
  assert.deepEqual(spread(1000, 10), { per: 200, slotMs: 2 });
  assert.deepEqual(spread(10_000, 1000), { per: 64, slotMs: 1000 / 157 });
});

/**
 * Samples `n` devices at `address` (simulated gauges by default) at `interval` ms for three ticks and checks that each device got
 * each of its deadlines once (a reading or a missed deadline); returns the first reading's time
 * of the first and of the last device.
 */
async function sampleEachOnce(
  n: number,
  interval: number,
  address = "sim://gauge",
): Promise<{ first: number; last: number }> {
  const toml = Array.from({ length: n }, (_, i) => `[devices.g${i}]\naddress = "${address}"\n`);
  const lab = await Lab.open(parseConfig(toml.join("")));
  try {
    const seen = new Map<string, number[]>();
    for (const m of lab.managers) {
      m.onReading((r) => seen.set(r.device, [...(seen.get(r.device) ?? []), r.t]));
    }
    const missed = new Map<string, number>();
    const sampler = new Sampler(lab, {
      interval,
      count: 3,
      onMissed: (devices, k) => devices.forEach((d) => missed.set(d, (missed.get(d) ?? 0) + k)),
    });
    await sampler.run();
    for (let i = 0; i < n; i++) {
      const d = `g${i}`;
      assert.equal((seen.get(d)?.length ?? 0) + (missed.get(d) ?? 0), 3, d);
    }
    assert.equal(sampler.stats.expected, 3 * n);
    assert.equal(sampler.stats.started + sampler.stats.missed, 3 * n);
    return { first: seen.get("g0")![0]!, last: seen.get(`g${n - 1}`)![0]! };
  } finally {
    await lab.close();
  }
}

Deno.test("every device of a spread group gets each of its readings once", async () => {
  const { first, last } = await sampleEachOnce(3 * SLOT_DEVICES + 5, 40);
  // The last slot's devices are read no earlier than the first slot's.
  assert.ok(last >= first, `last slot read at ${last}, first at ${first}`);
});

Deno.test("slots of more than 64 devices, and slots overdue, still read each device once", async () => {
  // 2 slots of 75 devices 2 ms apart: each slot is started in turns of at most 64.
  assert.deepEqual(spread(150, 4), { per: 75, slotMs: 2 });
  await sampleEachOnce(150, 4);
  // 2 slots of exactly 64 whose starts take ~60 µs each (as a socket write does): the second
  // slot is due before the first is started, so a turn of 64 ends on the slot boundary with no
  // sleep between.
  registerDriver({
    scheme: "slowstart",
    summary: "a device whose read takes a while to start",
    example: "slowstart://x",
    open: (address, ctx) =>
      Promise.resolve({
        name: ctx.name,
        address: address.text,
        driver: "slowstart",
        attrs: () => Promise.resolve([attr("x", "number")]),
        read: () => {
          const until = performance.now() + 0.06;
          while (performance.now() < until);
          return Promise.resolve({ x: 1 });
        },
        write: () => Promise.resolve(),
        techniques: () => [],
        close: () => Promise.resolve(),
      }),
  });
  assert.deepEqual(spread(128, 4), { per: 64, slotMs: 2 });
  await sampleEachOnce(128, 4, "slowstart://x");
});

Deno.test("follow: a device that pushes is followed, not polled; its errors are readings", async () => {
  let push: ((values: Values, t: number, error?: string) => void) | undefined;
  let reads = 0;
  let closed = 0;
  registerDriver({
    scheme: "pushtest",
    summary: "a device that pushes its readings",
    example: "pushtest://x",
    open: (address, ctx) =>
      Promise.resolve({
        name: ctx.name,
        address: address.text,
        driver: "pushtest",
        pushes: true,
        attrs: () => Promise.resolve([attr("x", "number")]),
        read: () => {
          reads++;
          return Promise.resolve({ x: 0 });
        },
        write: () => Promise.resolve(),
        techniques: () => [],
        subscribe: (_names, onValues) => {
          push = onValues;
          return Promise.resolve({
            close: () => {
              closed++;
              return Promise.resolve();
            },
          });
        },
        close: () => Promise.resolve(),
      }),
  });
  const lab = await Lab.open(
    parseConfig(benchToml({ p: "pushtest://x", s: "sim://thermo" }, "10ms")),
  );
  try {
    const seen = recordReadings(lab);
    const stop = new AbortController();
    const sampler = new Sampler(lab, { signal: stop.signal, follow: true });
    const run = sampler.run();
    while (push === undefined) await new Promise((r) => setTimeout(r, 1));
    push({ x: 1 }, 100);
    push({}, 101, "the remote went away");
    while (!seen.some((r) => r.device === "s")) await new Promise((r) => setTimeout(r, 5));
    stop.abort();
    await run;
    assert.equal(reads, 0, "never polled");
    assert.equal(closed, 1, "the subscription is closed when sampling stops");
    assert.deepEqual(seen.filter((r) => r.device === "p"), [
      { t: 100, device: "p", values: { x: 1 } },
      { t: 101, device: "p", values: {}, error: "the remote went away" },
    ]);
    assert.equal(lab.find("p")!.state, "down");
    // each pushed reading counts as a read (the error one as a failed read)
    assert.equal(lab.find("p")!.stats.reads, 2);
    assert.equal(lab.find("p")!.stats.errors, 1);
  } finally {
    await lab.close();
  }
});

Deno.test("timeout: each read gets the sampler's timeout (a verb's --timeout), not the device's own", async () => {
  const timeouts: (number | undefined)[] = [];
  registerDriver({
    scheme: "timeouttest",
    summary: "a device that records each read's timeout",
    example: "timeouttest://x",
    open: (address, ctx) =>
      Promise.resolve({
        name: ctx.name,
        address: address.text,
        driver: "timeouttest",
        attrs: () => Promise.resolve([attr("x", "number", { status: true })]),
        read: (_names, opts) => {
          timeouts.push(opts?.timeout);
          return Promise.resolve({ x: 0 });
        },
        write: () => Promise.resolve(),
        techniques: () => [],
        close: () => Promise.resolve(),
      }),
  });
  const lab = await Lab.open(parseConfig(benchToml({ d: "timeouttest://x" }, "10ms")));
  try {
    await new Sampler(lab, { count: 2, timeout: 1234 }).run();
    assert.ok(timeouts.length > 0);
    assert.deepEqual(new Set(timeouts), new Set([1234]));
  } finally {
    await lab.close();
  }
});
