import assert from "node:assert/strict";
import { ROOT, runCli, runCliOnTerminal, runShell, simBenchDir } from "./run_cli.ts";

/** Records a short session with `monitor` and returns its paths. */
async function recorded(): Promise<{ dir: string; config: string; session: string }> {
  const { dir, config, session } = await simBenchDir("labwire-session-e2e-");
  const r = await runCli([
    "monitor",
    config,
    "--duration",
    "600ms",
    "--quiet",
    "--note",
    "first run",
  ]);
  assert.equal(r.code, 0, r.stderr);
  return { dir, config, session };
}

Deno.test("session info --json: devices, attrs with units, counts, segments, notes", async () => {
  const { dir, session } = await recorded();
  try {
    const r = await runCli(["session", "info", session, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.deepEqual(info.devices.map((d: { name: string }) => d.name), ["dmm", "thermo", "gauge"]);
    const gauge = info.devices[2];
    const pressure = gauge.attrs.find((a: { name: string }) => a.name === "pressure");
    assert.equal(pressure.units, "torr");
    assert.ok(pressure.samples >= 3);
    const heater = info.devices[1].attrs.find((a: { name: string }) => a.name === "heater");
    assert.equal(heater.type, "boolean");
    assert.equal(info.segments.length, 1);
    assert.equal(info.segments[0].reason, "duration reached");
    assert.equal(info.events.note, 1);
    assert.ok(info.samples > 20);
    assert.ok(info.last > info.first);
    const text = await runCliOnTerminal(["session", "info", session]);
    assert.match(text.stdout, /pressure\s+torr/);
    assert.match(text.stdout, /duration reached/);
    // a pipe gets data, as the output contract says: the --json documents, not the text
    const piped = await runCli(["session", "info", session]);
    assert.deepEqual(JSON.parse(piped.stdout), info);
    const listed = await runCli(["session", "list", dir]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      JSON.parse(listed.stdout),
      JSON.parse((await runCli(["session", "list", dir, "--json"])).stdout),
    );
    assert.equal(JSON.parse(listed.stdout)[0].path, session);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("session export: CSV and NDJSON carry the same values; units line; selections", async () => {
  const { dir, session } = await recorded();
  try {
    const csv = await runCli(["session", "export", session, "--format", "csv"]);
    assert.equal(csv.code, 0, csv.stderr);
    const lines = csv.stdout.trim().split("\n");
    const header = lines[0]!.split(",");
    const units = lines[1]!.split(",");
    assert.equal(header[0], "t");
    assert.equal(units[header.indexOf("gauge.pressure")], "torr");
    assert.equal(units[header.indexOf("dmm.voltage")], "V");
    const nd = await runCli(["session", "export", session, "--format", "ndjson"]);
    const samples = nd.stdout.trim().split("\n").map((l) => JSON.parse(l));
    // Every NDJSON sample appears in a CSV row of its timestamp, in its column (a second value
    // of one column at the same millisecond starts a second row with that timestamp).
    const rows = new Map<number, string[][]>();
    for (const l of lines.slice(2)) {
      const cells = l.split(",");
      const t = Number(cells[0]);
      rows.set(t, [...rows.get(t) ?? [], cells]);
    }
    let numeric = 0;
    for (const s of samples) {
      if (typeof s.value !== "number") continue;
      const atT = rows.get(s.t);
      assert.ok(atT, `a CSV row at t=${s.t}`);
      const column = header.indexOf(`${s.device}.${s.attr}`);
      const cells = atT.map((row) => row[column]).filter((c) => c !== "");
      assert.ok(
        cells.some((c) => Number(c) === s.value),
        `${s.device}.${s.attr}=${s.value} at t=${s.t} in the CSV (found ${cells.join(" ")})`,
      );
      numeric++;
    }
    assert.ok(numeric > 20);
    assert.ok(
      samples.some((s) =>
        s.device === "thermo" && s.attr === "heater" && typeof s.value === "boolean"
      ),
    );

    const t0 = samples[0].t, t1 = samples[samples.length - 1].t;
    const mid = (t0 + t1) / 2;
    // dmm.voltage as NDJSON, within a time range
    const voltages = (range: string[]) =>
      runCli([
        "session",
        "export",
        session,
        "--format",
        "ndjson",
        "--attrs",
        "dmm.voltage",
        ...range,
      ]);
    const some = await voltages(["--from", String(mid)]);
    const picked = some.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(picked.length > 0);
    assert.ok(picked.every((s) => s.device === "dmm" && s.attr === "voltage" && s.t >= mid));
    const iso = await voltages(["--to", new Date(t0 * 1000 - 1000).toISOString()]);
    assert.equal(iso.stdout, "");

    const bad = await runCli(["session", "export", session]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--format csv/);
    const typo = await runCli([
      "session",
      "export",
      session,
      "--format",
      "csv",
      "--attrs",
      "dmm.voltag",
    ]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /dmm\.voltage/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("session tail follows a live session; session list shows it recording", async () => {
  const { dir, config, session } = await recorded();
  try {
    const monitor = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}main.ts`, "monitor", config, "--quiet"],
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const tail = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}main.ts`, "session", "tail", session, "--poll", "100ms"],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const started = Date.now() / 1000;
    const reader = tail.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const fresh = () =>
      text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
        .filter((x) => x.attr !== undefined && x.t > started);
    while (fresh().length < 10) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const list = await runCli(["session", "list", dir, "--json"]);
    tail.kill("SIGINT");
    monitor.kill("SIGTERM");
    // Read on to the end: closing the pipe first could end tail by EPIPE (exit 0, as a closed
    // `| head` should) before it handled the SIGINT this checks.
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    assert.equal((await tail.status).code, 130);
    assert.equal((await monitor.status).code, 0);
    assert.ok(fresh().length >= 10, "samples recorded after tail started");
    assert.ok(text.includes('"event":"start"'), "the new segment's start event");
    const sessions = JSON.parse(list.stdout);
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0].recording, true);
    assert.equal(sessions[0].devices, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("session: bad subcommands and files are usage errors", async () => {
  const a = await runCli(["session", "frobnicate"]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /list, info, export, tail/);
  const b = await runCli(["session", "info", "/nonexistent/x.sqlite"]);
  assert.equal(b.code, 2);
  // a missing file or folder in plain words (not the OS's), a subcommand named once
  assert.match(b.stderr, /^labwire session info: no session file \/nonexistent\/x\.sqlite\n/);
  const t = await runCli(["session", "tail"]);
  assert.match(t.stderr, /^labwire session tail: give the session FILE\n/);
  const l = await runCli(["session", "list", "/nonexistent"]);
  assert.equal(l.code, 2);
  assert.match(l.stderr, /^labwire session list: no directory \/nonexistent\n/);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/x.sqlite`, "not a database at all, just text".repeat(10));
  const c = await runCli(["session", "info", `${dir}/x.sqlite`]);
  await Deno.remove(dir, { recursive: true });
  assert.equal(c.code, 2);
  assert.match(c.stderr, /x\.sqlite/);
});

Deno.test("session tail of a finished session into | head -1 ends with exit 0, not waiting for rows", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-session-tail-" });
  const session = `${dir}/scan.sqlite`;
  try {
    const scan = await runCli(["scan", "--demo", "count", "2", "-d", "det.counts", "-s", session]);
    assert.equal(scan.code, 0, scan.stderr);
    // A scan's session has events but no samples: tail writes its last event, once, and nothing
    // is recorded any more, so no later write tells it the reader left; the hang guard is
    // timeout's exit 124.
    const r = await runShell(
      `export -f labwire; timeout 30 bash -o pipefail -c "labwire session tail ${session} --lines 1 | head -1"`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split("\n").length, 2, r.stdout);
    assert.ok(JSON.parse(r.stdout).t > 0, r.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
