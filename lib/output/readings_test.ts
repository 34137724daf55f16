import assert from "node:assert/strict";
import { attr } from "../device/attr.ts";
import { readingColumns, readingLines } from "./readings.ts";

const attrs = new Map([
  ["gauge", [
    attr("pressure", "number", { status: true }),
    attr("zero", "number", { status: false }),
  ]],
  ["thermo", [
    attr("temperature", "number", { status: true }),
    attr("pressure", "number", { status: false }),
  ]],
]);

Deno.test("readingColumns: status attributes (or the ones asked for) once each, then error", () => {
  assert.deepEqual(readingColumns(attrs), ["t", "device", "pressure", "temperature", "error"]);
  assert.deepEqual(readingColumns(attrs, ["zero", "pressure"]), [
    "t",
    "device",
    "pressure",
    "zero",
    "error",
  ]);
});

Deno.test("readingLines: NDJSON lines and CSV rows of the same readings, written per tick", () => {
  const r = { t: 1.5, device: "gauge", values: { pressure: 3 } };
  const bad = { t: 2, device: "thermo", values: {}, error: "no answer" };
  const out: string[] = [];
  const nd = readingLines("ndjson", { time: {}, target: (s) => out.push(s) });
  nd.emit(r);
  nd.emit(bad);
  assert.equal(out.length, 0, "batched until the tick ends");
  nd.finish();
  assert.deepEqual(out, [
    '{"t":1.5,"device":"gauge","pressure":3}\n{"t":2,"device":"thermo","error":"no answer"}\n',
  ]);
  const rows: string[] = [];
  const csv = readingLines("csv", { time: {}, attrs, target: (s) => rows.push(s) });
  csv.emit(r);
  csv.emit(bad);
  csv.finish();
  assert.equal(
    rows.join(""),
    "t,device,pressure,temperature,error\n1.5,gauge,3,,\n2,thermo,,,no answer\n",
  );
});
