import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { attr, type Value, type Values } from "../device/attr.ts";
import type { CallOptions, Device } from "../device/device.ts";
import { DeviceError, UsageError } from "../device/errors.ts";
import { registerDriver } from "../device/registry.ts";
import { parseAddress } from "../device/address.ts";
import { Lab } from "../lab/lab.ts";
import { ScanStore } from "../session/scan_store.ts";
import { ScanRun } from "./runner.ts";
import type { ScanRequest } from "./request.ts";
import { PlanTooLarge } from "./plan.ts";

/** Shared state of the fake bench of one test. */
interface Bench {
  motors: Map<string, FakeMotor>;
  log: string[];
  /** Fails the detector read with this number (1-based), when set. */
  failReadAt?: number;
  detReads: number;
}

class FakeMotor implements Device {
  readonly driver = "fakescan";
  position = 0;
  target = 0;
  /** isMoving() answers true this many times after each write. */
  movingPolls: number;
  /** When set, the motor never gets closer than this to its target. */
  stuckAt?: number;
  #polls = 0;
  constructor(readonly name: string, readonly address: string, readonly bench: Bench) {
    this.movingPolls = Number(
      new URL(address.replace("fakescan:", "http:")).searchParams.get("polls") ?? 0,
    );
  }
  attrs() {
    return Promise.resolve([
      attr("position", "number", { rw: true, min: -10, max: 10, units: "mm", precision: 3 }),
      attr("moving", "boolean"),
      ...(this.address.includes("rb=1") ? [attr("readback", "number")] : []),
      ...(this.address.includes("stop=1") ? [attr("stop", "boolean", { rw: true })] : []),
    ]);
  }
  read(names?: readonly string[]): Promise<Values> {
    // with a read-back attr, `position` is the setpoint and the motor stops 0.25 short
    const rb = this.address.includes("rb=1");
    const v: Values = {
      position: rb ? this.target : this.position,
      moving: this.#polls > 0,
      readback: this.position - 0.25,
    };
    return Promise.resolve(names ? Object.fromEntries(names.map((n) => [n, v[n] ?? null])) : v);
  }
  write(name: string, value: Value): Promise<void> {
    if (name === "stop") {
      // stops where it is: the move in flight ends there
      this.bench.log.push(`${this.name} stopped`);
      this.#polls = 0;
      return Promise.resolve();
    }
    this.bench.log.push(`${this.name}=${value}`);
    this.target = value as number;
    this.#polls = this.movingPolls;
    if (this.#polls === 0) this.position = this.stuckAt ?? this.target;
    return Promise.resolve();
  }
  isMoving(_opts?: CallOptions): Promise<boolean> {
    if (this.#polls > 0) {
      this.#polls--;
      if (this.#polls === 0) this.position = this.stuckAt ?? this.target;
      return Promise.resolve(true);
    }
    return Promise.resolve(false);
  }
  techniques() {
    return [];
  }
  close() {
    return Promise.resolve();
  }
}

/** A detector whose counts peak where motor `motor` is at 5. */
class FakeDet implements Device {
  readonly driver = "fakescan";
  constructor(readonly name: string, readonly address: string, readonly bench: Bench) {}
  attrs() {
    return Promise.resolve([
      attr("counts", "number", { units: "counts" }),
      attr("label", "string"),
    ]);
  }
  read(names?: readonly string[]): Promise<Values> {
    this.bench.detReads++;
    if (this.bench.failReadAt === this.bench.detReads) {
      return Promise.reject(new DeviceError("detector unplugged", this.name));
    }
    const x = this.bench.motors.get("motor")?.position ?? 0;
    const v: Values = { counts: Math.round(1000 * Math.exp(-((x - 5) ** 2) / 2)), label: "ok" };
    return Promise.resolve(names ? Object.fromEntries(names.map((n) => [n, v[n] ?? null])) : v);
  }
  write(): Promise<void> {
    return Promise.reject(new Error("read-only"));
  }
  techniques() {
    return [];
  }
  close() {
    return Promise.resolve();
  }
}

let current: Bench;
registerDriver({
  scheme: "fakescan",
  summary: "scan test devices",
  example: "fakescan://motor",
  open(address, ctx) {
    const raw = `fakescan://${address.target}?${address.params}`;
    if (address.target.startsWith("det")) {
      return Promise.resolve(new FakeDet(ctx.name, raw, current));
    }
    const m = new FakeMotor(ctx.name, raw, current);
    current.motors.set(ctx.name, m);
    return Promise.resolve(m);
  },
});

async function bench(devices: Record<string, string>): Promise<{ lab: Lab; b: Bench }> {
  current = { motors: new Map(), log: [], detReads: 0 };
  const cfgs = Object.entries(devices).map(([name, addr]) => ({
    name,
    address: parseAddress(addr),
    interval: 1000,
    options: {},
  }));
  const lab = await Lab.open({ devices: cfgs, sections: {} });
  return { lab, b: current };
}

const ascan = (
  start: number,
  stop: number,
  num: number,
  relative = false,
): ScanRequest["plan"] => ({
  kind: "line",
  relative,
  num,
  spacing: "linear",
  axes: [{ positioner: "motor.position", start, stop }],
});

Deno.test("ascan moves, waits for the done signal, reads, and finds the peak at 5", async () => {
  const { lab, b } = await bench({ motor: "fakescan://motor?polls=2", det: "fakescan://det" });
  try {
    const run = new ScanRun(lab, {
      plan: ascan(0, 10, 21),
      detectors: ["det.counts", "det.label"],
      pollMs: 1,
    });
    const seen: number[] = [];
    run.onPoint((p) => seen.push(p.index));
    const result = await run.start();
    assert.equal(result.state, "done");
    assert.equal(result.recorded, 21);
    assert.deepEqual(seen, Array.from({ length: 21 }, (_, i) => i));
    const best = run.points.reduce((a, p) => (p.values[0]! > a.values[0]! ? p : a));
    assert.equal(best.positions[0], 5);
    assert.equal(best.readbacks[0], 5);
    assert.equal(best.values[0], 1000);
    assert.equal(best.values[1], "ok");
    assert.deepEqual(run.units, { "motor.position": "mm", "det.counts": "counts" });
    // every point read back where it was sent (the done signal was waited for)
    for (const p of run.points) assert.equal(p.readbacks[0], p.positions[0]);
    assert.equal(b.motors.get("motor")!.position, 10, "absolute scans stay at the end");
  } finally {
    await lab.close();
  }
});

Deno.test("dscan is relative to the start and returns there", async () => {
  const { lab, b } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  try {
    b.motors.get("motor")!.position = 3;
    const run = new ScanRun(lab, { plan: ascan(-1, 1, 5, true), detectors: ["det.counts"] });
    const result = await run.start();
    assert.equal(result.state, "done");
    assert.equal(result.returned, true);
    assert.deepEqual(run.points.map((p) => p.positions[0]), [2, 2.5, 3, 3.5, 4]);
    assert.deepEqual(run.origin, [3]);
    assert.equal(b.motors.get("motor")!.position, 3);
    assert.equal(b.log.at(-1), "motor=3");
  } finally {
    await lab.close();
  }
});

Deno.test("a limit violation anywhere in the plan is refused before any move", async () => {
  const { lab, b } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  try {
    const run = new ScanRun(lab, { plan: ascan(0, 20, 21), detectors: ["det.counts"] });
    const started = run.start();
    await assert.rejects(run.ready(), /above the upper limit/);
    await assert.rejects(started, (err) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /point 11 of 21: motor\.position: 11 is above the upper limit 10/);
      assert.match(err.message, /nothing was moved/);
      return true;
    });
    assert.deepEqual(b.log, [], "no write reached the device");
    assert.equal(run.status().state, "failed");
  } finally {
    await lab.close();
  }
});

