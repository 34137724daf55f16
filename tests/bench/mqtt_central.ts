/**
 * Issue 15, part 2 of `deno task bench mqtt`: one central daemon for a whole lab. Three remote
 * `labwire serve` daemons (one per lab PC), each sampling 100 `sim://gauge` devices at 10 Hz
 * (`--no-record`), are aggregated by one central `serve` through 300 `labwire://` devices,
 * recording them into a session. The bench subscribes to each remote's event stream (what was
 * taken) and to the central's (what arrived) and compares them reading by reading over the
 * window. Targets: 0 readings missed (taken by a remote, never at the central), end-to-end
 * latency p99 ≤ 100 ms (a reading's `t`, when the remote took it, to its arrival in the central
 * daemon — where it is recorded, alarmed and served — from the central's read latency histogram
 * on /metrics; the remote's 50 ms event batching included; what a client of the central's own
 * event stream sees, another ≤ 50 ms of batching later, is printed beside it), central CPU
 * ≤ 0.3 core (user + system from /proc/PID/stat over the window, with the shipped V8 flags).
 *
 *     deno run -A tests/bench/mqtt.ts                 # part 1, then this part
 *     deno run -A tests/bench/mqtt_central.ts [--seconds 60] [--cpu-prof DIR]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuSeconds, round, runQueueWaitSeconds } from "./proc_stats.ts";
import { gaugeBench, metric, type ServeProcess, spawnServe } from "./serve_bench_setup.ts";
import { SHIPPED_V8_FLAGS } from "./shipped_flags.ts";
import { Targets } from "./targets.ts";

/** How the central bench runs. */
export interface CentralBenchOptions {
  /** Measured window, s (default 60). */
  seconds?: number;
  /** Remote daemons (default 3). */
  remotes?: number;
  /** Devices per remote (default 100). */
  devices?: number;
  /** Sampling rate of each device, Hz (default 10). */
  hz?: number;
  /** Warm-up before the window, s (default 5). */
  warmup?: number;
  /** A directory for a `--cpu-prof` profile of the central daemon. */
  cpuProf?: string;
}

/** What an event stream watcher saw in the window: readings by `device@t`, and latencies. */
class Watcher {
  readonly seen = new Set<string>();
  readonly latencies: number[] = [];
  /** Times the stream ended under it (and it resumed). */
  reconnects = 0;
  /** Error readings seen (a remote unreachable from the central daemon). */
  errors = 0;
  readonly #done: Promise<void>;
  readonly #abort = new AbortController();

  /**
   * Follows `url`'s event stream, keeping readings with `t` in [from, to] (epoch s) by
   * `PREFIXdevice@t` (a remote's `g1` is the central's `r0_g1`).
   */
  constructor(
    url: string,
    readonly prefix: string,
    readonly from: () => number,
    readonly to: () => number,
  ) {
    this.#done = this.#run(url).catch((err) => {
      if (!this.#abort.signal.aborted) throw err;
    });
  }

  async #run(url: string): Promise<void> {
    // A client that falls 5 s behind is dropped by the daemon; like a browser's EventSource it
    // comes back with Last-Event-ID and gets what it missed (counted: a loaded machine does it).
    let lastId: string | undefined;
    while (!this.#abort.signal.aborted) {
      const res = await fetch(`${url}/api/stream`, {
        headers: lastId === undefined ? {} : { "last-event-id": lastId },
        signal: this.#abort.signal,
      });
      const reader = res.body!.getReader();
      // an abort alone does not always end a read in progress: cancelling the reader does
      this.#abort.signal.addEventListener("abort", () => reader.cancel().catch(() => {}));
      let buf = "";
      const decoder = new TextDecoder();
      while (true) {
        const { value: chunk, done } = await reader.read();
        if (done) break;
        const now = Date.now();
        buf += decoder.decode(chunk, { stream: true });
        let at = 0;
        while (true) {
          const i = buf.indexOf('data: {"t":', at);
          if (i < 0) break;
          const end = buf.indexOf("\n", i);
          if (end < 0) break;
          at = end + 1;
          // `data: {"t":T,"device":"NAME",…`: the time and the device, without a JSON parse
          const comma = buf.indexOf(",", i + 11);
          const t = Number(buf.slice(i + 11, comma));
          const d0 = buf.indexOf('"', comma + 10) + 1;
          const device = buf.slice(d0, buf.indexOf('"', d0));
          lastId = `${Math.round(t * 1000)}:${device}`;
          if (buf.slice(i, end).includes('"error":')) this.errors++;
          if (t < this.from() || t > this.to()) continue;
          this.seen.add(`${this.prefix}${device}@${t}`);
          this.latencies.push(now - t * 1000);
        }
        buf = buf.slice(at);
      }
      if (!this.#abort.signal.aborted) this.reconnects++;
    }
  }

  /** Stops watching. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }
}

/** How often the bench's own stream clients fell behind and resumed, for the summary line. */
function watchersResumed(central: Watcher, remotes: Watcher[]): string {
  return `${central.reconnects} times from the central, ` +
    `${remotes.reduce((a, w) => a + w.reconnects, 0)} from the remotes`;
}

