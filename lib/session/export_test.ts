import { parse } from "csv-parse/sync";
import assert from "node:assert/strict";
import { exportSession } from "./export.ts";
import { SessionReader } from "./reader.ts";
import { SessionStore } from "./store.ts";

/** A small session: a gauge (pressure in torr, a status string) and a dmm (voltage, trace). */
async function fixture(): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "labwire-export-" });
  const path = `${dir}/x.session.sqlite`;
  const s = SessionStore.open(path);
  const g = s.device({ name: "gauge" });
  const d = s.device({ name: "dmm" });
  const p = s.attr(g, { name: "pressure", type: "number", units: "torr" });
  const st = s.attr(g, { name: "status", type: "string" });
  const v = s.attr(d, { name: "voltage", type: "number", units: "V" });
  const tr = s.attr(d, { name: "trace", type: "number[]" });
  s.attr(d, { name: "never", type: "number", units: "A" });
  for (let i = 0; i < 3; i++) {
    s.writer.add(100 + i, p, 1e-3 * (i + 1));
    s.writer.add(100 + i, st, i === 1 ? 'bad, "quoted"' : "ok");
    s.writer.add(100.5 + i, v, -i);
    s.writer.add(100.5 + i, tr, [i, i + 0.25]);
  }
  s.close();
  return { dir, path };
}

function collect(reader: SessionReader, opts: Parameters<typeof exportSession>[1]): string {
  let out = "";
  exportSession(reader, opts, (t) => (out += t));
  return out;
}

/** RFC 4180 parsing by an independent library, so the writer is not checked against itself. */
function parseCsv(text: string): string[][] {
  return parse(text, { relax_column_count: true }) as string[][];
}

Deno.test("export csv: wide columns, a units line, one row per timestamp; values round-trip", async () => {
  const { dir, path } = await fixture();
  const r = SessionReader.open(path);
  try {
    const rows = parseCsv(collect(r, { format: "csv" }));
    assert.deepEqual(rows[0], ["t", "gauge.pressure", "gauge.status", "dmm.voltage", "dmm.trace"]);
    assert.deepEqual(rows[1], ["s", "torr", "", "V", ""]);
    assert.equal(rows.length, 2 + 6);
    assert.deepEqual(rows[2], ["100", "0.001", "ok", "", ""]);
    assert.deepEqual(rows[3], ["100.5", "", "", "0", "[0,0.25]"]);
    assert.deepEqual(rows[4], ["101", "0.002", 'bad, "quoted"', "", ""]);
    assert.equal(Number(rows[7]![3]), -2);
    assert.deepEqual(JSON.parse(rows[7]![4]!), [2, 2.25]);
  } finally {
    r.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export ndjson: one line per sample, typed values, attr and time selection", async () => {
  const { dir, path } = await fixture();
  const r = SessionReader.open(path);
  try {
    const all = collect(r, { format: "ndjson" }).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(all.length, 12);
    assert.deepEqual(all[0], { t: 100, device: "gauge", attr: "pressure", value: 0.001 });
    assert.deepEqual(all[3], { t: 100.5, device: "dmm", attr: "trace", value: [0, 0.25] });
    const some = collect(r, { format: "ndjson", attrs: ["dmm.voltage"], from: 101, to: 102 })
      .trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(some.map((x) => [x.t, x.value]), [[101.5, -1]]);
    // A whole device, by name.
    const dmm = collect(r, { format: "ndjson", attrs: ["dmm"] }).trim().split("\n");
    assert.equal(dmm.length, 6);
    // An explicitly chosen column without samples keeps its header.
    const never = parseCsv(collect(r, { format: "csv", attrs: ["dmm.never"] }));
    assert.deepEqual(never, [["t", "dmm.never"], ["s", "A"]]);
  } finally {
    r.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export: an unknown column is a usage error with a suggestion", async () => {
  const { dir, path } = await fixture();
  const r = SessionReader.open(path);
  try {
    assert.throws(
      () => collect(r, { format: "csv", attrs: ["gauge.presure"] }),
      (err: Error & { hint?: string }) => {
        assert.match(err.message, /no column "gauge.presure"/);
        assert.match(err.hint ?? "", /gauge\.pressure/);
        return true;
      },
    );
  } finally {
    r.close();
    await Deno.remove(dir, { recursive: true });
  }
});
