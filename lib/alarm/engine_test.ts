import assert from "node:assert/strict";
import type { Values } from "../device/attr.ts";
import { AlarmEngine } from "./engine.ts";
import type { AlarmEvent } from "./event.ts";
import type { AlarmConfig, HealthRule, ThresholdRule } from "./rules.ts";

function threshold(extra: Partial<ThresholdRule>): ThresholdRule {
  return {
    name: "gauge.pressure > 5",
    key: "alarms[0]",
    device: "gauge",
    attr: "pressure",
    compare: ">",
    trip: 5,
    delay: 0,
    hysteresis: 0,
    severity: "major",
    ...extra,
  };
}

function health(extra: Partial<HealthRule> = {}): HealthRule {
  return {
    device: "gauge",
    errorAfter: 3,
    staleAfter: 3,
    interval: 1000,
    severity: "invalid",
    ...extra,
  };
}

/** An engine plus the events and log lines it produced; time starts at 0 ms. */
function setup(config: AlarmConfig) {
  const events: AlarmEvent[] = [];
  const lines: string[] = [];
  const engine = new AlarmEngine(config, { log: (l) => lines.push(l), now: 0 });
  engine.on((e) => events.push(e));
  /** Feeds a value at `ms` milliseconds. */
  const at = (ms: number, values: Values, device = "gauge") =>
    engine.observe({ t: ms / 1000, device, values });
  const fail = (ms: number, error = "timeout") =>
    engine.observe({ t: ms / 1000, device: "gauge", values: {}, error });
  const states = () => events.map((e) => `${e.name}:${e.state}@${Math.round(e.t * 1000)}`);
  return { engine, events, lines, at, fail, states };
}

Deno.test("a threshold alarm fires on the first sample past the trip point and clears below it", () => {
  const { engine, events, lines, at, states } = setup({ rules: [threshold({})], health: [] });
  at(0, { pressure: 4 });
  at(100, { pressure: 6 });
  at(200, { pressure: 7 });
  assert.deepEqual(states(), ["gauge.pressure > 5:active@100"]);
  assert.equal(events[0]!.value, 6);
  assert.equal(events[0]!.severity, "major");
  assert.equal(engine.active().length, 1);
  assert.equal(engine.active()[0]!.value, 7, "active() shows the latest value");
  assert.equal(engine.severityOf("gauge", "pressure"), 2);
  assert.equal(engine.severityOf("gauge", "temperature"), 0);
  at(300, { pressure: 5 });
  assert.deepEqual(states(), ["gauge.pressure > 5:active@100", "gauge.pressure > 5:cleared@300"]);
  assert.equal(engine.active().length, 0);
  assert.equal(lines.length, 2, "one log line per transition");
  assert.match(lines[0]!, /alarm MAJOR active gauge\.pressure > 5: gauge\.pressure = 6/);
});

Deno.test("delay: the condition must hold for the whole delay, by samples or by tick()", () => {
  const { engine, at, states } = setup({
    rules: [threshold({ delay: 1000 })],
    health: [],
  });
  at(0, { pressure: 6 });
  at(500, { pressure: 6 });
  at(900, { pressure: 4 }); // dips: the delay starts over
  at(1000, { pressure: 6 });
  at(1900, { pressure: 6 });
  assert.deepEqual(states(), []);
  at(2000, { pressure: 6 });
  assert.deepEqual(states(), ["gauge.pressure > 5:active@2000"]);
  at(2100, { pressure: 1 });
  at(3000, { pressure: 6 });
  engine.tick(3999);
  assert.equal(states().length, 2, "still within the delay");
  engine.tick(4000);
  assert.deepEqual(states().slice(2), ["gauge.pressure > 5:active@4000"]);
  engine.tick(9000);
  assert.equal(states().length, 3, "an active alarm fires once");
});

Deno.test("hysteresis keeps an alarm active inside the deadband", () => {
  const { at, states } = setup({
    rules: [threshold({ compare: "<", trip: 10, hysteresis: 2, name: "low" })],
    health: [],
  });
  for (const [ms, v] of [[0, 11], [1, 9], [2, 11], [3, 11.9], [4, 9.5], [5, 12], [6, 11]]) {
    at(ms!, { pressure: v! });
  }
  assert.deepEqual(states(), ["low:active@1", "low:cleared@5"]);
});

