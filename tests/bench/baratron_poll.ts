/**
 * Driver-level fan-out benchmark: `labwire sim baratron` serving N gauges in its own process
 * (each answering after 20 ms), and a bare poller process that opens every gauge through the
 * baratron:// driver and polls all of them concurrently on a fixed interval — no lab, output or
 * scheduling code, so the figures are the driver + HTTP client's own cost. Reports polls and
 * errors, poll round-trip p50/p99, CPU and peak RSS of the poller, and the same of the
 * simulator process. Targets: issue 2's fan-out budgets, which the driver alone (a part of
 * `labwire stream`) must keep too: no failed poll, poller CPU ≤ 0.3 core, peak RSS ≤ 150 MB.
 *
 *   deno run -A tests/bench/baratron_poll.ts [--gauges 1000] [--seconds 30] [--interval 500ms]
 *     [--v8-flags=FLAGS]   (V8 flags of the poller; `deno task bench` passes the shipped ones)
 *
 * @module
 */
import { parseArgs } from "node:util";
import { percentile } from "../../lib/schedule/percentile.ts";
import { memoryMb, round, watchCpu } from "./proc_stats.ts";
import { gaugeFleetFlags, readLines, startBaratronSims, startPoller } from "./child.ts";
import { Targets } from "./targets.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    ...gaugeFleetFlags({ gauges: 1000, seconds: 30 }),
    interval: { type: "string", default: "500ms" },
    poller: { type: "boolean", default: false },
    "v8-flags": { type: "string" },
  },
});

if (values.poller) {
  await poller();
} else {
  await orchestrate();
}

/** Child mode: addresses on stdin, polls, prints one JSON line of figures on stdout. */
async function poller(): Promise<void> {
  await import("../../lib/drivers/mod.ts");
  const { openDevice } = await import("../../lib/lab/open.ts");
  const { parseAddress } = await import("../../lib/device/address.ts");
  const { parseDuration } = await import("../../lib/config/duration.ts");
  const addresses = (await new Response(Deno.stdin.readable).text()).trim().split("\n");
  const devices = await Promise.all(
    addresses.map((a, i) =>
      openDevice({ name: `g${i}`, address: parseAddress(a), interval: 1000, options: {} })
    ),
  );
  const interval = parseDuration(values.interval!, "ms");
  const seconds = Number(values.seconds);
  const rtt: number[] = [];
  let errors = 0;
  let firstError = "";
  const pollAll = () =>
    Promise.all(devices.map(async (d) => {
      const t = performance.now();
      try {
        await d.read();
        rtt.push(performance.now() - t);
      } catch (err) {
        errors++;
        firstError ||= (err as Error).message;
      }
    }));
  await pollAll(); // connect and warm up
  rtt.length = 0;
  errors = 0;
  firstError = "";
  console.log("ready");
  const start = performance.now();
  let inflight: Promise<unknown> = Promise.resolve();
  for (let k = 1; k <= Math.floor((seconds * 1000) / interval); k++) {
    inflight = pollAll();
    const next = start + k * interval;
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  await inflight;
  const q = (p: number) => round(percentile(rtt, p * 100));
  console.log(JSON.stringify({
    polls: rtt.length,
    errors,
    firstError,
    p50: q(0.5),
    p99: q(0.99),
    heapMb: round(Deno.memoryUsage().heapUsed / 1048576, 1),
    heapTotalMb: round(Deno.memoryUsage().heapTotal / 1048576, 1),
  }));
  await Promise.all(devices.map((d) => d.close()));
}

async function orchestrate(): Promise<void> {
  const gauges = Number(values.gauges);
  const seconds = Number(values.seconds);
  const { process: sim, out: simOut, addresses } = await startBaratronSims(gauges, values.latency!);
  // Measured as shipped: `deno task bench` passes `deno task compile`'s V8 flags.
  const { process: child, out } = await startPoller(
    import.meta.filename!,
    ["--seconds", String(seconds), "--interval", values.interval!],
    addresses,
    values["v8-flags"],
  );
  const cpu = watchCpu([child.pid, sim.pid]);
  let peak = 0;
  let simPeak = 0;
  const sampling = setInterval(() => {
    try {
      peak = Math.max(peak, memoryMb(child.pid).peak);
      simPeak = Math.max(simPeak, memoryMb(sim.pid).peak);
      // Only the poll phase: stop reading CPU once the child is done.
    } catch { /* exited */ }
  }, 500);
  const result = await readLines(out, 1);
  clearInterval(sampling);
  const [pollerCores, simCores] = cpu.stop() as [number, number];
  await child.status;
  while (!(await out.read()).done) { /* drain */ }
  sim.kill("SIGTERM");
  await sim.status;
  while (!(await simOut.read()).done) { /* drain */ }
  const r = JSON.parse(result[0]!);
  console.log(
    `baratron poll: ${gauges} gauges, ${values.latency} latency, every ${values.interval} for ${seconds} s (driver only, simulator in its own process)`,
  );
  console.log(
    `  polls ok / errors        ${r.polls} / ${r.errors}${
      r.firstError ? ` (${r.firstError})` : ""
    }`,
  );
  console.log(`  poll round trip p50/p99  ${r.p50} ms / ${r.p99} ms`);
  console.log(`  poller CPU               ${round(pollerCores, 3)} cores`);
  console.log(
    `  poller peak RSS          ${
      round(peak, 1)
    } MB (V8 heap at end: ${r.heapMb} MB used of ${r.heapTotalMb} MB)`,
  );
  console.log(`  simulator CPU            ${round(simCores, 3)} cores`);
  console.log(`  simulator peak RSS       ${round(simPeak, 1)} MB`);
  const targets = new Targets("baratron-poll");
  targets.check("failed polls", r.errors, "<=", 0);
  targets.check("poller CPU", pollerCores, "<=", 0.3, "cores");
  targets.check("poller peak RSS", peak, "<=", 150, "MB");
  targets.finish();
}
