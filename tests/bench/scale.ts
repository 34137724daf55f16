/**
 * Cost per device (issue 16): `labwire stream` of many simulated eBaratron gauges, measured as a
 * user runs it — the simulators in separate processes (so they are not the limit), labwire as
 * shipped (`deno task compile`'s V8 flags), NDJSON into a pipe:
 *
 * 1. 10,000 gauges at 1 Hz for 60 s (four simulator processes of 2,500): 0 missed deadlines,
 *    0 timeouts, labwire CPU ≤ 0.5 core, peak RSS ≤ 200 MB, RSS flat after the first 20 s
 *    (growth ≤ 5 MB).
 * 2. 1,000 gauges at 2 Hz for 30 s (the fan-out): CPU ≤ 0.07 core, peak RSS ≤ 80 MB.
 * 3. Memory per polled device: the steady RSS difference of the two runs over the 9,000 extra
 *    gauges, ≤ 10 KB.
 *
 * CPU is the process' user + system time over the sampling period (from /proc), not wall time.
 * `labwire read` of 1,000 `ca://` PVs beside `caget` is `deno task bench ca-read-many`.
 *
 *   deno run -A tests/bench/scale.ts [--gauges 10000] [--seconds 60] [--small 1000] [--small-seconds 30]
 *   (`--small 0` runs the large fleet alone, e.g. `--seconds 600` for RSS over ten minutes)
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuSeconds, loadAverage, machineCpuSeconds, memoryMb, round } from "./proc_stats.ts";
import { SHIPPED_V8_FLAGS } from "./shipped_flags.ts";
import { Targets } from "./targets.ts";
import { spawnSim } from "../e2e/run_cli.ts";
import { eachLine, gaugeFleetFlags, streamDevices } from "./child.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    ...gaugeFleetFlags({ gauges: 10000, seconds: 60 }),
    small: { type: "string", default: "1000" },
    "small-seconds": { type: "string", default: "30" },
    sims: { type: "string", default: "4" },
  },
});

interface Run {
  gauges: number;
  interval: string;
  expected: number;
  received: number;
  timeouts: number;
  errors: number;
  missed: number;
  p99: number;
  cpu: number;
  peak: number;
  steady: number;
  growth: number;
  simCpu: number;
}

/** Simulators in `sims` processes, then `labwire stream` of every gauge for `seconds`. */
async function measure(gauges: number, sims: number, interval: string, seconds: number) {
  const per = Math.ceil(gauges / sims);
  const simulators = [];
  const addresses: string[] = [];
  for (let left = gauges; left > 0; left -= per) {
    const n = Math.min(per, left);
    const args = ["baratron", "--listen", "127.0.0.1:0", "--count", String(n)];
    const sim = await spawnSim([...args, "--latency", values.latency!], n);
    simulators.push(sim);
    addresses.push(...sim.addresses);
  }
  if (addresses.length !== gauges) throw new Error(`simulators printed ${addresses.length}`);
  const dir = await Deno.makeTempDir({ prefix: "labwire-scale-" });
  const stream = await streamDevices(dir, addresses, "g", { interval, seconds }, SHIPPED_V8_FLAGS);
  const started = performance.now();
  let received = 0;
  let timeouts = 0;
  let errors = 0;
  const counting = eachLine(stream.stdout, (line) => {
    received++;
    if (line.includes('"error"')) {
      errors++;
      if (line.includes("no answer within")) timeouts++;
    }
  });
  const stderrText = new Response(stream.stderr).text();
  // CPU and memory over the sampling period (opening 10,000 devices takes a few seconds).
  const warm = Math.min(10, seconds / 3);
  await new Promise((r) => setTimeout(r, warm * 1000));
  const cpu0 = cpuSeconds(stream.pid);
  const sim0 = simulators.map((s) => cpuSeconds(s.pid));
  const machine0 = machineCpuSeconds();
  const load0 = loadAverage();
  const t0 = performance.now();
  let cpu1 = cpu0;
  let sim1 = sim0;
  let machine1 = machine0;
  let t1 = t0;
  let peak = 0;
  const rss: number[] = [];
  while (performance.now() - started < (seconds - 1) * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    try {
      const m = memoryMb(stream.pid);
      peak = Math.max(peak, m.peak);
      if (Number.isFinite(m.rss)) rss.push(m.rss);
      cpu1 = cpuSeconds(stream.pid);
      sim1 = simulators.map((s) => cpuSeconds(s.pid));
      machine1 = machineCpuSeconds();
      t1 = performance.now();
    } catch {
      break; // exited
    }
  }
  const status = await stream.status;
  await counting;
  const stderr = await stderrText;
  await Promise.all(simulators.map((s) => s.stop()));
  await Deno.remove(dir, { recursive: true });
  if (status.code !== 0) throw new Error(`stream exited ${status.code}: ${stderr.slice(-500)}`);
  const stats = JSON.parse(stderr.trim().split("\n").at(-1)!);
  const wall = (t1 - t0) / 1000;
  // RSS flat: the last samples against those 10 s after the start of sampling.
  const settled = rss.slice(Math.min(rss.length - 1, 10));
  const run: Run = {
    gauges,
    interval,
    expected: stats.expected,
    received,
    timeouts,
    errors,
    missed: stats.missed,
    p99: stats.lateness_ms.p99,
    cpu: (cpu1 - cpu0) / wall,
    peak,
    steady: settled.length ? settled.reduce((a, b) => a + b, 0) / settled.length : NaN,
    growth: settled.length ? Math.max(...settled) - settled[0]! : NaN,
    simCpu: sim1.reduce((a, b, i) => a + b - sim0[i]!, 0) / wall,
  };
  // The machine over the same window: what else ran beside labwire and its simulators (another
  // bench's leftovers, other work) shows here, not in labwire's own figure.
  const cores = navigator.hardwareConcurrency;
  const machineBusy = (machine1.busy - machine0.busy) / (machine1.total - machine0.total) * cores;
  console.log(
    `scale: ${gauges} gauges (${values.latency} latency, ${simulators.length} simulator processes), ` +
      `every ${interval} for ${seconds} s, V8 flags ${SHIPPED_V8_FLAGS}`,
  );
  console.log(`  samples expected / received   ${run.expected} / ${run.received}`);
  console.log(`  errors (timeouts)             ${run.errors} (${run.timeouts})`);
  console.log(`  missed deadlines              ${run.missed}`);
  console.log(`  lateness p99                  ${run.p99} ms`);
  console.log(`  labwire CPU                   ${round(run.cpu, 3)} cores`);
  console.log(
    `  labwire RSS peak / steady     ${round(run.peak, 1)} MB / ${round(run.steady, 1)} MB ` +
      `(growth after settling ${round(run.growth, 1)} MB)`,
  );
  // The curve, not only its ends: a leak climbs steadily, a heap that settles levels off.
  const step = Math.max(10, Math.round(rss.length / 10));
  const curve = rss.filter((_, i) => i % step === 0).map((mb) => round(mb, 1));
  console.log(`  labwire RSS every ${step} s (MB)  ${curve.join(" ")}`);
  console.log(`  simulators CPU (all)          ${round(run.simCpu, 3)} cores`);
  console.log(
    `  machine CPU busy (all)        ${round(machineBusy, 2)} of ${cores} cores ` +
      `(load average ${load0} -> ${loadAverage()})`,
  );
  return run;
}

