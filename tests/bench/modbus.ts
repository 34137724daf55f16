/**
 * Modbus benchmark (issue 12), two parts:
 *
 * 1. Polling: `labwire sim` serving 100 simulated controllers over Modbus TCP in its own process
 *    (a register map of 20 adjacent holding registers: 12 int16 scaled by 0.1 and 4 float32),
 *    and a poller process that opens all of them through the modbus:// driver and reads each
 *    one's default reading at 10 Hz on absolute deadlines (lib/schedule) for 60 s. Reports missed
 *    deadlines, lateness p50/p99, the poller's CPU and the requests per poll after coalescing.
 *    Targets: 0 missed deadlines, p99 lateness ≤ 10 ms, CPU ≤ 0.15 core.
 * 2. Round trips against one pymodbus server (Debian python3-pymodbus, scripted as the facts
 *    sheet says): reads of 10 holding registers by labwire's driver and by pymodbus' own asyncio
 *    client, each in its own process, same run, after a warm-up (below) — first by one caller
 *    (each read awaited before the next), then by `--callers` (8) concurrent callers sharing the
 *    device's one connection (labwire pipelines them, window 8 by default; pymodbus' async
 *    client matches concurrent transactions by id too). Targets, on the one-caller round trips:
 *    labwire ≥ 2× pymodbus' rate and ≤ 0.5× its CPU per request; the concurrent run is shown, no
 *    target (the pymodbus server, one Python process, then bounds both clients' rates). Shown
 *    with them, for reading the figures: the floor, a bare Deno socket loop doing the same
 *    one-caller round trip (`--bare PORT`: no labwire code, a read kept pending as labwire's
 *    connection pump does), and the pymodbus server's own CPU per request during each run (its
 *    ceiling on any client's one-caller rate: a round trip waits for the server's work, then for
 *    the client's).
 *
 *    The one-caller figures are medians over `--rounds` (5) rounds in which the three clients
 *    take turns: each client is started and warmed up alone (others idle), then every round
 *    each measures its `--requests` while the other two sit idle in the same state, in an order
 *    rotated every round. Each client's rate and CPU per request are its median round's, and
 *    the targets compare the medians. Why: this machine is shared, and one stretch of 3000
 *    requests (~0.2 s) per client caught whatever else ran then: in one run labwire's CPU per
 *    request rose from ~26 to 32–33 µs for ~1,500 requests and came back (no deopt and no GC
 *    but scavenges in `--trace-deopt --trace-gc` runs of the same client), and the rate fell
 *    below the target; pymodbus' client swings more (see below). Every client makes the same
 *    requests through the same code as before; only the measured stretch is repeated and its
 *    noise outvoted. All rounds are printed. The run of several callers stays one stretch per
 *    client (its callers cannot pause between rounds).
 *
 * Warm-up: each client makes `--warm-up` (2000) requests before the measured ones, the same
 * number for all three, in the same loop as the measured ones (a second loop starts its own code
 * cold again: it showed as a bump in the first measured requests). Why 2000: Deno's clients run
 * in V8, which compiles a function with its optimizing tiers only after some hundreds of calls.
 * Measured from each client's first request (`--trace-opt` and CPU per 100 requests): every
 * function on labwire's and on the bare loop's path is Maglev-compiled by request ~500–800, the
 * compiles finishing on V8's worker threads up to a few hundred requests later on a busy machine;
 * CPU per request falls from ~150–250 µs (labwire) and ~50–120 µs (bare) over the first 500 to
 * its steady level after ~1000–1500 and, past a bump around 1500–1900 that the bare loop shows
 * too, stays there.
 * pymodbus' client (CPython, no JIT) is at its steady level from its first requests, so the
 * longer warm-up costs it nothing. With the old 100 requests of warm-up, labwire's cold phase
 * fell inside the 3000 measured and the figure mixed its interpreted start with its steady
 * state. The cold phase is printed for every client, without target: the first 500 requests'
 * rate and CPU, and the CPU per request of every 500 from the first.
 *
 * Reading pymodbus' figures: its client's rate swings ~3× from run to run because more than half
 * of its CPU per request is the kernel's (asyncio on Python 3.11 receives every answer into a new
 * 256 KiB buffer: an mmap, mremap and munmap per answer, whose cost moves with the machine's
 * load), and the server's CPU per request is higher serving it for the same work (callgrind:
 * 158.6k instructions per request serving each of the three clients) because it sleeps longer
 * between requests and each wake-up costs more (a bare loop made to wait 250 µs after each answer
 * raised it from ~50 to ~60–100 µs).
 *
 *   deno run -A tests/bench/modbus.ts [--devices 100] [--seconds 60] [--requests 3000]
 *     [--warm-up 2000] [--rounds 5] [--callers 8] [--part all|poll|round-trips]
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { percentile } from "../../lib/schedule/percentile.ts";
import { cpuSeconds, round, threadCpuPer, threadCpuSeconds, watchCpu } from "./proc_stats.ts";
import { LineReader, readLines, runJson, startPoller, startSimulators } from "./child.ts";
import { Targets } from "./targets.ts";

/** Requests each round-trip client makes before the measured ones (see the module doc). */
const WARM_UP = 2000;
/**
 * Rounds of the one-caller round trips: the three clients take turns, each round's `--requests`
 * by each, and each client's figure is its median round (see the module doc).
 */
