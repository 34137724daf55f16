/**
 * Instruments query benchmark (issue 11): `MEAS:VOLT:DC?` queries on loopback against one
 * simulated Keysight 34461A (`labwire sim keysight-34461a`, its own process) by `labwire query
 * ADDRESS 'MEAS:VOLT:DC?' …` (cmd/query.ts run in this script with `--query ADDRESS`: round trips,
 * each query written after the previous answer, answers printed to stdout) and by pyvisa-py
 * (Debian's python3-pyvisa-py, `TCPIP::127.0.0.1::PORT::SOCKET`, its `query` in a loop) in the
 * same run, each in its own process after a warm-up. Reports queries/s and CPU per query of both.
 * Targets (the issue's figure is query round trips): labwire ≥ 2× pyvisa-py's rate and ≤ 0.5× its
 * CPU per query. A second labwire line, no target, is `labwire query --window 8` (8 queries in
 * flight, written together, answers read in order). A third labwire line,
 * no target, is the driver's read path (`--client ADDRESS`: `read`, `stream` and `monitor` ask one
 * query and await it before the next). The labwire side runs with the V8 flags that
 * `deno task compile` bakes into the shipped binary (read from deno.json), as users run it.
 * Another line, no target, is the floor: the same command over a plain `Deno.connect` loop
 * (`--bare PORT`), what any Deno program pays per round trip on this machine. Two more lines,
 * no target, answer "would libc sockets through FFI (as `fd_conn.ts` does for serial lines)
 * beat it?" (`--ffi worker|blocking --port PORT`): the socket made and connected with libc, written
 * and read with `write(2)`/`read(2)`, waiting for the answer either with `poll(2)` on FFI's
 * worker thread (the event loop stays free: the only way a daemon could use it) or with
 * `poll(2)` on the main thread (the event loop stalls for every round trip: not usable, shown
 * as the lower bound).
 *
 * Every client makes 10,000 queries (a per-query figure, not one dominated by opening the
 * connection and reading the commands), after a warm-up: 50 queries, 5,000 for `labwire query`,
 * whose per-query path V8 optimises over the first few thousand.
 *
 *   deno run -A tests/bench/instruments_query.ts [--queries 10000]
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import "../../lib/drivers/mod.ts";
import { parseAddress } from "../../lib/device/address.ts";
import { findDriver } from "../../lib/device/registry.ts";
import { cpuSeconds, round, threadCpuPer, threadCpuSeconds } from "./proc_stats.ts";
import { runJson } from "./child.ts";
import { Targets } from "./targets.ts";
import { SHIPPED_V8_FLAGS } from "./shipped_flags.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const { values } = parseArgs({
  args: Deno.args,
  options: {
    queries: { type: "string", default: "10000" },
    client: { type: "string" },
    bare: { type: "string" },
    ffi: { type: "string" },
    port: { type: "string" },
    query: { type: "string" },
    window: { type: "string", default: "1" },
  },
});

/** The `--window` of the pipelined line (no target: the issue's figure is round trips, window 1). */
const WINDOW = 8;
/** Queries of the `--query` client's warm-up run: V8 settles labwire's per-query path over the first few thousand (a cold run of 2,000 costs ~2× per query). */
const WARM_UP = 5000;

/** Runs `query` n times after a warm-up; what each client process prints. */
async function measure(n: number, query: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 50; i++) await query();
  const threads0 = threadCpuSeconds();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await query();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const threads = threadCpuPer(threads0, threadCpuSeconds(), n);
  console.log(
    JSON.stringify({ queries: n, seconds, cpu_seconds: (cpu.user + cpu.system) / 1e6, threads }),
  );
}

// The floor, for reading the figures (`--bare PORT`): the same command and answer over a plain
// Deno.connect socket, no labwire code — what any Deno program pays per round trip here.
if (values.bare !== undefined) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(values.bare) });
  conn.setNoDelay(true);
  const cmd = new TextEncoder().encode("MEAS:VOLT:DC?\n");
  const buf = new Uint8Array(4096);
  await measure(Number(values.queries), async () => {
    await conn.write(cmd);
    let n = 0;
    do n += (await conn.read(buf.subarray(n))) ?? 0; while (buf[n - 1] !== 10);
    return Number(new TextDecoder().decode(buf.subarray(0, n - 1)));
  });
  conn.close();
  Deno.exit(0);
}

