import assert from "node:assert/strict";
import { SessionReader } from "../../lib/session/reader.ts";
import { sleep } from "../../lib/schedule/periodic.ts";
import { ROOT, runCli, simBenchDir } from "./run_cli.ts";

function bench(): Promise<{ dir: string; config: string; session: string }> {
  return simBenchDir("labwire-monitor-e2e-");
}

function spawnMonitor(args: string[], stdout: "piped" | "null" = "null"): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, "monitor", ...args],
    env: { NO_COLOR: "1" },
    cwd: ROOT,
    stdin: "null",
    stdout,
    stderr: "piped",
  }).spawn();
}

/** Waits until the session holds at least `n` samples (the monitor is up and flushing). */
async function waitForSamples(path: string, n: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      const r = SessionReader.open(path);
      const count = r.attrs().reduce((sum, a) => sum + a.count, 0);
      r.close();
      if (count >= n) return;
    } catch {
      // Not created yet.
    }
    await sleep(100);
  }
  throw new Error(`no ${n} samples in ${path} after 30 s`);
}

Deno.test("monitor: kill -9 loses at most the last second; a restart appends a segment", async () => {
  const { dir, config, session } = await bench();
  try {
    const child = spawnMonitor([config, "--quiet"]);
    await waitForSamples(session, 20);
    await sleep(1500);
    const killedAt = Date.now() / 1000;
    child.kill("SIGKILL");
    const out = await child.output();
    assert.notEqual(out.code, 0);

    const r = SessionReader.open(session);
    const last = r.timeRange().last!;
    // A killed run's segment ends at its last record: its last sample, or a later event (a
    // missed deadline or an alarm logged after the last chunk on a loaded machine).
    const segs = r.segments();
    const lastRecord = Math.max(
      last,
      ...r.events().filter((e) => e.segment === segs[0]?.id).map((e) => e.t),
    );
    r.close();
    assert.ok(
      killedAt - last <= 1,
      `last sample ${(killedAt - last).toFixed(3)} s before the kill`,
    );
    assert.equal(segs.length, 1);
    assert.equal(segs[0]!.stop, undefined, "the killed run could not close its segment");

    // The same command again (default session path beside the config) appends.
    const again = await runCli(["monitor", config, "--duration", "500ms", "--quiet"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /segment 2/);
    const r2 = SessionReader.open(session);
    try {
      const segs2 = r2.segments();
      assert.equal(segs2.length, 2);
      assert.match(segs2[0]!.reason!, /without a clean stop/);
      assert.ok(
        Math.abs(segs2[0]!.stop! - lastRecord) < 1e-6,
        "crashed segment ends at its last sample or event",
      );
      assert.equal(segs2[1]!.reason, "duration reached");
      assert.deepEqual(segs2[1]!.command, ["monitor", config, "--duration", "500ms", "--quiet"]);
      assert.ok(r2.timeRange().last! > killedAt, "new samples after the restart");
      assert.match(r2.configText()!, /sim:\/\/dmm/);
      // Counts (kept by the writer every few seconds) include what the killed run wrote last.
      const counted = r2.attrs().reduce((n, a) => n + a.count, 0);
      assert.equal(counted, [...r2.samples()].length);
    } finally {
      r2.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("monitor: SIGINT flushes and exits 130, SIGTERM exits 0; both close the segment", async () => {
  const { dir, config, session } = await bench();
  try {
    for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 0]] as const) {
      const child = spawnMonitor([config, "--session", session, "--quiet"]);
      await waitForSamples(session, sig === "SIGINT" ? 10 : 200);
      child.kill(sig);
      const out = await child.output();
      assert.equal(out.code, code, new TextDecoder().decode(out.stderr));
    }
    const r = SessionReader.open(session);
    try {
      const segs = r.segments();
      assert.deepEqual(segs.map((s) => s.reason), [
        "interrupted by SIGINT",
        "interrupted by SIGTERM",
      ]);
      assert.ok(segs.every((s) => s.stop !== undefined));
      const kinds = r.events().map((e) => e.kind);
      assert.deepEqual(kinds.filter((k) => k === "start" || k === "stop"), [
        "start",
        "stop",
        "start",
        "stop",
      ]);
    } finally {
      r.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("monitor: NDJSON in a pipe, one object per reading; a closed pipe exits 0 quietly", async () => {
  const { dir, config, session } = await bench();
  try {
    const child = spawnMonitor([config, "--session", session], "piped");
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (text.split("\n").length < 7) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader.cancel();
    const stderr = await new Response(child.stderr).text();
    assert.equal((await child.status).code, 0);
    assert.doesNotMatch(stderr, /error|Error/);
    const lines = text.split("\n").slice(0, 6).map((l) => JSON.parse(l));
    for (const l of lines) {
      assert.equal(typeof l.t, "number");
      assert.ok(["dmm", "thermo", "gauge"].includes(l.device));
    }
    const dmm = lines.find((l) => l.device === "dmm");
    if (dmm) assert.equal(typeof dmm.voltage, "number");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("monitor: an unwritable session path or a busy session is a clear error at start", async () => {
  const { dir, config, session } = await bench();
  try {
    await Deno.writeTextFile(`${dir}/plainfile`, "");
    const bad = await runCli(["monitor", config, "--session", `${dir}/plainfile/run.sqlite`]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /plainfile/);
    assert.match(bad.stderr, /--session FILE/);
    assert.equal(bad.stdout, "");

    const first = spawnMonitor([config, "--session", session, "--quiet"]);
    await waitForSamples(session, 5);
    const second = await runCli(["monitor", config, "--session", session]);
    first.kill("SIGTERM");
    assert.equal((await first.output()).code, 0);
    assert.equal(second.code, 2);
    assert.match(second.stderr, /another labwire process is recording into this session/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("monitor: usage errors", async () => {
  const r = await runCli(["monitor", "a.toml", "b.toml"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /one CONFIG file/);
  const f = await runCli(["monitor", "--demo", "--format", "xml"]);
  assert.equal(f.code, 2);
  assert.match(f.stderr, /--format/);
});