const ROUNDS = 5;
/** Requests between two marks of a client's progress (the cold-phase figures). */
const MARK_EVERY = 100;

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = `${ROOT}tests/interop/fixtures/`;
const { values } = parseArgs({
  args: Deno.args,
  options: {
    devices: { type: "string", default: "100" },
    seconds: { type: "string", default: "60" },
    hz: { type: "string", default: "10" },
    requests: { type: "string", default: "3000" },
    "warm-up": { type: "string", default: String(WARM_UP) },
    callers: { type: "string", default: "8" },
    poller: { type: "boolean", default: false },
    client: { type: "string" },
    bare: { type: "string" },
    instruments: { type: "string" },
    part: { type: "string", default: "all" },
    rounds: { type: "string", default: String(ROUNDS) },
  },
});

/** The simulated controller: 20 adjacent holding registers, all in the default reading. */
const CONTROLLER = `name = "bench-controller"
protocol = "modbus"
description = "benchmark controller: 20 holding registers"
${
  Array.from({ length: 12 }, (_, i) =>
    `[attrs.t${i}]\ntable = "holding"\naddress = ${i}\ntype = "int16"\nscale = 0.1\n` +
    `status = true\nsim = { value = ${20 + i}, noise = 0.1 }\n`).join("")
}${
  Array.from({ length: 4 }, (_, i) =>
    `[attrs.f${i}]\ntable = "holding"\naddress = ${12 + 2 * i}\ntype = "float32"\n` +
    `status = true\nsim = { value = ${1.5 + i}, noise = 0.01 }\n`).join("")
}`;

