/**
 * `labwire sim`: argument parsing, the verb run in-process, and (once `main.ts` dispatches it)
 * as a real process stopped by SIGINT / SIGTERM.
 */
import assert from "node:assert/strict";
import "../../lib/drivers/mod.ts";
import { parseSimArgs, parseSimListen, runSim, simCommand } from "../../cmd/sim.ts";
import { BARATRON_SIM_LISTEN } from "../../lib/drivers/simulators.ts";
import { UsageError } from "../../lib/device/errors.ts";
import { MemorySink } from "../../lib/output/stdout.ts";
import { readOnce } from "../fixtures/read_once.ts";
import { runShell } from "./run_cli.ts";

function usage(fn: () => unknown, re: RegExp, hint?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${err}`);
    assert.match(err.message, re);
    if (hint) assert.match(err.hint ?? "", hint);
    return true;
  });
}

Deno.test("sim args: defaults and every flag", () => {
  const d = parseSimArgs(["baratron"]);
  assert.equal(BARATRON_SIM_LISTEN, "127.0.0.1:8081");
  assert.deepEqual([d.kind, d.hostname, d.port, d.count, d.seed], [
    "baratron",
    "127.0.0.1",
    8081,
    1,
    1,
  ]);
  assert.equal(d.faults.latencyMs, 0);
  const o = parseSimArgs([
    "baratron",
    "--listen",
    "[::1]:0",
    "--count",
    "1000",
    "--latency",
    "20ms",
    "--jitter",
    "5ms",
    "--timeout-rate",
    "0.01",
    "--error-rate",
    "0.02",
    "--garbage-rate",
    "0.03",
    "--disconnect-rate",
    "0.001",
    "--disconnect-for",
    "2s",
    "--seed",
    "7",
    "--units",
    "mbar",
    "--full-scale",
    "1333",
    "--pressure",
    "12.5",
    "--warmup",
    "30s",
    "-v",
  ]);
  assert.deepEqual([o.hostname, o.port, o.count, o.seed], ["::1", 0, 1000, 7]);
  assert.deepEqual(o.faults, {
    latencyMs: 20,
    jitterMs: 5,
    timeoutRate: 0.01,
    errorRate: 0.02,
    garbageRate: 0.03,
    disconnectRate: 0.001,
    disconnectForMs: 2000,
  });
  assert.deepEqual([o.units, o.fullScale, o.setpoint, o.warmupS], ["mbar", 1333, 12.5, 30]);
  assert.equal(o.verbose, true);
  assert.equal(d.verbose, false);
});

Deno.test("--listen forms", () => {
  assert.deepEqual(parseSimListen("127.0.0.1:9000"), { hostname: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseSimListen("[::1]:8081"), { hostname: "::1", port: 8081 });
  assert.deepEqual(parseSimListen(":0"), { hostname: "127.0.0.1", port: 0 });
  assert.deepEqual(parseSimListen("8082"), { hostname: "127.0.0.1", port: 8082 });
  assert.deepEqual(parseSimListen("0.0.0.0:80"), { hostname: "0.0.0.0", port: 80 });
  for (const bad of ["127.0.0.1", "host:port", "127.0.0.1:70000", "::1:80", ""]) {
    usage(() => parseSimListen(bad), /is not HOST:PORT/, /127\.0\.0\.1:8081/);
  }
});

Deno.test("sim bad input: unknown kind with did-you-mean, missing kind, stray args, bad values", () => {
  usage(() => parseSimArgs(["baratorn"]), /unknown kind "baratorn"/, /did you mean "baratron"/);
  usage(() => parseSimArgs(["thermocouple"]), /unknown kind/, /kinds: baratron/);
  usage(() => parseSimArgs([]), /which simulator/, /labwire sim baratron/);
  usage(() => parseSimArgs(["baratron", "extra"]), /unexpected argument "extra"/, /--count/);
  usage(() => parseSimArgs(["baratron", "--count", "0"]), /--count: expected an integer ≥ 1/);
  usage(() => parseSimArgs(["baratron", "--count", "many"]), /--count/);
  usage(() => parseSimArgs(["baratron", "--error-rate", "2"]), /error_rate: expected a fraction/);
  usage(() => parseSimArgs(["baratron", "--latency", "soon"]), /not a duration/);
  usage(() => parseSimArgs(["baratron", "--units", "tor"]), /unknown pressure units/, /"torr"/);
  usage(() => parseSimArgs(["baratron", "--demo"]), /--demo does not apply to sim/);
  usage(() => parseSimArgs(["baratron", "--latncy", "2ms"]), /unknown flag --latncy/, /--latency/);
  usage(
    () => parseSimArgs(["baratron", "--listen", "127.0.0.1:65535", "--count", "2"]),
    /past port 65535/,
  );
});

Deno.test("sim --help text documents kinds, flags and examples", () => {
  assert.equal(simCommand.name, "sim");
  for (
    const s of ["baratron", "--listen", "--count", "--latency", "--disconnect-for", "Examples:"]
  ) {
    assert.ok(simCommand.help.includes(s), s);
  }
  assert.match(simCommand.help, /labwire read baratron:\/\/127\.0\.0\.1:8081 \| jq \.pressure/);
});

Deno.test("sim run in-process: prints one address per gauge, serves them, stops on interrupt", async () => {
  const stdout = new MemorySink();
  const logs: string[] = [];
  const controller = new AbortController();
  let served: string[] = [];
  const exit = await runSim(
    ["baratron", "--listen", "127.0.0.1:0", "--count", "3", "--seed", "4"],
    {
      stdout,
      log: (line) => logs.push(line),
      interrupts: { signal: controller.signal, exitCode: () => 130 },
      onReady: async (addresses) => {
        served = addresses;
        try {
          for (const a of addresses) {
            assert.equal((await readOnce(a, ["pressure_units"])).pressure_units, "torr");
          }
        } finally {
          controller.abort();
        }
      },
    },
  );
  assert.equal(exit, 130);
  const lines = stdout.text.trimEnd().split("\n");
  assert.equal(lines.length, 3);
  assert.deepEqual(lines, served);
  for (const l of lines) assert.match(l, /^baratron:\/\/127\.0\.0\.1:\d+$/);
  assert.match(logs[0]!, /^labwire sim: 3 baratron gauges on 127\.0\.0\.1[:,].* Ctrl-C to stop$/);
  assert.match(logs.at(-1)!, /^labwire sim: stopped; answered 3 polls$/);
  // Stopped means stopped: the ports refuse connections now.
  const port = Number(lines[0]!.split(":").at(-1));
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("sim --verbose logs every request with its outcome", async () => {
  const logs: string[] = [];
  const controller = new AbortController();
  const exit = await runSim(
    ["baratron", "--listen", "127.0.0.1:0", "--verbose", "--error-rate", "1"],
    {
      stdout: new MemorySink(),
      log: (line) => logs.push(line),
      interrupts: { signal: controller.signal, exitCode: () => 0 },
      onReady: async ([address]) => {
        const url = `${address!.replace("baratron://", "http://")}/ToolWeb/Cmd`;
        try {
          const res = await fetch(url, { method: "POST", body: "<PollRequest/>" });
          assert.equal(res.status, 500);
          await res.body?.cancel();
        } finally {
          controller.abort();
        }
      },
    },
  );
  assert.equal(exit, 0);
  const line = logs.find((l) => / error 500: /.test(l));
  assert.match(
    line ?? "",
    /^\d\d:\d\d:\d\d\.\d{3} 127\.0\.0\.1:\d+ error 500: Internal Server Error$/,
  );
  assert.match(logs.at(-1)!, /faults: 0 timeouts, 1 errors/);
});

Deno.test("sim run in-process: a port in use is a usage error and nothing is printed", async () => {
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stdout = new MemorySink();
  try {
    await assert.rejects(
      runSim(["baratron", "--listen", `127.0.0.1:${blocker.addr.port}`], {
        stdout,
        log: () => {},
        interrupts: { signal: new AbortController().signal, exitCode: () => 0 },
      }),
      (err: unknown) => err instanceof UsageError && /the port is in use/.test(err.message),
    );
    assert.equal(stdout.text, "");
  } finally {
    blocker.close();
  }
});

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Starts `labwire sim …` as a process and collects `n` stdout lines. */
async function startSimProcess(args: string[], n: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "sim", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (buf.split("\n").length <= n) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
  }
  const rest = (async () => {
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
  })();
  const stderr = new Response(child.stderr).text();
  return { child, lines: buf.trimEnd().split("\n"), rest, stderr };
}

Deno.test({
  name: "labwire sim as a process: SIGINT → 130, SIGTERM → 0",
  fn: async () => {
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 0]] as const) {
      const p = await startSimProcess(["baratron", "--listen", "127.0.0.1:0", "--count", "3"], 3);
      assert.equal(p.lines.length, 3);
      for (const l of p.lines) assert.match(l, /^baratron:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(typeof (await readOnce(p.lines[2]!)).pressure, "number");
      p.child.kill(signal);
      const status = await p.child.status;
      await p.rest;
      const err = await p.stderr;
      assert.equal(status.code, code, err);
      assert.match(err, /labwire sim: stopped; answered 1 polls/);
      assert.doesNotMatch(err, /\n\s+at /, "no stack trace");
    }
  },
});

Deno.test({
  name: "labwire sim as a process: unknown kind → exit 2 with a hint",
  fn: async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "sim", "baratorn"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2);
    assert.equal(new TextDecoder().decode(out.stdout), "");
    assert.match(
      new TextDecoder().decode(out.stderr),
      /unknown kind "baratorn"[\s\S]*did you mean "baratron"/,
    );
  },
});

/**
 * Starts `labwire sim baratron --listen 127.0.0.1:0 --count COUNT` under `ulimit ULIMIT` and
 * reads its stdout until `lines` addresses arrived (or it ended). The shell lowers the limit,
 * then runs labwire in its place (exec), so a kill reaches it.
 */
async function simUnderLimit(ulimit: string, count: number, lines: number) {
  const ROOT = new URL("../../", import.meta.url).pathname;
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit ${ulimit} && exec "$0" run -A "$1" sim baratron --listen 127.0.0.1:0 --count ${count}`,
      Deno.execPath(),
      `${ROOT}main.ts`,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  while (out.split("\n").length <= lines) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  const stderr = new Response(child.stderr).text();
  return { child, reader, out, stderr };
}

