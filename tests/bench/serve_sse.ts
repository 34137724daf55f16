/**
 * SSE fan-out of `labwire serve`: 200 clients on /api/stream while the daemon samples (and
 * records) 100 sim devices at 10 Hz, for 60 s. Targets: no client more than 1 s behind (lag =
 * arrival time − reading time, worst over every chunk of every client) and none dropped for
 * lagging (issue 4), daemon RSS flat (peak of the second half ≤ 1.15 × that of the first).
 *
 *     deno run -A tests/bench/serve_sse.ts [--clients 200] [--seconds 60]
 */
import { gaugeBench, metric, spawnServe } from "./serve_bench_setup.ts";
import { memoryMb } from "./proc_stats.ts";
import { Targets } from "./targets.ts";

const arg = (name: string, def: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : def;
};
const CLIENTS = arg("clients", 200);
const SECONDS = arg("seconds", 60);
const DEVICES = 100;

const dir = await Deno.makeTempDir({ prefix: "labwire-sse-bench-" });
await Deno.writeTextFile(`${dir}/bench.toml`, gaugeBench(DEVICES, 100));
const serve = await spawnServe(["--config", `${dir}/bench.toml`, "--session", `${dir}/s.sqlite`]);
await new Promise((r) => setTimeout(r, 2000));

interface ClientStats {
  events: number;
  maxLagMs: number;
  ended: boolean;
}

/** A reading's time as its event's JSON starts: `{"t":1764088800.123,"device":`. */
const READING_TIME = /\{"t":(\d+(?:\.\d+)?),"device":/;

const stop = new AbortController();
const stats: ClientStats[] = [];

async function client(s: ClientStats): Promise<void> {
  const res = await fetch(`${serve.url}/api/stream`, { signal: stop.signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  // the stream may already be closed; cancelling is best effort
  stop.signal.addEventListener("abort", () => reader.cancel().catch(() => {}), { once: true });
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) {
        s.ended = !stop.signal.aborted;
        return;
      }
      const now = Date.now();
      // The first reading of a chunk is its oldest: its age is how far behind this client is.
      // Only a whole time counts: a chunk may end inside one (`"t":17`, read as 17 s, made a
      // lag of the whole epoch once a loaded machine coalesced flushes into larger reads).
      const m = READING_TIME.exec(value);
      if (m) {
        const lag = now - Number(m[1]) * 1000;
        if (lag > s.maxLagMs) s.maxLagMs = lag;
      }
      let k = -1;
      while ((k = value.indexOf("\nevent: reading", k + 1)) >= 0) s.events++;
    }
  } catch {
    // aborted at the end
  }
}

const clients: Promise<void>[] = [];
for (let i = 0; i < CLIENTS; i++) {
  const s: ClientStats = { events: 0, maxLagMs: 0, ended: false };
  stats.push(s);
  clients.push(client(s));
}
const started = Date.now();
const rss: { t: number; mib: number; heap: number }[] = [];
const lagOverTime: number[] = [];
while (Date.now() - started < SECONDS * 1000) {
  await new Promise((r) => setTimeout(r, 5000));
  rss.push({
    t: Math.round((Date.now() - started) / 1000),
    mib: memoryMb(serve.pid).rss,
    heap: (await metric(serve.url, "labwire_heap_used_bytes")) / 2 ** 20,
  });
  lagOverTime.push(Math.max(...stats.map((s) => s.maxLagMs)));
}
const elapsed = (Date.now() - started) / 1000;
const lagDrops = await metric(serve.url, "labwire_sse_lag_disconnects_total");
const missed = await metric(serve.url, "labwire_missed_deadlines_total");
stop.abort();
await Promise.allSettled(clients);
const code = await serve.stop();
await Deno.remove(dir, { recursive: true });

const events = stats.map((s) => s.events);
const expected = DEVICES * 10 * elapsed;
const worst = Math.max(...stats.map((s) => s.maxLagMs));
console.log(
  `serve SSE fan-out: ${CLIENTS} clients x ${DEVICES} devices at 10 Hz for ${elapsed.toFixed(0)} s`,
);
console.log(
  `events per client: min ${Math.min(...events)} max ${Math.max(...events)} ` +
    `(expected ~${expected.toFixed(0)}); total ${
      (events.reduce((a, b) => a + b, 0) / elapsed).toFixed(0)
    } events/s`,
);
console.log(
  `worst lag over all clients: ${worst.toFixed(0)} ms; ` +
    `clients dropped for lagging: ${lagDrops}; streams ended early: ${
      stats.filter((s) => s.ended).length
    }`,
);
console.log(`worst lag so far, every 5 s: ${lagOverTime.map((x) => x.toFixed(0)).join(" ")} ms`);
console.log(`daemon RSS every 5 s (MiB): ${rss.map((r) => r.mib.toFixed(0)).join(" ")}`);
console.log(`daemon JS heap used every 5 s (MiB): ${rss.map((r) => r.heap.toFixed(0)).join(" ")}`);
// The JS heap saws up and down (garbage until a major GC), so compare peaks, not end points:
// the peak RSS of the second half against that of the first half (after a 10 s warm-up).
const warm = rss.filter((r) => r.t > 10);
const mid = Math.floor(warm.length / 2);
const peak1 = Math.max(...warm.slice(0, mid).map((r) => r.mib));
const peak2 = Math.max(...warm.slice(mid).map((r) => r.mib));
const flat = peak2 <= peak1 * 1.15;
console.log(
  `peak RSS first half ${peak1.toFixed(0)} MiB, second half ${peak2.toFixed(0)} MiB: ` +
    `${flat ? "flat" : "GROWING"}; missed sampling deadlines: ${missed}; daemon exit ${code}`,
);
const targets = new Targets("sse");
targets.check("worst lag over all clients", Math.round(worst), "<=", 1000, "ms");
targets.check("clients dropped for lagging", lagDrops, "<=", 0);
targets.check("streams ended early", stats.filter((s) => s.ended).length, "<=", 0);
// Too short a run has no warm first half to compare with: NaN, which misses.
const growth = Number.isFinite(peak1) && Number.isFinite(peak2) ? peak2 / peak1 : NaN;
targets.check("daemon peak RSS, second half vs first", Math.round(growth * 100), "<=", 115, "%");
targets.require("daemon exit code", code === 0, String(code), "0");
targets.finish();
