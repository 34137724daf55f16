/**
 * The CA server under load: the reference `camonitor` on 1,000 labwire PVs updating at 10 Hz
 * (100 `sim://bank?channels=10` devices sampled every 100 ms by the Sampler, i.e. 10,000
 * samples/s). The server runs in a child process so that its CPU share is measured alone (from
 * /proc/PID/stat); camonitor's stdout lines are counted and compared with the monitor updates
 * the server sent (every update delivered means lines = updates sent and none coalesced).
 * Target: labwire CPU ≤ 30 % of a core.
 *
 * Run: deno run -A tests/bench/ca_server.ts [seconds]
 *
 * @module
 */
import "../../lib/drivers/mod.ts";
import { parseConfig } from "../../lib/config/load.ts";
import { Lab } from "../../lib/lab/lab.ts";
import { Sampler } from "../../lib/lab/sampler.ts";
import { startCaServer } from "../../lib/drivers/epics/server.ts";
import { EPICS_BIN } from "../peers.ts";

const DEVICES = 100;
const CHANNELS = 10;
const HZ = 10;

/** Child mode: the server over the lab; commands on stdin, one JSON answer per line. */
async function serve(): Promise<void> {
  const toml = Array.from(
    { length: DEVICES },
    (_, i) =>
      `[devices.b${i}]\naddress = "sim://bank?channels=${CHANNELS}&seed=${i}"\ninterval = "${
        1000 / HZ
      }ms"\n`,
  ).join("");
  const lab = await Lab.open(parseConfig(toml));
  for (const m of lab.managers) await m.sample();
  const ca = await startCaServer(lab, {
    prefix: "BENCH:",
    port: 0,
    interfaces: ["127.0.0.1"],
    autoBeacon: false,
  });
  const say = (o: unknown) => console.log(JSON.stringify(o));
  say({ port: ca.port, pvs: ca.names().length });
  let stop: AbortController | undefined;
  let sampler: Sampler | undefined;
  let running: Promise<void> | undefined;
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buf = "";
  for await (const chunk of lines) {
    buf += chunk;
    const parts = buf.split("\n");
    buf = parts.pop()!;
    for (const cmd of parts) {
      if (cmd === "start") {
        stop = new AbortController();
        sampler = new Sampler(lab, { signal: stop.signal });
        running = sampler.run();
        say({ started: true });
      } else if (cmd === "stop") {
        stop?.abort();
        await running;
        say({ stopped: true, sampler: { ...sampler?.stats, lateness: [], sampleLateness: [] } });
      } else if (cmd === "stats") {
        say(ca.stats());
      } else if (cmd === "quit") {
        await ca.close();
        await lab.close();
        return;
      }
    }
  }
}