// The FFI floors (`--ffi worker|blocking --port PORT`): the same exchange over a socket made,
// connected, written and read with libc, waiting on a worker thread or on the main thread.
if (values.ffi !== undefined) {
  const lib = Deno.dlopen("libc.so.6", {
    socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
    setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
    read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    close: { parameters: ["i32"], result: "i32" },
    poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
    pollWorker: {
      name: "poll",
      parameters: ["buffer", "u64", "i32"],
      result: "i32",
      nonblocking: true,
    },
  });
  const c = lib.symbols;
  // AF_INET, SOCK_STREAM, blocking: reads are only made once poll(2) reports input, so they
  // never wait.
  const fd = c.socket(2, 1, 0);
  const addr = new Uint8Array(16);
  new DataView(addr.buffer).setUint16(0, 2, true);
  new DataView(addr.buffer).setUint16(2, Number(values.port), false);
  addr.set([127, 0, 0, 1], 4);
  if (fd < 0 || c.connect(fd, addr, 16) !== 0) throw new Error("FFI connect failed");
  c.setsockopt(fd, 6, 1, new Uint8Array(new Int32Array([1]).buffer), 4); // TCP_NODELAY
  const cmd = new TextEncoder().encode("MEAS:VOLT:DC?\n");
  const buf = new Uint8Array(4096);
  const pfd = new Uint8Array(8);
  new DataView(pfd.buffer).setInt32(0, fd, true);
  new DataView(pfd.buffer).setInt16(4, 1, true); // POLLIN
  const worker = values.ffi === "worker";
  await measure(Number(values.queries), async () => {
    c.write(fd, cmd, BigInt(cmd.length));
    let n = 0;
    do {
      if (worker) await c.pollWorker(pfd, 1n, -1);
      else c.poll(pfd, 1n, -1);
      n += Number(c.read(fd, buf.subarray(n), BigInt(buf.length - n)));
    } while (buf[n - 1] !== 10);
    return Number(new TextDecoder().decode(buf.subarray(0, n - 1)));
  });
  c.close(fd);
  Deno.exit(0);
}

// The labwire side, run as its own process (`--query ADDRESS`): what
// `… | labwire query ADDRESS --window 8` runs (cmd/query.ts): the commands on stdin, one per
// line, as the README shows for many commands; answers printed to stdout as the command does.
// A warm-up with 50 commands on the command line first; the last stdout line is the figures.
if (values.query !== undefined) {
  const { runQuery } = await import("../../cmd/query.ts");
  const args = [values.query, "--window", values.window];
  await runQuery([...args, ...Array.from({ length: WARM_UP }, () => "MEAS:VOLT:DC?")]);
  const n = Number(values.queries);
  const threads0 = threadCpuSeconds();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const code = await runQuery(args);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const threads = threadCpuPer(threads0, threadCpuSeconds(), n);
  if (code !== 0) throw new Error(`labwire query exited ${code}`);
  console.log(
    JSON.stringify({ queries: n, seconds, cpu_seconds: (cpu.user + cpu.system) / 1e6, threads }),
  );
  Deno.exit(0);
}

// The driver's path (`--client ADDRESS`): sequential reads of
// voltage_dc through the message driver, the path read, stream and monitor take.
if (values.client !== undefined) {
  const a = parseAddress(values.client);
  const dev = await findDriver(a.scheme).open(a, { name: "dmm", options: {} });
  // Identification, init and the first connection are not what is measured (the warm-up).
  await measure(Number(values.queries), () => dev.read(["voltage_dc"]));
  await dev.close();
  Deno.exit(0);
}
const queries = Number(values.queries);
const targets = new Targets("instruments-query");

interface Run {
  queries: number;
  seconds: number;
  cpu_seconds: number;
  /** µs of CPU per query by thread name (Deno clients only; clock-tick resolution). */
  threads?: Record<string, number>;
}

const sim = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", `${ROOT}main.ts`, "sim", "keysight-34461a", "--listen", "127.0.0.1:0"],
  stdin: "null",
  stdout: "piped",
  stderr: "null",
}).spawn();
const reader = sim.stdout.pipeThrough(new TextDecoderStream()).getReader();
let first = "";
while (!first.includes("\n")) {
  const { value, done } = await reader.read();
  if (done) break;
  first += value;
}
const address = first.trim();
const port = Number(/:(\d+)\?/.exec(address)?.[1]);