Deno.test("a relative scan is checked against the limits from its start position", async () => {
  const { lab, b } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  try {
    b.motors.get("motor")!.position = 9;
    const run = new ScanRun(lab, { plan: ascan(-1, 2, 4, true), detectors: ["det.counts"] });
    await assert.rejects(run.start(), /11 is above/);
    assert.deepEqual(b.log, []);
  } finally {
    await lab.close();
  }
});

Deno.test("unknown or read-only positioners are usage errors", async () => {
  const { lab } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  try {
    const bad = (positioner: string) =>
      new ScanRun(lab, {
        plan: {
          kind: "line",
          relative: false,
          num: 2,
          spacing: "linear",
          axes: [{ positioner, start: 0, stop: 1 }],
        },
        detectors: ["det.counts"],
      }).start();
    await assert.rejects(bad("motor.moving"), /read-only/);
    await assert.rejects(bad("motor.postion"), /no attribute "postion"/);
    await assert.rejects(bad("nope.position"), /no device "nope"/);
    await assert.rejects(
      new ScanRun(lab, { plan: { kind: "count", num: 1 }, detectors: ["det.nope"] }).start(),
      /no attribute/,
    );
  } finally {
    await lab.close();
  }
});

Deno.test("stop() finishes the current point, keeps data and returns relative positioners", async () => {
  const { lab, b } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  try {
    const run = new ScanRun(lab, { plan: ascan(0, 5, 11, true), detectors: ["det.counts"] });
    run.onPoint((p) => {
      if (p.index === 3) run.stop();
    });
    const result = await run.start();
    assert.equal(result.state, "stopped");
    assert.equal(result.recorded, 4);
    assert.equal(result.returned, true);
    assert.equal(b.motors.get("motor")!.position, 0);
  } finally {
    await lab.close();
  }
});

