import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig, parseDeviceTable } from "../config/load.ts";
import { Lab } from "../lab/lab.ts";
import type { AlarmEvent } from "./event.ts";
import { startAlarms } from "./watch.ts";
import { GAUGE_ANY_ALARM } from "../../tests/fixtures/alarm_rules.ts";

const BENCH = `
[devices.g]
address = "sim://gauge?seed=1"
${GAUGE_ANY_ALARM}
[[alarms]]
device = "*"
error_after = 2
`;

Deno.test("devices added, changed and removed at run time get and lose the alarms of configured ones", async () => {
  const lab = await Lab.open(parseConfig(BENCH, "bench.toml"));
  const watch = startAlarms(lab, { log: () => {} })!;
  const events: AlarmEvent[] = [];
  watch.engine.on((e) => events.push(e));
  const seen = (name: string, state: string) =>
    events.some((e) => e.name === name && e.state === state);
  try {
    await watch.checked;
    await lab.get("g").sample();
    assert.ok(seen("g_any", "active"), "a configured device's rule");

    // added through the API: its failed reads are a health alarm with the "*" entry's count
    await lab.add(parseDeviceTable("bad", { address: "sim://gauge?error_rate=1" }));
    await lab.get("bad").sample();
    assert.ok(!seen("bad error", "active"), "one failed read is not yet an alarm");
    await lab.get("bad").sample();
    assert.ok(seen("bad error", "active"), JSON.stringify(events));
    // removed: its alarm is cleared with the reason, and it is no longer watched for staleness
    await lab.remove("bad");
    const cleared = events.find((e) => e.name === "bad error" && e.state === "cleared");
    assert.match(cleared?.message ?? "", /device bad removed/);
    assert.ok(!watch.engine.config.health.some((h) => h.device === "bad"));
    watch.engine.tick(Date.now() + 3_600_000);
    assert.ok(!events.some((e) => e.device === "bad" && e.kind === "stale"));

    // changed (closed and opened again, as SIGHUP does): the new device keeps the rule
    events.length = 0;
    await lab.remove("g");
    assert.ok(seen("g_any", "cleared"));
    await lab.add(parseDeviceTable("g", { address: "sim://gauge?seed=2" }));
    await lab.get("g").sample();
    assert.ok(seen("g_any", "active"), "the reopened device is watched");

    // a reloaded config: a new rule for a device to come, the old rule gone
    events.length = 0;
    watch.reconfigure(parseConfig(
      BENCH.replace('name = "g_any"', 'name = "g_big"').replace("trip = -1", "trip = 1e9") +
        '\n[devices.h]\naddress = "sim://gauge?seed=3"\n\n[[alarms]]\nname = "h_any"\n' +
        'device = "h"\nattr = "pressure"\ncompare = ">"\ntrip = -1\n',
      "bench.toml",
    ));
    assert.match(events.find((e) => e.name === "g_any")?.message ?? "", /alarm rules reloaded/);
    await lab.add(parseDeviceTable("h", { address: "sim://gauge?seed=3" }));
    await lab.get("h").sample();
    await lab.get("g").sample();
    assert.ok(seen("h_any", "active"));
    assert.ok(!seen("g_big", "active"));
    assert.deepEqual(watch.engine.config.rules.map((r) => r.name).sort(), ["g_big", "h_any"]);

    // a wrong [[alarms]] changes nothing
    assert.throws(
      () => watch.reconfigure(parseConfig(BENCH.replace('device = "g"', 'device = "nope"'))),
      /nope/,
    );
    assert.deepEqual(watch.engine.config.rules.map((r) => r.name).sort(), ["g_big", "h_any"]);
  } finally {
    await watch.close();
    await lab.close();
  }
});

Deno.test("a rule kept unchanged by a reload keeps its active alarm", async () => {
  const lab = await Lab.open(parseConfig(BENCH, "bench.toml"));
  const watch = startAlarms(lab, { log: () => {} })!;
  const events: AlarmEvent[] = [];
  watch.engine.on((e) => events.push(e));
  try {
    await watch.checked;
    await lab.get("g").sample();
    watch.reconfigure(parseConfig(BENCH, "bench.toml"));
    assert.deepEqual(events.map((e) => `${e.name} ${e.state}`), ["g_any active"]);
    assert.deepEqual(watch.engine.active().map((a) => a.name), ["g_any"]);
  } finally {
    await watch.close();
    await lab.close();
  }
});

Deno.test("with always, a lab started without devices watches those added later", async () => {
  const lab = await Lab.open(parseConfig("", "empty.toml"));
  assert.equal(startAlarms(lab, { log: () => {} }), undefined, "nothing to watch by default");
  const watch = startAlarms(lab, { log: () => {}, always: true })!;
  const events: AlarmEvent[] = [];
  watch.engine.on((e) => events.push(e));
  try {
    await lab.add(parseDeviceTable("bad", { address: "sim://gauge?error_rate=1" }));
    for (let i = 0; i < 3; i++) await lab.get("bad").sample();
    assert.deepEqual(events.map((e) => `${e.name} ${e.state}`), ["bad error active"]);
  } finally {
    await watch.close();
    await lab.close();
  }
});
