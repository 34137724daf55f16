import assert from "node:assert/strict";
import { UsageError } from "../device/errors.ts";
import { parseTimeArg, readTimeFormat } from "./time_args.ts";

// 2026-01-15 04:34:12.345 UTC (winter: Berlin is CET, UTC+1).
const WINTER = Date.UTC(2026, 0, 15, 4, 34, 12, 345) / 1000;

Deno.test("--time is epoch or iso", () => {
  assert.equal(readTimeFormat(undefined), "epoch");
  assert.equal(readTimeFormat("iso"), "iso");
  assert.throws(() => readTimeFormat("unix"), UsageError);
});

Deno.test("--from/--to: ISO with and without offset, epoch, now and durations back", () => {
  assert.equal(parseTimeArg("1764064800", "--from"), 1764064800);
  assert.equal(parseTimeArg("2025-11-25T10:00:00Z", "--from"), 1764064800);
  assert.equal(parseTimeArg("2025-11-25T11:00:00+01:00", "--from"), 1764064800);
  assert.equal(parseTimeArg("2025-11-25T05:00-0500", "--from"), 1764064800);
  assert.equal(parseTimeArg("2025-11-25 10:00:00.5Z", "--from"), 1764064800.5);
  // Without an offset the time is local.
  const local = new Date(2025, 10, 25, 10, 0, 0).getTime() / 1000;
  assert.equal(parseTimeArg("2025-11-25T10:00", "--from"), local);
  assert.equal(parseTimeArg("2025-11-25", "--from"), new Date(2025, 10, 25).getTime() / 1000);
  assert.equal(parseTimeArg("-1h", "--from", 10_000), 6400);
  assert.equal(parseTimeArg("-30m", "--from", 10_000), 8200);
  assert.equal(parseTimeArg("now", "--to", 10_000), 10_000);
  for (const bad of ["yesterday", "2025-13-01", "2025-02-30T10:00", "-1", "-1x", "25.11.2025"]) {
    assert.throws(() => parseTimeArg(bad, "--from"), (e: Error) => {
      assert.ok(e instanceof UsageError, bad);
      assert.match(e.message, /^--from: ".*" is not a time$/);
      return true;
    });
  }
});

Deno.test("--from without an offset is local: 05:34 in Berlin in winter is 04:34 UTC", async () => {
  const code = `import * as m from "${new URL("./time_args.ts", import.meta.url)}"; ` +
    `console.log(m.parseTimeArg("2026-01-15T05:34:12.345", "--from"), ` +
    `m.parseTimeArg("2026-01-15", "--from"))`;
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { TZ: "Europe/Berlin" },
    stdout: "piped",
  }).output();
  const out = new TextDecoder().decode(run.stdout).trim();
  assert.equal(out, `${WINTER} ${Date.UTC(2026, 0, 14, 23) / 1000}`);
});
