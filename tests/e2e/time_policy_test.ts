/**
 * The one time policy end to end (issue 13, finding 4): machine outputs carry epoch seconds or,
 * under `--time iso`, ISO 8601 with the offset; what people read is local time with its zone
 * (`--utc` for UTC); `--from/--to` take local or offset ISO times and durations back from now.
 */
import assert from "node:assert/strict";
import { ascan, runCli, runCliOnTerminal, simBenchDir } from "./run_cli.ts";

const BERLIN = { TZ: "Europe/Berlin" };
const ISO_OFFSET = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0[12]:00$/;

Deno.test("stream: t is epoch seconds by default, ISO with the local offset under --time iso", async () => {
  const epoch = await runCli(["stream", "sim://gauge", "--interval", "50ms", "--count", "1"]);
  assert.equal(epoch.code, 0, epoch.stderr);
  assert.equal(typeof JSON.parse(epoch.stdout).t, "number");
  const iso = await runCli(
    ["stream", "sim://gauge", "--interval", "50ms", "--count", "1", "--time", "iso"],
    { env: BERLIN },
  );
  assert.equal(iso.code, 0, iso.stderr);
  assert.match(JSON.parse(iso.stdout).t, ISO_OFFSET);
  const utc = await runCli(
    ["stream", "sim://gauge", "--count", "1", "--format", "csv", "--time", "iso", "--utc"],
    { env: BERLIN },
  );
  assert.match(utc.stdout.split("\n")[1]!.split(",")[0]!, /T\d\d:\d\d:\d\d\.\d{3}Z$/);
  const bad = await runCli(["stream", "sim://gauge", "--count", "1", "--time", "unix"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--time: "unix" is not one of epoch, iso/);
});

Deno.test("session info, list and export follow the policy; --from without offset is local", async () => {
  const { dir, config, session } = await simBenchDir("labwire-time-policy-");
  try {
    const rec = await runCli(["monitor", config, "--duration", "400ms", "--quiet"]);
    assert.equal(rec.code, 0, rec.stderr);
    const info = await runCliOnTerminal(["session", "info", session], { env: BERLIN });
    assert.match(info.stdout, /time {5}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T → /);
    assert.doesNotMatch(info.stdout, /\d\dZ\b/);
    const utc = await runCliOnTerminal(["session", "info", session, "--utc"], { env: BERLIN });
    assert.match(utc.stdout, /time {5}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC → /);
    const list = await runCliOnTerminal(["session", "list", dir], { env: BERLIN });
    assert.match(list.stdout, / CES?T → .* CES?T /);

    const json = JSON.parse((await runCli(["session", "info", session, "--json"])).stdout);
    assert.equal(typeof json.first, "number");
    assert.equal(typeof json.created, "number");
    const isoJson = JSON.parse(
      (await runCli(["session", "info", session, "--json", "--time", "iso"], { env: BERLIN }))
        .stdout,
    );
    assert.match(isoJson.first, ISO_OFFSET);
    assert.match(isoJson.segments[0].start, ISO_OFFSET);

    const nd = await runCli(["session", "export", session, "--format", "ndjson"]);
    const samples = nd.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const last = samples.at(-1).t as number;
    // The last sample's time written as Berlin wall-clock time without an offset.
    const wall = new Date(Math.round(last * 1000) + 3600_000 * berlinOffsetHours(last))
      .toISOString().slice(0, 23);
    const from = await runCli(
      ["session", "export", session, "--format", "ndjson", "--from", wall],
      { env: BERLIN },
    );
    const picked = from.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(picked.length > 0 && picked.every((s) => s.t >= last), from.stderr);
    const recent = await runCli(["session", "export", session, "--format", "csv", "--from", "-1h"]);
    assert.ok(recent.stdout.split("\n").length > 3, "the last hour has the session's rows");
    const isoCsv = await runCli(
      ["session", "export", session, "--format", "csv", "--time", "iso"],
      { env: BERLIN },
    );
    assert.match(isoCsv.stdout.split("\n")[2]!.split(",")[0]!, ISO_OFFSET);
    const badFrom = await runCli(["session", "export", session, "--format", "csv", "--from", "x"]);
    assert.equal(badFrom.code, 2);
    assert.match(badFrom.stderr, /--from: "x" is not a time/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scan-only sessions: export --scan N needs no --format; list shows scans and a time range", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-scan-only-" });
  const session = `${dir}/scan.session.sqlite`;
  try {
    const scan = await runCli([
      "scan",
      "--devices",
      "sim://motor,sim://det",
      "--session",
      session,
      ...ascan(0, 1, 3),
    ]);
    assert.equal(scan.code, 0, scan.stderr);
    const exported = await runCli(["session", "export", session, "--scan", "1"], { env: BERLIN });
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /^# labwire scan 1\n/);
    assert.match(exported.stdout, /# started: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T\n/);
    assert.match(exported.stdout, /\npoint,t,motor\.position,motor\.position_target,det\.counts\n/);
    const list = await runCliOnTerminal(["session", "list", dir], { env: BERLIN });
    assert.equal(list.code, 0, list.stderr);
    assert.doesNotMatch(list.stdout, /—/);
    assert.match(list.stdout, / CES?T → .* CES?T {2}1 scan, 2 devices, 1 segment\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Berlin's offset from UTC at `t`, hours (1 in winter, 2 in summer). */
function berlinOffsetHours(t: number): number {
  const name = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Europe/Berlin",
    timeZoneName: "short",
  }).formatToParts(new Date(t * 1000)).find((p) => p.type === "timeZoneName")?.value;
  return name === "CEST" ? 2 : 1;
}
