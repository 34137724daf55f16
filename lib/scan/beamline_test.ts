/**
 * The runner's beamline behaviour on sim devices: suspenders (with a hand-driven alarm engine),
 * `settings` restored after, a baseline at start and end, and a detector's trigger protocol.
 */
import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import { AlarmEngine } from "../alarm/engine.ts";
import type { Values } from "../device/attr.ts";
import { Lab } from "../lab/lab.ts";
import { ScanRun } from "./runner.ts";
import type { ScanRequest } from "./request.ts";

const BENCH = `
[devices.motor]
address = "sim://motor?velocity=1000"
[devices.det]
address = "sim://det?seed=5"
[devices.thermo]
address = "sim://thermo?seed=2"
`;

const line = (num: number): ScanRequest["plan"] => ({
  kind: "line",
  relative: false,
  num,
  spacing: "linear",
  axes: [{ positioner: "motor.position", start: 0, stop: num - 1 }],
});

function hotEngine(): AlarmEngine {
  return new AlarmEngine({
    rules: [{
      name: "hot",
      key: "alarms[0]",
      device: "thermo",
      attr: "setpoint",
      compare: ">",
      trip: 30,
      delay: 0,
      hysteresis: 0,
      severity: "major",
    }],
    health: [],
  }, { log: () => {} });
}

const hot = (engine: AlarmEngine, setpoint: number) =>
  engine.observe({ t: Date.now() / 1000, device: "thermo", values: { setpoint } });

Deno.test("a suspending alarm pauses the scan before the next point and it resumes once clear", async () => {
  const lab = await Lab.open(parseConfig(BENCH));
  try {
    const engine = hotEngine();
    const warnings: string[] = [];
    const run = new ScanRun(lab, {
      plan: line(8),
      detectors: ["det.counts"],
      suspendOn: ["hot"],
      resumeAfterMs: 50,
    }, { alarms: engine, warn: (m) => warnings.push(m) });
    const seen: number[] = [];
    let suspendedSeen = false;
    run.onState((s) => suspendedSeen ||= s.suspended?.alarms[0] === "hot");
    run.onPoint((p) => {
      seen.push(p.index);
      if (p.index === 3) {
        hot(engine, 40);
        setTimeout(() => hot(engine, 20), 100);
      }
    });
    const r = await run.start();
    assert.equal(r.state, "done");
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(r.suspensions, 1);
    assert.equal(r.retaken, 0);
    assert.ok(suspendedSeen, "the status said suspended, by which alarm");
    assert.match(
      warnings[0]!,
      /^suspended before point 4 by hot: .*; resuming 0\.05 s after it clears$/,
    );
    assert.equal(warnings[1], "resumed at point 4");
  } finally {
    await lab.close();
  }
});

Deno.test("a point interrupted by a suspending alarm is taken again; a stop while suspended ends the scan", async () => {
  const lab = await Lab.open(parseConfig(BENCH));
  try {
    const engine = hotEngine();
    const det = lab.get("det").device;
    const read = det.read.bind(det);
    let reads = 0;
    // the alarm trips (and clears again) while point 2's detector is being read
    det.read = (names, opts): Promise<Values> => {
      if (++reads === 3) {
        hot(engine, 40);
        hot(engine, 20);
      }
      return read(names, opts);
    };
    const warnings: string[] = [];
    const run = new ScanRun(lab, {
      plan: line(5),
      detectors: ["det.counts"],
      suspendOn: ["any"],
      resumeAfterMs: 10,
    }, { alarms: engine, warn: (m) => warnings.push(m) });
    const seen: number[] = [];
    run.onPoint((p) => seen.push(p.index));
    const r = await run.start();
    assert.equal(r.state, "done");
    assert.deepEqual(seen, [0, 1, 2, 3, 4], "point 2 recorded once, from its second take");
    assert.equal(r.retaken, 1);
    assert.equal(reads, 6);
    assert.ok(
      warnings.includes("point 2 was interrupted by an alarm: taking it again once it clears"),
    );

    // stopped while suspended: the scan ends stopped, with what it had
    const stuck = hotEngine();
    hot(stuck, 40);
    const run2 = new ScanRun(lab, {
      plan: line(3),
      detectors: ["det.counts"],
      suspendOn: ["hot"],
    }, { alarms: stuck, warn: () => {} });
    run2.onState((s) => {
      if (s.suspended) setTimeout(() => run2.stop("operator"), 20);
    });
    const r2 = await run2.start();
    assert.equal(r2.state, "stopped");
    assert.equal(r2.recorded, 0);
  } finally {
    await lab.close();
  }
});

