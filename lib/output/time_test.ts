import assert from "node:assert/strict";
import {
  clockTime,
  humanDateTime,
  humanTime,
  isoWithOffset,
  machineTime,
  zoneName,
} from "./time.ts";

// 2026-01-15 04:34:12.345 UTC (winter: Berlin is CET, UTC+1).
const WINTER = Date.UTC(2026, 0, 15, 4, 34, 12, 345) / 1000;
// 2026-07-15 04:34:12 UTC (summer: Berlin is CEST, UTC+2).
const SUMMER = Date.UTC(2026, 6, 15, 4, 34, 12) / 1000;

/** Runs `code` in a child Deno with TZ set, returning its stdout. */
async function underTz(tz: string, code: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `import * as m from "${new URL("./time.ts", import.meta.url)}"; ${code}`],
    env: { TZ: tz },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success);
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("UTC formatting is explicit and 24-hour", () => {
  assert.equal(clockTime(WINTER, { utc: true }), "04:34:12");
  assert.equal(clockTime(WINTER, { utc: true, ms: true }), "04:34:12.345");
  assert.equal(humanTime(WINTER + 12 * 3600, { utc: true }), "16:34:12 UTC");
  assert.equal(humanDateTime(WINTER, { utc: true }), "2026-01-15 04:34:12 UTC");
  assert.equal(isoWithOffset(WINTER, { utc: true }), "2026-01-15T04:34:12.345Z");
  assert.equal(zoneName(WINTER, { utc: true }), "UTC");
});

Deno.test("local time under TZ=Europe/Berlin says CET/CEST, with the offset in ISO", async () => {
  const code = `console.log([m.humanTime(${WINTER}), m.humanTime(${SUMMER}), ` +
    `m.humanDateTime(${WINTER}), m.isoWithOffset(${WINTER})].join("|"))`;
  assert.equal(
    await underTz("Europe/Berlin", code),
    "05:34:12 CET|06:34:12 CEST|2026-01-15 05:34:12 CET|2026-01-15T05:34:12.345+01:00",
  );
});

Deno.test("a zone without an abbreviation shows its offset", async () => {
  const out = await underTz("Asia/Kolkata", `console.log(m.humanTime(${WINTER}))`);
  assert.match(out, /^10:04:12 (IST|UTC\+05:30)$/);
  const utc = await underTz("UTC", `console.log(m.humanTime(${WINTER}))`);
  assert.equal(utc, "04:34:12 UTC");
});

Deno.test("machine time: epoch seconds to the millisecond by default, ISO with offset under iso", () => {
  assert.equal(machineTime(1764064800.12345), 1764064800.123);
  assert.equal(machineTime(1764064800.5, { time: "iso", utc: true }), "2025-11-25T10:00:00.500Z");
  assert.match(
    String(machineTime(1764064800, { time: "iso" })),
    /^2025-11-2\dT\d\d:\d\d:00\.000(Z|[+-]\d\d:\d\d)$/,
  );
});
