import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import type { AddonContext, ServeAddon } from "./addon.ts";
import { startDaemon } from "./daemon.ts";
import { silentLogger } from "./log.ts";
import { benchToml, DET_COUNTING_ALARM } from "../../tests/fixtures/sim_bench.ts";

const BENCH = benchToml({ det: "sim://det?seed=5" }, "50ms") + DET_COUNTING_ALARM +
  `severity = "major"\n`;

Deno.test("daemon without a session: alarms run and add-ons get their severities (CA)", async () => {
  let ctx: AddonContext | undefined;
  const probe: ServeAddon = {
    name: "probe",
    flags: {},
    help: "",
    wanted: () => true,
    start(c) {
      ctx = c;
      return Promise.resolve({ close: () => Promise.resolve() });
    },
  };
  const d = await startDaemon({
    config: parseConfig(BENCH, "bench.toml"),
    listen: { hostname: "127.0.0.1", port: 0 },
    session: false,
    argv: ["labwire", "serve", "--no-record"],
    version: "test",
    log: silentLogger,
    addons: [{ addon: probe, flags: { values: {}, positionals: [] } }],
  });
  try {
    assert.equal(d.recording, undefined);
    const alarms = ctx?.alarms;
    assert.ok(alarms, "the add-on is given the alarm engine");
    for (let i = 0; i < 200 && alarms.active().length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(alarms.active().length, 1);
    assert.equal(alarms.severityOf!("det", "counts"), 2);
    const res = await d.app.request("/api/alarms");
    assert.equal(((await res.json()).active as unknown[]).length, 1);
  } finally {
    await d.stop("test over");
  }
});
