import assert from "node:assert/strict";
import { renderSummary, type SessionSummary } from "./info.ts";

Deno.test("renderSummary: the scan list's columns line up whatever the widths of state and points", () => {
  const summary: SessionSummary = {
    path: "run.db",
    bytes: 4096,
    samples: 0,
    devices: [],
    segments: [],
    events: {},
    missed_deadlines: 0,
    alarms: [],
    errors: [],
    tasks: [],
    scans: [
      { id: 1, state: "done", command: "labwire scan motor 0 1 5 det", points: 5, total: 5 },
      {
        id: 2,
        state: "interrupted",
        command: "labwire scan motor 0 1 100 det",
        points: 37,
        total: 100,
      },
    ],
    parameters: {},
    notes: [],
    entries: [],
  };
  const text = renderSummary(summary, { utc: true });
  const scans = text.slice(text.indexOf("scans\n") + "scans\n".length).trimEnd().split("\n");
  assert.deepEqual(scans, [
    "    1  done         5/5 points     labwire scan motor 0 1 5 det",
    "    2  interrupted  37/100 points  labwire scan motor 0 1 100 det",
  ]);
});
