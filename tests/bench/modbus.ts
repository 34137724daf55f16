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
 *     [--warm-up 2000] [--callers 8] [--part all|poll|round-trips]
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { percentile } from "../../lib/schedule/percentile.ts";
import { cpuSeconds, round, threadCpuPer, threadCpuSeconds, watchCpu } from "./proc_stats.ts";
import { readLines, runJson, startPoller, startSimulators } from "./child.ts";
import { Targets } from "./targets.ts";

/** Requests each round-trip client makes before the measured ones (see the module doc). */
const WARM_UP = 2000;
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
  const run = async (count: number) => {
    let left = count;
    await Promise.all(Array.from({ length: callers }, async () => {
      while (left-- > 0) {
        await dev.read();
        landed();
      }
    }));
  };
  await measure(n, run);
  await dev.close();
}

/** Wall ms and CPU µs of this process at every {@linkcode MARK_EVERY}th request from the first. */
const marks: { wall: number[]; cpu: number[] } = { wall: [], cpu: [] };
let landedCount = 0;
/** Requests of the warm-up: when that many have landed, the measured stretch starts. */
const warmUp = Number(values["warm-up"]);
/** The process at the start of the measured stretch. */
let start = { threads: new Map<string, number>(), cpu: process.cpuUsage(), t: 0 };

/**
 * Counts a request that landed: every {@linkcode MARK_EVERY}th, marks the time and CPU; at the
 * end of the warm-up, starts the measured stretch.
 */
function landed(): void {
  if (++landedCount === warmUp) begin();
  if (landedCount % MARK_EVERY !== 0) return;
  marks.wall.push(performance.now());
  const u = process.cpuUsage();
  marks.cpu.push(u.user + u.system);
}

/** Starts the measured stretch: this process' threads, CPU and time now. */
function begin(): void {
  start = { threads: threadCpuSeconds(), cpu: process.cpuUsage(), t: performance.now() };
}

/**
 * Runs `--warm-up` requests, then `n` measured — in one run, so the measured requests go on
 * from the warm-up in the same loop (a second loop would start cold again) — and prints the
 * figures as one JSON line, with the marks from the first request (the cold phase is shown too).
 */