const PYVISA = `
import json, sys, time, pyvisa
rm = pyvisa.ResourceManager("@py")
inst = rm.open_resource("TCPIP::127.0.0.1::${port}::SOCKET")
inst.read_termination = "\\n"
inst.write_termination = "\\n"
inst.timeout = 5000
for _ in range(50):
    float(inst.query("MEAS:VOLT:DC?"))
n = int(sys.argv[1])
c0 = time.process_time(); t0 = time.perf_counter()
for _ in range(n):
    float(inst.query("MEAS:VOLT:DC?"))
seconds = time.perf_counter() - t0; cpu = time.process_time() - c0
inst.close()
print(json.dumps({"queries": n, "seconds": seconds, "cpu_seconds": cpu}))
`;

// The kernel's floor of a round trip on this machine: blocking send/recv on a plain socket, no
// event loop and no library (what a C client pays, plus a little Python per call).
const RAW_SOCKET = `
import json, socket, sys, time
s = socket.create_connection(("127.0.0.1", ${port}))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
cmd = b"MEAS:VOLT:DC?\\n"
def query():
    s.sendall(cmd)
    b = s.recv(4096)
    while not b.endswith(b"\\n"):
        b += s.recv(4096)
    return float(b)
for _ in range(50):
    query()
n = int(sys.argv[1])
c0 = time.process_time(); t0 = time.perf_counter()
for _ in range(n):
    query()
seconds = time.perf_counter() - t0; cpu = time.process_time() - c0
s.close()
print(json.dumps({"queries": n, "seconds": seconds, "cpu_seconds": cpu}))
`;

let labwire: Run;
let pipelined: Run;
let labwireRead: Run;
let pyvisa: Run;
let bare: Run;
let ffiWorker: Run;
let ffiBlocking: Run;
let rawSocket: Run;
/** The simulator's CPU seconds per query it answered while each client ran (warm-ups included). */
const simCpu: Record<string, number> = {};
/** Runs `client`, which asks `served` queries in all, and records the simulator's CPU per query. */
async function withSimCpu(name: string, served: number, client: () => Promise<Run>): Promise<Run> {
  const c0 = cpuSeconds(sim.pid);
  const r = await client();
  simCpu[name] = (cpuSeconds(sim.pid) - c0) / served;
  return r;
}
/**
 * Runs this script as a Deno client process with `mode` (its flag and value), under the shipped
 * binary's V8 flags, so every Deno figure is measured as users run labwire.
 */
const denoClient = (...mode: string[]) =>
  runJson<Run>(Deno.execPath(), [
    "run",
    "-A",
    `--v8-flags=${SHIPPED_V8_FLAGS}`,
    `${ROOT}tests/bench/instruments_query.ts`,
    ...mode,
    "--queries",
    String(queries),
  ]);
/** The `--query` client: like {@linkcode denoClient}, with the commands written to its stdin. */
async function queryClient(address: string, window: number): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `--v8-flags=${SHIPPED_V8_FLAGS}`,
      `${ROOT}tests/bench/instruments_query.ts`,
      "--query",
      address,
      "--window",
      String(window),
      "--queries",
      String(queries),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Collected while the commands are written: the warm-up's answers fill the stdout pipe first.
  const output = child.output();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("MEAS:VOLT:DC?\n".repeat(queries)));
  await writer.close();
  const out = await output;
  if (!out.success) {
    throw new Error(
      `labwire query client failed: ${new TextDecoder().decode(out.stderr).slice(-400)}`,
    );
  }
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  if (lines.length !== WARM_UP + queries + 1) {
    throw new Error(
      `labwire query printed ${lines.length - 1} answers for ${WARM_UP} + ${queries} queries`,
    );
  }
  return JSON.parse(lines.at(-1)!);
}