/** Child mode: addresses on stdin, polls on a schedule, prints one JSON line of figures. */
async function poller(): Promise<void> {
  await import("../../lib/drivers/mod.ts");
  const { openDevice } = await import("../../lib/lab/open.ts");
  const { parseAddress } = await import("../../lib/device/address.ts");
  const { Schedule } = await import("../../lib/schedule/periodic.ts");
  const { addInstrumentSource } = await import("../../lib/instruments/sources.ts");
  addInstrumentSource(values.instruments!);
  const addresses = (await new Response(Deno.stdin.readable).text()).trim().split("\n");
  const devices = await Promise.all(
    addresses.map((a, i) =>
      openDevice({ name: `c${i}`, address: parseAddress(a), interval: 100, options: {} })
    ),
  );
  let errors = 0;
  let firstError = "";
  const pollAll = () =>
    Promise.all(devices.map(async (d) => {
      try {
        await d.read();
      } catch (err) {
        errors++;
        firstError ||= (err as Error).message;
      }
    }));
  await pollAll(); // connect and warm up
  errors = 0;
  firstError = "";
  const requests0 = devices.reduce((s, d) => s + ((d as { requests?: number }).requests ?? 0), 0);
  console.log("ready");
  const schedule = new Schedule(1000 / Number(values.hz), {
    duration: Number(values.seconds) * 1000,
  });
  const lateness: number[] = [];
  const durations: number[] = [];
  let polls = 0;
  for await (const tick of schedule) {
    lateness.push(tick.lateness);
    const t = performance.now();
    await pollAll();
    durations.push(performance.now() - t);
    polls += devices.length;
  }
  const requests = devices.reduce((s, d) => s + ((d as { requests?: number }).requests ?? 0), 0) -
    requests0;
  console.log(JSON.stringify({
    polls,
    errors,
    firstError,
    missed: schedule.stats.missed,
    p50: round(percentile(lateness, 50), 2),
    p99: round(percentile(lateness, 99), 2),
    requestsPerPoll: round(requests / polls, 2),
    roundP99: round(percentile(durations, 99), 2),
  }));
  await Promise.all(devices.map((d) => d.close()));
}

/**
 * Child mode: `--requests` reads of 10 registers from `address` by `--callers` concurrent callers
 * on one device (each awaits its read before the next, as pollers sharing a device do); prints
 * the run's figures.
 */
async function client(address: string): Promise<void> {
  await import("../../lib/drivers/mod.ts");
  const { parseAddress } = await import("../../lib/device/address.ts");
  const { findDriver } = await import("../../lib/device/registry.ts");
  const registers = Object.fromEntries(
    Array.from({ length: 10 }, (_, i) => [`r${i}`, { table: "holding", address: i, status: true }]),
  );
  const a = parseAddress(address);
  const dev = await findDriver(a.scheme).open(a, { name: "bench", options: { registers } });
  const n = Number(values.requests);
  const callers = Number(values.callers);
  if (callers > 1 && rounds > 1) throw new Error("--rounds takes one caller (--callers 1)");
  const run = async (count: number) => {
    let left = count;
    await Promise.all(Array.from({ length: callers }, async () => {
      while (left-- > 0) {
        await dev.read();
        if (landed()) await betweenRounds();
      }
    }));
  };
  await measure(n, run);
  await dev.close();
}

/**
 * Wall ms and CPU µs of this process at every {@linkcode MARK_EVERY}th request from the first,
 * up to the end of the first measured stretch (the cold-phase figures).
 */
const marks: { wall: number[]; cpu: number[] } = { wall: [], cpu: [] };
let landedCount = 0;
/** Requests of the warm-up: when that many have landed, the measured stretch starts. */
const warmUp = Number(values["warm-up"]);
/** Measured stretches (rounds) of `--requests` each; more than one only with one caller. */
const rounds = Number(values.rounds);
/** The process at the start of the measured stretch. */
let start = { threads: new Map<string, number>(), cpu: process.cpuUsage(), t: 0 };

/**
 * Counts a request that landed: marks the time and CPU every {@linkcode MARK_EVERY}th; at the
 * end of the warm-up with one round, starts the measured stretch. True at a round's edge (the
 * warm-up's end or a round's end, with several rounds): the caller then awaits
 * {@linkcode betweenRounds} before its next request.
 */
function landed(): boolean {
  const k = ++landedCount;
  if (k % MARK_EVERY === 0 && k <= warmUp + Number(values.requests)) {
    marks.wall.push(performance.now());
    const u = process.cpuUsage();
    marks.cpu.push(u.user + u.system);
  }
  if (k < warmUp) return false;
  if (rounds === 1) {
    if (k === warmUp) begin();
    return false;
  }
  return (k - warmUp) % Number(values.requests) === 0;
}