Deno.test("every comparison drives transitions on a scripted sequence", () => {
  const script = [0, 5, 10, 15, 10, 5, 0];
  const expect: [Partial<ThresholdRule>, string[]][] = [
    [{ compare: ">", trip: 10 }, ["active@3", "cleared@4"]],
    [{ compare: ">=", trip: 10 }, ["active@2", "cleared@5"]],
    [{ compare: "<", trip: 5 }, ["active@0", "cleared@1", "active@6"]],
    [{ compare: "<=", trip: 5 }, ["active@0", "cleared@2", "active@5"]],
    [{ compare: "==", trip: 10 }, ["active@2", "cleared@3", "active@4", "cleared@5"]],
    [{ compare: "!=", trip: 0 }, ["active@1", "cleared@6"]],
    [{ compare: "outside", low: 3, high: 12 }, [
      "active@0",
      "cleared@1",
      "active@3",
      "cleared@4",
      "active@6",
    ]],
    [{ compare: "inside", low: 3, high: 12 }, ["active@1", "cleared@3", "active@4", "cleared@6"]],
    [{ compare: "changed" }, ["active@1"]],
  ];
  for (const [extra, want] of expect) {
    const { at, events } = setup({
      rules: [threshold({ ...extra, trip: extra.trip })],
      health: [],
    });
    script.forEach((v, i) => at(i, { pressure: v }));
    assert.deepEqual(
      events.map((e) => `${e.state}@${Math.round(e.t * 1000)}`),
      want,
      `compare ${extra.compare}`,
    );
  }
});

Deno.test("changed clears when a reading repeats the previous value", () => {
  const { at, states } = setup({
    rules: [threshold({ compare: "changed", name: "valve", attr: "valve", trip: undefined })],
    health: [],
  });
  for (const [ms, v] of [[0, "open"], [1, "open"], [2, "closed"], [3, "closed"], [4, "open"]]) {
    at(ms as number, { valve: v! });
  }
  assert.deepEqual(states(), ["valve:active@2", "valve:cleared@3", "valve:active@4"]);
});

Deno.test("samples without the attr, or of the wrong type, change nothing", () => {
  const { at, events, engine } = setup({ rules: [threshold({})], health: [] });
  at(0, { temperature: 100 });
  at(1, { pressure: null });
  at(2, { pressure: "high" });
  at(3, { pressure: 6 }, "other");
  assert.equal(events.length, 0);
  assert.equal(engine.active().length, 0);
});

Deno.test("error alarm: after N failed reads in a row, cleared by a good read", () => {
  const { engine, at, fail, events, states } = setup({ rules: [], health: [health()] });
  fail(0);
  fail(1000);
  at(2000, { pressure: 1 }); // resets the count
  fail(3000);
  fail(4000);
  assert.deepEqual(states(), []);
  fail(5000, "connection refused");
  assert.deepEqual(states(), ["gauge error:active@5000"]);
  assert.equal(events[0]!.severity, "invalid");
  assert.equal(events[0]!.kind, "error");
  assert.match(events[0]!.message, /3 failed reads in a row: connection refused/);
  assert.equal(engine.severityOf("gauge", "pressure"), 3, "device alarms cover every attr");
  fail(6000);
  assert.equal(states().length, 1);
  at(7000, { pressure: 1 });
  assert.deepEqual(states().slice(1), ["gauge error:cleared@7000"]);
});

Deno.test("stale alarm: no good sample for N intervals, judged by tick(), cleared by a sample", () => {
  const { engine, at, fail, states, events } = setup({
    rules: [],
    health: [health({ staleAfter: 3, interval: 1000, errorAfter: 0 })],
  });
  engine.tick(2999);
  assert.deepEqual(states(), [], "a device never sampled goes stale relative to the start");
  engine.tick(3000);
  assert.deepEqual(states(), ["gauge stale:active@3000"]);
  assert.equal(events[0]!.kind, "stale");
  at(3500, { pressure: 1 });
  assert.deepEqual(states().slice(1), ["gauge stale:cleared@3500"]);
  fail(4000);
  fail(5000);
  fail(6000); // error_after 0: failed reads alone raise nothing
  engine.tick(6499);
  assert.equal(states().length, 2);
  engine.tick(6500);
  assert.deepEqual(states().slice(2), ["gauge stale:active@6500"]);
  engine.tick(10000);
  assert.equal(states().length, 3);
});

