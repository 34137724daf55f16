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
import { spawnServe, stalledSseClients } from "../e2e/labwire_process.ts";
import { Targets } from "./targets.ts";
import { LOUD_BENCH } from "../fixtures/sim_bench.ts";

const targets = new Targets("store-faults");

async function stalledSigterm(dir: string): Promise<void> {
  await Deno.writeTextFile(`${dir}/loud.toml`, LOUD_BENCH);
  const session = `${dir}/loud.session.sqlite`;
  const p = await spawnServe([`${dir}/loud.toml`, "--session", session]);
  const conns = await stalledSseClients(new URL(p.url), 3);
  await new Promise((r) => setTimeout(r, 4000));
  const sent = performance.now();
  const code = await p.stop("SIGTERM", 10_000).finally(() => conns.forEach((c) => c.close()));
  const exitS = (performance.now() - sent) / 1000;
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
    const p = await spawnServe([`${dir}/hung.toml`, "--session", session]);
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