try {
  // The simulator warms up first (its JIT, its first connections): whoever ran first against a
  // cold simulator waited longer per answer, and a client that sleeps on every answer pays the
  // wake-ups in CPU.
  await denoClient("--bare", String(port));
  labwire = await withSimCpu("labwire", WARM_UP + queries, () => queryClient(address, 1));
  pipelined = await queryClient(address, WINDOW);
  labwireRead = await denoClient("--client", address);
  pyvisa = await withSimCpu(
    "pyvisa-py",
    50 + queries,
    () => runJson<Run>("/usr/bin/python3", ["-c", PYVISA, String(queries)]),
  );
  bare = await withSimCpu("bare Deno", 50 + queries, () => denoClient("--bare", String(port)));
  rawSocket = await withSimCpu(
    "raw socket",
    50 + queries,
    () => runJson<Run>("/usr/bin/python3", ["-c", RAW_SOCKET, String(queries)]),
  );
  ffiWorker = await denoClient("--ffi", "worker", "--port", String(port));
  ffiBlocking = await denoClient("--ffi", "blocking", "--port", String(port));
} finally {
  sim.kill("SIGTERM");
  await sim.status;
  await reader.cancel();
}

const rate = (r: Run) => r.queries / r.seconds;
const cpuPerQuery = (r: Run) => (r.cpu_seconds / r.queries) * 1e6;
console.log(`instruments query: ${queries} × MEAS:VOLT:DC? on loopback, simulated 34461A`);
console.log(`  labwire V8 flags ${SHIPPED_V8_FLAGS} (as shipped)`);
const rows = [
  ["labwire", labwire, " (labwire query: round trips, one query in flight, answers printed)"],
  ["pipelined", pipelined, ` (labwire query --window ${WINDOW}: ${WINDOW} in flight; no target)`],
  ["read path", labwireRead, " (the driver's read, each query awaited before the next)"],
  ["pyvisa-py", pyvisa, ""],
  ["bare Deno", bare, " (a plain socket loop, no labwire: the floor)"],
  ["FFI worker", ffiWorker, " (libc socket, poll(2) on FFI's worker thread)"],
  ["FFI block", ffiBlocking, " (libc socket, poll(2) stalling the event loop: unusable)"],
  [
    "raw socket",
    rawSocket,
    " (python3 socket: blocking send/recv, no event loop: the kernel's floor)",
  ],
] as const;
for (const [name, r, note] of rows) {
  console.log(
    `  ${name.padEnd(10)} ${round(rate(r), 0)} queries/s, ${
      round(cpuPerQuery(r), 1)
    } µs CPU per query${note}`,
  );
}
// Where the Deno clients' CPU goes: the main thread (JavaScript, Deno's I/O) or V8's helpers.
const byThread = (r: Run) =>
  Object.entries(r.threads ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
console.log(
  `  µs CPU per query by thread: labwire ${byThread(labwire)}; pipelined ${
    byThread(pipelined)
  }; read path ${byThread(labwireRead)}; bare Deno ${byThread(bare)}`,
);
// What bounds the figures: a round trip is the client's CPU, the simulator's, and the wake-ups
// between them; the targets ask labwire for half of pyvisa-py's CPU, which the bare Deno loop
// (Deno's async socket ops, no labwire code) already spends more than.
console.log(
  `  simulator µs CPU per query while driven by: ${
    Object.entries(simCpu).map(([k, v]) => `${k} ${round(v * 1e6, 1)}`).join(", ")
  }`,
);
console.log(
  `  floors: 0.5 × pyvisa-py's CPU is ${round(cpuPerQuery(pyvisa) / 2, 1)} µs per query; ` +
    `the bare Deno loop spends ${round(cpuPerQuery(bare), 1)} µs ` +
    `(${round(cpuPerQuery(bare) / cpuPerQuery(pyvisa), 2)}× pyvisa-py), a raw socket ` +
    `${round(cpuPerQuery(rawSocket), 1)} µs; the bare loop's rate is ` +
    `${round(rate(bare) / rate(pyvisa), 2)}× pyvisa-py's`,
);
console.log(
  `  read path vs pyvisa-py: rate ${round(rate(labwireRead) / rate(pyvisa), 2)}×, CPU per query ${
    round(cpuPerQuery(labwireRead) / cpuPerQuery(pyvisa), 2)
  }×`,
);
targets.check("rate vs pyvisa-py", round(rate(labwire) / rate(pyvisa), 2), ">=", 2, "×");
targets.check(
  "CPU per query vs pyvisa-py",
  round(cpuPerQuery(labwire) / cpuPerQuery(pyvisa), 2),
  "<=",
  0.5,
  "×",
);
targets.finish();