Deno.test("history is bounded, oldest first; listeners that throw do not stop others", () => {
  const lines: string[] = [];
  const engine = new AlarmEngine({ rules: [threshold({})], health: [] }, {
    log: (l) => lines.push(l),
    now: 0,
    historySize: 3,
  });
  const seen: number[] = [];
  engine.on(() => {
    throw new Error("boom");
  });
  engine.on((e) => seen.push(e.t));
  for (let i = 0; i < 10; i++) {
    engine.observe({ t: i, device: "gauge", values: { pressure: i % 2 ? 6 : 0 } });
  }
  assert.equal(seen.length, 9);
  assert.deepEqual(engine.history().map((e) => e.t), [7, 8, 9]);
  assert.deepEqual(engine.history(7).map((e) => e.t), [8, 9]);
  assert.ok(lines.some((l) => l.includes("alarm listener failed: boom")));
});

Deno.test("message templates fill value, trip and names; cleared events say so", () => {
  const { events, at } = setup({
    rules: [threshold({ message: "{device} {attr} at {value} above {trip} ({name})" })],
    health: [],
  });
  at(0, { pressure: 9 });
  at(1, { pressure: 1 });
  assert.equal(events[0]!.message, "gauge pressure at 9 above 5 (gauge.pressure > 5)");
  assert.match(
    events[1]!.message,
    /^cleared \(gauge\.pressure = 1, no longer > 5\): gauge pressure/,
  );
});

Deno.test("lastReadings keeps the latest reading of each device", () => {
  const { engine, at, fail } = setup({ rules: [], health: [health()] });
  at(0, { pressure: 1 });
  at(1, { x: 2 }, "other");
  fail(2);
  const last = engine.lastReadings();
  assert.deepEqual(last.map((r) => [r.device, r.error ?? null]), [["gauge", "timeout"], [
    "other",
    null,
  ]]);
});

Deno.test("stale counts the overridden interval, and the observed cadence when it is longer", () => {
  const events: AlarmEvent[] = [];
  const engine = new AlarmEngine(
    { rules: [], health: [health({ errorAfter: 0, interval: 1000 })] },
    {
      log: () => {},
      now: 0,
      interval: 10_000, // monitor --interval 10s
    },
  );
  engine.on((e) => events.push(e));
  engine.observe({ t: 0, device: "gauge", values: { pressure: 1 } });
  engine.tick(9_000);
  assert.equal(events.length, 0, "3 configured intervals (3 s) are not 3 sampling intervals");
  engine.tick(30_000);
  assert.deepEqual(events.map((e) => e.name), ["gauge stale"]);

  const slow: AlarmEvent[] = [];
  const e2 = new AlarmEngine({ rules: [], health: [health({ errorAfter: 0, interval: 1000 })] }, {
    log: () => {},
    now: 0,
  });
  e2.on((e) => slow.push(e));
  // Each read takes 2 s, so samples come every 2 s although 1 s is configured.
  for (let t = 0; t <= 20_000; t += 2000) {
    e2.observe({ t: t / 1000, device: "gauge", values: { pressure: 1 } });
    e2.tick(t + 1999);
  }
  assert.equal(slow.length, 0, "no stale alarm between on-time samples of a slow device");
  e2.tick(20_000 + 6000);
  assert.deepEqual(slow.map((e) => e.name), ["gauge stale"], "3 observed intervals of silence");
});

Deno.test("a device's rules replaced between two of its readings apply from the next one, health too", () => {
  const { engine, at, fail, states } = setup({ rules: [threshold({})], health: [] });
  at(0, { pressure: 4 });
  engine.setDevice("gauge", [threshold({ name: "low trip", trip: 3 })], undefined, "reloaded", 50);
  at(100, { pressure: 4 });
  assert.deepEqual(states(), ["low trip:active@100"]);
  engine.setDevice("gauge", [], health({ errorAfter: 2 }), "reloaded", 150);
  at(200, { pressure: 10 });
  fail(300);
  fail(400);
  assert.deepEqual(states(), [
    "low trip:active@100",
    "low trip:cleared@150",
    "gauge error:active@400",
  ]);
  assert.deepEqual(engine.lastReadings().map((r) => r.t), [0.4]);
});
