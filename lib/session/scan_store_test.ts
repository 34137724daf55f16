import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { listScans, readScan, type ScanMeta, ScanStore } from "./scan_store.ts";
import { exportScan } from "./scan_export.ts";
import { UsageError } from "../device/errors.ts";
import { humanDateTime } from "../output/time.ts";

const meta: ScanMeta = {
  plan: { plan: { kind: "count", num: 2 }, detectors: ["det.counts"] },
  command: "labwire scan count 2 --detectors det.counts",
  positioners: ["motor.position"],
  detectors: ["det.counts"],
  units: { "motor.position": "mm" },
  origin: [1.5],
  total: 3,
  started: 1_700_000_000,
};

Deno.test("tables are created idempotently; an empty file has no scans", () => {
  const db = new DatabaseSync(":memory:");
  try {
    assert.deepEqual(listScans(db), []);
    new ScanStore(db);
    new ScanStore(db);
    assert.deepEqual(listScans(db), []);
    assert.throws(() => readScan(db, 1), /it has no scans/);
  } finally {
    db.close();
  }
});

Deno.test("create, add points, finish, list and read back", () => {
  const db = new DatabaseSync(":memory:");
  try {
    const store = new ScanStore(db);
    const id = store.create(meta);
    assert.equal(store.get(id).state, "running");
    store.addPoints(id, [
      { index: 0, t: 1_700_000_001.25, positions: [0], readbacks: [0.001], values: [12] },
      { index: 1, t: 1_700_000_002.5, positions: [1], readbacks: [1], values: [null] },
    ]);
    assert.deepEqual(store.recordedIndices(id), [0, 1]);
    assert.equal(store.lastUnfinished()?.id, id);
    store.finish(id, "stopped", "interrupted", 1_700_000_003);
    const rec = store.get(id);
    assert.equal(rec.state, "stopped");
    assert.equal(rec.error, "interrupted");
    assert.equal(rec.ended, 1_700_000_003);
    assert.equal(rec.recorded, 2);
    assert.deepEqual(rec.origin, [1.5]);
    assert.deepEqual(rec.plan, meta.plan);
    assert.deepEqual(store.points(id)[1], {
      index: 1,
      t: 1_700_000_002.5,
      positions: [1],
      readbacks: [1],
      values: [null],
    });
    store.reopen(id);
    assert.equal(store.get(id).state, "running");
    store.finish(id, "done");
    assert.equal(store.lastUnfinished(), undefined);
    const id2 = store.create(meta);
    assert.deepEqual(store.list().map((s) => s.id), [id, id2]);
    assert.throws(
      () => store.get(99),
      (e) => e instanceof UsageError && /scans: 1, 2/.test(e.message),
    );
  } finally {
    db.close();
  }
});

Deno.test("a duplicate point is refused and the batch rolled back", () => {
  const db = new DatabaseSync(":memory:");
  try {
    const store = new ScanStore(db);
    const id = store.create(meta);
    const p = { index: 0, t: 1, positions: [0], readbacks: [0], values: [1] };
    store.addPoints(id, [p]);
    assert.throws(() => store.addPoints(id, [{ ...p, index: 1 }, p]));
    assert.deepEqual(store.recordedIndices(id), [0]);
  } finally {
    db.close();
  }
});

Deno.test("exportScan gives the column file and NDJSON", () => {
  const db = new DatabaseSync(":memory:");
  try {
    const store = new ScanStore(db);
    const id = store.create(meta);
    store.addPoints(id, [
      { index: 0, t: 1_700_000_001.25, positions: [0], readbacks: [0.001], values: [12] },
    ]);
    const csv = exportScan(db, id, "csv").split("\n");
    assert.equal(csv[0], `# labwire scan ${id}`);
    assert.equal(csv[1], "# command: labwire scan count 2 --detectors det.counts");
    assert.equal(csv[2], `# started: ${humanDateTime(1700000000)}`);
    assert.equal(csv[3], "# positioners: motor.position");
    assert.equal(csv[4], "# detectors: det.counts");
    assert.equal(csv[5], "# units: motor.position=mm det.counts=");
    assert.equal(csv[6], "# points: 3");
    assert.equal(csv[7], "point,t,motor.position,motor.position_target,det.counts");
    assert.equal(csv[8], "0,1700000001.25,0.001,0,12");
    const line = JSON.parse(exportScan(db, id, "ndjson").trim());
    assert.deepEqual(line, {
      scan: id,
      point: 0,
      t: 1_700_000_001.25,
      "motor.position": 0.001,
      "motor.position_target": 0,
      "det.counts": 12,
    });
  } finally {
    db.close();
  }
});

Deno.test("a batch longer than one INSERT statement stores every point, each once", () => {
  const db = new DatabaseSync(":memory:");
  try {
    const store = new ScanStore(db);
    const id = store.create({ ...meta, total: 70 });
    const points = Array.from({ length: 70 }, (_, i) => ({
      index: i,
      t: 1_700_000_000 + i / 7,
      positions: [i / 3],
      readbacks: [i % 2 ? i : "moving"],
      values: [i % 5 ? i * 1.5 : null],
    }));
    store.addPoints(id, points.slice(0, 65)); // 32 + 32 + 1 points
    store.addPoints(id, points.slice(65));
    assert.deepEqual(store.points(id), points);
    assert.deepEqual(store.pointsPage(id, 31, 3).map((p) => p.index), [31, 32, 33]);
    assert.equal(store.get(id).recorded, 70);
  } finally {
    db.close();
  }
});