/** A relative scan of the motor from 0 to 5 in 11 points, polling every 1 ms; its warnings kept. */
function relativeRun(lab: Lab): { run: ScanRun; warnings: string[] } {
  const warnings: string[] = [];
  const run = new ScanRun(
    lab,
    { plan: ascan(0, 5, 11, true), detectors: ["det.counts"], pollMs: 1 },
    { warn: (m) => warnings.push(m) },
  );
  return { run, warnings };
}

Deno.test("abort() stops at once and does not move back", async () => {
  const { lab, b } = await bench({
    motor: "fakescan://motor?polls=1000000",
    det: "fakescan://det",
  });
  try {
    const { run, warnings } = relativeRun(lab);
    const done = run.start();
    // the first move never finishes on its own
    while (b.log.length === 0) await new Promise((r) => setTimeout(r, 1));
    run.abort();
    const result = await done;
    assert.equal(result.state, "aborted");
    assert.equal(result.recorded, 0);
    assert.equal(result.returned, false);
    assert.match(warnings.join("\n"), /not returned/);
    assert.deepEqual(b.log, ["motor=0"]);
  } finally {
    await lab.close();
  }
});

Deno.test("abort() while relative positioners return stops that move where it is", async () => {
  const { lab, b } = await bench({ motor: "fakescan://motor?stop=1", det: "fakescan://det" });
  try {
    const { run, warnings } = relativeRun(lab);
    run.onPoint((p) => {
      if (p.index !== 2) return;
      run.stop();
      b.motors.get("motor")!.movingPolls = 1_000_000; // the return never ends on its own
    });
    const done = run.start();
    while (b.log.at(-1) !== "motor=0" || b.log.length < 4) {
      await new Promise((r) => setTimeout(r, 1));
    }
    run.abort();
    const result = await done;
    assert.equal(result.state, "stopped", "its points were all taken before the abort");
    assert.equal(result.recorded, 3);
    assert.equal(result.returned, false);
    assert.deepEqual(b.log, ["motor=0", "motor=0.5", "motor=1", "motor=0", "motor stopped"]);
    assert.match(warnings.join("\n"), /could not return motor\.position/);
    assert.match(warnings.join("\n"), /stopped motor where it was/);
  } finally {
    await lab.close();
  }
});

Deno.test("a device error mid-scan stops safely: data kept, state failed, motor returned", async () => {
  const { lab, b } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  b.failReadAt = 5;
  const db = new DatabaseSync(":memory:");
  const store = new ScanStore(db);
  try {
    const run = new ScanRun(lab, { plan: ascan(0, 1, 10, true), detectors: ["det.counts"] }, {
      store,
    });
    const result = await run.start();
    assert.equal(result.state, "failed");
    assert.match(result.error ?? "", /detector unplugged/);
    assert.equal(result.recorded, 4);
    assert.equal(result.returned, true);
    assert.equal(b.motors.get("motor")!.position, 0);
    const rec = store.get(run.id!);
    assert.equal(rec.state, "failed");
    assert.equal(rec.recorded, 4);
    assert.match(rec.error ?? "", /detector unplugged/);
  } finally {
    await lab.close();
    db.close();
  }
});

