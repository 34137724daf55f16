/**
 * Alarms on sim devices with scripted values, through the real Lab / DeviceManager path the
 * `monitor` and `serve` verbs use: a thermo stage whose setpoint the script writes (delay,
 * hysteresis, a too-short excursion that must not fire), a gauge whose every read fails (error
 * alarm) and goes stale, then recovers. Assertions are on the order of transitions, not on time.
 */
import assert from "node:assert/strict";
import "../../lib/drivers/mod.ts";
import { parseConfig } from "../../lib/config/load.ts";
import { Lab } from "../../lib/lab/lab.ts";
import { AlarmEngine } from "../../lib/alarm/engine.ts";
import type { AlarmEvent } from "../../lib/alarm/event.ts";
import { checkAlarmAttrs, parseAlarms } from "../../lib/alarm/rules.ts";

const CONFIG = `
[devices.oven]
address = "sim://thermo?tau=0.001&seed=4"
# The script samples by hand; a long interval keeps the built-in stale alarm (3 intervals)
# from firing on a loaded machine.
interval = "2s"

[devices.flaky]
address = "sim://gauge?seed=2"
interval = "100ms"

[[alarms]]
name = "oven hot"
device = "oven"
attr = "temperature"
compare = ">"
trip = 100
delay = "300ms"
hysteresis = 5
severity = "major"

[[alarms]]
device = "flaky"
error_after = 3
stale_after = 5
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("delay, hysteresis, error and stale alarms on sim devices with scripted values", async () => {
  const config = parseConfig(CONFIG, "alarm-sim.toml");
  const alarms = parseAlarms(config);
  const lab = await Lab.open(config);
  const lines: string[] = [];
  const events: AlarmEvent[] = [];
  try {
    const oven = lab.get("oven");
    const flaky = lab.get("flaky");
    assert.throws(() => checkAlarmAttrs(alarms, () => []), /has no attribute "temperature"/);
    const attrs = new Map([["oven", await oven.attrs()], ["flaky", await flaky.attrs()]]);
    checkAlarmAttrs(alarms, (d) => attrs.get(d));

    const engine = new AlarmEngine(alarms, { log: (l) => lines.push(l) });
    engine.on((e) => events.push(e));
    for (const m of lab.managers) m.onReading((r) => engine.observe(r));
    const names = () => events.map((e) => `${e.name} ${e.state}`);
    /** Samples both devices until `until()` holds (bounded), ticking the engine each round. */
    const run = async (until: () => boolean, rounds = 300) => {
      for (let i = 0; i < rounds && !until(); i++) {
        await Promise.all([oven.sample(), flaky.sample()]);
        engine.tick();
        await sleep(5);
      }
    };
    const setpoint = async (v: number) => {
      await oven.write("setpoint", v);
      await sleep(3); // tau is 1 ms: the stage is there almost at once
    };

    await run(() => false, 5);
    assert.deepEqual(names(), [], "a healthy bench raises nothing");

    // A short excursion: one sample above the trip point, then back — shorter than the delay.
    await setpoint(110);
    await oven.sample();
    await setpoint(25);
    await run(() => false, 3);
    assert.deepEqual(names(), [], "an excursion shorter than the delay does not fire");

    // Held above the trip point: fires once the delay has elapsed.
    await setpoint(110);
    await run(() => names().includes("oven hot active"));
    assert.deepEqual(names(), ["oven hot active"]);
    assert.equal(engine.severityOf("oven", "temperature"), 2);

    // Back below the trip point but within the hysteresis: still active; below it: cleared.
    await setpoint(97);
    await run(() => false, 5);
    assert.deepEqual(names(), ["oven hot active"], "inside the deadband the alarm holds");
    await setpoint(90);
    await run(() => names().includes("oven hot cleared"));
    assert.deepEqual(names(), ["oven hot active", "oven hot cleared"]);

    // Every read of the gauge fails: error alarm after 3, stale after 5 intervals.
    const plugged = flaky.device.read;
    const pluggedTo = flaky.device.readTo;
    flaky.device.read = () => Promise.reject(new Error("gauge unplugged"));
    // The sampler reads through readTo: it fails alike.
    flaky.device.readTo = (_names, _opts, _done, failed) => failed(new Error("gauge unplugged"));
    await run(() => names().includes("flaky stale active"));
    assert.deepEqual(names().slice(2), ["flaky error active", "flaky stale active"]);
    const err = events.find((e) => e.name === "flaky error")!;
    assert.match(err.message, /3 failed reads in a row: gauge unplugged/);
    assert.equal(err.severity, "invalid");

    // Plugged back in: both clear on the first good reading.
    flaky.device.read = plugged;
    flaky.device.readTo = pluggedTo;
    await run(() => names().includes("flaky error cleared"));
    assert.deepEqual(names().slice(4), ["flaky error cleared", "flaky stale cleared"]);
    assert.deepEqual(engine.active(), []);
    assert.equal(lines.length, events.length, "one stderr line per transition");
    assert.match(
      lines[0]!,
      /alarm MAJOR active oven hot: oven\.temperature = 1\d\d(\.\d+)?, > 100 for 0\.3 s/,
    );
  } finally {
    await lab.close();
  }
});
