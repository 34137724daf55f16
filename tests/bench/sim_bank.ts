/**
 * Cost of simulated devices for load benchmarks: 200 `sim://bank?channels=10` devices.
 * Prints reads/s flat out, the CPU share of a 10 Hz poll of all 200 (20,000 samples/s), the
 * timers created by fault-free reads, and the same poll with `latency=1ms`.
 * Targets: a fault-free read arms no timer of its own (the only timers are the event loop's
 * fairness heartbeats of lib/schedule/fair.ts, at most one per loop turn: ≤ 0.1 per read), no
 * failed read, the fault-free poll delivers its 20,000 samples/s (≥ 95 %) and costs ≤ 0.1 core — a fifth of the monitor load benchmark's 0.5-core
 * budget (issue 3), so that benchmark measures labwire, not its sims. The `latency=1ms` poll is
 * reported for comparison only: its pace is that of the machine's timers.
 *
 * Run: deno run -A tests/bench/sim_bank.ts
 *
 * @module
 */
import { cpuUsage } from "node:process";
import { parseAddress } from "../../lib/device/address.ts";
import { createSim } from "../../lib/drivers/sim/driver.ts";
import type { SimDevice } from "../../lib/drivers/sim/device.ts";
import { Targets } from "./targets.ts";
import { countTimers } from "../fixtures/timer_count.ts";

const DEVICES = 200;
const CHANNELS = 10;
const open = (extra: string): SimDevice[] =>
  Array.from(
    { length: DEVICES },
    (_, i) => createSim(parseAddress(`sim://bank?channels=${CHANNELS}&seed=${i}${extra}`)),
  );

async function flatOut(devices: SimDevice[], rounds: number): Promise<number> {
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) await Promise.all(devices.map((d) => d.read()));
  return (rounds * devices.length) / ((performance.now() - t0) / 1000);
}

/** Polls every device at `hz` for `seconds` on absolute deadlines; returns CPU cores used. */
async function poll(devices: SimDevice[], hz: number, seconds: number) {
  const period = 1000 / hz;
  const start = performance.now();
  const cpu0 = cpuUsage();
  let samples = 0;
  let errors = 0;
  for (let k = 1; k <= hz * seconds; k++) {
    const results = await Promise.allSettled(devices.map((d) => d.read()));
    for (const r of results) {
      if (r.status === "fulfilled") samples += Object.keys(r.value).length;
      else errors++;
    }
    const wait = start + k * period - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const cpu = cpuUsage(cpu0);
  const wall = (performance.now() - start) / 1000;
  return { cores: (cpu.user + cpu.system) / 1e6 / wall, samplesPerS: samples / wall, errors };
}

const plain = open("");
await flatOut(plain, 50); // warm up
console.log(
  `sim bank flat out: ${Math.round(await flatOut(plain, 500))} device reads/s ` +
    `(${DEVICES} devices x ${CHANNELS} attrs)`,
);

const timers = await countTimers(() => flatOut(plain, 100));
console.log(`sim bank timers created by ${100 * DEVICES} fault-free reads: ${timers}`);

const p = await poll(plain, 10, 5);
console.log(
  `sim bank 10 Hz poll, no faults: ${Math.round(p.samplesPerS)} samples/s, ` +
    `CPU ${p.cores.toFixed(3)} cores (incl. the poll loop), errors ${p.errors}`,
);
const slow = open("&latency=1ms");
const q = await poll(slow, 10, 5);
console.log(
  `sim bank 10 Hz poll, latency=1ms: ${Math.round(q.samplesPerS)} samples/s, ` +
    `CPU ${q.cores.toFixed(3)} cores (incl. the poll loop), errors ${q.errors}`,
);
await Promise.all([...plain, ...slow].map((d) => d.close()));
const targets = new Targets("sim-bank");
targets.check("timers per fault-free read", timers / (100 * DEVICES), "<=", 0.1);
targets.check("failed reads", p.errors + q.errors, "<=", 0);
targets.check("10 Hz poll, no faults", Math.round(p.samplesPerS), ">=", 19_000, "samples/s");
targets.check("10 Hz poll CPU, no faults", p.cores, "<=", 0.1, "cores");
targets.finish();
