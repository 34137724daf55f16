import assert from "node:assert/strict";
import { SessionStore } from "./store.ts";
import type { WriterOutage } from "./outage.ts";

Deno.test("writer: while writes fail it keeps a bounded buffer, counts what it drops, and says so on recovery", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-writer-" });
  const outages: WriterOutage[] = [];
  const failures: unknown[] = [];
  const store = SessionStore.open(`${dir}/w.session.sqlite`, {
    checkpointMs: 0,
    maxBatch: 10,
    maxBufferedRows: 30,
    maxBufferedEvents: 2,
    retryMinMs: 60_000,
    onError: (err) => failures.push(err),
    onRecover: (o) => outages.push(o),
  });
  try {
    const attr = store.attr(store.device({ name: "d" }), { name: "x", type: "number" });
    assert.ok(store.writer.tryFlush());
    const schema = (store.db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'chunks'")
      .get() as { sql: string }).sql;
    store.db.exec("DROP TABLE chunks");
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
    store.db.exec(schema);
    assert.ok(store.writer.tryFlush());
    assert.equal(store.writer.failure, undefined);
    assert.equal(outages.length, 1);
    assert.equal(outages[0]!.errors, 2);
    assert.equal(outages[0]!.dropped, 70);
    assert.equal(outages[0]!.droppedEvents, 3);
    const kept = store.db.prepare("SELECT count(*) AS n, max(value) AS top FROM samples").get() as {
      n: number;
      top: number;
    };
    assert.equal(kept.n, 30);
    assert.equal(kept.top, 29, "the oldest samples are kept, the newest dropped");
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
