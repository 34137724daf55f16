import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { AttrCounts } from "./attr_counts.ts";

Deno.test("AttrCounts: count, first and last time per attribute; cleared after writing", () => {
  const db = new DatabaseSync(":memory:");
  db.exec("CREATE TABLE s (attr_id INTEGER, count INTEGER, t_first REAL, t_last REAL)");
  const upsert = db.prepare("INSERT INTO s VALUES (?,?,?,?)");
  const counts = new AttrCounts();
  assert.equal(counts.any, false);
  counts.add(10, 3);
  counts.add(9, 3);
  counts.add(12, 3);
  counts.add(11, 7);
  assert.equal(counts.any, true);
  counts.write(upsert);
  assert.deepEqual(
    db.prepare("SELECT * FROM s ORDER BY attr_id").all().map((r) => ({ ...r })),
    [
      { attr_id: 3, count: 3, t_first: 9, t_last: 12 },
      { attr_id: 7, count: 1, t_first: 11, t_last: 11 },
    ],
  );
  counts.clear();
  assert.equal(counts.any, false);
  counts.add(20, 3);
  db.exec("DELETE FROM s");
  counts.write(upsert);
  assert.deepEqual(
    db.prepare("SELECT * FROM s").all().map((r) => ({ ...r })),
    [{ attr_id: 3, count: 1, t_first: 20, t_last: 20 }],
  );
  db.close();
});

Deno.test("AttrCounts: a multi-row upsert takes the attributes by groups, the rest one by one", () => {
  const db = new DatabaseSync(":memory:");
  db.exec("CREATE TABLE s (attr_id INTEGER PRIMARY KEY, count INTEGER, t_first REAL, t_last REAL)");
  const upsert = db.prepare("INSERT INTO s VALUES (?,?,?,?)");
  const multi = db.prepare(`INSERT INTO s VALUES ${new Array(8).fill("(?,?,?,?)").join(",")}`);
  const counts = new AttrCounts();
  // 8 + 8 in two calls, 3 one by one
  for (let id = 1; id <= 19; id++) for (let k = 0; k < id; k++) counts.add(100 + id + k, id);
  counts.write(upsert, { rows: 8, statement: multi });
  assert.deepEqual(
    db.prepare("SELECT * FROM s ORDER BY attr_id").all().map((r) => ({ ...r })),
    Array.from({ length: 19 }, (_, i) => ({
      attr_id: i + 1,
      count: i + 1,
      t_first: 101 + i,
      t_last: 101 + 2 * i,
    })),
  );
  db.close();
});