/** The central daemon's read latency histogram, summed over its devices: count per `le` (ms). */
async function latencyHistogram(url: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<number, number>();
  const re = /^labwire_read_latency_seconds_bucket\{device="[^"]*",le="([^"]+)"\} (\S+)$/gm;
  for (const m of text.matchAll(re)) {
    const le = m[1] === "+Inf" ? Infinity : Number(m[1]) * 1000;
    out.set(le, (out.get(le) ?? 0) + Number(m[2]));
  }
  return out;
}

/**
 * The p-th percentile of the readings counted between two histograms, interpolated linearly
 * within its bucket (Prometheus' histogram_quantile).
 */
function histogramQuantile(before: Map<number, number>, after: Map<number, number>, p: number) {
  const les = [...after.keys()].sort((a, b) => a - b);
  const counts = les.map((le) => after.get(le)! - (before.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  const rank = p * total;
  for (let i = 0; i < les.length; i++) {
    if (counts[i]! < rank) continue;
    const lo = i === 0 ? 0 : les[i - 1]!;
    const below = i === 0 ? 0 : counts[i - 1]!;
    if (les[i] === Infinity) return lo;
    return lo + (les[i]! - lo) * (rank - below) / Math.max(1, counts[i]! - below);
  }
  return NaN;
}

/** The p-th percentile of unsorted `xs`. */
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
}

/** Runs the central-daemon bench and checks its figures in `targets`. */
export async function centralBench(
  targets: Targets,
  opts: CentralBenchOptions = {},
): Promise<void> {
  const seconds = opts.seconds ?? 60;
  const n = opts.remotes ?? 3;
  const devices = opts.devices ?? 100;
  const hz = opts.hz ?? 10;
  const dir = await Deno.makeTempDir({ prefix: "labwire-central-bench-" });
  const remotes: ServeProcess[] = [];
  let central: ServeProcess | undefined;
  const watchers: Watcher[] = [];
  try {
    await Deno.writeTextFile(`${dir}/remote.toml`, gaugeBench(devices, 1000 / hz));
    for (let r = 0; r < n; r++) {
      remotes.push(await spawnServe([`${dir}/remote.toml`, "--no-record"]));
    }
    let config = "";
    for (let r = 0; r < n; r++) {
      const hostPort = remotes[r]!.url.replace(/^http:\/\//, "");
      for (let i = 0; i < devices; i++) {
        config += `[devices.r${r}_g${i}]\naddress = "labwire://${hostPort}/g${i}"\n` +
          `interval = "${1000 / hz}ms"\n`;
      }
    }
    console.error(`central: ${n} remotes serving`);
    await Deno.writeTextFile(`${dir}/central.toml`, config);
    const prof = opts.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${opts.cpuProf}`] : [];
    central = await spawnServe(
      [`${dir}/central.toml`, "--session", `${dir}/central.sqlite`],
      [`--v8-flags=${SHIPPED_V8_FLAGS}`, ...prof],
    );
    console.error(`central: the central daemon serves ${n * devices} labwire:// devices`);
    let t0 = Infinity;
    let t1 = Infinity;
    const from = () => t0;
    const to = () => t1;
    const centralWatch = new Watcher(central.url, "", from, to);
    const remoteWatch = remotes.map((r, i) => new Watcher(r.url, `r${i}_`, from, to));
    watchers.push(centralWatch, ...remoteWatch);
    await new Promise((r) => setTimeout(r, (opts.warmup ?? 5) * 1000));

    const missed0 = await Promise.all(
      remotes.map((r) => metric(r.url, "labwire_missed_deadlines_total")),
    );
    const histogram0 = await latencyHistogram(central.url);
    const cpu0 = cpuSeconds(central.pid);
    const wait0 = runQueueWaitSeconds(central.pid);
    t0 = Date.now() / 1000;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    t1 = Date.now() / 1000;
    const cpu1 = cpuSeconds(central.pid);
    const wait1 = runQueueWaitSeconds(central.pid);
    const arrival = histogramQuantile(histogram0, await latencyHistogram(central.url), 0.99);
    const remoteMissed = (await Promise.all(
      remotes.map((r) => metric(r.url, "labwire_missed_deadlines_total")),
    )).reduce((a, m, i) => a + m - missed0[i]!, 0);
    // what the remotes took last is still on its way: give it a second to arrive
    await new Promise((r) => setTimeout(r, 1000));
    for (const w of watchers) await w.stop();
    watchers.length = 0;

    const taken = new Set(remoteWatch.flatMap((w) => [...w.seen]));
    let missing = 0;
    for (const k of taken) if (!centralWatch.seen.has(k)) missing++;
    const expected = n * devices * hz * (t1 - t0);
    const cores = (cpu1 - cpu0) / (t1 - t0);
    const p99 = percentile(centralWatch.latencies, 0.99);
    console.error(
      `central: ${taken.size} readings taken by ${n} remotes in the ${
        round(t1 - t0, 1)
      } s window ` +
        `(${round(expected, 0)} due, ${remoteMissed} remote deadlines missed), ` +
        `${centralWatch.seen.size} arrived at the central daemon, ${missing} missing ` +
        `(${centralWatch.errors} error readings; event stream resumed ${
          watchersResumed(centralWatch, remoteWatch)
        }); latency to the central daemon p99 ${round(arrival, 1)} ms (its read latency ` +
        `histogram), to a client of its event stream p50 ${
          round(percentile(centralWatch.latencies, 0.5), 1)
        } ms, p99 ${round(p99, 1)} ms (to a client of a remote's, p99 ${
          round(percentile(remoteWatch.flatMap((w) => w.latencies), 0.99), 1)
        } ms); central CPU ${round(cores, 3)} cores, run-queue wait ${
          round((wait1 - wait0) / (t1 - t0), 3)
        } s/s`,
    );
    targets.check("central: readings missed (3 × 100 devices at 10 Hz)", missing, "<=", 0);
    targets.check(
      "central: end-to-end latency p99 (remote reading to central daemon)",
      round(arrival, 2),
      "<=",
      100,
      "ms",
    );
    targets.check("central: central daemon CPU", round(cores, 3), "<=", 0.3, "cores");
  } finally {
    for (const w of watchers) await w.stop().catch(() => {});
    await central?.stop();
    for (const r of remotes) await r.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "60" },
      devices: { type: "string", default: "100" },
      "cpu-prof": { type: "string" },
    },
  });
  const targets = new Targets("mqtt");
  await centralBench(targets, {
    seconds: Number(values.seconds),
    devices: Number(values.devices),
    cpuProf: values["cpu-prof"],
  });
  targets.finish();
}
