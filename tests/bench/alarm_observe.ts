/**
 * Alarm engine benchmark: the cost of `AlarmEngine.observe` on the load benchmark's bench
 * (200 devices × 10 attrs, 20,000 samples/s at 10 Hz), with three threshold rules per attr
 * (`>` major with delay and hysteresis, `<` minor, `outside` invalid) plus error/stale alarms
 * per device, and a notifier whose only sink hangs (so every transition queues behind it).
 * Reports readings/s and attr samples/s through observe(), the CPU share that 20,000
 * samples/s would cost (from CPU time), tick() cost, and the worst single observe() call. Target: the engine
 * takes ≤ 10 % of a core at 20,000 samples/s, a fifth of the 0.5-core budget of `monitor` at
 * that load (issue 3), of which alarms are one part.
 *
 *   deno run -A tests/bench/alarm_observe.ts [SECONDS_OF_LOAD=60]
 *
 * @module
 */
import { cpuUsage } from "node:process";
import { AlarmEngine } from "../../lib/alarm/engine.ts";
import { Notifier } from "../../lib/alarm/notifier.ts";
import type { AlarmConfig, ThresholdRule } from "../../lib/alarm/rules.ts";
import type { Reading } from "../../lib/device/device.ts";
import { Targets } from "./targets.ts";

const SECONDS = Number(Deno.args[0] ?? 60);
const DEVICES = 200;
const ATTRS = 10;
const HZ = 10;

const rules: ThresholdRule[] = [];
const health: AlarmConfig["health"] = [];
for (let d = 0; d < DEVICES; d++) {
  const device = `dev${d}`;
  health.push({ device, errorAfter: 3, staleAfter: 3, interval: 100, severity: "invalid" });
  for (let a = 0; a < ATTRS; a++) {
    const attr = `ch${a}`;
    const base = { key: `alarms[${rules.length}]`, device, attr, delay: 0, hysteresis: 0 };
    rules.push({
      ...base,
      name: `${device}.${attr} high`,
      compare: ">",
      trip: 0.9,
      delay: 200,
      hysteresis: 0.05,
      severity: "major",
    });
    rules.push({
      ...base,
      name: `${device}.${attr} low`,
      compare: "<",
      trip: -0.95,
      severity: "minor",
    });
    rules.push({
      ...base,
      name: `${device}.${attr} band`,
      compare: "outside",
      low: -0.99,
      high: 0.99,
      severity: "invalid",
    });
  }
}

// Readings: a slow sine well inside the limits, with a short excursion past every trip point
// on each attr every 30 s (staggered), and a failed read now and then.
const TICKS = SECONDS * HZ;
const t0 = Date.now() / 1000;
const readings: Reading[] = [];
for (let k = 0; k < TICKS; k++) {
  for (let d = 0; d < DEVICES; d++) {
    const values: Record<string, number> = {};
    for (let a = 0; a < ATTRS; a++) {
      const phase = (k + d * 7 + a * 13) % 300;
      values[`ch${a}`] = phase < 5
        ? 1.2
        : phase >= 150 && phase < 152
        ? -1.2
        : 0.5 * Math.sin(phase / 20);
    }
    readings.push(
      k % 97 === d % 97 && k % 5 === 0
        ? { t: t0 + k / HZ, device: `dev${d}`, values: {}, error: "timeout" }
        : { t: t0 + k / HZ, device: `dev${d}`, values },
    );
  }
}

let transitions = 0;
const engine = new AlarmEngine({ rules, health }, { log: () => {}, now: t0 * 1000 });
const notifier = new Notifier([{
  name: "hangs",
  minSeverity: "minor",
  cleared: true,
  deliver: (_e, signal) =>
    new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
  queue: { capacity: 1000, timeout: 3_600_000 },
}], { log: () => {} });
engine.on((e) => {
  transitions++;
  notifier.notify(e);
});

const calls = new Float64Array(readings.length);
let tickMs = 0;
const start = performance.now();
const cpuStart = cpuUsage();
for (let k = 0; k < TICKS; k++) {
  for (let d = 0; d < DEVICES; d++) {
    const r = readings[k * DEVICES + d]!;
    const s = performance.now();
    engine.observe(r);
    calls[k * DEVICES + d] = performance.now() - s;
  }
  const ts = performance.now();
  engine.tick((t0 + k / HZ) * 1000);
  tickMs += performance.now() - ts;
}
const elapsed = (performance.now() - start) / 1000;
// CPU time, not wall time, for the share: on a busy machine the wall clock also counts the time
// other processes had the core.
const cpuTime = cpuUsage(cpuStart);
const cpuSeconds = (cpuTime.user + cpuTime.system) / 1e6;
await notifier.close(10);

const samples = readings.length * ATTRS;
const round = (x: number, d = 0) => +x.toFixed(d);
console.log(
  `alarm_observe: ${DEVICES} devices x ${ATTRS} attrs x 3 rules, ${TICKS} ticks (${SECONDS} s of 10 Hz load)`,
);
console.log(`alarm_observe: readings/s ${round(readings.length / elapsed)}`);
console.log(`alarm_observe: attr samples/s ${round(samples / elapsed)}`);
console.log(
  `alarm_observe: cpu share at 20,000 samples/s ${
    round((20_000 / (samples / cpuSeconds)) * 100, 2)
  } %`,
);
console.log(
  `alarm_observe: tick() mean ${
    round((tickMs / TICKS) * 1000, 1)
  } us (${DEVICES} health + pending checks)`,
);
calls.sort();
const pct = (p: number) =>
  round(calls[Math.min(calls.length - 1, Math.floor(calls.length * p))]! * 1000, 1);
console.log(
  `alarm_observe: observe() per reading p50 ${pct(0.5)} us, p99 ${pct(0.99)} us, p99.9 ${
    pct(0.999)
  } us, max ${pct(1)} us`,
);
console.log(
  `alarm_observe: transitions ${transitions}, queued behind the hanging sink, dropped ${
    notifier.stats()[0]!.dropped
  }`,
);
const targets = new Targets("alarms");
targets.check("CPU at 20,000 samples/s", (20_000 / (samples / cpuSeconds)) * 100, "<=", 10, "%");
targets.finish();
