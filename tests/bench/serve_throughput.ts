/**
 * Throughput of `labwire serve`: wrk on `GET /api/devices/{name}` (cached) against a bare
 * `Deno.serve` hello-world in the same run, 64 connections, while the daemon records 100 sim
 * devices at 10 Hz. Targets: ≥ 50 % of the bare server's requests/s, p99 ≤ 10 ms, 0 missed
 * deadlines.
 *
 *     deno run -A tests/bench/serve_throughput.ts [--duration 10]
 */
import { gaugeBench, metric, spawnServe } from "./serve_bench_setup.ts";

const duration = Number(Deno.args[Deno.args.indexOf("--duration") + 1] || 10);
const rounds = Number(Deno.args[Deno.args.indexOf("--rounds") + 1] || 3);

interface WrkResult {
  rps: number;
  p50: string;
  p99: string;
  p99ms: number;
  errors: string;
}

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

async function wrk(url: string): Promise<WrkResult> {
  const out = await new Deno.Command("wrk", {
    args: ["-t1", "-c64", `-d${duration}s`, "--latency", url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const p50 = /^\s+50%\s+(\S+)/m.exec(text)?.[1] ?? "?";
  const p99 = /^\s+99%\s+(\S+)/m.exec(text)?.[1] ?? "?";
  const errors = /Socket errors:.*|Non-2xx.*/.exec(text)?.[0] ?? "none";
  return { rps, p50, p99, p99ms: ms(p99), errors };
}

const dir = await Deno.makeTempDir({ prefix: "labwire-bench-" });
await Deno.writeTextFile(`${dir}/bench.toml`, gaugeBench(100, 100));

/** Starts a bare Deno.serve in its own process (like the daemon) running `handler` (JS source). */
async function bareServer(handler: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: (a) => console.log(a.port) }, ${handler});`,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await reader.read()).value?.trim());
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel();
    },
  };
}

// The reference: hello-world on Deno.serve.
const bare = await bareServer(`() => new Response("hello world")`);
const barePort = bare.port;

const serve = await spawnServe([
  "--config",
  `${dir}/bench.toml`,
  "--session",
  `${dir}/bench.session.sqlite`,
]);
// Let the daemon settle into its sampling rhythm and cache attrs.
await new Promise((r) => setTimeout(r, 3000));
await (await fetch(`${serve.url}/api/devices/g42`)).body?.cancel();
// A second reference doing the least any API must do here: read the URL, answer the same JSON.
const sameBody = await (await fetch(`${serve.url}/api/devices/g42`)).text();
const bareJson = await bareServer(
  `(req) => new Response(req.url ? ${
    JSON.stringify(sameBody)
  } : "", { headers: { "content-type": "application/json" } })`,
);
const missedBefore = await metric(serve.url, "labwire_missed_deadlines_total");
const dueBefore = await metric(serve.url, "labwire_samples_due_total");

// Alternate the two servers so load from elsewhere on the machine hits both alike; report medians.
const bares: WrkResult[] = [];
const jsons: WrkResult[] = [];
const labs: WrkResult[] = [];
for (let i = 0; i < rounds; i++) {
  bares.push(await wrk(`http://127.0.0.1:${barePort}/`));
  jsons.push(await wrk(`http://127.0.0.1:${bareJson.port}/api/devices/g42`));
  labs.push(await wrk(`${serve.url}/api/devices/g42`));
}
const median = (xs: WrkResult[]) => [...xs].sort((a, b) => a.rps - b.rps)[xs.length >> 1]!;
const b = median(bares);
const l = median(labs);
const j = median(jsons);
const medianP99 = [...labs].map((x) => x.p99ms).sort((x, y) => x - y)[labs.length >> 1]!;

const missedAfter = await metric(serve.url, "labwire_missed_deadlines_total");
const dueAfter = await metric(serve.url, "labwire_samples_due_total");
const rows = await metric(serve.url, "labwire_session_rows_written_total");

await bare.stop();
await bareJson.stop();
const code = await serve.stop();
await Deno.remove(dir, { recursive: true });

const ratio = l.rps / b.rps;
console.log(
  `serve throughput: wrk -t1 -c64 -d${duration}s, ${rounds} alternating rounds, medians; ` +
    `${Deno.build.os} ${navigator.hardwareConcurrency} cpus`,
);
for (let i = 0; i < rounds; i++) {
  console.log(
    `  round ${i + 1}: bare ${bares[i]!.rps.toFixed(0)} req/s p99 ${bares[i]!.p99}; ` +
      `bare same JSON ${jsons[i]!.rps.toFixed(0)} req/s p99 ${jsons[i]!.p99}; ` +
      `labwire ${labs[i]!.rps.toFixed(0)} req/s p99 ${labs[i]!.p99}`,
  );
}
console.log(
  `bare Deno.serve hello-world:      ${
    b.rps.toFixed(0)
  } req/s  p50 ${b.p50}  p99 ${b.p99}  errors: ${b.errors}`,
);
console.log(
  `labwire GET /api/devices/{name}:  ${
    l.rps.toFixed(0)
  } req/s  p50 ${l.p50}  p99 ${l.p99}  errors: ${l.errors}`,
);
console.log(
  `bare Deno.serve, same ${sameBody.length}-byte JSON + req.url: ${
    j.rps.toFixed(0)
  } req/s  p50 ${j.p50}  p99 ${j.p99}`,
);
console.log(
  `ratio: ${(ratio * 100).toFixed(1)} % of bare hello-world (target >= 50 %)  ${
    ratio >= 0.5 ? "OK" : "MISSED"
  }; ${((l.rps / j.rps) * 100).toFixed(1)} % of a bare server answering the same JSON`,
);
console.log(
  `p99 (median of rounds): ${medianP99} ms (target <= 10 ms)  ${medianP99 <= 10 ? "OK" : "MISSED"}`,
);
console.log(
  `recording 100 sim devices at 10 Hz during the run: ${dueAfter - dueBefore} readings due, ` +
    `${missedAfter - missedBefore} missed deadlines (target 0)  ${
      missedAfter - missedBefore === 0 ? "OK" : "MISSED"
    }; ` +
    `${rows} session rows written; daemon exit ${code}`,
);
