/**
 * A daemon on a free loopback port over sim devices, for the serve tests and benchmarks.
 *
 * @module
 */
import "../../lib/drivers/mod.ts";
import { parseConfig } from "../../lib/config/load.ts";
import { type Daemon, type DaemonOptions, startDaemon } from "../../lib/server/daemon.ts";
import { silentLogger } from "../../lib/server/log.ts";
import { benchToml, DET_COUNTING_ALARM, SIM } from "../fixtures/sim_bench.ts";

/** A bench of sim devices sampled every 200 ms, one of them always failing, and an alarm. */
export const TEST_BENCH = benchToml({
  motor: SIM.motor,
  det: SIM.det,
  thermo: SIM.thermo,
  broken: "sim://gauge?seed=9&error_rate=1",
}) + DET_COUNTING_ALARM;

/** A slow motor (a 5 mm move takes 2.5 s), a detector and a thermometer. */
export const TASK_BENCH = benchToml({
  motor: "sim://motor?seed=3&velocity=2",
  det: SIM.det,
  thermo: SIM.thermo,
});

/** A running test daemon and its temp dir. */
export interface TestDaemon extends Daemon {
  /** Temp dir holding the session. */
  dir: string;
  /** Stops the daemon and removes the temp dir. */
  close(): Promise<void>;
}

/** Starts a daemon on 127.0.0.1:0 over `bench` (default {@linkcode TEST_BENCH}). */
export async function startTestDaemon(
  opts: Partial<DaemonOptions> & { bench?: string; dir?: string } = {},
): Promise<TestDaemon> {
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "labwire-serve-" });
  const d = await startDaemon({
    config: parseConfig(opts.bench ?? TEST_BENCH, "<test bench>"),
    listen: { hostname: "127.0.0.1", port: 0 },
    session: `${dir}/test.session.sqlite`,
    argv: ["labwire", "serve", "(test)"],
    version: "test",
    log: silentLogger,
    ...opts,
  });
  return {
    ...d,
    dir,
    async close() {
      await d.stop("test over");
      // cleanup: a temporary file already gone is fine
      if (!opts.dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Reads SSE events from a response body until `n` events with data arrived. */
export async function readEvents(
  body: ReadableStream<Uint8Array>,
  n: number,
): Promise<{ id?: string; event?: string; data: string }[]> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const out: { id?: string; event?: string; data: string }[] = [];
  let buf = "";
  try {
    while (out.length < n) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0 && out.length < n) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev: { id?: string; event?: string; data: string } = { data: "" };
        for (const line of block.split("\n")) {
          const m = /^(\w+): ?(.*)$/.exec(line);
          if (!m) continue;
          if (m[1] === "id") ev.id = m[2];
          else if (m[1] === "event") ev.event = m[2];
          else if (m[1] === "data") ev.data += m[2];
        }
        if (ev.data !== "") out.push(ev);
      }
    }
  } finally {
    // the stream may already be closed; cancelling is best effort
    await reader.cancel().catch(() => {});
  }
  return out;
}

/** Waits until `fn` returns true, polling every 50 ms, or fails after `ms`. */
export async function until(
  fn: () => boolean | Promise<boolean>,
  ms = 5000,
  what = "condition",
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