const targets = new Targets("scale");
const big = await measure(Number(values.gauges), Number(values.sims), "1s", Number(values.seconds));
targets.check(`${big.gauges} gauges at 1 Hz: missed deadlines`, big.missed, "<=", 0);
targets.check(`${big.gauges} gauges at 1 Hz: timeouts`, big.timeouts, "<=", 0);
targets.check(`${big.gauges} gauges at 1 Hz: labwire CPU`, big.cpu, "<=", 0.5, "cores");
targets.check(`${big.gauges} gauges at 1 Hz: peak RSS`, big.peak, "<=", 200, "MB");
targets.check(`${big.gauges} gauges at 1 Hz: RSS growth after settling`, big.growth, "<=", 5, "MB");
// `--small 0` skips the 1,000-gauge run (e.g. a long run of the large one alone).
if (Number(values.small) > 0) {
  const small = await measure(
    Number(values.small),
    1,
    "500ms",
    Number(values["small-seconds"]),
  );
  targets.check(`${small.gauges} gauges at 2 Hz: missed deadlines`, small.missed, "<=", 0);
  targets.check(`${small.gauges} gauges at 2 Hz: labwire CPU`, small.cpu, "<=", 0.07, "cores");
  targets.check(`${small.gauges} gauges at 2 Hz: peak RSS`, small.peak, "<=", 80, "MB");
  const perDevice = (big.steady - small.steady) * 1024 / (big.gauges - small.gauges);
  console.log(`memory per polled device: ${round(perDevice, 2)} KB (steady RSS difference)`);
  targets.check("memory per polled device", perDevice, "<=", 10, "KB");
}
targets.finish();