/** The orchestrator's lines on stdin: "go" before each round (several rounds only). */
let orders: LineReader | undefined;

/**
 * At a round's edge: prints the round that ended (a JSON line), then — when rounds are left —
 * says `warm` (after the warm-up) or nothing, waits for the orchestrator's `go` and starts the
 * next round's stretch. The client sits idle meanwhile, while the others take their turn.
 */
async function betweenRounds(): Promise<void> {
  if (landedCount > warmUp) report(Number(values.requests), false);
  else console.log("warm");
  if (landedCount >= warmUp + rounds * Number(values.requests)) return;
  orders ??= new LineReader(Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader());
  const order = await orders.next();
  if (order !== "go") throw new Error(`expected "go" on stdin, got ${order}`);
  begin();
}

/** Starts the measured stretch: this process' threads, CPU and time now. */
function begin(): void {
  start = { threads: threadCpuSeconds(), cpu: process.cpuUsage(), t: performance.now() };
}

/** Prints the stretch since {@linkcode begin} (`n` requests) as one JSON line, with the marks. */
function report(n: number, withMarks: boolean): void {
  const seconds = (performance.now() - start.t) / 1000;
  const cpu = process.cpuUsage(start.cpu);
  const threads = threadCpuPer(start.threads, threadCpuSeconds(), n);
  console.log(
    JSON.stringify({
      requests: n,
      seconds,
      cpu_seconds: (cpu.user + cpu.system) / 1e6,
      threads,
      marks: withMarks ? marks : undefined,
    }),
  );
}

/**
 * Runs `--warm-up` requests, then the measured ones — in one run, so the measured requests go
 * on from the warm-up in the same loop (a second loop would start cold again) — and prints the
 * figures as JSON lines (see {@linkcode betweenRounds}): with one round, one line with the
 * marks from the first request (the cold phase is shown too); with several, a line per round,
 * then the marks.
 */
async function measure(n: number, run: (count: number) => Promise<void>): Promise<void> {
  // The measured stretch starts here without a warm-up, else again when the warm-up has landed
  // (this first snapshot asks `getconf` for the clock tick: that one is then a few file reads).
  begin();
  const u0 = process.cpuUsage();
  marks.wall.push(performance.now());
  marks.cpu.push(u0.user + u0.system);
  if (rounds > 1 && warmUp === 0) await betweenRounds();
  await run(warmUp + rounds * n);
  if (rounds === 1) report(n, true);
  else console.log(JSON.stringify({ marks }));
  await orders?.reader.cancel();
}

/**
 * Child mode, the floor: the same one-caller reads of 10 registers over a plain Deno.connect
 * socket (request bytes written by hand, the answer's transaction id and length checked), a read
 * kept pending between requests as labwire's connection pump does.
 */
async function bare(port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  // FC3, 10 registers at 0, unit 1; the answer is 7 + 2 + 20 bytes.
  const request = new Uint8Array([0, 0, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10]);
  const buf = new Uint8Array(512);
  let pending = conn.read(buf);
  let transaction = 0;
  await measure(Number(values.requests), async (count) => {
    for (let i = 0; i < count; i++) {
      transaction = (transaction + 1) & 0xffff;
      request[0] = transaction >> 8;
      request[1] = transaction & 0xff;
      await conn.write(request);
      let got = 0;
      while (got < 29) {
        const n = await pending;
        if (n === null) throw new Error("the server closed the connection");
        if (got === 0 && ((buf[0]! << 8) | buf[1]!) !== transaction) {
          throw new Error("an answer to another transaction");
        }
        got += n;
        pending = conn.read(buf);
      }
      if (landed()) await betweenRounds();
    }
  });
  conn.close();
  // The read left pending when the connection closed rejects: expected, nothing to report.
  await pending.catch(() => null);
}

