/**
 * `labwire read` of 1,000 `ca://` targets beside the reference `caget` of the same 1,000 PVs,
 * both as whole processes (start-up included, as a user runs them), on the reference softIoc
 * holding the 1,000 PVs (issue 16).
 *
 * Each tool runs once to warm the file cache, then RUNS times alternately; the figures are the
 * medians of wall time and of CPU time (user + system, from `/usr/bin/time`, which stays honest
 * on a busy machine). Target: labwire's wall time ≤ 2× caget's. Every run's output is checked
 * (the last PV's value), so a fast failure cannot pass.
 *
 * Beside them, without a target, the floor under labwire (`./ca_read_floor.ts`, same runs): a Deno
 * process that starts and exits, one that reads the same PVs with nothing of labwire (the bare
 * exchange on Deno's sockets), and one that reads them with labwire's batch CA reader alone (no
 * CLI, config or output layer), so a miss shows how much of labwire's time is Deno's start, the
 * exchange itself and the reader.
 *
 * labwire runs as a user runs it, with the shipped V8 flags (`deno task compile`'s and `deno task
 * labwire`'s; `--no-maglev` among them is worth ~10 ms of this read: docs/benchmarks.md, "Many PVs
 * in one read", ninth round), and so do the floors: V8 flags are part of the code cache's check,
 * so a flagged labwire beside flagless floors (whose reader loads the same modules) would rewrite
 * Deno's code cache in every round of runs.
 *
 * Run: `deno run -A tests/bench/ca_read_many.ts [--runs 7]`. Prints plain `name: value` lines
 * and one OK/MISSED line per target.
 *
 * @module
 */
import { EPICS_BIN, findProgram } from "../peers.ts";
import { missingSoftIoc, startSoftIoc } from "../interop/ca_softioc.ts";
import { Targets } from "./targets.ts";
import { SHIPPED_V8_FLAGS } from "./shipped_flags.ts";

const N = 1000;
const runsArg = Deno.args.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(Deno.args[runsArg + 1]) : 7;
const TIME = findProgram("/usr/bin/time");
const CAGET = `${EPICS_BIN}/caget`;

const targets = new Targets("ca-read-many");
const missing = [
  ...missingSoftIoc(),
  ...(findProgram(CAGET) ? [] : [`caget (reference EPICS build in ${EPICS_BIN})`]),
];
if (missing.length > 0) {
  targets.missingPeer(
    missing,
    "build it with `export PATH=$(bash ../shared/peers/epics-base.sh):$PATH` or set EPICS_BIN",
  );
}

const names = Array.from({ length: N }, (_, i) => `B:pv${String(i).padStart(6, "0")}`);
const db = names.map((n, i) =>
  `record(ao, "${n}") {\n  field(VAL, "${i}.5")\n  field(PREC, "2")\n  field(PINI, "YES")\n}\n`
).join("");

/** One timed run of a process: wall ms, CPU ms (user + system; NaN without /usr/bin/time). */
interface Run {
  wallMs: number;
  cpuMs: number;
  stdout: string;
}

