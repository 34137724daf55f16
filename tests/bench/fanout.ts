/**
 * Poll fan-out benchmark (issue: foundation), the baratron README's own scale argument:
 * 1,000 simulated gauges (the simulator in its own process, each answering after 20 ms),
 * `labwire stream` of all of them at a 500 ms interval for 60 s. Reports expected vs received
 * samples, missed deadlines, p50/p99 lateness of the sample instants against the schedule,
 * CPU seconds and peak RSS of the labwire process; then the cold start of
 * `labwire read sim://gauge`. Targets (issue 2): 0 missed, p99 lateness ≤ 10 ms, labwire CPU
 * ≤ 0.3 core, peak RSS ≤ 150 MB, cold start ≤ 150 ms (from source, warm cache).
 *
 *   deno run -A tests/bench/fanout.ts [--gauges 1000] [--seconds 60] [--interval 500ms]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuSeconds, memoryMb, round } from "./proc_stats.ts";
import { Targets } from "./targets.ts";
import { eachLine, gaugeFleetFlags, startBaratronSims, streamDevices } from "./child.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const { values } = parseArgs({
  args: Deno.args,
  options: {
    ...gaugeFleetFlags({ gauges: 1000, seconds: 60 }),
    interval: { type: "string", default: "500ms" },
    "v8-flags": { type: "string" },
  },
});
const targets = new Targets("fanout");
const gauges = Number(values.gauges);
const seconds = Number(values.seconds);

// 1. The simulator, in its own process.
const { process: sim, out: simOut, addresses } = await startBaratronSims(gauges, values.latency!);

// 2. labwire stream of every gauge, from a config naming each as a lab would write it.
const dir = await Deno.makeTempDir();
const stream = await streamDevices(
  dir,
  addresses,
  "gauge",
  { interval: values.interval!, seconds },
  values["v8-flags"],
);
const started = performance.now();
const pid = stream.pid;
let lines = 0;
let errors = 0;
const counting = eachLine(stream.stdout, (line) => {
  if (line.includes('"error"')) errors++;
  lines++;
});
// Measure CPU over the sampling period only (not Deno's start-up), and the peak RSS. The last
// /proc figures are those read while the process still ran: a short run may end between reads.
const warm = Math.min(3, seconds / 3);
await new Promise((r) => setTimeout(r, warm * 1000));
const cpu0 = cpuSeconds(pid);
const t0 = performance.now();
let cpu1 = cpu0;
let t1 = t0;
let peak = memoryMb(pid).peak;
while (performance.now() - started < seconds * 1000 - 500) {
  await new Promise((r) => setTimeout(r, 500));
  try {
    const m = memoryMb(pid);
    const cpu = cpuSeconds(pid);
    if (!Number.isFinite(m.peak)) break; // a zombie: it exited
    peak = Math.max(peak, m.peak);
    cpu1 = cpu;
    t1 = performance.now();
  } catch {
    break; // exited
  }
}
const stderr = new TextDecoder().decode(await new Response(stream.stderr).arrayBuffer());
const status = await stream.status;
await counting;
sim.kill("SIGTERM");
await sim.status;
await simOut.cancel();
await Deno.remove(dir, { recursive: true });

const stats = JSON.parse(stderr.trim().split("\n").at(-1)!);
const cpuCores = (cpu1 - cpu0) / ((t1 - t0) / 1000);
console.log(
  `fan-out: ${gauges} gauges (${values.latency} latency, simulator in its own process), interval ${values.interval}, ${seconds} s`,
);
console.log(`  exit code            ${status.code}`);
if (values["v8-flags"]) console.log(`  V8 flags             ${values["v8-flags"]}`);
console.log(`  samples expected     ${stats.expected}`);
console.log(`  samples received     ${lines} (${errors} with error)`);
console.log(`  missed deadlines     ${stats.missed}`);
console.log(
  `  lateness p50 / p99   ${stats.lateness_ms.p50} ms / ${stats.lateness_ms.p99} ms (max ${stats.lateness_ms.max} ms)`,
);
console.log(
  `  labwire CPU          ${round(cpuCores, 3)} cores (${round(cpu1 - cpu0, 2)} s over ${
    round((t1 - t0) / 1000, 1)
  } s)`,
);
console.log(`  labwire peak RSS     ${round(peak, 1)} MB`);
targets.require("stream exit code", status.code === 0, String(status.code), "0");
targets.check("missed deadlines", stats.missed, "<=", 0);
targets.check("p99 lateness", stats.lateness_ms.p99, "<=", 10, "ms");
targets.check("labwire CPU", cpuCores, "<=", 0.3, "cores");
targets.check("labwire peak RSS", peak, "<=", 150, "MB");

// 3. Cold start of a one-shot read, from source with a warm cache.
const runs: number[] = [];
for (let i = 0; i < 12; i++) {
  const t = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, "read", "sim://gauge"],
    stdout: "null",
    stderr: "null",
  }).output();
  if (out.code !== 0) throw new Error("read sim://gauge failed");
  if (i >= 2) runs.push(performance.now() - t);
}
runs.sort((a, b) => a - b);
console.log(
  `cold start: labwire read sim://gauge  median ${round(runs[runs.length >> 1]!, 1)} ms, min ${
    round(runs[0]!, 1)
  } ms (10 runs)`,
);
targets.check("cold start of read (median)", runs[runs.length >> 1]!, "<=", 150, "ms");
targets.finish();
