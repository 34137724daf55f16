import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { ConfigError } from "../device/errors.ts";
import { SessionReader } from "./reader.ts";
import { SessionStore } from "./store.ts";

/** How long a wait on the write worker may take before the test calls it hung: a worker starts
 * late on a CI machine whose cores the whole suite shares (seen past 10 s at load 13-20). */
const HANG_GUARD_MS = 60_000;

async function tmp(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "labwire-store-" });
}

Deno.test("store: values of every type round-trip through the writer and reader", async () => {
  const dir = await tmp();
  const path = `${dir}/s.session.sqlite`;
  const store = SessionStore.open(path, { segment: { command: ["monitor", "x"] } });
  const dev = store.device({ name: "dmm", address: "sim://dmm", driver: "sim", intervalMs: 100 });
  const ids = {
    v: store.attr(dev, { name: "voltage", type: "number", units: "V" }),
    n: store.attr(dev, { name: "count", type: "integer" }),
    b: store.attr(dev, { name: "on", type: "boolean" }),
    s: store.attr(dev, { name: "mode", type: "enum", options: ["dc", "ac"] }),
    a: store.attr(dev, { name: "trace", type: "number[]" }),
  };
  // More rows than one multi-row statement holds, so both insert paths run.
  for (let i = 0; i < 200; i++) {
    const t = 1000 + i * 0.1;
    store.writer.add(t, ids.v, i === 5 ? null : i / 3);
    store.writer.add(t, ids.n, i);
    store.writer.add(t, ids.b, i % 2 === 0);
    store.writer.add(t, ids.s, i % 2 === 0 ? "dc" : "ac");
    store.writer.add(t, ids.a, [i, -i, 0.5]);
  }
  store.close("test done");

  const r = SessionReader.open(path);
  try {
    const rows = [...r.samples()];
    assert.equal(rows.length, 1000);
    const byAttr = (id: number) => rows.filter((x) => x.attrId === id).map((x) => x.value);
    assert.deepEqual(byAttr(ids.v).slice(0, 7), [0, 1 / 3, 2 / 3, 1, 4 / 3, null, 2]);
    assert.deepEqual(byAttr(ids.n).slice(0, 3), [0, 1, 2]);
    assert.deepEqual(byAttr(ids.b).slice(0, 3), [true, false, true]);
    // Text rows (strings, arrays) go 64 to a statement too: every one lands with its own time.
    const each = <T>(f: (i: number) => T) => Array.from({ length: 200 }, (_, i) => f(i));
    assert.deepEqual(byAttr(ids.s), each((i) => i % 2 === 0 ? "dc" : "ac"));
    assert.deepEqual(byAttr(ids.a), each((i) => [i, 0 - i, 0.5]));
    assert.deepEqual(
      rows.filter((x) => x.attrId === ids.a).map((x) => x.t),
      each((i) => 1000 + i * 0.1),
    );
    const v = r.attrs().find((a) => a.attr === "voltage")!;
    assert.equal(v.units, "V");
    assert.equal(v.count, 200);
    assert.equal(v.first, 1000);
    assert.equal(v.last, 1000 + 199 * 0.1);
    const segs = r.segments();
    assert.equal(segs.length, 1);
    assert.equal(segs[0]!.reason, "test done");
    assert.deepEqual(segs[0]!.command, ["monitor", "x"]);
    const kinds = r.events().map((e) => e.kind);
    assert.deepEqual(kinds, ["start", "stop"]);
  } finally {
    r.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: a second recorder is refused while one holds the file; then it appends", async () => {
  const dir = await tmp();
  const path = `${dir}/s.session.sqlite`;
  const a = SessionStore.open(path);
  assert.throws(() => SessionStore.open(path), /another labwire process is recording/);
  // Readers are still welcome while it records.
  const r = SessionReader.open(path);
  assert.equal(r.segments().length, 1);
  r.close();
  a.close();
  const b = SessionStore.open(path);
  assert.equal(b.segmentId, 2);
  b.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("store: a crashed segment gets its last sample time as stop", async () => {
  const dir = await tmp();
  const path = `${dir}/s.session.sqlite`;
  const first = SessionStore.open(path);
  const dev = first.device({ name: "g" });
  const id = first.attr(dev, { name: "p", type: "number", units: "torr" });
  first.writer.add(50, id, 1);
  first.close("ok");
  // Reopen the file behind the store's back and mark the segment as never stopped.
  const raw = new DatabaseSync(path);
  raw.exec("UPDATE segments SET stop = NULL, reason = NULL");
  raw.close();
  const second = SessionStore.open(path);
  // Units known from the first run survive; ids are stable across segments.
  assert.equal(second.attr(second.device({ name: "g" }), { name: "p", type: "number" }), id);
  second.writer.add(60, id, 2);
  second.close("ok again");
  const r = SessionReader.open(path);
  try {
    const segs = r.segments();
    assert.equal(segs.length, 2);
    assert.match(segs[0]!.reason!, /without a clean stop/);
    assert.equal(segs[0]!.state, "interrupted");
    assert.equal(segs[1]!.state, "stopped");
    assert.ok(segs[0]!.stop! >= 50);
    assert.equal(segs[1]!.reason, "ok again");
    assert.deepEqual([...r.samples()].map((s) => s.value), [1, 2]);
    assert.equal(r.attrs()[0]!.units, "torr");
  } finally {
    r.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: an unwritable path is a ConfigError naming the path and what to do", async () => {
  const dir = await tmp();
  await Deno.writeTextFile(`${dir}/file`, "x");
  const path = `${dir}/file/sub/s.session.sqlite`;
  assert.throws(
    () => SessionStore.open(path),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /file\/sub/);
      assert.match(err.message, /--session FILE/);
      return true;
    },
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("store: too little free space is refused at start", async () => {
  const dir = await tmp();
  assert.throws(
    () => SessionStore.open(`${dir}/s.session.sqlite`, { minFreeBytes: 1e18 }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /free on its disk/);
      return true;
    },
  );
  assert.deepEqual([...Deno.readDirSync(dir)], [], "no file is left behind");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("store: a session whose recorder is still alive shows as running, a dead one as interrupted", async () => {
  const dir = await tmp();
  const path = `${dir}/s.session.sqlite`;
  const store = SessionStore.open(path);
  const id = store.attr(store.device({ name: "g" }), { name: "p", type: "number" });
  store.writer.add(100, id, 1);
  store.writer.flush();
  try {
    const r = SessionReader.open(path);
    const seg = r.segments()[0]!;
    r.close();
    assert.equal(seg.state, "running");
    assert.equal(seg.last, 100);
  } finally {
    store.close();
  }
  // Killed: the segment is left open and nobody holds the lock.
  const raw = new DatabaseSync(path);
  raw.exec("UPDATE segments SET stop = NULL, reason = NULL");
  raw.close();
  const r = SessionReader.open(path);
  try {
    const seg = r.segments()[0]!;
    assert.equal(seg.state, "interrupted");
    assert.equal(seg.stop, undefined);
    assert.equal(seg.last, 100);
  } finally {
    r.close();
    await Deno.remove(dir, { recursive: true });
  }
});

// With the writes in the writer's worker (as under `serve`) and on this thread alike.
for (const writeInWorker of [false, true]) {
  const where = writeInWorker ? "in its worker" : "on this thread";
  Deno.test(`store: a session file removed while recording is a write failure, then a new file at its path (writes ${where})`, async () => {
    const dir = await tmp();
    const path = `${dir}/s.session.sqlite`;
    const failures: unknown[] = [];
    const store = SessionStore.open(path, {
      writeInWorker,
      checkpointMs: 0,
      fileCheckMs: 0,
      onError: (e) => failures.push(e),
    });
    try {
      const id = store.attr(store.device({ name: "g" }), { name: "p", type: "number" });
      store.writer.add(1, id, 1);
      assert.ok(store.writer.tryFlush());
      await Deno.remove(path);
      store.writer.add(2, id, 2);
      assert.equal(store.writer.tryFlush(), false);
      assert.match(String(store.writer.failure), /was removed or moved away; recreating it/);
      assert.equal(failures.length, 1);
      assert.equal(store.writer.pending, 1, "the sample waits in the buffer");
      // the retry recreates the file and writes what waited, under the same ids
      assert.ok(store.writer.tryFlush());
      assert.equal(store.writer.failure, undefined);
      assert.equal(store.attr(store.device({ name: "g" }), { name: "p", type: "number" }), id);
      store.writer.add(3, id, 3);
    } finally {
      store.close();
    }
    const r = SessionReader.open(path);
    try {
      const p = r.select(["g.p"])[0]!;
      assert.deepEqual([...r.samples({ attrIds: [p.id] })].map((s) => s.value), [2, 3]);
      assert.match(
        r.events({ kinds: ["store"] }).map((e) => e.message).join("\n"),
        /removed or moved away while recording/,
      );
      assert.equal(r.segments().at(-1)!.state, "stopped");
    } finally {
      r.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("store: another SQLite file is not taken over", async () => {
  const dir = await tmp();
  const path = `${dir}/other.db`;
  const db = new DatabaseSync(path);
  db.exec("CREATE TABLE x (a)");
  db.close();
  assert.throws(() => SessionStore.open(path), /not a labwire session file/);
  await Deno.remove(dir, { recursive: true });
});

// With the writes in the writer's worker (as under `serve`) and on this thread alike.
for (const writeInWorker of [false, true]) {
  const where = writeInWorker ? "in its worker" : "on this thread";
  Deno.test(`writer: rows are flushed on a timer, without an explicit flush (writes ${where})`, async () => {
    const dir = await tmp();
    const path = `${dir}/s.session.sqlite`;
    const store = SessionStore.open(path, { writeInWorker, flushDelayMs: 20 });
    const id = store.attr(store.device({ name: "g" }), { name: "p", type: "number" });
    store.writer.add(1, id, 42);
    assert.equal(store.writer.pending, 2); // the sample and the start event
    // No flush is asked for: the timer writes (a worker may take a while to start on a busy CI).
    const deadline = Date.now() + HANG_GUARD_MS;
    while (store.writer.pending > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(store.writer.pending, 0);
    const r = SessionReader.open(path);
    assert.deepEqual([...r.samples()].map((s) => s.value), [42]);
    r.close();
    store.close();
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("reader: samples come out in time order even when written out of order", async () => {
  const dir = await tmp();
  const path = `${dir}/s.session.sqlite`;
  const store = SessionStore.open(path, { chunkMs: 0 });
  const id = store.attr(store.device({ name: "g" }), { name: "p", type: "number" });
  // A slow read started at t=1 lands in the third flush (each flush its own chunk here).
  for (const batch of [[2, 3], [4, 5], [1, 6], [7]]) {
    for (const t of batch) store.writer.add(t, id, t * 10);
    store.writer.flush();
  }
  store.close();
  const r = SessionReader.open(path);
  try {
    assert.deepEqual([...r.samples()].map((s) => s.t), [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual([...r.samples({ from: 3, to: 5 })].map((s) => s.value), [30, 40, 50]);
  } finally {
    r.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: sample counts are exact between the writer's periodic stats updates", async () => {
  const dir = await tmp();
  const path = `${dir}/s.session.sqlite`;
  const store = SessionStore.open(path, { statsEveryMs: 3_600_000 });
  const id = store.attr(store.device({ name: "g" }), { name: "p", type: "number" });
  for (let i = 0; i < 100; i++) store.writer.add(10 + i, id, i);
  store.writer.flush();
  store.writer.flush(); // an empty flush: nothing changes
  for (let i = 100; i < 150; i++) store.writer.add(10 + i, id, i);
  store.writer.flush();
  const live = SessionReader.open(path);
  const a = live.attrs()[0]!;
  live.close();
  assert.equal(a.count, 150);
  assert.equal(a.first, 10);
  assert.equal(a.last, 159);
  store.close();
  const done = SessionReader.open(path);
  assert.equal(done.attrs()[0]!.count, 150);
  done.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("writer: flushes within a second extend one chunk; the time index stays small", async () => {
  const dir = await tmp();
  const path = `${dir}/s.session.sqlite`;
  const store = SessionStore.open(path);
  const id = store.attr(store.device({ name: "g" }), { name: "p", type: "number" });
  for (let f = 0; f < 20; f++) {
    for (let i = 0; i < 10; i++) store.writer.add(f * 10 + i, id, i);
    store.writer.flush();
  }
  const chunks = store.db.prepare("SELECT first_row, last_row, t_min, t_max FROM chunks").all();
  store.close();
  assert.equal(chunks.length, 1);
  assert.deepEqual({ ...chunks[0] }, { first_row: 1, last_row: 200, t_min: 0, t_max: 199 });
  const r = SessionReader.open(path);
  assert.equal([...r.samples({ from: 50, to: 59 })].length, 10);
  r.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("store: the write-ahead log file is cut back to 64 MiB when it is reset", async () => {
  const dir = await tmp();
  const store = SessionStore.open(`${dir}/s.session.sqlite`, { checkpointMs: 0 });
  try {
    const limit = store.db.prepare("PRAGMA journal_size_limit").get() as Record<string, number>;
    assert.equal(limit.journal_size_limit, 64 * 1024 * 1024);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