async function timed(cmd: string, args: string[], env: Record<string, string>): Promise<Run> {
  const cpuFile = await Deno.makeTempFile();
  const [program, argv] = TIME ? [TIME, ["-f", "%U %S", "-o", cpuFile, cmd, ...args]] : [cmd, args];
  const t0 = performance.now();
  const out = await new Deno.Command(program, { args: argv, env, stdout: "piped", stderr: "piped" })
    .output();
  const wallMs = performance.now() - t0;
  const [user, sys] = (await Deno.readTextFile(cpuFile)).trim().split(/\s+/).slice(-2).map(Number);
  await Deno.remove(cpuFile);
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr).slice(0, 500)}`);
  }
  return { wallMs, cpuMs: TIME ? (user! + sys!) * 1000 : NaN, stdout };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const ioc = await startSoftIoc({ db });
try {
  // No EPICS_BIN on PATH: a caRepeater spawned by caget would hold its stdout pipe open.
  const env = { ...ioc.env, PATH: "/usr/bin:/bin" };
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const run = ["run", "-A", `--v8-flags=${SHIPPED_V8_FLAGS}`];
  const labwire = [Deno.execPath(), [...run, main, "read", ...names.map((n) => `ca://${n}`)]];
  const floor = new URL("./ca_read_floor.ts", import.meta.url).pathname;
  const startOnly = [Deno.execPath(), [...run, floor, "--start-only"]] as const;
  const clientOnly = [Deno.execPath(), [...run, floor, ...names]] as const;
  const bareOnly = [Deno.execPath(), [...run, floor, "--bare", ...names]] as const;
  const last = names[N - 1]!;
  const checkCaget = (r: Run) => {
    if (!new RegExp(`${last}\\s+999\\.5`).test(r.stdout)) throw new Error("caget: wrong output");
  };
  const checkLabwire = (r: Run) => {
    const doc = JSON.parse(r.stdout) as Record<string, { value?: number }>;
    if (Object.keys(doc).length !== N || doc[last]?.value !== 999.5) {
      throw new Error(`labwire read: wrong output: ${r.stdout.slice(0, 300)}`);
    }
  };
  checkCaget(await timed(CAGET, names, env));
  checkLabwire(await timed(labwire[0] as string, labwire[1] as string[], env));
  const checkClient = (r: Run) => {
    const doc = JSON.parse(r.stdout) as Record<string, { value?: number }>;
    if (doc[last]?.value !== 999.5) throw new Error("floor: wrong output");
  };
  checkClient(await timed(clientOnly[0], [...clientOnly[1]], env));
  checkClient(await timed(bareOnly[0], [...bareOnly[1]], env));
  const caget: Run[] = [];
  const lw: Run[] = [];
  const starts: Run[] = [];
  const clients: Run[] = [];
  const bares: Run[] = [];
  for (let run = 0; run < RUNS; run++) {
    starts.push(await timed(startOnly[0], [...startOnly[1]], env));
    const f = await timed(clientOnly[0], [...clientOnly[1]], env);
    checkClient(f);
    clients.push(f);
    const b = await timed(bareOnly[0], [...bareOnly[1]], env);
    checkClient(b);
    bares.push(b);
    const c = await timed(CAGET, names, env);
    checkCaget(c);
    caget.push(c);
    const l = await timed(labwire[0] as string, labwire[1] as string[], env);
    checkLabwire(l);
    lw.push(l);
  }
  const fmt = (x: number) => `${x.toFixed(1)} ms`;
  const cWall = median(caget.map((r) => r.wallMs));
  const lWall = median(lw.map((r) => r.wallMs));
  const cCpu = median(caget.map((r) => r.cpuMs));
  const lCpu = median(lw.map((r) => r.cpuMs));
  console.log(
    `reference caget ${N} PVs (process, median of ${RUNS}): ${fmt(cWall)} wall, ${fmt(cCpu)} CPU`,
  );
  console.log(
    `labwire read ${N} ca:// targets (process, median of ${RUNS}): ${fmt(lWall)} wall, ${
      fmt(lCpu)
    } CPU`,
  );
  console.log(`labwire read / caget CPU: ${(lCpu / cCpu).toFixed(2)}x`);
  const floorLine = (what: string, runs: Run[]) => {
    const wall = median(runs.map((r) => r.wallMs));
    const cpu = median(runs.map((r) => r.cpuMs));
    console.log(
      `floor: ${what} (process, median of ${RUNS}): ${fmt(wall)} wall (${
        (wall / cWall).toFixed(2)
      }x caget), ${fmt(cpu)} CPU`,
    );
  };
  floorLine("deno start and exit, no labwire code", starts);
  floorLine(`bare CA exchange, no labwire code, reading the ${N} PVs`, bares);
  floorLine(`labwire's batch CA reader alone reading the ${N} PVs`, clients);
  targets.check(`labwire read ${N} ca:// vs caget (wall)`, lWall / cWall, "<=", 2, "x");
} finally {
  await ioc.stop();
}
targets.finish();
