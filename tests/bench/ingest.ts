/**
 * Ingest benchmark: samples/s the session writer sustains into a file, against the ceiling of
 * raw `node:sqlite` inserts of the same rows (one prepared single-row INSERT each, all in one
 * transaction, same schema and pragmas), in the same run. Three rounds each, best kept.
 * Target: ≥ 500,000 samples/s and ≥ 50 % of the ceiling.
 *
 *   deno run -A tests/bench/ingest.ts [ROWS]
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { migrate } from "../../lib/session/schema.ts";
import { SessionStore } from "../../lib/session/store.ts";
import { Targets } from "./targets.ts";

const ROWS = Number(Deno.args[0] ?? 2_000_000);
const ATTRS = 2000; // 200 devices × 10 channels
const dir = await Deno.makeTempDir({ prefix: "labwire-ingest-" });

// The rows: 10 Hz ticks of 2000 attributes, values like a noisy sine.
const t0 = Date.now() / 1000;
const ts = new Float64Array(ROWS);
const vs = new Float64Array(ROWS);
for (let i = 0; i < ROWS; i++) {
  ts[i] = t0 + Math.floor(i / ATTRS) * 0.1;
  vs[i] = Math.round(Math.sin(i / 1000) * 1e4) / 1e4;
}

function writer(round: number): number {
  const path = `${dir}/writer${round}.sqlite`;
  const store = SessionStore.open(path);
  const dev = store.device({ name: "bank" });
  const ids: number[] = [];
  for (let a = 0; a < ATTRS; a++) {
    ids.push(store.attr(dev, { name: `ch${a}`, type: "number", units: "V" }));
  }
  const w = store.writer;
  const start = performance.now();
  for (let i = 0; i < ROWS; i++) w.add(ts[i]!, ids[i % ATTRS]!, vs[i]!);
  w.flush();
  const ms = performance.now() - start;
  store.close();
  return ROWS / ms * 1000;
}

function raw(round: number): number {
  const path = `${dir}/raw${round}.sqlite`;
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  migrate(db, path);
  const ins = db.prepare("INSERT INTO samples (t, attr_id, value) VALUES (?, ?, ?)");
  const start = performance.now();
  db.exec("BEGIN");
  for (let i = 0; i < ROWS; i++) ins.run(ts[i]!, (i % ATTRS) + 1, vs[i]!);
  db.exec("COMMIT");
  const ms = performance.now() - start;
  db.close();
  return ROWS / ms * 1000;
}

/** Raw multi-row inserts (64 rows per statement, like the writer), one transaction: the writer's own ceiling. */
function rawMulti(round: number): number {
  const path = `${dir}/multi${round}.sqlite`;
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  migrate(db, path);
  const K = 64;
  const ins = db.prepare(
    `INSERT INTO samples (t, attr_id, value) VALUES ${new Array(K).fill("(?,?,?)").join(",")}`,
  );
  const one = db.prepare("INSERT INTO samples (t, attr_id, value) VALUES (?, ?, ?)");
  const args: number[] = new Array(3 * K);
  const start = performance.now();
  db.exec("BEGIN");
  let i = 0;
  for (; i + K <= ROWS; i += K) {
    for (let j = 0; j < K; j++) {
      args[3 * j] = ts[i + j]!;
      args[3 * j + 1] = ((i + j) % ATTRS) + 1;
      args[3 * j + 2] = vs[i + j]!;
    }
    ins.run(...args);
  }
  for (; i < ROWS; i++) one.run(ts[i]!, (i % ATTRS) + 1, vs[i]!);
  db.exec("COMMIT");
  const ms = performance.now() - start;
  db.close();
  return ROWS / ms * 1000;
}

const w: number[] = [];
const r: number[] = [];
const m: number[] = [];
for (let round = 0; round < 3; round++) {
  r.push(raw(round));
  m.push(rawMulti(round));
  w.push(writer(round));
}
await Deno.remove(dir, { recursive: true });
const bestW = Math.max(...w);
const bestR = Math.max(...r);
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(`ingest rows: ${fmt(ROWS)} (${ATTRS} attrs), 3 rounds, best kept`);
console.log(
  `ingest raw node:sqlite single-row inserts, one transaction: ${fmt(bestR)} samples/s (rounds: ${
    r.map(fmt).join(", ")
  })`,
);
console.log(
  `ingest raw node:sqlite 64-row inserts, one transaction: ${
    fmt(Math.max(...m))
  } samples/s (rounds: ${m.map(fmt).join(", ")})`,
);
console.log(
  `ingest session writer (batched, flush every 50,000 rows): ${fmt(bestW)} samples/s (rounds: ${
    w.map(fmt).join(", ")
  })`,
);
console.log(
  `ingest writer / raw single-row: ${(bestW / bestR * 100).toFixed(0)} %; writer / raw 64-row: ${
    (bestW / Math.max(...m) * 100).toFixed(0)
  } %`,
);
const targets = new Targets("ingest");
targets.check("session writer", Math.round(bestW), ">=", 500_000, "samples/s");
targets.check("writer vs raw single-row inserts", Math.round(bestW / bestR * 100), ">=", 50, "%");
targets.finish();