interface Run {
  requests: number;
  seconds: number;
  cpu_seconds: number;
  /** µs of CPU per request by thread name (labwire only; clock-tick resolution). */
  threads?: Record<string, number>;
  /** Wall ms and CPU µs at every {@linkcode MARK_EVERY}th request, the first before any. */
  marks: { wall: number[]; cpu: number[] };
}

const PYMODBUS_CLIENT = `
import asyncio, json, logging, sys, time
from pymodbus.client import AsyncModbusTcpClient
logging.disable(logging.CRITICAL)
async def main(port, n, callers, warm, every, rounds):
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    await client.connect()
    marks = {"wall": [], "cpu": []}
    landed = [0]
    start = [time.process_time(), time.perf_counter()]
    def mark():
        marks["wall"].append(time.perf_counter() * 1e3)
        marks["cpu"].append(time.process_time() * 1e6)
    def report(withMarks):
        seconds = time.perf_counter() - start[1]; cpu = time.process_time() - start[0]
        line = {"requests": n, "seconds": seconds, "cpu_seconds": cpu}
        if withMarks: line["marks"] = marks
        print(json.dumps(line), flush=True)
    def between():
        # as the Deno clients' betweenRounds: report the round, wait for "go", start the next
        if landed[0] > warm: report(False)
        else: print("warm", flush=True)
        if landed[0] >= warm + rounds * n: return
        order = sys.stdin.readline().strip()
        if order != "go": raise SystemExit(f"expected go on stdin, got {order!r}")
        start[:] = [time.process_time(), time.perf_counter()]
    async def run(count):
        left = [count]
        async def caller():
            while left[0] > 0:
                left[0] -= 1
                rr = await client.read_holding_registers(0, 10, slave=1)
                assert len(rr.registers) == 10
                landed[0] += 1
                k = landed[0]
                if k % every == 0 and k <= warm + n:
                    mark()
                if k >= warm and rounds == 1 and k == warm:
                    start[:] = [time.process_time(), time.perf_counter()]
                elif k >= warm and rounds > 1 and (k - warm) % n == 0:
                    between()
        await asyncio.gather(*(caller() for _ in range(callers)))
    mark()
    start[:] = [time.process_time(), time.perf_counter()]
    if rounds > 1 and warm == 0: between()
    await run(warm + rounds * n)
    client.close()
    if rounds == 1: report(True)
    else: print(json.dumps({"marks": marks}), flush=True)
asyncio.run(main(*(int(a) for a in sys.argv[1:7])))
`;

async function orchestrate(): Promise<void> {
  const targets = new Targets("modbus");
  if (values.part !== "round-trips") await polling(targets);
  if (values.part !== "poll") await roundTrips(targets);
  targets.finish();
}