async function measure(n: number, run: (count: number) => Promise<void>): Promise<void> {
  // The measured stretch starts here without a warm-up, else again when the warm-up has landed
  // (this first snapshot asks `getconf` for the clock tick: that one is then a few file reads).
  begin();
  const u0 = process.cpuUsage();
  marks.wall.push(performance.now());
  marks.cpu.push(u0.user + u0.system);
  await run(warmUp + n);
  const seconds = (performance.now() - start.t) / 1000;
  const cpu = process.cpuUsage(start.cpu);
  const threads = threadCpuPer(start.threads, threadCpuSeconds(), n);
  console.log(
    JSON.stringify({
      requests: n,
      seconds,
      cpu_seconds: (cpu.user + cpu.system) / 1e6,
      threads,
      marks,
    }),
  );
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
      landed();
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
async def main(port, n, callers, warm, every):
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    await client.connect()
    marks = {"wall": [], "cpu": []}
    landed = [0]
    start = [time.process_time(), time.perf_counter()]
    def mark():
        marks["wall"].append(time.perf_counter() * 1e3)
        marks["cpu"].append(time.process_time() * 1e6)
    async def run(count):
        left = [count]
        async def caller():
            while left[0] > 0:
                left[0] -= 1
                rr = await client.read_holding_registers(0, 10, slave=1)
                assert len(rr.registers) == 10
                landed[0] += 1
                if landed[0] == warm:
                    start[:] = [time.process_time(), time.perf_counter()]
                if landed[0] % every == 0:
                    mark()
        await asyncio.gather(*(caller() for _ in range(callers)))
    mark()
    start[:] = [time.process_time(), time.perf_counter()]
    await run(warm + n)
    seconds = time.perf_counter() - start[1]; cpu = time.process_time() - start[0]
    client.close()
    print(json.dumps({"requests": n, "seconds": seconds, "cpu_seconds": cpu, "marks": marks}))
asyncio.run(main(*(int(a) for a in sys.argv[1:6])))
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

async function roundTrips(targets: Targets): Promise<void> {
  const python = "/usr/bin/python3";
  const requests = Number(values.requests);
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
  const runs: {
    callers: number;
    labwire: Run;
    pymodbus: Run;
    /** The server's CPU seconds while each client ran. */
    server: { labwire: number; pymodbus: number };
  }[] = [];
  let floor: Run | undefined;
  let floorServer = 0;
  /** Runs a client, with the server's CPU seconds meanwhile. */
  const serving = async (client: () => Promise<Run>): Promise<[Run, number]> => {
    const s0 = cpuSeconds(server.pid);
    const r = await client();
    return [r, cpuSeconds(server.pid) - s0];
  };
  try {
    const ready = await readLines(serverOut, 1);
    if (!ready[0]?.startsWith("READY")) throw new Error(`pymodbus server said ${ready[0]}`);
    for (const c of [1, callers]) {
      const [labwire, labwireServer] = await serving(() =>
        runJson<Run>(Deno.execPath(), [
          "run",
          "-A",
          import.meta.filename!,
          "--client",
          `modbus://127.0.0.1:${port}?unit=1`,
          "--requests",
          String(requests),
          "--callers",
          String(c),
          "--warm-up",
          values["warm-up"]!,
        ])
      );
      const [pymodbus, pymodbusServer] = await serving(() =>
        runJson<Run>(python, [
          "-c",
          PYMODBUS_CLIENT,
          String(port),
          String(requests),
          String(c),
          values["warm-up"]!,
          String(MARK_EVERY),
        ])
      );
      runs.push({
        callers: c,
        labwire,
        pymodbus,
        server: { labwire: labwireServer, pymodbus: pymodbusServer },
      });
      if (c === 1) {
        [floor, floorServer] = await serving(() =>
          runJson<Run>(Deno.execPath(), [
            "run",
            "-A",
            import.meta.filename!,
            "--bare",
            String(port),
            "--requests",
            String(requests),
            "--warm-up",
            values["warm-up"]!,
          ])
        );
      }
    }
  } finally {
    server.kill("SIGTERM");
    await server.status;
    // the stream may already be closed; cancelling is best effort
    await serverOut.cancel().catch(() => {});
  }
  const rate = (r: Run) => r.requests / r.seconds;
  const cpuPer = (r: Run) => (r.cpu_seconds / r.requests) * 1e6;
  // The server's work per request: the warm-up's requests are in each client's stretch too.
  const serverPer = (cpu: number) => round((cpu / (requests + warmUp)) * 1e6, 1);
  for (const { callers: c, labwire, pymodbus, server: sv } of runs) {
    console.log(
      `modbus round trips: ${requests} × read 10 holding registers, one pymodbus server, ` +
        (c === 1
          ? "one caller (each read awaited before the next)"
          : `${c} callers on one connection (labwire: window 8 by default; pymodbus: its ` +
            "async client, transactions matched by id)"),
    );
    for (const [name, r] of [["labwire", labwire], ["pymodbus", pymodbus]] as const) {
      console.log(
        `  ${name.padEnd(10)} ${round(rate(r), 0)} requests/s, ${
          round(cpuPer(r), 1)
        } µs CPU per request`,
      );
    }
    if (c === 1 && floor) {
      console.log(
        `  ${"bare Deno".padEnd(10)} ${round(rate(floor), 0)} requests/s, ${
          round(cpuPer(floor), 1)
        } µs CPU per request (a plain socket loop, no labwire: the floor)`,
      );
    }
    const clients: [string, Run][] = [["labwire", labwire], ["pymodbus", pymodbus]];
    if (c === 1 && floor) clients.push(["bare Deno", floor]);
    console.log(
      `  cold phase, from each client's first request (warm-up ${warmUp}, then the ${requests} ` +
        "measured; no target):",
    );
    for (const [name, r] of clients) {
      console.log(`    ${name.padEnd(10)} ${coldPhase(r.marks)}`);
    }
    const threads = Object.entries(labwire.threads ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
    console.log(`  labwire µs CPU per request by thread: ${threads}`);
    console.log(
      `  pymodbus server µs CPU per request: ${serverPer(sv.labwire)} serving labwire, ` +
        `${serverPer(sv.pymodbus)} serving pymodbus${
          c === 1 && floor ? `, ${serverPer(floorServer)} serving bare Deno` : ""
        }`,
    );
    const which = c === 1 ? "one caller" : `${c} callers`;
    console.log(
      `  ${which}: rate ${round(rate(labwire) / rate(pymodbus), 2)}×, CPU per request ${
        round(cpuPer(labwire) / cpuPer(pymodbus), 2)
      }× pymodbus'`,
    );
  }
  // The targets are the issue's: round trips, each read awaited before the next. With several
  // callers both clients keep requests in flight and the pymodbus server (one Python process)
  // becomes the limit of both rates: shown for reading, no target.
  const { labwire, pymodbus } = runs[0]!;
  targets.check("rate vs pymodbus client", round(rate(labwire) / rate(pymodbus), 2), ">=", 2, "×");
  targets.check(
    "CPU per request vs pymodbus client",
    round(cpuPer(labwire) / cpuPer(pymodbus), 2),
    "<=",
    0.5,
    "×",
  );
}

if (values.poller) await poller();
else if (values.client !== undefined) await client(values.client);
else if (values.bare !== undefined) await bare(Number(values.bare));
else await orchestrate();
