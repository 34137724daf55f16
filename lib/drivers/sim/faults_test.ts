import assert from "node:assert/strict";
import { FaultInjector, NO_FAULTS, parseFaults } from "./faults.ts";
import { Random } from "./random.ts";
import { UsageError } from "../../device/errors.ts";

/** A random source that plays back fixed values, so each decision is known in advance. */
class Scripted extends Random {
  constructor(readonly values: number[]) {
    super(0);
  }
  override next(): number {
    return this.values.shift() ?? 0.99;
  }
}

Deno.test("fault options parse from URL parameters, durations and rates checked", () => {
  const f = parseFaults(new URLSearchParams("latency=20ms&jitter=5&error_rate=0.25"));
  assert.equal(f.latencyMs, 20);
  assert.equal(f.jitterMs, 5, "a bare number is milliseconds");
  assert.equal(f.errorRate, 0.25);
  assert.equal(f.disconnectForMs, 5000);
  assert.throws(() => parseFaults({ error_rate: "2" }), UsageError);
  assert.throws(() => parseFaults({ latency: "soon" }), UsageError);
});

Deno.test("a disconnect lasts disconnect_for, whatever the dice say meanwhile", () => {
  const inj = new FaultInjector(
    { ...NO_FAULTS, disconnectRate: 0.5, disconnectForMs: 1000 },
    new Scripted([0.1]),
  );
  assert.equal(inj.decide(0), "disconnected");
  assert.equal(inj.decide(500), "disconnected");
  assert.equal(inj.decide(999), "disconnected");
  assert.equal(inj.decide(1000), "ok");
});

Deno.test("each rate picks its outcome; delays stay within latency + jitter", () => {
  const o = { ...NO_FAULTS, timeoutRate: 0.5, errorRate: 0.5, garbageRate: 0.5 };
  assert.equal(new FaultInjector(o, new Scripted([0.1])).decide(0), "timeout");
  assert.equal(new FaultInjector(o, new Scripted([0.9, 0.1])).decide(0), "error");
  assert.equal(new FaultInjector(o, new Scripted([0.9, 0.9, 0.1])).decide(0), "garbage");
  assert.equal(new FaultInjector(o, new Scripted([0.9, 0.9, 0.9])).decide(0), "ok");
  const j = new FaultInjector({ ...NO_FAULTS, latencyMs: 10, jitterMs: 5 }, new Random(3));
  assert.equal(j.active, true);
  for (let i = 0; i < 100; i++) {
    const d = j.delayMs();
    assert.ok(d >= 10 && d < 15, `delay ${d}`);
  }
  assert.equal(new FaultInjector().active, false);
});
