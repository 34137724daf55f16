/**
 * `serve` as a process against a failing store and unruly clients: alarms without a recording,
 * SIGTERM with SSE clients that stopped reading, a disk that fills up under a recording.
 */
import assert from "node:assert/strict";
import { SessionReader } from "../../lib/session/reader.ts";
import { spawnLabwire } from "./labwire_process.ts";
import { until } from "./serve_fixture.ts";

const ALARM_BENCH = `
[devices.det]
address = "sim://det?seed=5"
interval = "100ms"

[[alarms]]
name = "det_counting"
device = "det"
attr = "counts"
compare = ">="
trip = 0
`;

async function json(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url);
  return await res.json();
}

Deno.test("serve --no-record keeps alarms (and serves them)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-norecord-" });
  try {
    await Deno.writeTextFile(`${dir}/bench.toml`, ALARM_BENCH);
    const p = spawnLabwire([
      "serve",
      `${dir}/bench.toml`,
      "--listen",
      "127.0.0.1:0",
      "--no-record",
    ]);
    try {
      const url = (await p.waitFor(/serving .* on (http:\/\/[^\s,]+)/))[1]!;
      let active: { name: string }[] = [];
      await until(
        async () => {
          active = (await json(`${url}/api/alarms`)).active as { name: string }[];
          return active.length > 0;
        },
        10_000,
        "an active alarm",
      );
      assert.deepEqual(active.map((a) => a.name), ["det_counting"]);
      assert.ok(p.lines.some((l) => /alarm .*det_counting/.test(l)), p.lines.join("\n"));
    } finally {
      assert.equal(await p.stop(), 0, p.lines.join("\n"));
    }
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["bench.toml"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Two loggers of 2,000 channels every 10 ms: several MB/s of events, enough to fill the socket
// buffers of a client that never reads within a few seconds.
const LOUD_BENCH = `
[devices.a]
address = "sim://bank?channels=2000&seed=1"
interval = "10ms"

[devices.b]
address = "sim://bank?channels=2000&seed=2"
interval = "10ms"
`;

Deno.test("SIGTERM with SSE clients that stopped reading closes them and the segment without the grace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-stalled-" });
  try {
    await Deno.writeTextFile(`${dir}/bench.toml`, LOUD_BENCH);
    const session = `${dir}/s.session.sqlite`;
    const p = spawnLabwire([
      "serve",
      `${dir}/bench.toml`,
      "--listen",
      "127.0.0.1:0",
      "--session",
      session,
    ]);
    const conns: Deno.TcpConn[] = [];
    try {
      const url = new URL((await p.waitFor(/serving .* on (http:\/\/[^\s,]+)/))[1]!);
      for (let i = 0; i < 3; i++) {
        const c = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
        await c.write(new TextEncoder().encode("GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n"));
        conns.push(c); // and never read from it
      }
      await until(
        async () => (await json(`${url}healthz`)).sse_clients === 3,
        10_000,
        "three SSE clients",
      );
      // Long enough for the clients' socket buffers to fill: the daemon's writes to them block.
      await new Promise((r) => setTimeout(r, 4000));
    } finally {
      const code = await p.stop("SIGTERM");
      for (const c of conns) c.close();
      assert.equal(code, 0, p.lines.join("\n"));
    }
    assert.ok(!p.lines.some((l) => /exiting anyway/.test(l)), p.lines.join("\n"));
    assert.ok(p.lines.some((l) => /notice: stopped$/.test(l)), p.lines.join("\n"));
    // The scenario really happened: some response could not end because its client stalled.
    assert.ok(p.lines.some((l) => /clients stopped reading/.test(l)), p.lines.join("\n"));
    const r = SessionReader.open(session);
    try {
      const seg = r.segments().at(-1)!;
      assert.equal(seg.state, "stopped");
      assert.equal(seg.reason, "SIGTERM");
    } finally {
      r.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
