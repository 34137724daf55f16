/**
 * Clean ends of `labwire serve` under faults (issue 9, findings 4 and 7), as the user's process:
 *
 * - SIGTERM while three SSE clients have stopped reading (their sockets full, two 2,000-channel
 *   loggers every 10 ms recorded): time to exit, no grace period hit, the segment closed.
 * - A hung device (a TCP peer that never answers, 60 s timeout) beside a good one: how long after
 *   the segment starts the good device's first sample is taken.
 *
 * Targets: exit ≤ 2 s after SIGTERM; first good sample ≤ 1 s after start (the hung device must
 * not hold anyone else back).
 *
 * Run: deno task bench store-faults   (about 30 s)
 */
import { SessionReader } from "../../lib/session/reader.ts";
import { hungServer, writeHungBench } from "../e2e/hung_server.ts";
import { spawnLabwire } from "../e2e/labwire_process.ts";
import { Targets } from "./targets.ts";

const targets = new Targets("store-faults");

const LOUD = `
[devices.a]
address = "sim://bank?channels=2000&seed=1"
interval = "10ms"

[devices.b]
address = "sim://bank?channels=2000&seed=2"
interval = "10ms"
`;

async function stalledSigterm(dir: string): Promise<void> {
  await Deno.writeTextFile(`${dir}/loud.toml`, LOUD);
  const session = `${dir}/loud.session.sqlite`;
  const p = spawnLabwire([
    "serve",
    `${dir}/loud.toml`,
    "--listen",
    "127.0.0.1:0",
    "--session",
    session,
  ]);
  const url = new URL((await p.waitFor(/serving .* on (http:\/\/[^\s,]+)/))[1]!);
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < 3; i++) {
    const c = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
    await c.write(new TextEncoder().encode("GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n"));
    conns.push(c);
  }
  await new Promise((r) => setTimeout(r, 4000));
  const sent = performance.now();
  const code = await p.stop("SIGTERM", 10_000);
  const exitS = (performance.now() - sent) / 1000;
  for (const c of conns) c.close();
  const r = SessionReader.open(session);
  const seg = r.segments().at(-1)!;
  r.close();
  const stalled = p.lines.some((l) => /clients stopped reading/.test(l));
  console.log(
    `SIGTERM with 3 stalled SSE clients: exit ${code} after ${exitS.toFixed(2)} s; ` +
      `stalled responses dropped: ${stalled ? "yes" : "no (the clients had not stalled yet)"}`,
  );
  targets.check("SIGTERM to exit, 3 SSE clients not reading", exitS, "<=", 2, "s");
  targets.require(
    "no grace period hit",
    !p.lines.some((l) => /exiting anyway/.test(l)),
    p.lines.some((l) => /exiting anyway/.test(l)) ? "hit" : "not hit",
    "not hit",
  );
  targets.require("segment closed", seg.state === "stopped", seg.state, "stopped");
  targets.require("exit code", code === 0, String(code), "0");
}

async function hungFirstSample(dir: string): Promise<void> {
  const hung = hungServer();
  try {
    await writeHungBench(`${dir}/hung.toml`, hung);
    const session = `${dir}/hung.session.sqlite`;
    const p = spawnLabwire([
      "serve",
      `${dir}/hung.toml`,
      "--listen",
      "127.0.0.1:0",
      "--session",
      session,
    ]);
    await p.waitFor(/serving .* on (http:\/\/[^\s,]+)/);
    await new Promise((r) => setTimeout(r, 2000));
    await p.stop("SIGTERM");
    const r = SessionReader.open(session);
    const start = r.segments()[0]!.start;
    const first = r.select(["good.pressure"])[0]!.first ?? NaN;
    const gaps = r.events({ kinds: ["gap"] });
    r.close();
    console.log(
      `hung device beside a good one: first good sample ${(first - start).toFixed(3)} s after ` +
        `the segment started; ${gaps.filter((g) => g.device === "hung").length} gap events for ` +
        `the hung device, ${gaps.filter((g) => g.device !== "hung").length} for others`,
    );
    targets.check(
      "first good sample after start, a hung device beside it",
      first - start,
      "<=",
      1,
      "s",
    );
    targets.require(
      "the hung device's wait is recorded as gaps, nobody else's",
      gaps.length > 0 && gaps.every((g) => g.device === "hung"),
      `${gaps.length} gaps`,
      "> 0, all of the hung device",
    );
  } finally {
    hung.close();
  }
}

const dir = await Deno.makeTempDir({ prefix: "labwire-bench-faults-" });
try {
  await stalledSigterm(dir);
  await hungFirstSample(dir);
} finally {
  // cleanup: a temporary file already gone is fine
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
targets.finish();
