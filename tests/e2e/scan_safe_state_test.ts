/**
 * `labwire scan` interrupted with Ctrl-C leaves its positioner in the device's `safe_state`,
 * says so on stderr and records it as a `safe_state` session event.
 */
import assert from "node:assert/strict";
import { ascan, interruptAfterLines } from "./run_cli.ts";

Deno.test("scan: Ctrl-C applies the positioner's safe state, recorded in the session", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-scan-safe-" });
  try {
    await Deno.writeTextFile(
      `${dir}/bench.toml`,
      `[devices.motor]
address = "sim://motor?velocity=1e6&min=-10&max=10"
safe_state = { position = -3 }

[devices.det]
address = "sim://det?seed=5&motor=motor"
`,
    );
    const { code, stderr: err, sent, hung } = await interruptAfterLines([
      "scan",
      "--config",
      `${dir}/bench.toml`,
      "--session",
      `${dir}/s.sqlite`,
      ...ascan(0, 1, 1_000_000),
    ], { cwd: dir, lines: 100, guardMs: 15_000 });
    assert.ok(sent && !hung, err);
    assert.equal(code, 130, err);
    assert.match(err, /safe state of motor applied \(scan stopped\): position=-3/);
    const { SessionReader } = await import("../../lib/session/reader.ts");
    const reader2 = SessionReader.open(`${dir}/s.sqlite`);
    const events = reader2.events({ kinds: ["safe_state"] }).map((e) => e.message);
    reader2.close();
    assert.deepEqual(events, ["safe state of motor applied (scan stopped): position=-3"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
