import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import type { Values } from "../device/attr.ts";
import { Lab } from "../lab/lab.ts";
import { TaskBoard } from "../lab/task.ts";
import { SessionReader } from "./reader.ts";
import { Recorder } from "./recorder.ts";
import { startRecording } from "./recording.ts";
import { SessionStore } from "./store.ts";

const CONFIG = `
[devices.dmm]
address = "sim://dmm?seed=4"
[devices.dead]
address = "sim://gauge?seed=1&error_rate=1"
`;

async function withLab(fn: (lab: Lab, path: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "labwire-rec-" });
  const lab = await Lab.open(parseConfig(CONFIG, "test.toml"));
  try {
    await fn(lab, `${dir}/s.session.sqlite`);
  } finally {
    await lab.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("recorder: values with units; a dead device writes one error event, then a recovery", async () => {
  await withLab(async (lab, path) => {
    const store = SessionStore.open(path);
    const rec = new Recorder(lab, store, { errorEventIntervalMs: 60_000 });
    rec.start();
    for (let i = 0; i < 5; i++) {
      await lab.get("dmm").sample();
      await lab.get("dead").sample();
    }
    // The device answers again: published as a manager would.
    lab.get("dead").publish({ t: Date.now() / 1000, device: "dead", values: { pressure: 1e-3 } });
    rec.missed(["dmm"], 2, 100);
    rec.missed(["dmm"], 1, 100);
    rec.stop();
    store.close();

    const r = SessionReader.open(path);
    try {
      const voltage = r.select(["dmm.voltage"])[0]!;
      assert.equal(voltage.units, "V");
      assert.equal(voltage.count, 5);
      const values = [...r.samples({ attrIds: [voltage.id] })].map((s) => s.value);
      assert.equal(values.length, 5);
      assert.ok(values.every((v) => typeof v === "number"));
      const errors = r.events({ kinds: ["error"] });
      assert.equal(errors.length, 1, "five failures, one event");
      assert.equal(errors[0]!.device, "dead");
      const recovered = r.events({ kinds: ["recovered"] });
      assert.equal(recovered.length, 1);
      assert.match(recovered[0]!.message, /after 5 failed reads/);
      const gaps = r.events({ kinds: ["gap"] });
      assert.equal(gaps.length, 1, "gaps coalesce per flush");
      assert.equal(r.missedDeadlines(), 3);
      assert.equal(r.select(["dead.pressure"])[0]!.units, "torr");
    } finally {
      r.close();
    }
  });
});

Deno.test("recorder: readings of changing shapes each record their values under their own attributes", async () => {
  await withLab((lab, path) => {
    const store = SessionStore.open(path);
    const rec = new Recorder(lab, store);
    rec.start();
    const dmm = lab.get("dmm");
    const t = Date.now() / 1000;
    // The same shape twice, a part of it (a read-back), the same names in another order, more
    // names (one new), fewer again.
    const shapes: Values[] = [
      { voltage: 1, mode: "dc" },
      { voltage: 2, mode: "dc" },
      { voltage: 3 },
      { mode: "ac", voltage: 4 },
      { voltage: 5, mode: "ac", extra: 50 },
      { voltage: 6, mode: "ac", extra: 60 },
      { extra: 70 },
    ];
    shapes.forEach((values, i) => dmm.publish({ t: t + i, device: "dmm", values }));
    rec.stop();
    store.close();
    const r = SessionReader.open(path);
    try {
      const of = (name: string) => {
        const attr = r.select([`dmm.${name}`])[0]!;
        return [...r.samples({ attrIds: [attr.id] })].map((s) => s.value);
      };
      assert.deepEqual(of("voltage"), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(of("mode"), ["dc", "dc", "ac", "ac", "ac"]);
      assert.deepEqual(of("extra"), [50, 60, 70]);
    } finally {
      r.close();
    }
  });
});

Deno.test("startRecording: samples for a duration, then closes the segment", async () => {
  await withLab(async (lab, path) => {
    const t0 = performance.now();
    const rec = await startRecording(lab, {
      session: path,
      interval: 20,
      duration: 200,
      alarms: false,
    });
    rec.note("hello");
    assert.equal(await rec.done, "duration reached");
    // The run lasted its duration and sampled more than once; how many ticks fit in 200 ms
    // depends on the machine's load (a late tick is counted as missed), so only the sum is exact.
    assert.ok(performance.now() - t0 >= 200);
    const { expected, started, missed, backedOff } = rec.sampler.stats;
    assert.ok(started >= 4, `started ${started}`);
    assert.equal(expected, started + missed + backedOff);
    const r = SessionReader.open(path);
    try {
      const seg = r.segments()[0]!;
      assert.equal(seg.reason, "duration reached");
      assert.ok(r.select(["dmm.voltage"])[0]!.count >= 2);
      assert.equal(r.events({ kinds: ["note"] })[0]!.message, "hello");
    } finally {
      r.close();
    }
  });
});

Deno.test("startRecording: alarm transitions become session events", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-rec-" });
  const config = parseConfig(
    `
[devices.dmm]
address = "sim://dmm?seed=4"
[[alarms]]
device = "dmm"
attr = "voltage"
compare = ">"
trip = -1000
`,
    "alarm.toml",
  );
  const lab = await Lab.open(config);
  const lines: string[] = [];
  try {
    const rec = await startRecording(lab, {
      session: `${dir}/a.session.sqlite`,
      interval: 20,
      duration: 100,
      log: (line) => lines.push(line),
    });
    await rec.done;
    assert.ok(lines.some((l) => /alarm MAJOR active/.test(l)), lines.join("\n"));
    const r = SessionReader.open(`${dir}/a.session.sqlite`);
    const alarms = r.events({ kinds: ["alarm"] });
    r.close();
    assert.equal(alarms.length, 1);
    assert.equal(alarms[0]!.device, "dmm");
    assert.equal(alarms[0]!.attr, "voltage");
    assert.match(alarms[0]!.message, /^active /);
  } finally {
    await lab.close();
    await Deno.remove(dir, { recursive: true });
  }
});

const ALARM_CONFIG = `
[devices.dmm]
address = "sim://dmm?seed=4"
[[alarms]]
name = "always"
device = "dmm"
attr = "voltage"
compare = ">"
trip = -1000
`;

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), `timed out waiting for ${what}`);
}