/** CPU seconds (user + system) of a process so far. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after "pid (comm) ".
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Reads a child's stdout as lines. */
class Lines {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buf = "";
  #pending: Promise<ReadableStreamReadResult<string>> | undefined;
  count = 0;
  readonly queue: string[] = [];
  constructor(stream: ReadableStream<Uint8Array>, readonly keep: boolean) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** Reads until `n` lines in total have arrived, or the deadline passes. */
  async until(n: number, deadlineMs: number): Promise<void> {
    while (this.count < n && performance.now() < deadlineMs) {
      // A read outlives a timed-out wait: it is kept for the next round, never dropped.
      this.#pending ??= this.#reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const tick = new Promise<"t">((r) => timer = setTimeout(() => r("t"), 200));
      const got = await Promise.race([this.#pending, tick]);
      clearTimeout(timer);
      if (got === "t") continue;
      this.#pending = undefined;
      if (got.done) return;
      this.#buf += got.value;
      let i;
      while ((i = this.#buf.indexOf("\n")) >= 0) {
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        this.count++;
        if (this.keep) this.queue.push(line);
      }
    }
  }
  /** Drains whatever arrives during `ms`. */
  async drain(ms: number): Promise<void> {
    await this.until(Number.MAX_SAFE_INTEGER, performance.now() + ms);
  }
  cancel(): Promise<void> {
    return this.#reader.cancel().catch(() => {});
  }
}

async function main(): Promise<void> {
  const seconds = Number(Deno.args[0] ?? 10);
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--serve"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = new Lines(server.stdout, true);
  const writer = server.stdin.getWriter();
  const ask = async (cmd: string) => {
    await writer.write(new TextEncoder().encode(cmd + "\n"));
    await out.until(out.count + 1, performance.now() + 30_000);
    return JSON.parse(out.queue.shift()!);
  };
  await out.until(1, performance.now() + 60_000);
  const { port, pvs } = JSON.parse(out.queue.shift()!);
  const names = Array.from(
    { length: DEVICES * CHANNELS },
    (_, i) => `BENCH:b${Math.floor(i / CHANNELS)}:ch${i % CHANNELS}`,
  );
  const monitor = new Deno.Command(`${EPICS_BIN}/camonitor`, {
    args: names,
    env: {
      PATH: `${EPICS_BIN}:${Deno.env.get("PATH")}`,
      EPICS_CA_AUTO_ADDR_LIST: "NO",
      EPICS_CA_ADDR_LIST: "127.0.0.1",
      EPICS_CA_SERVER_PORT: String(port),
    },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = new Lines(monitor.stdout, false);
  const t0 = performance.now();
  await lines.until(names.length, t0 + 60_000);
  const connectMs = performance.now() - t0;
  console.log(
    `ca_server: ${pvs} PVs served; camonitor connected to ${names.length} PVs and got their ` +
      `first values in ${Math.round(connectMs)} ms`,
  );

  await ask("start");
  await lines.drain(2000); // warm up: schedules settle, JIT
  const s0 = await ask("stats");
  const l0 = lines.count;
  const c0 = cpuSeconds(server.pid);
  const m0 = cpuSeconds(monitor.pid);
  const w0 = performance.now();
  await lines.drain(seconds * 1000);
  const wall = (performance.now() - w0) / 1000;
  const c1 = cpuSeconds(server.pid);
  const m1 = cpuSeconds(monitor.pid);
  const s1 = await ask("stats");
  const l1 = lines.count;
  const stopped = await ask("stop");
  await lines.drain(1500); // let camonitor take the last updates
  const final = await ask("stats");

  const sent = s1.updatesSent - s0.updatesSent;
  const got = l1 - l0;
  console.log(
    `ca_server: ${wall.toFixed(1)} s at ${HZ} Hz on ${names.length} PVs: ` +
      `${Math.round(sent / wall)} updates/s sent, ${Math.round(got / wall)} lines/s received ` +
      `(${(100 * sent / (names.length * HZ * wall)).toFixed(1)} % of samples changed value)`,
  );
  console.log(
    `ca_server: labwire CPU ${(100 * (c1 - c0) / wall).toFixed(1)} % of a core ` +
      `(sampler + sim devices + CA server; target <= 30 %); camonitor CPU ${
        (100 * (m1 - m0) / wall).toFixed(1)
      } %`,
  );
  const delivered = lines.count; // the first values are monitor updates too
  console.log(
    `ca_server: whole run: ${final.updatesSent} updates sent, ${delivered} received by camonitor, ` +
      `${final.updatesCoalesced} coalesced, sampler missed ${stopped.sampler.missed} of ${stopped.sampler.expected} deadlines` +
      (delivered === final.updatesSent && final.updatesCoalesced === 0
        ? " (all delivered)"
        : " (NOT all delivered)"),
  );
  monitor.kill("SIGTERM");
  await lines.cancel();
  await monitor.status;
  await writer.write(new TextEncoder().encode("quit\n"));
  await writer.close();
  await out.cancel();
  await server.status;
}

if (Deno.args.includes("--serve")) await serve();
else await main();