Deno.test("sim: more gauges than the descriptor limit allows is a usage error saying how many fit; a low soft limit is raised", async () => {
  const run = async (ulimit: string, count: number, lines: number) => {
    const { child, reader, out, stderr } = await simUnderLimit(ulimit, count, lines);
    if (lines > 0) child.kill("SIGTERM");
    await reader.cancel();
    const [status, err] = await Promise.all([child.status, stderr]);
    return { code: status.code, out, stderr: err };
  };
  // Hard limit 1000: 600 gauges (a listener and a connection each) cannot fit.
  const refused = await run("-n 1000", 600, 0);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /600 gauges need about 1264 open files/);
  assert.match(refused.stderr, /may open 1000 \(its hard limit\): at most 468 gauges fit/);
  assert.match(refused.stderr, /split them over 2 processes/);
  assert.doesNotMatch(refused.stderr, /Too many open files|Uncaught/);
  // Soft limit 900 under a higher hard limit: raised, and all 600 gauges listen.
  const hard = Number(
    /^Max open files\s+\d+\s+(\d+)/m.exec(Deno.readTextFileSync("/proc/self/limits"))?.[1],
  );
  if (!(hard >= 1264)) return; // this machine's hard limit is too low to show the raise
  const raised = await run("-Sn 900", 600, 600);
  assert.equal(raised.out.trim().split("\n").length, 600, raised.stderr);
});

