import assert from "node:assert/strict";
import { parseConfig } from "../config/load.ts";
import { attr } from "../device/attr.ts";
import { ConfigError } from "../device/errors.ts";
import { checkAlarmAttrs, parseAlarms } from "./rules.ts";

const DEVICES = `
[devices.gauge]
address = "sim://gauge"
interval = "500ms"
[devices.oven]
address = "sim://oven"
`;

function alarms(text: string) {
  return parseAlarms(parseConfig(DEVICES + text, "lab.toml"));
}

function rejects(text: string, key: string, pattern: RegExp): void {
  assert.throws(() => alarms(text), (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    assert.equal(err.file, "lab.toml");
    assert.equal(err.key, key);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("threshold alarms parse with defaults, durations and derived names", () => {
  const cfg = alarms(`
[[alarms]]
device = "gauge"
attr = "pressure"
compare = ">"
trip = 1e-3
delay = "5s"
hysteresis = 1e-4
[[alarms]]
name = "oven band"
device = "oven"
attr = "temperature"
compare = "outside"
low = 20
high = 80
severity = "minor"
message = "oven at {value}"
[[alarms]]
device = "oven"
attr = "state"
compare = "=="
trip = "fault"
delay = "2s"
`);
  assert.equal(cfg.rules.length, 3);
  const [a, b, c] = cfg.rules;
  assert.deepEqual(
    { name: a!.name, delay: a!.delay, h: a!.hysteresis, sev: a!.severity, key: a!.key },
    { name: "gauge.pressure > 0.001", delay: 5000, h: 1e-4, sev: "major", key: "alarms[0]" },
  );
  assert.deepEqual([b!.name, b!.low, b!.high, b!.severity, b!.message], [
    "oven band",
    20,
    80,
    "minor",
    "oven at {value}",
  ]);
  assert.deepEqual([c!.name, c!.trip, c!.delay], ['oven.state == "fault"', "fault", 2000]);
});

Deno.test("every device gets health alarms; entries override them per device or for all", () => {
  const plain = alarms("");
  assert.deepEqual(plain.health, [
    { device: "gauge", errorAfter: 3, staleAfter: 3, interval: 500, severity: "invalid" },
    { device: "oven", errorAfter: 3, staleAfter: 3, interval: 1000, severity: "invalid" },
  ]);
  const custom = alarms(`
[[alarms]]
device = "*"
stale_after = 10
[[alarms]]
device = "oven"
error_after = 0
severity = "major"
`);
  assert.deepEqual(custom.health.map((h) => [h.device, h.errorAfter, h.staleAfter, h.severity]), [
    ["gauge", 3, 10, "invalid"],
    ["oven", 0, 10, "major"],
  ]);
});

Deno.test("config errors name the key and say what was expected", () => {
  const base = 'device = "gauge"\nattr = "pressure"\n';
  rejects(`[alarms]\ndevice = "gauge"`, "alarms", /array of tables/);
  rejects(
    `[[alarms]]\n${base}compare = "gt"\ntrip = 1`,
    "alarms[0].compare",
    /">", ">=".*did you mean ">"\?/,
  );
  rejects(
    `[[alarms]]\n${base}compare = "outsid"\nlow=1\nhigh=2`,
    "alarms[0].compare",
    /did you mean "outside"/,
  );
  rejects(`[[alarms]]\n${base}compare = ">"`, "alarms[0].trip", /needs a number/);
  rejects(`[[alarms]]\n${base}compare = ">"\ntrip = "high"`, "alarms[0].trip", /needs a number/);
  rejects(`[[alarms]]\n${base}compare = ">"\ntrip = 1\nlow = 0`, "alarms[0].low", /takes trip/);
  rejects(
    `[[alarms]]\n${base}compare = "outside"\nlow = 5\nhigh = 1`,
    "alarms[0].high",
    /low < high/,
  );
  rejects(`[[alarms]]\n${base}compare = "outside"\nlow = 1`, "alarms[0].high", /low and high/);
  rejects(
    `[[alarms]]\n${base}compare = "outside"\nlow = 0\nhigh = 1\nhysteresis = 0.6`,
    "alarms[0].hysteresis",
    /never clear/,
  );
  rejects(
    `[[alarms]]\n${base}compare = "=="\ntrip = 1\nhysteresis = 1`,
    "alarms[0].hysteresis",
    /ordered/,
  );
  rejects(`[[alarms]]\n${base}compare = "changed"\ntrip = 1`, "alarms[0].trip", /takes no trip/);
  rejects(
    `[[alarms]]\n${base}compare = ">"\ntrip = 1\nhysteresis = -1`,
    "alarms[0].hysteresis",
    /≥ 0/,
  );
  rejects(
    `[[alarms]]\n${base}compare = ">"\ntrip = 1\ndelay = "soon"`,
    "alarms[0].delay",
    /not a duration/,
  );
  rejects(
    `[[alarms]]\n${base}compare = ">"\ntrip = 1\ndelay = 5`,
    "alarms[0].delay",
    /5 has no unit: write "5ms" or "5s"/,
  );
  rejects(
    `[[alarms]]\n${base}compare = ">"\ntrip = 1\nseverity = "majr"`,
    "alarms[0].severity",
    /did you mean "major"/,
  );
  rejects(
    `[[alarms]]\n${base}compare = ">"\ntrip = 1\ntrp = 2`,
    "alarms[0].trp",
    /unknown key.*did you mean "trip"/,
  );
  rejects(
    `[[alarms]]\ndevice = "gauge"\ncompare = ">"\ntrip = 1`,
    "alarms[0].attr",
    /expected attr/,
  );
  rejects(
    `[[alarms]]\ndevice = "gage"\nattr = "p"\ncompare = ">"\ntrip = 1`,
    "alarms[0].device",
    /no device "gage".*did you mean "gauge".*devices: gauge, oven/,
  );
  rejects(`[[alarms]]\nattr = "p"\ncompare = ">"\ntrip = 1`, "alarms[0].device", /expected device/);
  rejects(
    `[[alarms]]\n${base}compare = ">"\ntrip = 1\nerror_after = 2`,
    "alarms[0].error_after",
    /device health entry/,
  );
  rejects(
    `[[alarms]]\ndevice = "gauge"\nerror_after = 1.5`,
    "alarms[0].error_after",
    /whole number/,
  );
  rejects(
    `[[alarms]]\ndevice = "gauge"\nstale_after = 2\nmessage = "x"`,
    "alarms[0].message",
    /takes only/,
  );
  rejects(`[[alarms]]\ndevice = "nope"\nstale_after = 2`, "alarms[0].device", /no device "nope"/);
  rejects(
    `[[alarms]]\n${base}compare = ">"\ntrip = 1\n[[alarms]]\n${base}compare = ">"\ntrip = 1`,
    "alarms[1].name",
    /already used by alarms\[0\]/,
  );
});

Deno.test("checkAlarmAttrs names missing or non-numeric attributes once devices are open", () => {
  const cfg = alarms(`
[[alarms]]
device = "gauge"
attr = "presure"
compare = ">"
trip = 1
`);
  const attrs = [attr("pressure", "number"), attr("state", "string")];
  assert.throws(
    () => checkAlarmAttrs(cfg, (d) => d === "gauge" ? attrs : undefined, "lab.toml"),
    /lab\.toml: alarms\[0\]\.attr: device "gauge" has no attribute "presure" \(did you mean "pressure"\?\)/,
  );
  checkAlarmAttrs(cfg, () => undefined); // unknown attrs (device down at start): not checked
  const typed = alarms(`
[[alarms]]
device = "gauge"
attr = "state"
compare = ">"
trip = 1
`);
  assert.throws(() => checkAlarmAttrs(typed, () => attrs), /needs a numeric attribute.*is string/);
});