Deno.test("a move that never arrives fails the scan with a clear timeout", async () => {
  const { lab, b } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  b.motors.get("motor")!.stuckAt = 0.5;
  try {
    const run = new ScanRun(lab, {
      plan: ascan(1, 2, 2),
      detectors: ["det.counts"],
      tolerance: 0.01,
      moveTimeoutMs: 30,
      pollMs: 5,
    });
    const result = await run.start();
    assert.equal(result.state, "failed");
    assert.match(
      result.error ?? "",
      /motor\.position did not reach 1 within 30 ms \(it reads back 0\.5/,
    );
  } finally {
    await lab.close();
  }
});

Deno.test("resume runs exactly the missing points of a stored scan", async () => {
  const { lab, b } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  const db = new DatabaseSync(":memory:");
  const store = new ScanStore(db);
  try {
    b.motors.get("motor")!.position = 1;
    const request: ScanRequest = { plan: ascan(0, 2, 9, true), detectors: ["det.counts"] };
    const first = new ScanRun(lab, request, { store, command: "scan dscan …" });
    first.onPoint((p) => {
      if (p.index === 4) first.stop();
    });
    assert.equal((await first.start()).state, "stopped");
    const id = first.id!;
    assert.equal(store.get(id).state, "stopped");
    b.motors.get("motor")!.position = 7; // someone moved it meanwhile: the origin stays 1
    const rec = store.get(id);
    const second = new ScanRun(lab, rec.plan as ScanRequest, { store, resumeId: id });
    const result = await second.start();
    assert.equal(result.state, "done");
    assert.equal(result.recorded, 9);
    assert.equal(result.recorded_this_run, 4);
    assert.deepEqual(second.points.map((p) => p.index), [5, 6, 7, 8]);
    const pts = store.points(id);
    assert.deepEqual(pts.map((p) => p.index), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(pts.map((p) => p.positions[0]), [1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3]);
    assert.equal(store.get(id).state, "done");
    assert.equal(b.motors.get("motor")!.position, 1, "returned to the original start");
  } finally {
    await lab.close();
    db.close();
  }
});

Deno.test("a2scan writes both positioners for every point", async () => {
  const { lab, b } = await bench({
    m1: "fakescan://m1?polls=1",
    m2: "fakescan://m2",
    det: "fakescan://det",
  });
  try {
    const run = new ScanRun(lab, {
      plan: {
        kind: "line",
        relative: false,
        num: 3,
        spacing: "linear",
        axes: [
          { positioner: "m1.position", start: 0, stop: 1 },
          { positioner: "m2.position", start: 0, stop: 2 },
        ],
      },
      detectors: [],
    });
    await run.start();
    assert.deepEqual(run.points.map((p) => p.readbacks), [[0, 0], [0.5, 1], [1, 2]]);
    assert.deepEqual(b.log.filter((l) => l.startsWith("m1")), ["m1=0", "m1=0.5", "m1=1"]);
    assert.deepEqual(b.log.filter((l) => l.startsWith("m2")), ["m2=0", "m2=1", "m2=2"]);
  } finally {
    await lab.close();
  }
});

Deno.test("count reads the detectors N times without moving; dwell averages", async () => {
  const { lab, b } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  try {
    b.motors.get("motor")!.position = 5;
    const run = new ScanRun(lab, { plan: { kind: "count", num: 3 }, detectors: ["det.counts"] });
    await run.start();
    assert.deepEqual(run.points.map((p) => p.values), [[1000], [1000], [1000]]);
    assert.deepEqual(b.log, []);
    const reads = b.detReads;
    const dwell = new ScanRun(lab, {
      plan: { kind: "count", num: 1 },
      detectors: ["det.counts"],
      dwellMs: 30,
    });
    await dwell.start();
    assert.equal(dwell.points[0]!.values[0], 1000);
    assert.ok(b.detReads - reads > 1, "dwell samples more than once");
    assert.throws(
      () => new ScanRun(lab, { plan: { kind: "count", num: 3 }, detectors: [] }),
      /needs detectors/,
    );
  } finally {
    await lab.close();
  }
});

Deno.test("points are stored in batches and all reach the session", async () => {
  const { lab } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  const db = new DatabaseSync(":memory:");
  const store = new ScanStore(db);
  try {
    const run = new ScanRun(lab, { plan: ascan(0, 10, 101), detectors: ["det.counts"] }, {
      store,
      batch: 7,
      command: "labwire scan ascan motor.position 0 10 101",
    });
    const states: string[] = [];
    run.onState((s) => states.push(s.state));
    const done = run.start();
    await run.ready();
    assert.equal(run.status().state, "running");
    await done;
    assert.deepEqual(states, ["running", "done"]);
    const rec = store.get(run.id!);
    assert.equal(rec.recorded, 101);
    assert.equal(rec.total, 101);
    assert.deepEqual(rec.positioners, ["motor.position"]);
    assert.deepEqual(rec.units, { "motor.position": "mm", "det.counts": "counts" });
    assert.equal(rec.command, "labwire scan ascan motor.position 0 10 101");
    assert.deepEqual(
      store.points(run.id!).map((p) => p.index),
      Array.from({ length: 101 }, (_, i) => i),
    );
  } finally {
    await lab.close();
    db.close();
  }
});

Deno.test("a separate read-back attribute is recorded as the actual position", async () => {
  const { lab } = await bench({ motor: "fakescan://motor?rb=1&polls=1", det: "fakescan://det" });
  try {
    const run = new ScanRun(lab, { plan: ascan(0, 1, 3), detectors: ["det.counts"], pollMs: 1 });
    await run.start();
    assert.deepEqual(run.points.map((p) => p.positions), [[0], [0.5], [1]]);
    assert.deepEqual(run.points.map((p) => p.readbacks), [[-0.25], [0.25], [0.75]]);
    // with an explicit tolerance the read-back must come within it, or the move times out
    const strict = new ScanRun(lab, {
      plan: ascan(0, 1, 3),
      detectors: ["det.counts"],
      tolerance: 0.1,
      moveTimeoutMs: 20,
      pollMs: 1,
    });
    const r = await strict.start();
    assert.equal(r.state, "failed");
    assert.match(r.error ?? "", /reads back -0\.25/);
  } finally {
    await lab.close();
  }
});

Deno.test("abort() before the first move ends the run as aborted, with nothing moved", async () => {
  const { lab, b } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  try {
    const run = new ScanRun(lab, { plan: ascan(0, 1, 3, true), detectors: ["det.counts"] });
    run.abort();
    const result = await run.start();
    assert.equal(result.state, "aborted");
    assert.equal(result.recorded, 0);
    await assert.rejects(run.ready());
    assert.deepEqual(b.log, []);
  } finally {
    await lab.close();
  }
});

Deno.test("a long run keeps only its latest points; every point reaches listeners and the store", async () => {
  const { lab } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  const db = new DatabaseSync(":memory:");
  const store = new ScanStore(db);
  try {
    const run = new ScanRun(lab, { plan: ascan(0, 1, 5000), detectors: ["det.counts"] }, {
      store,
      keepPoints: 100,
    });
    let heard = 0;
    let most = 0;
    run.onPoint(() => {
      heard++;
      if (heard % 500 === 0) most = Math.max(most, run.points.length);
    });
    const result = await run.start();
    assert.equal(result.recorded, 5000);
    assert.equal(heard, 5000);
    assert.equal(most, 100, "the run holds at most keepPoints points");
    assert.deepEqual(
      run.points.map((p) => p.index),
      Array.from({ length: 100 }, (_, i) => 4900 + i),
    );
    assert.equal(store.get(run.id!).recorded, 5000);
    assert.deepEqual(store.pointsPage(run.id!, 4998, 10).map((p) => p.index), [4998, 4999]);
  } finally {
    await lab.close();
    db.close();
  }
});

Deno.test("a plan over maxPoints is refused before anything opens or moves", async () => {
  const { lab, b } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  try {
    assert.throws(
      () =>
        new ScanRun(lab, { plan: ascan(0, 1, 101), detectors: ["det.counts"] }, { maxPoints: 100 }),
      (e: unknown) => e instanceof PlanTooLarge && /the limit is 100\b/.test(e.message),
    );
    assert.deepEqual(b.log, []);
  } finally {
    await lab.close();
  }
});

Deno.test("the run loop yields to timers while zero-latency points stream", async () => {
  const { lab } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  try {
    const run = new ScanRun(lab, { plan: ascan(0, 1, 200_000), detectors: ["det.counts"] });
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
      if (ticks === 3) run.stop("enough");
    }, 1);
    const result = await run.start();
    clearInterval(timer);
    assert.equal(result.state, "stopped", "a timer stopped the scan: the loop let it run");
    assert.ok(result.recorded < 200_000);
  } finally {
    await lab.close();
  }
});

Deno.test("a scan ended by a throw after it was recorded as started is recorded failed, not left running", async () => {
  const { lab } = await bench({ motor: "fakescan://motor", det: "fakescan://det" });
  const db = new DatabaseSync(":memory:");
  const store = new ScanStore(db);
  try {
    const run = new ScanRun(lab, { plan: ascan(0, 1, 3), detectors: ["det.counts"] }, { store });
    // as scan --out's file failing to open at the start did
    run.onState((s) => {
      if (s.state === "running") throw new Error("cannot open the column file");
    });
    await assert.rejects(run.start(), /cannot open the column file/);
    const rec = store.get(run.id!);
    assert.equal(rec.state, "failed");
    assert.match(rec.error ?? "", /cannot open the column file/);
  } finally {
    await lab.close();
    db.close();
  }
});
