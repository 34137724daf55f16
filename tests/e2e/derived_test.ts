/**
 * Derived attributes (`[derived.NAME]`, issue 14) used wherever an attribute is: `labwire read`
 * and `scan` as processes, the daemon's HTTP API, its alarms and session, and its Channel Access
 * server read by `labwire read ca://…` as a separate process.
 */
import assert from "node:assert/strict";
import "../../lib/drivers/mod.ts";
import { ascan, runCli } from "./run_cli.ts";
import { startTestDaemon, until } from "./serve_fixture.ts";
import { LOOPBACK_CA, withCaLab } from "../../lib/server/ca/test_lab.ts";
import { benchToml, SIM } from "../fixtures/sim_bench.ts";

const BENCH = benchToml({ motor: "sim://motor?seed=3&velocity=1000", det: SIM.det }, "250ms") + `
[derived.calc]
interval = "250ms"
speed = { expr = "motor.velocity * 60", units = "mm/min", precision = 1 }
twice = "det.counts * 2"
busy = "det.counts >= 0 and not motor.moving"
`;

async function withConfig(fn: (file: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "labwire-derived-" });
  try {
    await Deno.writeTextFile(`${dir}/lab.toml`, BENCH);
    await fn(`${dir}/lab.toml`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("labwire read of a derived device computes its attributes from the devices it reads", async () => {
  await withConfig(async (file) => {
    const r = await runCli(["read", "-c", file, "calc"]);
    assert.equal(r.code, 0, r.stderr);
    const reading = JSON.parse(r.stdout);
    assert.equal(reading.device, "calc");
    assert.equal(reading.speed, 1000 * 60);
    assert.equal(reading.twice % 2, 0);
    assert.equal(reading.busy, true);
    // only what was asked for is printed: the devices it reads are not listed
    assert.deepEqual(Object.keys(reading), ["t", "device", "speed", "twice", "busy"]);
    const d = await runCli(["read", "-c", file, "calc", "--describe"]);
    const attrs = JSON.parse(d.stdout);
    assert.equal(attrs.speed.units, "mm/min");
    assert.equal(attrs.busy.type, "boolean");
    assert.equal(attrs.speed.rw, false);
  });
});

Deno.test("a derived attribute is a scan detector: its peak follows the detector's", async () => {
  await withConfig(async (file) => {
    const r = await runCli([
      "scan",
      "-c",
      file,
      "--no-session",
      ...ascan(0, 10, 21, "det.counts,calc.twice"),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const pts = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(pts.length, 21);
    for (const p of pts) assert.equal(p["calc.twice"] % 2, 0);
    assert.match(r.stderr, /calc\.twice: peak \d+ at motor\.position = [45]\.\d+/);
  });
});

Deno.test("bad expressions and references are config errors naming the key (exit 2)", async () => {
  await withConfig(async (file, dir) => {
    const bad = `${dir}/bad.toml`;
    await Deno.writeTextFile(bad, BENCH.replace('"det.counts * 2"', '"det.counts * * 2"'));
    const r = await runCli(["read", "-c", bad, "calc"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /derived\.calc\.twice: unexpected "\*" \(character 14\)/);
    await Deno.writeTextFile(bad, BENCH.replace('"det.counts * 2"', '"dett.counts * 2"'));
    const r2 = await runCli(["read", "-c", bad, "calc"]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /no device "dett".*did you mean "det"/);
    const w = await runCli(["write", "-c", file, "calc", "twice=3"]);
    assert.equal(w.code, 2, w.stderr);
    assert.match(w.stderr, /read-only/);
    void file;
  });
});

Deno.test("serve: a derived attribute is read over HTTP, recorded, and trips an alarm", async () => {
  const d = await startTestDaemon({
    bench: `${BENCH}
[[alarms]]
name = "fast_motor"
device = "calc"
attr = "speed"
compare = ">"
trip = 1000
`,
  });
  try {
    const r = await (await fetch(`${d.url}/api/devices/calc/read?attrs=speed`)).json();
    assert.equal(r.speed, 60_000);
    let alarms: { active: { name?: string; rule?: string }[] } = { active: [] };
    await until(
      async () => {
        alarms = await (await fetch(`${d.url}/api/alarms`)).json();
        return alarms.active.length > 0;
      },
      10_000,
      "the alarm on calc.speed",
    );
    assert.match(JSON.stringify(alarms.active), /fast_motor/);
    // The alarm trips on the reading itself; the recording commits it within 100 ms after.
    await until(
      async () => {
        const samples = await (await fetch(`${d.url}/api/samples?device=calc&attr=speed`)).json();
        return JSON.stringify(samples).includes("60000");
      },
      10_000,
      "calc.speed's 60000 in /api/samples",
    );
  } finally {
    await d.close();
  }
});

Deno.test("Channel Access: a derived attribute is a PV that labwire's CA client reads", async () => {
  await withCaLab(BENCH, { prefix: "LWD:", ...LOOPBACK_CA, sampleFirst: true }, async (ca) => {
    const r = await runCli(["read", "ca://LWD:calc:speed"], {
      env: {
        EPICS_CA_ADDR_LIST: `127.0.0.1:${ca.port}`,
        EPICS_CA_AUTO_ADDR_LIST: "NO",
      },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /60000/);
  });
});
