import assert from "node:assert/strict";
import { type AlarmEvent, formatEvent, isEventLine } from "./event.ts";

const EVENT: AlarmEvent = {
  t: Date.UTC(2026, 0, 15, 4, 34, 12) / 1000,
  name: "hot",
  kind: "threshold",
  device: "oven",
  attr: "temp",
  severity: "major",
  state: "active",
  value: 301,
  message: "oven.temp > 300 (value 301)",
};

Deno.test("isEventLine recognises every line formatEvent writes, and nothing else", () => {
  for (const severity of ["minor", "major", "invalid"] as const) {
    for (const state of ["active", "cleared"] as const) {
      assert.ok(isEventLine(formatEvent({ ...EVENT, severity, state })));
    }
  }
  assert.ok(isEventLine("2026-01-15 05:34:12 CET alarm MAJOR active hot: x"));
  assert.ok(isEventLine("2026-01-15 10:04:12 UTC+05:30 alarm MINOR cleared hot: x"));
  assert.ok(isEventLine("2026-01-15T04:34:12.000Z alarm INVALID active hot: x"));
  assert.ok(!isEventLine("alarm rule for oven cannot apply: no attribute temp"));
  assert.ok(!isEventLine("labwire monitor: recording 2 devices into x (segment 1)"));
});

Deno.test("isEventLine holds under another zone (a child process with TZ set)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { formatEvent, isEventLine } from "${new URL("./event.ts", import.meta.url)}";
       console.log(isEventLine(formatEvent(${JSON.stringify(EVENT)})))`,
    ],
    env: { TZ: "Asia/Kolkata" },
    stdout: "piped",
  }).output();
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "true");
});
