/**
 * End-to-end tests of the beamline behaviour of `labwire scan` (issue 14): each positioner's own
 * read-back, peak statistics, `--goto`, `lup`, suspenders, baseline, `--set` and detector
 * triggers — as real `labwire scan` processes on `sim://` devices.
 */
import assert from "node:assert/strict";
import { runCli } from "./run_cli.ts";

/** Parses NDJSON stdout into objects. */
function lines(stdout: string): Record<string, unknown>[] {
  return stdout.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

Deno.test("a2scan of two attributes of one device records each one's own read-back", async () => {
  const r = await runCli([
    "scan",
    "--no-session",
    "--devices",
    "sim://motor?velocity=1000",
    "a2scan",
    "motor.position",
    "0",
    "1",
    "motor.velocity",
    "500",
    "1000",
    "3",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const pts = lines(r.stdout);
  assert.deepEqual(pts.map((p) => p["motor.position"]), [0, 0.5, 1]);
  // the velocity's read-back is the velocity, not the motor's position read-back
  assert.deepEqual(pts.map((p) => p["motor.velocity"]), [500, 750, 1000]);
});
