import assert from "node:assert/strict";
import { SessionReader } from "./reader.ts";
import { SessionStore } from "./store.ts";
import type { WriterOutage } from "./outage.ts";
import { WORKER_NICE } from "./write_worker.ts";
import { ROWS_PER_WORKER_SLICE } from "./flusher.ts";

/** How long a wait on the write worker may take before the test calls it hung: a worker starts
 * late on a CI machine whose cores the whole suite shares (seen past 10 s at load 13-20). */
const HANG_GUARD_MS = 60_000;

/** A gauge "g" in `store`: its `pressure` (number) and `pressure_units` (string) attributes. */
function gauge(store: SessionStore) {
  const device = store.device({ name: "g" });
  return {
    p: store.attr(device, { name: "pressure", type: "number" }),
    u: store.attr(device, { name: "pressure_units", type: "string" }),
  };
}

/**
 * A store whose writes fail from the next flush on (its `chunks` table dropped after one good
 * flush), with what its callbacks saw; `restore()` puts the table back so writes succeed again.
 */
async function failingStore(options: Parameters<typeof SessionStore.open>[1]) {
  const dir = await Deno.makeTempDir({ prefix: "labwire-writer-" });
  const outages: WriterOutage[] = [];
  const failures: unknown[] = [];
  const store = SessionStore.open(`${dir}/w.session.sqlite`, {
    checkpointMs: 0,
    ...options,
    onError: (err) => failures.push(err),
    onRecover: (o) => outages.push(o),
  });
  const attr = store.attr(store.device({ name: "d" }), { name: "x", type: "number" });
  assert.ok(store.writer.tryFlush());
  const schema = (store.db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'chunks'")
    .get() as { sql: string }).sql;
  store.db.exec("DROP TABLE chunks");
  return {
    store,
    attr,
    outages,
    failures,
    restore: () => store.db.exec(schema),
    close: async () => {
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

// Every test runs with the writes in the writer's worker (as under `serve`) and on the calling
// thread (the default, and where no worker can run): the two must behave alike.
for (const writeInWorker of [true, false]) {
  const where = writeInWorker ? "in its worker" : "on its own thread";

  Deno.test(`writer (${where}): while writes fail it keeps a bounded buffer, counts what it drops, and says so on recovery`, async () => {
    const { store, attr, outages, failures, restore, close } = await failingStore({
      writeInWorker,
      maxBatch: 10,
      maxBufferedRows: 30,
      maxBufferedEvents: 2,
      retryMinMs: 60_000,
    });
    try {
      for (let i = 0; i < 100; i++) store.writer.add(1000 + i, attr, i);
      for (let i = 0; i < 5; i++) store.writer.event({ kind: "note", message: `n${i}` });
      // The first full batch tried to write and failed; later adds only buffer (no flush per add).
      assert.equal(failures.length, 1);
      assert.equal(store.writer.stats.errors, 1);
      assert.notEqual(store.writer.failure, undefined);
      assert.equal(store.writer.stats.dropped, 70, "30 of 100 kept");
      assert.equal(store.writer.stats.droppedEvents, 3, "2 of 5 events kept");
      assert.equal(store.writer.tryFlush(), false);
      assert.equal(store.writer.stats.errors, 2);
      restore();
      assert.ok(store.writer.tryFlush());
      assert.equal(store.writer.failure, undefined);
      assert.equal(outages.length, 1);
      assert.equal(outages[0]!.errors, 2);
      assert.equal(outages[0]!.dropped, 70);
      assert.equal(outages[0]!.droppedEvents, 3);
      const kept = store.db.prepare("SELECT count(*) AS n, max(value) AS top FROM samples")
        .get() as {
          n: number;
          top: number;
        };
      assert.equal(kept.n, 30);
      assert.equal(kept.top, 29, "the oldest samples are kept, the newest dropped");
    } finally {
      await close();
    }
  });

  const burst = writeInWorker
    ? "drained from the ring and written by the worker"
    : "written in slices with event-loop turns between them";
  Deno.test(`writer (${where}): a burst is ${burst}; every row once, counted and indexed`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "labwire-writer-" });
    const path = `${dir}/w.session.sqlite`;
    const store = SessionStore.open(path, { writeInWorker, checkpointMs: 0, flushDelayMs: 0 });
    let closed = false;
    try {
      const { p, u } = gauge(store);
      assert.ok(store.writer.tryFlush());
      const flushes = store.writer.stats.flushes;
      // what a server answering thousands of /read a second buffers between two flushes
      for (let i = 0; i < 1500; i++) {
        store.writer.add(1000 + i / 1000, p, i);
        store.writer.add(1000 + i / 1000, u, "torr");
      }
      let turns = 0;
      while (store.writer.pending > 0) {
        await new Promise((r) => setTimeout(r, 0));
        if (store.writer.pending > 0) turns++;
      }
      // Written here, the slices leave the loop turns between them; a worker needs none, and
      // writes what it drains in one transaction (see the worker's own test below).
      if (!writeInWorker) {
        assert.ok(turns >= 2, `the loop got ${turns} turns while the burst was written`);
        assert.ok(store.writer.stats.flushes - flushes >= 6, "3,000 rows in transactions of ≤ 512");
      }
      assert.equal(store.writer.stats.samples, 3000);
      const numbers = store.db.prepare(
        "SELECT value FROM samples WHERE attr_id = ? ORDER BY rowid",
      ).all(p).map((r) => r.value);
      assert.deepEqual(numbers, Array.from({ length: 1500 }, (_, i) => i));
      const texts = store.db.prepare("SELECT count(*) AS n FROM samples WHERE text = 'torr'").get();
      assert.equal(texts?.n, 1500);
      // the sparse time index covers every row, and every row's time lies in its chunk's range
      const outside = store.db.prepare(
        `SELECT count(*) AS n FROM samples s WHERE NOT EXISTS (SELECT 1 FROM chunks c
         WHERE s.rowid BETWEEN c.first_row AND c.last_row AND s.t BETWEEN c.t_min AND c.t_max)`,
      ).get();
      assert.equal(outside?.n, 0);
      store.close();
      closed = true;
      const reader = SessionReader.open(path);
      try {
        assert.deepEqual(reader.attrs().map((a) => [a.attr, a.count]), [
          ["pressure", 1500],
          ["pressure_units", 1500],
        ]);
      } finally {
        reader.close();
      }
    } finally {
      if (!closed) store.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`writer (${where}): any number of buffered rows (64-row statements and every smaller size) is written exactly, in order`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "labwire-writer-" });
    const store = SessionStore.open(`${dir}/w.session.sqlite`, { writeInWorker, checkpointMs: 0 });
    assert.equal(store.writer.inWorker, writeInWorker);
    try {
      const { p, u } = gauge(store);
      const rows = () =>
        store.db.prepare("SELECT t, attr_id, value, text FROM samples ORDER BY rowid").all()
          .map((r) => [r.t, r.attr_id, r.value, r.text]);
      const expected: unknown[][] = [];
      let t = 1000;
      for (const n of [1, 63, 127, 64]) {
        const texts: unknown[][] = [];
        for (let i = 0; i < n; i++) {
          t += 0.001;
          const v = i % 7 === 3 ? null : i / 3;
          store.writer.add(t, p, v);
          expected.push([t, p, v, null]);
          store.writer.add(t, u, `u${i}`);
          texts.push([t, u, null, `u${i}`]);
        }
        store.writer.flush();
        // numbers are written before text rows in a flush
        expected.push(...texts);
        assert.deepEqual(rows(), expected);
      }
      assert.equal(store.writer.stats.samples, 2 * (1 + 63 + 127 + 64));
    } finally {
      store.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`writer (${where}): rows put() and then published are written as add()'s: a full batch at publish(), the rest by the timer`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "labwire-writer-" });
    const store = SessionStore.open(`${dir}/w.session.sqlite`, {
      writeInWorker,
      checkpointMs: 0,
      maxBatch: 10,
      flushDelayMs: 20,
    });
    try {
      const { p, u } = gauge(store);
      assert.ok(store.writer.tryFlush());
      const flushes = store.writer.stats.flushes;
      // readings of two values, published after each (as the recorder does)
      const reading = (i: number) => {
        store.writer.put(1000 + i, p, i);
        store.writer.put(1000 + i, u, "torr");
        store.writer.publish();
      };
      for (let i = 0; i < 4; i++) reading(i);
      assert.equal(store.writer.pending, 8, "below a batch: nothing written yet");
      assert.equal(store.writer.stats.flushes, flushes);
      reading(4);
      assert.equal(store.writer.pending, 0, "a full batch is written at the publish");
      assert.equal(store.writer.stats.flushes, flushes + 1);
      reading(5);
      assert.equal(store.writer.pending, 2);
      for (let k = 0; k < 200 && store.writer.pending > 0; k++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(store.writer.pending, 0, "the timer armed by the publish wrote the rest");
      const rows = store.db.prepare(
        "SELECT t, attr_id, value, text FROM samples ORDER BY t, attr_id",
      )
        .all().map((r) => [r.t, r.attr_id, r.value, r.text]);
      assert.deepEqual(
        rows,
        [0, 1, 2, 3, 4, 5].flatMap((i) => [[1000 + i, p, i, null], [1000 + i, u, null, "torr"]]),
      );
    } finally {
      store.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("writer (in its worker): a timed flush the database refuses starts an outage; the rows wait, bounded, and the retry writes them", async () => {
  const { store, attr, outages, failures, restore, close } = await failingStore({
    writeInWorker: true,
    flushDelayMs: 0,
    maxBatch: 50,
    maxBufferedRows: 50,
    retryMinMs: 50,
  });
  try {
    assert.ok(store.writer.inWorker);
    for (let i = 0; i < 20; i++) store.writer.add(1000 + i, attr, i);
    // the timed flush is posted to the worker; its refusal comes back as an outage
    while (failures.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.match(String(store.writer.failure), /chunks/);
    assert.equal(store.writer.pending, 20, "the worker holds the 20 samples");
    for (let i = 20; i < 100; i++) store.writer.add(1000 + i, attr, i);
    assert.equal(store.writer.pending, 50, "bounded: 50 held in all");
    assert.equal(store.writer.stats.dropped, 50);
    restore();
    while (outages.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(store.writer.failure, undefined);
    assert.equal(outages[0]!.dropped, 50);
    assert.equal(store.writer.pending, 0);
    const kept = store.db.prepare("SELECT count(*) AS n, max(value) AS top FROM samples").get() as {
      n: number;
      top: number;
    };
    assert.deepEqual({ ...kept }, { n: 50, top: 49 });
  } finally {
    await close();
  }
});

Deno.test("writer (in its worker): what a timed drain finds is written in transactions of up to 1,024 rows, one slice after the other", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-writer-" });
  const path = `${dir}/w.session.sqlite`;
  const store = SessionStore.open(path, { writeInWorker: true, checkpointMs: 0, flushDelayMs: 0 });
  try {
    const { p, u } = gauge(store);
    assert.ok(store.writer.tryFlush());
    let t = 1000;
    // Each burst is put while the worker sleeps: the timed flush after it wakes it once. (Once
    // the last burst is written the worker goes to sleep only after one more empty turn; a burst
    // put before that turn would be drained in pieces, so the test waits for it.)
    assert.equal(ROWS_PER_WORKER_SLICE, 1024);
    for (const [readings, transactions] of [[500, 1], [1500, 3], [5000, 10]] as const) {
      const asleep = Date.now() + HANG_GUARD_MS;
      while (!store.writer.workerSleeps) {
        assert.ok(Date.now() < asleep, "the worker sleeps after a quiet period");
        await new Promise((r) => setTimeout(r, 5));
      }
      const flushes = store.writer.stats.flushes;
      for (let i = 0; i < readings; i++) {
        t += 0.001;
        store.writer.add(t, p, i);
        store.writer.add(t, u, "torr");
      }
      const deadline = Date.now() + HANG_GUARD_MS;
      while (store.writer.pending > 0) {
        assert.ok(Date.now() < deadline, "the worker writes the burst");
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(store.writer.stats.flushes - flushes, transactions, `${2 * readings} rows`);
    }
    assert.equal(store.writer.stats.samples, 2 * 7000);
    const rows = store.db.prepare("SELECT count(*) AS n FROM samples").get();
    assert.equal(rows?.n, 2 * 7000);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writer (in its worker): a waited-for flush between two drains is answered at once, not after the worker's wait for its next drain", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-writer-" });
  const path = `${dir}/w.session.sqlite`;
  // The longest drain period there is: the worker blocks up to a second between drains.
  const store = SessionStore.open(path, {
    writeInWorker: true,
    checkpointMs: 0,
    flushDelayMs: 1000,
  });
  try {
    const device = store.device({ name: "g" });
    const p = store.attr(device, { name: "pressure", type: "number" });
    assert.ok(store.writer.inWorker);
    store.writer.add(1000, p, 1);
    // The first timed flush wakes it: it drains, then waits a second for its next drain.
    const deadline = Date.now() + HANG_GUARD_MS;
    while (store.writer.stats.samples < 1) {
      assert.ok(Date.now() < deadline, "the worker drains after the first timed flush");
      await new Promise((r) => setTimeout(r, 5));
    }
    for (let round = 0; round < 3; round++) {
      store.writer.add(1001 + round, p, 2 + round);
      const t0 = performance.now();
      store.writer.flush();
      const took = performance.now() - t0;
      assert.ok(took < 500, `flush ${round} answered after ${took.toFixed(0)} ms, not at once`);
      assert.equal(store.writer.stats.samples, 2 + round);
    }
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A thread's nice value (Linux: field 19 of its stat, counted after the command name). */
function niceOf(task: string): number {
  const stat = Deno.readTextFileSync(`/proc/self/task/${task}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

Deno.test({
  name:
    "writer (in its worker): the worker's thread runs at a lower priority than the recording thread",
  // A test run already at nice 15 or more leaves no lower priority to tell apart.
  ignore: Deno.build.os !== "linux" || niceOf(String(Deno.pid)) > 19 - WORKER_NICE,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "labwire-writer-" });
    const nice = niceOf;
    const before = new Set([...Deno.readDirSync("/proc/self/task")].map((t) => t.name));
    const store = SessionStore.open(`${dir}/w.session.sqlite`, {
      writeInWorker: true,
      checkpointMs: 0,
    });
    try {
      assert.ok(store.writer.inWorker);
      const added = [...Deno.readDirSync("/proc/self/task")].map((t) => t.name)
        .filter((t) => !before.has(t));
      const own = nice(String(Deno.pid));
      const nicer = own + WORKER_NICE;
      assert.equal(added.map(nice).filter((n) => n === nicer).length, 1, `nice ${nicer} once`);
    } finally {
      store.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("writer (in its worker): rows go round a small ring many times — numbers, ASCII and UTF-8 texts, a text longer than the ring — each written once, in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-writer-" });
  const store = SessionStore.open(`${dir}/w.session.sqlite`, {
    writeInWorker: true,
    checkpointMs: 0,
    flushDelayMs: 0,
    ring: { rows: 8, bytes: 24 },
  });
  try {
    assert.ok(store.writer.inWorker);
    const device = store.device({ name: "g" });
    const p = store.attr(device, { name: "pressure", type: "number" });
    const u = store.attr(device, { name: "units", type: "string" });
    const numbers: (number | null)[] = [];
    const texts: string[] = [];
    const texts0 = ["torr", "µbar", "°C", "", "a text longer than the ring's 24 bytes"];
    let t = 1000;
    for (let i = 0; i < 400; i++) {
      t += 0.001;
      const v = i % 11 === 5 ? null : i;
      store.writer.add(t, p, v);
      numbers.push(v);
      if (i % 3 === 0) {
        const text = `${texts0[i % texts0.length]}${i % 2 ? "" : i}`;
        store.writer.add(t, u, text);
        texts.push(text);
      }
      // now and then the worker (on its timer, or woken) drains the ring, else it fills up
      if (i % 37 === 0) {
        const deadline = Date.now() + HANG_GUARD_MS;
        while (store.writer.pending > 0) {
          assert.ok(Date.now() < deadline, "the worker drains and writes the ring's rows");
          await new Promise((r) => setTimeout(r, 1));
        }
      }
    }
    store.writer.flush();
    assert.equal(store.writer.pending, 0);
    const column = (sql: string, attr: number) =>
      store.db.prepare(sql).all(attr).map((r) => Object.values(r)[0]);
    assert.deepEqual(
      column("SELECT value FROM samples WHERE attr_id = ? ORDER BY rowid", p),
      numbers,
    );
    assert.deepEqual(
      column("SELECT text FROM samples WHERE attr_id = ? ORDER BY rowid", u),
      texts,
    );
    assert.equal(store.writer.stats.samples, numbers.length + texts.length);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writer (in its worker): while writes fail a full ring is handed to the worker to hold; beyond the bound rows are dropped and counted, the kept ones written on recovery", async () => {
  const { store, attr, outages, failures, restore, close } = await failingStore({
    writeInWorker: true,
    maxBatch: 50,
    maxBufferedRows: 50,
    retryMinMs: 60_000,
    ring: { rows: 8 },
  });
  try {
    store.writer.add(1000, attr, 0);
    assert.equal(store.writer.tryFlush(), false);
    assert.equal(failures.length, 1);
    // the ring (8 rows) fills six times over before the bound (50) is reached
    for (let i = 1; i < 200; i++) store.writer.add(1000 + i, attr, i);
    assert.equal(store.writer.pending, 50);
    assert.equal(store.writer.stats.dropped, 150);
    assert.equal(store.writer.stats.errors, 1, "holding the rows is no write attempt");
    restore();
    assert.ok(store.writer.tryFlush());
    assert.equal(outages[0]!.dropped, 150);
    assert.equal(store.writer.pending, 0);
    const values = store.db.prepare("SELECT value FROM samples ORDER BY rowid").all()
      .map((r) => r.value);
    assert.deepEqual(values, Array.from({ length: 50 }, (_, i) => i));
  } finally {
    await close();
  }
});