Deno.test("suspend_on without alarms is refused before anything moves", async () => {
  const lab = await Lab.open(parseConfig(BENCH));
  try {
    assert.throws(
      () => new ScanRun(lab, { plan: line(2), detectors: ["det.counts"], suspendOn: ["any"] }),
      /--suspend-on needs the alarms of a config/,
    );
  } finally {
    await lab.close();
  }
});

Deno.test("settings are applied before the first move and restored after; baseline at start and end", async () => {
  const lab = await Lab.open(parseConfig(BENCH));
  try {
    const motor = lab.get("motor");
    const before = (await motor.read(["velocity"])).velocity;
    let during: unknown;
    const run = new ScanRun(lab, {
      plan: line(3),
      detectors: ["det.counts"],
      settings: { "motor.velocity": "500", "det.count_time": 0.5 },
      baseline: ["thermo"],
    });
    run.onPoint(async () => {
      during = (await motor.read(["velocity"])).velocity;
    });
    const r = await run.start();
    assert.equal(r.state, "done");
    assert.equal(during, 500);
    assert.deepEqual(r.settings, {
      "motor.velocity": { previous: before, value: 500 },
      "det.count_time": { previous: 1, value: 0.5 },
    });
    assert.equal(r.restored, true);
    assert.equal((await motor.read(["velocity"])).velocity, before);
    assert.equal((await lab.get("det").read(["count_time"])).count_time, 1);
    assert.equal(typeof r.baseline?.start?.thermo?.values.temperature, "number");
    assert.equal(typeof r.baseline?.end?.thermo?.values.temperature, "number");
    assert.ok(r.baseline!.end!.thermo!.t >= r.baseline!.start!.thermo!.t);
    // a setting the attribute refuses is refused before anything moves, nothing left changed
    const bad = new ScanRun(lab, {
      plan: line(2),
      detectors: ["det.counts"],
      settings: { "motor.velocity": "250", "det.count_time": "-5" },
    });
    await assert.rejects(bad.start(), /count_time/);
    assert.equal((await motor.read(["velocity"])).velocity, before, "the first was restored");
  } finally {
    await lab.close();
  }
});

Deno.test("a detector that declares a trigger is counted at every point: write, wait until done, read", async () => {
  const lab = await Lab.open(
    parseConfig(
      `${
        BENCH.replace(
          'address = "sim://det?seed=5"',
          'address = "sim://det?seed=5"\ntrigger = "count"',
        )
      }`,
    ),
  );
  try {
    await lab.get("det").write("count_time", 0.2);
    const det = lab.get("det").device;
    const write = det.write.bind(det);
    const log: string[] = [];
    det.write = (name, value, opts) => {
      log.push(`${name}=${value}`);
      return write(name, value, opts);
    };
    const run = new ScanRun(lab, { plan: line(11), detectors: ["det.counts"] });
    const r = await run.start();
    assert.equal(r.state, "done");
    assert.equal(log.filter((l) => l === "count=true").length, 11, "one count per point");
    // counts are the latched result of each count (0.2 s at ~1000/s at the peak, ~10/s off it)
    const counts = run.points.map((p) => p.values[0] as number);
    const peak = counts.indexOf(Math.max(...counts));
    assert.equal(run.points[peak]!.positions[0], 5);
    assert.ok(Math.max(...counts) < 300, `counts over 0.2 s, got ${Math.max(...counts)}`);
  } finally {
    await lab.close();
  }
  // a trigger that is not an action is refused before anything moves
  const lab2 = await Lab.open(
    parseConfig(
      `${
        BENCH.replace(
          'address = "sim://det?seed=5"',
          'address = "sim://det?seed=5"\ntrigger = "counts"',
        )
      }`,
    ),
  );
  try {
    const run = new ScanRun(lab2, { plan: line(2), detectors: ["det.counts"] });
    await assert.rejects(run.start(), /det: trigger "counts" is not an action/);
  } finally {
    await lab2.close();
  }
});