async function polling(targets: Targets): Promise<void> {
  const devices = Number(values.devices);
  const seconds = Number(values.seconds);
  const dir = await Deno.makeTempDir({ prefix: "labwire-bench-modbus-" });
  await Deno.writeTextFile(`${dir}/bench-controller.toml`, CONTROLLER);
  const { process: sim, out: simOut, addresses } = await startSimulators(
    [
      "--instruments",
      dir,
      "sim",
      "bench-controller",
      "--listen",
      "127.0.0.1:0",
      "--count",
      String(devices),
    ],
    devices,
  );
  try {
    const { process: child, out } = await startPoller(
      import.meta.filename!,
      ["--seconds", String(seconds), "--hz", values.hz!, "--instruments", dir],
      addresses,
    );
    const cpu = watchCpu([child.pid, sim.pid]);
    const result = await readLines(out, 1);
    const [pollerCores, simCores] = cpu.stop() as [number, number];
    await child.status;
    while (!(await out.read()).done) { /* drain */ }
    const r = JSON.parse(result[0]!);
    console.log(
      `modbus poll: ${devices} simulated controllers × 20 registers at ${values.hz} Hz over ` +
        `Modbus TCP for ${seconds} s (modbus:// driver, simulator in its own process)`,
    );
    console.log(
      `  polls ok / errors        ${r.polls - r.errors} / ${r.errors}${
        r.firstError ? ` (${r.firstError})` : ""
      }`,
    );
    console.log(`  requests per poll        ${r.requestsPerPoll} (20 registers coalesced)`);
    console.log(`  missed deadlines         ${r.missed}`);
    console.log(`  lateness p50/p99         ${r.p50} ms / ${r.p99} ms`);
    console.log(`  one round of 100 polls   p99 ${r.roundP99} ms`);
    console.log(`  poller CPU               ${round(pollerCores, 3)} cores`);
    console.log(`  simulator CPU            ${round(simCores, 3)} cores`);
    targets.check("failed polls", r.errors, "<=", 0);
    targets.check("missed deadlines", r.missed, "<=", 0);
    targets.check("p99 lateness", r.p99, "<=", 10, "ms");
    targets.check("poller CPU", pollerCores, "<=", 0.15, "cores");
    targets.check("requests per poll", r.requestsPerPoll, "<=", 1);
  } finally {
    sim.kill("SIGTERM");
    await sim.status;
    // the stream may already be closed; cancelling is best effort
    await simOut.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

/** Requests per stretch of the cold-phase lines. */
const COLD_SPAN = 500;

/**
 * A client's cold phase from its marks: its first {@linkcode COLD_SPAN} requests' rate and CPU,
 * then the CPU per request of every stretch of {@linkcode COLD_SPAN} from its first request (a
 * `|` where the measured requests start): how long it takes to settle, and where it settles.
 */
function coldPhase(marks: Run["marks"]): string {
  const step = COLD_SPAN / MARK_EVERY;
  if (marks.cpu.length <= step) return `fewer than ${COLD_SPAN} requests`;
  const cpu: string[] = [];
  let measured = false;
  for (let i = step; i < marks.cpu.length; i += step) {
    if (!measured && (i - step) * MARK_EVERY >= warmUp) {
      measured = true;
      cpu.push("|");
    }
    cpu.push(String(Math.round((marks.cpu[i]! - marks.cpu[i - step]!) / COLD_SPAN)));
  }
  const ms = marks.wall[step]! - marks.wall[0]!;
  const first = (marks.cpu[step]! - marks.cpu[0]!) / COLD_SPAN;
  return `first ${COLD_SPAN} at ${round((COLD_SPAN / ms) * 1000, 0)}/s, ${round(first, 1)} µs ` +
    `CPU each; µs CPU per request by ${COLD_SPAN}: ${cpu.join(" ")}`;
}

/** A client's figures: its measured rounds, its cold phase, the server's CPU seconds per round. */
interface ClientRuns {
  name: string;
  rounds: Run[];
  marks: Run["marks"];
  server: number[];
}

/** The median of `xs` (the middle one of an odd count, the mean of the two middle ones else). */
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const rateOf = (r: Run) => r.requests / r.seconds;
const cpuPerOf = (r: Run) => (r.cpu_seconds / r.requests) * 1e6;

/**
 * Runs the clients `specs` (name, command, arguments; each made with `--rounds`) in turns: each
 * started alone and warmed up alone (it says `warm`), then `rounds` rounds in which each, in
 * an order rotated every round, measures its `--requests` while the others sit idle; the
 * server's CPU (process `serverPid`) is read around each turn.
 */
async function takeTurns(
  specs: [string, string, string[]][],
  rounds: number,
  serverPid: number,
): Promise<ClientRuns[]> {
  const started: {
    runs: ClientRuns;
    child: Deno.ChildProcess;
    out: LineReader;
    orders: WritableStreamDefaultWriter<Uint8Array>;
  }[] = [];
  /** The client's next line, or its stderr's end when it died instead. */
  const next = async (c: (typeof started)[number]): Promise<string> => {
    const line = await c.out.next();
    if (line) return line;
    const { stderr } = await c.child.output();
    throw new Error(`${c.runs.name} client: ${new TextDecoder().decode(stderr).slice(-400)}`);
  };
  try {
    for (const [name, cmd, args] of specs) {
      const child = new Deno.Command(cmd, {
        args,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const c = {
        runs: { name, rounds: [], marks: { wall: [], cpu: [] }, server: [] },
        child,
        out: new LineReader(child.stdout.pipeThrough(new TextDecoderStream()).getReader()),
        orders: child.stdin.getWriter(),
      };
      started.push(c);
      const said = await next(c);
      if (said !== "warm") throw new Error(`${name} client said ${said}, not warm`);
    }
    const go = new TextEncoder().encode("go\n");
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < started.length; i++) {
        const c = started[(r + i) % started.length]!;
        const s0 = cpuSeconds(serverPid);
        await c.orders.write(go);
        c.runs.rounds.push(JSON.parse(await next(c)));
        c.runs.server.push(cpuSeconds(serverPid) - s0);
      }
    }
    for (const c of started) {
      c.runs.marks = JSON.parse(await next(c)).marks;
      await c.orders.close();
      const status = await c.child.status;
      if (!status.success) throw new Error(`${c.runs.name} client exited with ${status.code}`);
    }
  } catch (err) {
    for (const c of started) {
      try {
        c.child.kill("SIGTERM");
      } catch { /* already exited */ }
    }
    throw err;
  } finally {
    for (const c of started) {
      // the streams may already be closed; cancelling is best effort
      await c.out.reader.cancel().catch(() => {});
      await c.child.stderr.cancel().catch(() => {});
    }
  }
  return started.map((c) => c.runs);
}

async function roundTrips(targets: Targets): Promise<void> {
  const python = "/usr/bin/python3";
  const requests = Number(values.requests);
  const rounds = Number(values.rounds);
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  const server = new Deno.Command(python, {
    args: [`${FIXTURES}pymodbus_server.py`, String(port)],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const serverOut = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const callers = Number(values.callers);
  /** Each client's arguments for `c` callers and `r` rounds. */
  const specs = (c: number, r: number): [string, string, string[]][] => {
    const common = ["--requests", String(requests), "--warm-up", values["warm-up"]!];
    const deno = ["run", "-A", import.meta.filename!];
    const out: [string, string, string[]][] = [
      ["labwire", Deno.execPath(), [
        ...deno,
        "--client",
        `modbus://127.0.0.1:${port}?unit=1`,
        ...common,
        "--callers",
        String(c),
        "--rounds",
        String(r),
      ]],
      ["pymodbus", python, [
        "-c",
        PYMODBUS_CLIENT,
        String(port),
        String(requests),
        String(c),
        values["warm-up"]!,
        String(MARK_EVERY),
        String(r),
      ]],
    ];
    if (c === 1) {
      out.push(["bare Deno", Deno.execPath(), [
        ...deno,
        "--bare",
        String(port),
        ...common,
        "--rounds",
        String(r),
      ]]);
    }
    return out;
  };
  let one: ClientRuns[];
  const concurrent: ClientRuns[] = [];
  try {
    const ready = await readLines(serverOut, 1);
    if (!ready[0]?.startsWith("READY")) throw new Error(`pymodbus server said ${ready[0]}`);
    one = await takeTurns(specs(1, rounds), rounds, server.pid);
    // Several callers cannot pause between rounds (their reads are in flight): one run each.
    for (const [name, cmd, args] of specs(callers, 1)) {
      const s0 = cpuSeconds(server.pid);
      const r = await runJson<Run>(cmd, args);
      concurrent.push({ name, rounds: [r], marks: r.marks, server: [cpuSeconds(server.pid) - s0] });
    }
  } finally {
    server.kill("SIGTERM");
    await server.status;
    // the stream may already be closed; cancelling is best effort
    await serverOut.cancel().catch(() => {});
  }
  const oneRatio = show(one, 1, requests, rounds);
  show(concurrent, callers, requests, 1);
  // The targets are the issue's: round trips, each read awaited before the next. With several
  // callers both clients keep requests in flight and the pymodbus server (one Python process)
  // becomes the limit of both rates: shown for reading, no target.
  targets.check("rate vs pymodbus client", oneRatio.rate, ">=", 2, "×");
  targets.check("CPU per request vs pymodbus client", oneRatio.cpu, "<=", 0.5, "×");
}

/**
 * Prints one run of the round trips (`c` callers): each client's median round, the rounds, the
 * cold phase, labwire's threads and the server's CPU; returns labwire's ratios to pymodbus'.
 */
function show(
  clients: ClientRuns[],
  c: number,
  requests: number,
  rounds: number,
): { rate: number; cpu: number } {
  console.log(
    `modbus round trips: ${requests} × read 10 holding registers, one pymodbus server, ` +
      (c === 1
        ? "one caller (each read awaited before the next)"
        : `${c} callers on one connection (labwire: window 8 by default; pymodbus: its ` +
          "async client, transactions matched by id)"),
  );
  if (rounds > 1) {
    console.log(
      `  ${rounds} rounds of ${requests} by each client, the clients taking turns (the others ` +
        "idle meanwhile); each client's figures are its median round's",
    );
  }
  const rate = (x: ClientRuns) => median(x.rounds.map(rateOf));
  const cpu = (x: ClientRuns) => median(x.rounds.map(cpuPerOf));
  for (const x of clients) {
    console.log(
      `  ${x.name.padEnd(10)} ${round(rate(x), 0)} requests/s, ${round(cpu(x), 1)} µs CPU per ` +
        `request${x.name === "bare Deno" ? " (a plain socket loop, no labwire: the floor)" : ""}`,
    );
  }
  if (rounds > 1) {
    for (const x of clients) {
      const each = x.rounds.map((r) => `${round(rateOf(r), 0)} (${round(cpuPerOf(r), 1)})`);
      console.log(
        `    rounds of ${x.name.padEnd(10)} requests/s (µs CPU each): ${each.join(", ")}`,
      );
    }
  }
  console.log(
    `  cold phase, from each client's first request (warm-up ${warmUp}, then the first ` +
      `${requests} measured; no target):`,
  );
  for (const x of clients) console.log(`    ${x.name.padEnd(10)} ${coldPhase(x.marks)}`);
  const labwire = clients.find((x) => x.name === "labwire")!;
  const pymodbus = clients.find((x) => x.name === "pymodbus")!;
  // Labwire's threads in its median round (by rate).
  const mid = [...labwire.rounds].sort((a, b) =>
    rateOf(a) - rateOf(b)
  )[labwire.rounds.length >> 1]!;
  const threads = Object.entries(mid.threads ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
  console.log(`  labwire µs CPU per request by thread: ${threads}`);
  // The server's work per request over a client's measured requests (with one run, the warm-up's
  // requests are in its stretch too).
  const serverPer = (x: ClientRuns) => {
    const n = rounds > 1 ? rounds * requests : requests + warmUp;
    return round((x.server.reduce((a, b) => a + b, 0) / n) * 1e6, 1);
  };
  console.log(
    `  pymodbus server µs CPU per request: ${
      clients.map((x) => `${serverPer(x)} serving ${x.name}`).join(", ")
    }`,
  );
  const ratio = {
    rate: round(rate(labwire) / rate(pymodbus), 2),
    cpu: round(cpu(labwire) / cpu(pymodbus), 2),
  };
  console.log(
    `  ${c === 1 ? "one caller" : `${c} callers`}: rate ${ratio.rate}×, CPU per request ` +
      `${ratio.cpu}× pymodbus'`,
  );
  return ratio;
}

if (values.poller) await poller();
else if (values.client !== undefined) await client(values.client);
else if (values.bare !== undefined) await bare(Number(values.bare));
else await orchestrate();
