import assert from "node:assert/strict";
import { closedPort, ROOT } from "./run_cli.ts";

/** Runs `labwire read TARGETS…` with the descriptor limit (soft and hard) at `limit`. */
async function readUnderLimit(limit: number, targets: string[], env: Record<string, string>) {
  const out = await new Deno.Command("prlimit", {
    args: [
      `--nofile=${limit}:${limit}`,
      Deno.execPath(),
      "run",
      "-A",
      `${ROOT}main.ts`,
      "read",
      ...targets,
    ],
    env: { NO_COLOR: "1", ...env },
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("devices with a connection each are refused beyond the descriptor limit, ca:// PVs are not", async () => {
  const port = closedPort();
  const n = 1100; // 1,100 + the 64 kept for the rest is more than 1,024
  const gauges = Array.from({ length: n }, () => `baratron://127.0.0.1:${port}`);
  const refused = await readUnderLimit(1024, gauges, {});
  assert.equal(refused.code, 2, refused.stderr.slice(0, 300));
  assert.match(refused.stderr, /1100 devices need about 1164 open files/);
  // PVs share one circuit per server: 1,100 of them are one UDP socket and a circuit or two.
  const env = {
    EPICS_CA_AUTO_ADDR_LIST: "NO",
    EPICS_CA_ADDR_LIST: "127.0.0.1",
    EPICS_CA_SERVER_PORT: String(port),
    EPICS_CA_REPEATER_PORT: String(port),
  };
  const pvs = Array.from({ length: n }, (_, i) => `ca://NO:SUCH:PV${i}?timeout=200ms`);
  const read = await readUnderLimit(1024, pvs, env);
  assert.doesNotMatch(read.stderr, /open files/);
  assert.equal(read.code, 1, read.stderr.slice(0, 300)); // not found: a device error, not usage
  assert.match(read.stderr, /PV NO:SUCH:PV0 not found/);
});
