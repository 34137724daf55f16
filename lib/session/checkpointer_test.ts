import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startCheckpointer } from "./checkpointer.ts";

/** How long the worker may take to start on a CI machine whose cores the whole suite shares. */
const HANG_GUARD_MS = 60_000;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A WAL-mode file whose rows are all still in the log (automatic checkpoints off). */
function walFile(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (b BLOB)");
  const insert = db.prepare("INSERT INTO t VALUES (?)");
  for (let i = 0; i < 50; i++) insert.run(new Uint8Array(4000));
  return db;
}

Deno.test("checkpointer: when stop returns, the worker's connection is closed, so the file's own connection closes last and takes its log and index with it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-checkpointer-" });
  const path = `${dir}/s.session.sqlite`;
  const db = walFile(path);
  const errors: string[] = [];
  const before = Deno.statSync(path).size;
  const checkpointer = startCheckpointer(path, 5, (e) => errors.push(e));
  try {
    // The worker's checkpoint copies the logged pages into the file: it is open and working.
    const deadline = Date.now() + HANG_GUARD_MS;
    while (Deno.statSync(path).size <= before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(Deno.statSync(path).size > before, "the worker checkpointed");
  } finally {
    checkpointer.stop();
  }
  db.close();
  assert.deepEqual(errors, []);
  // A worker connection still open here (terminate alone is asynchronous) would have kept both
  // files, and deleted the log by its name whenever it closed, a new file's log included.
  assert.equal(exists(`${path}-wal`), false, "log deleted by the last connection");
  assert.equal(exists(`${path}-shm`), false, "index deleted by the last connection");
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["s.session.sqlite"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpointer: stopped before its worker started, the worker never opens the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-checkpointer-" });
  const path = `${dir}/s.session.sqlite`;
  walFile(path).close();
  const errors: string[] = [];
  startCheckpointer(path, 5, (e) => errors.push(e)).stop();
  // Time for a worker that was not stopped to start, open the file and checkpoint.
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(errors, []);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["s.session.sqlite"]);
  await Deno.remove(dir, { recursive: true });
});
