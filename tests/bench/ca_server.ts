/**
 * The CA server under load: the reference `camonitor` on 1,000 labwire PVs updating at 10 Hz
 * (100 `sim://bank?channels=10` devices sampled every 100 ms by the Sampler, i.e. 10,000
 * samples/s). The server runs in a child process so that its CPU share is measured alone (from
 * /proc/PID/stat); camonitor's stdout lines are counted and compared with the monitor updates
 * the server sent (every update delivered means lines = updates sent and none coalesced).
 * Targets (issue 6): every update delivered (none coalesced), labwire CPU ≤ 30 % of a core.
 * Without the reference `camonitor` the benchmark fails, naming what is missing.
 *
 * Run: deno run -A tests/bench/ca_server.ts [seconds] [clients]
 * (clients: how many camonitor processes watch all 1,000 PVs at once; default 1)
 *
 * @module
 */
import "../../lib/drivers/mod.ts";
import { parseConfig } from "../../lib/config/load.ts";
import { Lab } from "../../lib/lab/lab.ts";
import { Sampler } from "../../lib/lab/sampler.ts";
import { startCaServer } from "../../lib/server/ca/server.ts";
import { EPICS_BIN, findProgram } from "../peers.ts";
import { cpuSeconds } from "./proc_stats.ts";
import { Targets } from "./targets.ts";

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
        say({
          stopped: true,
          sampler: { ...sampler?.stats, lateness: [], sampleLateness: undefined },
        });
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

/** Reads a child's stdout as lines, all the time (a pipe left unread would throttle it). */
class Lines {
  readonly #reader: ReadableStreamDefaultReader<string>;
  readonly #pump: Promise<void>;
  #done = false;
  count = 0;
  readonly queue: string[] = [];
  constructor(stream: ReadableStream<Uint8Array>, readonly keep: boolean) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    this.#pump = this.#run();
  }
  async #run(): Promise<void> {
    let buf = "";
    try {
      while (true) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          if (this.keep) this.queue.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
          this.count++;
        }
      }
    } catch { /* cancelled */ }
    this.#done = true;
  }
  /** Waits until `n` lines in total have arrived, or the deadline passes. */
  async until(n: number, deadlineMs: number): Promise<void> {
    while (this.count < n && !this.#done && performance.now() < deadlineMs) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  /** Lets lines arrive for `ms`. */
  drain(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }
  async cancel(): Promise<void> {
    // the stream may already be closed; cancelling is best effort
    await this.#reader.cancel().catch(() => {});
    await this.#pump;
  }
}

async function main(): Promise<void> {
  const targets = new Targets("ca-server");
  if (!findProgram(`${EPICS_BIN}/camonitor`)) {
    targets.missingPeer(
      [`camonitor (reference EPICS build in ${EPICS_BIN})`],
      "build it with `export PATH=$(bash ../shared/peers/epics-base.sh):$PATH` or set EPICS_BIN",
    );
  }
  const seconds = Number(Deno.args[0] ?? 10);
  const clients = Number(Deno.args[1] ?? 1);
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
  const monitors = Array.from(
    { length: clients },
    () =>
      new Deno.Command(`${EPICS_BIN}/camonitor`, {
        args: names,
        env: {
          PATH: `${EPICS_BIN}:${Deno.env.get("PATH")}`,
          EPICS_CA_AUTO_ADDR_LIST: "NO",
          EPICS_CA_ADDR_LIST: "127.0.0.1",
          EPICS_CA_SERVER_PORT: String(port),
        },
        stdout: "piped",
        stderr: "null",
      }).spawn(),
  );
  const outs = monitors.map((m) => new Lines(m.stdout, false));
  const total = () => outs.reduce((n, l) => n + l.count, 0);
  // Every camonitor's stdout is read all the time, so none is throttled by its pipe.
  const drainAll = (ms: number) => Promise.all(outs.map((l) => l.drain(ms)));
  const t0 = performance.now();
  await Promise.all(outs.map((l) => l.until(names.length, t0 + 60_000)));
  const connectMs = performance.now() - t0;
  console.log(
    `ca_server: ${pvs} PVs served; ${clients} camonitor(s) connected to ${names.length} PVs ` +
      `each and got their first values in ${Math.round(connectMs)} ms`,
  );

  await ask("start");
  await drainAll(2000); // warm up: schedules settle, JIT
  const s0 = await ask("stats");
  const l0 = total();
  const c0 = cpuSeconds(server.pid);
  const m0 = cpuSeconds(monitors[0]!.pid);
  const w0 = performance.now();
  await drainAll(seconds * 1000);
  const wall = (performance.now() - w0) / 1000;
  const c1 = cpuSeconds(server.pid);
  const m1 = cpuSeconds(monitors[0]!.pid);
  const s1 = await ask("stats");
  const l1 = total();
  const stopped = await ask("stop");
  await drainAll(1500); // let camonitor take the last updates
  const final = await ask("stats");

  const sent = s1.updatesSent - s0.updatesSent;
  const got = l1 - l0;
  console.log(
    `ca_server: ${wall.toFixed(1)} s at ${HZ} Hz on ${names.length} PVs: ` +
      `${Math.round(sent / wall)} updates/s sent, ${Math.round(got / wall)} lines/s received ` +
      `(${
        (100 * sent / (clients * names.length * HZ * wall)).toFixed(1)
      } % of samples changed value)`,
  );
  console.log(
    `ca_server: labwire CPU ${(100 * (c1 - c0) / wall).toFixed(1)} % of a core ` +
      `(sampler + sim devices + CA server; target <= 30 %); one camonitor's CPU ${
        (100 * (m1 - m0) / wall).toFixed(1)
      } %`,
  );
  const delivered = total(); // the first values are monitor updates too
  console.log(
    `ca_server: whole run: ${final.updatesSent} updates sent, ${delivered} received by ` +
      `${clients} camonitor(s), ` +
      `${final.updatesCoalesced} coalesced, sampler missed ${stopped.sampler.missed} of ${stopped.sampler.expected} deadlines` +
      (delivered === final.updatesSent && final.updatesCoalesced === 0
        ? " (all delivered)"
        : " (NOT all delivered)"),
  );
  for (const m of monitors) m.kill("SIGTERM");
  await Promise.all(outs.map((l) => l.cancel()));
  await Promise.all(monitors.map((m) => m.status));
  await writer.write(new TextEncoder().encode("quit\n"));
  await writer.close();
  await out.cancel();
  await server.status;
  targets.check("labwire CPU", 100 * (c1 - c0) / wall, "<=", 30, "% of a core");
  targets.check("updates received vs sent", delivered, ">=", final.updatesSent);
  targets.check("updates coalesced", final.updatesCoalesced, "<=", 0);
  targets.finish();
}

if (Deno.args.includes("--serve")) await serve();
else await main();