Deno.test("sim: out of descriptors once clients connect is a warning on stderr, not a crash; it serves again after", async () => {
  const { child, reader, out, stderr } = await simUnderLimit("-n 120", 5, 5);
  const address = out.trim().split("\n")[0]!;
  const port = Number(address.split(":").at(-1));
  // Far more connections than the simulator has descriptors left.
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 150; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    for (const c of conns) c.close();
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(
    typeof (await readOnce(`${address}?timeout=3s`)).pressure,
    "number",
    "it serves again",
  );
  child.kill("SIGTERM");
  const status = await child.status;
  await reader.cancel();
  const err = await stderr;
  assert.equal(status.code, 0, err);
  assert.match(
    err,
    new RegExp(
      `cannot accept a connection on 127\\.0\\.0\\.1:${port}: .*open-file limit is reached`,
    ),
  );
  assert.equal(err.split("cannot accept").length - 1, 1, "said once, not per attempt");
  assert.doesNotMatch(err, /Uncaught|\n\s+at /);
});

Deno.test("labwire sim | head -1: the address, then the simulator stops with exit 0 (no hang)", async () => {
  // head leaves after the address; the simulator used to serve on for good (hang guard: 124)
  const r = await runShell(
    `export -f labwire; timeout 30 bash -o pipefail -c "labwire sim scpi --listen 127.0.0.1:0 | head -1"`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^tcp:\/\/127\.0\.0\.1:\d+\?instrument=scpi\n$/);
  assert.match(r.stderr, /labwire sim: stopped; answered 0 messages/);
});
