/**
 * Peak statistics of a long scan: 100,000 points of a noisy gaussian on a background over one
 * positioner, with two detectors (one numeric, one text), collected point by point as the runner
 * does ({@linkcode PeakCollector.add}) and then reduced ({@linkcode PeakCollector.stats}). The
 * figure is the CPU time (user + system, `process.cpuUsage`) of collecting and reducing, median of
 * 15 runs after 3 warm-up runs; the reduction alone is printed too.
 *
 * Target (issue 14): peak statistics over a 100,000-point scan ≤ 50 ms.
 *
 * Run: deno run -A tests/bench/peak_stats.ts
 */
import process from "node:process";
import { PeakCollector } from "../../lib/scan/peak.ts";
import { Targets } from "./targets.ts";

const targets = new Targets("scan-peak");
const POINTS = 100_000;

// the points exist before the clock starts: the runner has them from the devices
const points = Array.from({ length: POINTS }, (_, i) => {
  const x = (i / POINTS) * 10;
  const y = 20 + 1000 * Math.exp(-((x - 4.2) ** 2) / 0.5) + ((i * 7919) % 13);
  return { index: i, positions: [x], readbacks: [x + 1e-4], values: [y, "ok"] };
});

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const total: number[] = [];
const reduce: number[] = [];
let cen = 0;
for (let run = 0; run < 18; run++) {
  const t0 = cpuMs();
  const c = new PeakCollector("m.x", ["d.c", "d.label"]);
  for (const p of points) c.add(p);
  const t1 = cpuMs();
  const s = c.stats();
  const t2 = cpuMs();
  cen = s["d.c"]!.cen!;
  if (run >= 3) {
    total.push(t2 - t0);
    reduce.push(t2 - t1);
  }
}
const median = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1]!;
targets.require(
  "centre found",
  Math.abs(cen - 4.2) < 0.01,
  `cen ${cen.toFixed(4)}`,
  "4.2 ± 0.01",
);
console.error(`scan-peak: reduction alone ${median(reduce).toFixed(2)} ms CPU (median)`);
targets.check("collect + stats, 100,000 points (CPU, median)", median(total), "<=", 50, "ms");
targets.finish();