Deno.test("startRecording: a failing store never stops sampling or alarms; writes resume when it heals", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-rec-" });
  const lab = await Lab.open(parseConfig(ALARM_CONFIG, "alarm.toml"));
  try {
    const errors: unknown[] = [];
    const outages: { errors: number; dropped: number }[] = [];
    const rec = await startRecording(lab, {
      session: `${dir}/s.session.sqlite`,
      interval: 20,
      flushDelayMs: 10,
      retryMinMs: 20,
      retryMaxMs: 40,
      log: () => {},
      onStoreError: (err) => errors.push(err),
      onStoreRecover: (o) => outages.push(o),
    });
    await until("the first flush", () => rec.store.writer.stats.flushes > 0);
    // What a broken file looks like to the writer: its statements fail (like SQLITE_FULL).
    const schema = (rec.store.db.prepare(
      "SELECT sql FROM sqlite_schema WHERE name = 'chunks'",
    ).get() as { sql: string }).sql;
    rec.store.db.exec("DROP TABLE chunks");
    await until("the failure", () => rec.store.writer.failure !== undefined);
    const failedAt = Date.now() / 1000;
    const started = rec.sampler.stats.started;
    await until("more samples", () => rec.sampler.stats.started > started + 5);
    await until("retries", () => rec.store.writer.stats.errors >= 3);
    assert.equal(errors.length, 1, "told once per outage");
    assert.match(String(errors[0]), /chunks/);
    assert.equal(rec.alarms!.active().length, 1);
    const seen = Math.max(...rec.alarms!.lastReadings().map((x) => x.t));
    assert.ok(seen > failedAt, "the alarm engine still sees readings");
    // The cause goes away: the next retry writes everything buffered meanwhile.
    rec.store.db.exec(schema);
    await until("recovery", () => outages.length === 1);
    assert.equal(rec.store.writer.failure, undefined);
    assert.equal(outages[0]!.dropped, 0);
    assert.ok(outages[0]!.errors >= 3);
    assert.equal(await rec.stop("test over"), "test over");

    const r = SessionReader.open(`${dir}/s.session.sqlite`);
    try {
      const voltage = r.select(["dmm.voltage"])[0]!;
      const during = [...r.samples({ attrIds: [voltage.id], from: failedAt })];
      assert.ok(during.length > 5, "samples taken while writes failed are in the session");
      const store = r.events({ kinds: ["store"] });
      assert.equal(store.length, 1);
      assert.match(
        store[0]!.message,
        /session writes failed for .* s \(\d+ failed attempts; nothing lost\)/,
      );
      assert.equal(r.segments().at(-1)!.state, "stopped");
    } finally {
      r.close();
    }
  } finally {
    await lab.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startRecording: a tracked task's run is stored with its end state and counts", async () => {
  await withLab(async (lab, path) => {
    const board = new TaskBoard(lab);
    const rec = await startRecording(lab, { session: path, interval: 1000, alarms: false });
    try {
      const task = await board.submit("dmm", {
        technique: "sample",
        sampling_interval: 0.02,
        max_duration: 0.1,
      });
      rec.trackTask(task);
      await task.done;
    } finally {
      await board.close();
      await rec.stop("test over");
    }
    const r = SessionReader.open(path);
    try {
      const [t] = r.tasks();
      assert.equal(t!.device, "dmm");
      assert.equal(t!.technique, "sample");
      assert.equal(t!.status, "completed");
      assert.ok((t!.data as { samples: number }).samples >= 2);
      assert.equal(r.events({ kinds: ["task"] }).length, 2);
      // The task's readings went through the manager, so they are recorded samples too.
      assert.ok(r.select(["dmm.voltage"])[0]!.count >= 2);
    } finally {
      r.close();
    }
  });
});

Deno.test("startRecording: while a hung device's read runs out its timeout at the end, no device is found stale", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-rec-" });
  // thermo would be stale 3 × 200 ms after its last sample; the hung gauge holds the end ~1.5 s
  const lab = await Lab.open(parseConfig(
    `
[devices.thermo]
address = "sim://thermo?seed=2"
interval = "200ms"
[devices.hung]
address = "sim://gauge?seed=1&timeout_rate=1"
interval = "200ms"
timeout = "1500ms"
`,
    "test.toml",
  ));
  try {
    const lines: string[] = [];
    const rec = await startRecording(lab, {
      session: `${dir}/s.session.sqlite`,
      duration: 300,
      log: (l) => lines.push(l),
    });
    assert.equal(await rec.done, "duration reached");
    const stale = rec.alarms!.history().filter((e) => e.device === "thermo");
    assert.deepEqual(stale.map((e) => e.name), [], lines.join("\n"));
  } finally {
    await lab.close();
    await Deno.remove(dir, { recursive: true });
  }
});
