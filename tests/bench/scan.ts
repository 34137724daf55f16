/**
 * Scan engine overhead: a 10,000-point ascan of zero-latency sim devices (one positioner, the
 * sim motor at near-infinite speed; three detectors: det.counts, dmm.voltage,
 * thermo.temperature), without and with recording into a session file. For every point:
 * wall time since the previous point minus the time spent inside device calls (zero-latency
 * sims answer synchronously, so a call's synchronous part is its whole cost).
 *
 * Target (issue 5): engine overhead median ≤ 0.1 ms per point, with and without a session.
 *
 * Run: deno run -A tests/bench/scan.ts
 */
import { DatabaseSync } from "node:sqlite";
import "../../lib/drivers/mod.ts";
import { parseAddress } from "../../lib/device/address.ts";
import type { Device } from "../../lib/device/device.ts";
import { Lab } from "../../lib/lab/lab.ts";
import { ScanRun } from "../../lib/scan/runner.ts";
import type { ScanRequest } from "../../lib/scan/request.ts";
import { ScanStore } from "../../lib/session/scan_store.ts";
import { Targets } from "./targets.ts";

const targets = new Targets("scan");

const POINTS = 10_000;

let deviceMs = 0;
let moving = 0;

/** Accumulates the time spent inside a device's calls. */
function instrument(d: Device): void {
  const wrap = (name: "read" | "write" | "isMoving") => {
    const orig = (d[name] as ((...a: unknown[]) => Promise<unknown>) | undefined)?.bind(d);
    if (!orig) return;
    Object.defineProperty(d, name, {
      configurable: true,
      value: (...args: unknown[]) => {
        const t0 = performance.now();
        const p = orig(...args);
        deviceMs += performance.now() - t0;
        if (name === "isMoving") p.then((m) => m === true && moving++);
        return p;
      },
    });
  };
  wrap("read");
  wrap("write");
  wrap("isMoving");
}

async function openLab(): Promise<Lab> {
  const cfg = (name: string, addr: string) => ({
    name,
    address: parseAddress(addr),
    interval: 1000,
    options: {},
  });
  const lab = await Lab.open({ devices: [], sections: {} }, [
    cfg("motor", "sim://motor?velocity=1e9&min=-1e6&max=1e6"),
    cfg("det", "sim://det?seed=1"),
    cfg("dmm", "sim://dmm?seed=2"),
    cfg("thermo", "sim://thermo?seed=3"),
  ]);
  for (const m of lab.managers) instrument(m.device);
  return lab;
}

function request(n: number): ScanRequest {
  return {
    plan: {
      kind: "line",
      relative: false,
      num: n,
      spacing: "linear",
      axes: [{ positioner: "motor.position", start: 0, stop: n / 100 }],
    },
    detectors: ["det.counts", "dmm.voltage", "thermo.temperature"],
  };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function bench(label: string, store?: ScanStore): Promise<void> {
  const lab = await openLab();
  try {
    // warm-up: let the JIT see the per-point path
    await new ScanRun(lab, request(2_000), { store }).start();
    const run = new ScanRun(lab, request(POINTS), { store });
    const overhead: number[] = [];
    const wall: number[] = [];
    const device: number[] = [];
    let last = 0;
    let lastDevice = 0;
    run.onState((s) => {
      if (s.state === "running") {
        last = performance.now();
        lastDevice = deviceMs;
      }
    });
    moving = 0;
    run.onPoint(() => {
      const now = performance.now();
      const w = now - last;
      const d = deviceMs - lastDevice;
      wall.push(w);
      device.push(d);
      overhead.push(w - d);
      last = now;
      lastDevice = deviceMs;
    });
    const t0 = performance.now();
    const result = await run.start();
    const total = performance.now() - t0;
    if (result.state !== "done" || result.recorded !== POINTS) {
      throw new Error(`scan ended ${result.state}: ${result.error}`);
    }
    const o = [...overhead].sort((a, b) => a - b);
    const w = [...wall].sort((a, b) => a - b);
    const d = [...device].sort((a, b) => a - b);
    const f = (x: number) => x.toFixed(4);
    console.log(
      `scan ${label}: ${POINTS} points in ${(total / 1000).toFixed(2)} s; per point: ` +
        `wall median ${f(quantile(w, 0.5))} ms, device median ${f(quantile(d, 0.5))} ms, ` +
        `engine overhead median ${f(quantile(o, 0.5))} ms (p90 ${f(quantile(o, 0.9))}, ` +
        `p99 ${f(quantile(o, 0.99))}, mean ${
          f(overhead.reduce((a, b) => a + b, 0) / POINTS)
        }); moves still running at first poll: ${moving}`,
    );
    targets.check(`engine overhead median, ${label}`, quantile(o, 0.5), "<=", 0.1, "ms");
  } finally {
    await lab.close();
  }
}

console.log(
  "scan bench: ascan of sim://motor (velocity 1e9), detectors det.counts, dmm.voltage, " +
    "thermo.temperature, zero latency; target: engine overhead median ≤ 0.1 ms per point",
);
await bench("without session");
const dir = await Deno.makeTempDir({ prefix: "labwire-scan-bench-" });
const db = new DatabaseSync(`${dir}/bench.sqlite`);
db.exec("PRAGMA journal_mode = WAL");
db.exec("PRAGMA synchronous = NORMAL");
try {
  await bench("with session (WAL file, batched)", new ScanStore(db));
} finally {
  db.close();
  await Deno.remove(dir, { recursive: true });
}
targets.finish();
