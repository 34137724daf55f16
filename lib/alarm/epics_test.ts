import assert from "node:assert/strict";
import { AlarmEngine } from "./engine.ts";
import { EPICS_STATUS, epicsAlarm, epicsLimits, epicsStatus } from "./epics.ts";
import type { AlarmConfig, ThresholdRule } from "./rules.ts";

function rule(name: string, extra: Partial<ThresholdRule>): ThresholdRule {
  return {
    name,
    key: "alarms[0]",
    device: "oven",
    attr: "temp",
    compare: ">",
    delay: 0,
    hysteresis: 0,
    severity: "major",
    ...extra,
  };
}

const CONFIG: AlarmConfig = {
  rules: [
    rule("warm", { trip: 250, severity: "minor" }),
    rule("hot", { trip: 300 }),
    rule("cold", { compare: "<", trip: 10, severity: "minor" }),
    rule("band", { compare: "outside", low: 0, high: 400, severity: "invalid" }),
    rule("door", { attr: "door", compare: "changed", severity: "minor" }),
  ],
  health: [{ device: "oven", errorAfter: 1, staleAfter: 0, interval: 1000, severity: "invalid" }],
};

Deno.test("severity and status follow the most severe active alarm of the PV", () => {
  const engine = new AlarmEngine(CONFIG, { log: () => {}, now: 0 });
  const rules = new Map(CONFIG.rules.map((r) => [r.name, r]));
  const pv = (attr = "temp") => epicsAlarm(engine.active(), rules, "oven", attr);
  engine.observe({ t: 0, device: "oven", values: { temp: 20, door: "shut" } });
  assert.deepEqual(pv(), { severity: 0, status: EPICS_STATUS.NO_ALARM });
  engine.observe({ t: 1, device: "oven", values: { temp: 260, door: "shut" } });
  assert.deepEqual(pv(), { severity: 1, status: EPICS_STATUS.HIGH });
  engine.observe({ t: 2, device: "oven", values: { temp: 310, door: "shut" } });
  assert.deepEqual(pv(), { severity: 2, status: EPICS_STATUS.HIHI });
  engine.observe({ t: 3, device: "oven", values: { temp: -5, door: "open" } });
  assert.deepEqual(pv(), { severity: 3, status: EPICS_STATUS.LOLO }, "outside, low side");
  assert.deepEqual(pv("door"), { severity: 1, status: EPICS_STATUS.COS });
  engine.observe({ t: 4, device: "oven", values: { temp: 20, door: "open" } });
  engine.observe({ t: 5, device: "oven", values: {}, error: "timeout" });
  assert.deepEqual(pv(), { severity: 3, status: EPICS_STATUS.COMM });
  assert.deepEqual(pv("door"), { severity: 3, status: EPICS_STATUS.COMM });
});

Deno.test("alarm and warning limits come from the threshold rules", () => {
  assert.deepEqual(epicsLimits(CONFIG, "oven", "temp"), {
    upperWarning: 250,
    upperAlarm: 300,
    lowerWarning: 10,
    lowerAlarm: 0,
  });
  assert.deepEqual(epicsLimits(CONFIG, "oven", "door"), {});
});

Deno.test("a threshold alarm without its rule is HIHI/HIGH; device alarms COMM/TIMEOUT", () => {
  const of = (kind: "threshold" | "error" | "stale", severity: "minor" | "major") =>
    epicsStatus({ kind, severity, value: 1 });
  assert.equal(of("threshold", "major"), EPICS_STATUS.HIHI);
  assert.equal(of("threshold", "minor"), EPICS_STATUS.HIGH);
  assert.equal(of("error", "major"), EPICS_STATUS.COMM);
  assert.equal(of("stale", "minor"), EPICS_STATUS.TIMEOUT);
});
