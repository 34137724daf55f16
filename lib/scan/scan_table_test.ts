import assert from "node:assert/strict";
import { formatEta, progressLine, ScanTable } from "./scan_table.ts";
import { paint } from "../output/terminal.ts";

Deno.test("progress line and ETA formatting", () => {
  assert.equal(progressLine(7, 21, 2, 21), "[#######--------------] 7/21 33% · ETA 2 s");
  assert.equal(progressLine(0, 4, undefined, 4), "[----] 0/4 0%");
  assert.equal(formatEta(125), "2 min 05 s");
  assert.equal(formatEta(3720), "1 h 02 min");
  assert.equal(formatEta(NaN), "?");
});

Deno.test("the table prints a header with units, one aligned row per point, and progress", () => {
  let out = "";
  const progress: string[] = [];
  let clock = 0;
  const t = new ScanTable({
    write: (s) => out += s,
    progress: (s) => progress.push(s),
    paint: paint(false),
    positioners: ["motor.position"],
    detectors: ["det.counts", "dmm.voltage"],
    // det.counts counts "counts": its header says so once, not "det.counts (counts)".
    units: { "motor.position": "mm", "dmm.voltage": "V", "det.counts": "counts" },
    precision: { "motor.position": 2 },
    total: 4,
    done: 1,
    now: () => clock,
  });
  clock = 1000;
  t.point({ index: 1, t: 0, positions: [1], readbacks: [1], values: [120, 1.5] });
  clock = 2000;
  t.point({ index: 2, t: 0, positions: [2], readbacks: [2.004], values: [80, null] });
  t.finish();
  const lines = out.trimEnd().split("\n");
  assert.equal(lines.length, 3);
  assert.deepEqual(lines[0]!.trim().split(/\s{2,}/), [
    "#",
    "motor.position (mm)",
    "det.counts",
    "dmm.voltage (V)",
  ]);
  assert.deepEqual(lines[1]!.trim().split(/\s+/), ["1", "1.00", "120", "1.5"]);
  assert.deepEqual(lines[2]!.trim().split(/\s+/), ["2", "2.00", "80"]);
  assert.equal(lines[1]!.length, lines[0]!.length, "rows align with the header");
  // one point in 1 s with two to go: ETA 2 s; two in 2 s with one to go: ETA 1 s
  assert.ok(progress.some((p) => p.includes("2/4 50% · ETA 2 s")), progress.join("|"));
  assert.ok(progress.some((p) => p.includes("3/4 75% · ETA 1 s")), progress.join("|"));
  assert.equal(progress.at(-1), "\r\x1b[K", "finish clears the bar");
});
