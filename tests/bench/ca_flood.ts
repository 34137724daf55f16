/**
 * The CA server under hostile clients (issue 9, finding 3): `labwire serve` with a `[ca]`
 * section, as a process, while raw TCP clients send Channel Access messages that never finish.
 *
 * 1. 20 clients each announce a 100 MB message (beyond `max_array_bytes`): every circuit must be
 *    closed at its header.
 * 2. 20 clients each announce a 15 MB message (legal here: `max_array_bytes = 16 MiB`) and send
 *    all of it but the last 64 KiB, in 64 KiB writes, while another client polls `/healthz`
 *    every 10 ms. The daemon must hold what it was sent and not much more (no whole-buffer copy
 *    per read: before, 20 × 15 MB cost 1.3 GB), and keep answering.
 *
 * Targets: 20 of 20 oversized circuits closed; peak RSS growth ≤ 2 × the bytes held (the
 * decoder's bound: blocks sized to what has arrived, never more than twice it); `/healthz` p99
 * ≤ 50 ms during the flood.
 *
 * Run: deno run -A tests/bench/ca_flood.ts [clients]   (default 20)
 *
 * @module
 */
import { encodeHeader } from "../../lib/drivers/epics/framing.ts";
import { encodeMessage } from "../../lib/drivers/epics/protocol.ts";
import { percentile } from "../../lib/schedule/percentile.ts";
import { memoryMb, round } from "./proc_stats.ts";
import { Targets } from "./targets.ts";
import { spawnServe } from "../e2e/labwire_process.ts";

const CLIENTS = Number(Deno.args[0] ?? 20);
const MESSAGE = 15 * 1024 * 1024;
const CHUNK = 64 * 1024;

/** Polls `/healthz` every 10 ms until stdin closes, then prints the latencies (ms) as JSON. */
const POLLER = `
const url = Deno.args[0];
const out = [];
let polling = true;
(async () => { for await (const _ of Deno.stdin.readable) {} polling = false; })();
while (polling) {
  const t0 = performance.now();
  const res = await fetch(url + "/healthz");
  await res.body?.cancel();
  out.push(performance.now() - t0);
  await new Promise((r) => setTimeout(r, 10));
}
console.log(JSON.stringify(out));
`;

const dir = await Deno.makeTempDir({ prefix: "labwire-ca-flood-" });
await Deno.writeTextFile(
  `${dir}/lab.toml`,
  `[devices.thermo]
address = "sim://thermo"
interval = "100ms"

[ca]
port = 0
interfaces = ["127.0.0.1"]
auto_beacon = false
max_array_bytes = ${16 * 1024 * 1024}
`,
);
const serve = await spawnServe([`${dir}/lab.toml`, "--session", `${dir}/s.sqlite`]);
const child = serve.child;
const url = serve.url;
const caPort = Number(/CA server: .* port (\d+)/.exec(serve.lines.join("\n"))?.[1]) || undefined;

const targets = new Targets("ca-flood");
try {
  if (!url || !caPort) throw new Error("labwire serve did not start with its CA server");
  await new Promise((r) => setTimeout(r, 1000));
  const base = memoryMb(child.pid).rss;

  const header = (size: number) =>
    new Uint8Array([
      ...encodeMessage({ kind: "version", priority: 0, minor: 13 }),
      ...encodeHeader({
        command: 4, // WRITE
        payloadSize: size,
        dataType: 4, // CHAR
        dataCount: size,
        p1: 1,
        p2: 1,
      }),
    ]);

  /** True when the server closes `conn` within `ms`. */
  const closedWithin = async (conn: Deno.TcpConn, ms: number) => {
    const timer = setTimeout(() => conn.close(), ms);
    const b = new Uint8Array(4096);
    try {
      while (true) if ((await conn.read(b)) === null) return true;
    } catch (err) {
      return !(err instanceof Deno.errors.BadResource);
    } finally {
      clearTimeout(timer);
    }
  };

  // 1. Oversized: closed at the header.
  const oversized = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: caPort! });
      await c.write(header(100 * 1024 * 1024));
      const closed = await closedWithin(c, 2000);
      try {
        c.close();
      } catch { /* closed */ }
      return closed;
    }),
  );
  targets.check(
    "oversized circuits closed",
    oversized.filter(Boolean).length,
    ">=",
    CLIENTS,
    `of ${CLIENTS}`,
  );

  // 2. Legal but never finished, while /healthz is polled.
  // The poller is its own process: the flooding clients here must not delay its clock.
  const poller = new Deno.Command(Deno.execPath(), {
    args: ["eval", POLLER, url],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const pollerOut = new Response(poller.stdout).text();
  const conns = await Promise.all(
    Array.from({ length: CLIENTS }, () => Deno.connect({ hostname: "127.0.0.1", port: caPort! })),
  );
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  if (CLIENTS === 0) await new Promise((r) => setTimeout(r, 5000));
  await Promise.all(conns.map(async (c) => {
    await c.write(header(MESSAGE));
    for (let sent = 0; sent < MESSAGE - CHUNK; sent += CHUNK) {
      let at = 0;
      while (at < CHUNK) at += await c.write(chunk.subarray(at));
    }
  }));
  await new Promise((r) => setTimeout(r, 500));
  await poller.stdin.close();
  const latencies = JSON.parse(await pollerOut) as number[];
  await poller.status;
  const mem = memoryMb(child.pid);
  const heldMb = CLIENTS * (MESSAGE - CHUNK) / (1024 * 1024);
  for (const c of conns) c.close();

  const p99 = percentile(latencies, 99);
  console.log(
    `held ${round(heldMb, 1)} MB over ${CLIENTS} circuits; RSS ${round(base, 1)} → ${
      round(mem.rss, 1)
    } MB (peak ${round(mem.peak, 1)} MB); ${latencies.length} /healthz polls`,
  );
  targets.check("peak RSS growth / bytes held", round((mem.peak - base) / heldMb, 2), "<=", 2, "×");
  targets.check("/healthz p99 during the flood", round(p99, 1), "<=", 50, "ms");
} finally {
  await serve.stop();
  // cleanup: a temporary file already gone is fine
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
targets.finish();
