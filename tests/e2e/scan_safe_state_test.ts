/**
 * `labwire scan` interrupted with Ctrl-C leaves its positioner in the device's `safe_state`,
 * says so on stderr and records it as a `safe_state` session event.
 */
import assert from "node:assert/strict";
import { ROOT } from "./run_cli.ts";

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
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}main.ts`,
        "scan",
        "--config",
        `${dir}/bench.toml`,
        "--session",
        `${dir}/s.sqlite`,
        "ascan",
        "motor.position",
        "0",
        "1",
        "1000000",
        "-d",
        "det.counts",
      ],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let lines = 0;
    let guard: ReturnType<typeof setTimeout> | undefined;
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      lines += value.split("\n").length - 1;
      if (guard === undefined && lines >= 100) {
        child.kill("SIGINT");
        // a hang guard, not a timing figure
        guard = setTimeout(() => child.kill("SIGKILL"), 15_000);
      }
    }
    const status = await child.status;
    clearTimeout(guard);
    const err = await stderr;
    assert.equal(status.code, 130, err);
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
