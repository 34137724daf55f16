/**
 * `monitor` as a process against faults: a hung instrument, a kill -9, a disk too full to start.
 */
import assert from "node:assert/strict";
import { SessionReader } from "../../lib/session/reader.ts";
import { hungServer, writeHungBench } from "./hung_server.ts";
import { spawnLabwire } from "./labwire_process.ts";
import { runCli, runCliOnTerminal } from "./run_cli.ts";
import { until } from "./serve_fixture.ts";
import { fill, smallDisk, unmount } from "../fixtures/small_disk.ts";

interface Info {
  segments: { state: string; last?: number; stop?: number; reason?: string }[];
  devices: { name: string; attrs: { name: string; samples: number }[] }[];
  samples: number;
}

async function info(path: string): Promise<Info> {
  const r = await runCli(["session", "info", path, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

Deno.test("monitor with a hung device samples the others from the first tick and records the hung one's wait as gaps", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-hung-" });
  const hung = hungServer();
  try {
    await writeHungBench(`${dir}/bench.toml`, hung);
    const session = `${dir}/s.session.sqlite`;
    const p = spawnLabwire(
      ["monitor", `${dir}/bench.toml`, "--session", session, "--json"],
      {},
      { stdout: true },
    );
    try {
      await until(
        () => p.out.filter((l) => l.includes('"device":"good"')).length >= 5,
        20_000,
        "five readings of the good device",
      );
      assert.ok(!p.out.some((l) => l.includes('"device":"hung"')), "the hung one has not answered");
    } finally {
      assert.equal(await p.stop("SIGINT"), 130, p.lines.join("\n"));
    }
    const s = await info(session);
    const good = s.devices.find((d) => d.name === "good")!;
    assert.ok(good.attrs.find((a) => a.name === "pressure")!.samples >= 5);
    const reader = SessionReader.open(session);
    try {
      // Not a speed figure: the old start waited 5 s on the hung device's attributes before
      // sampling anyone; half of that separates "waited for it" from "did not".
      const segment = reader.segments()[0]!;
      const first = reader.select(["good.pressure"])[0]!.first!;
      assert.ok(
        first - segment.start < 2.5,
        `first good sample ${first - segment.start} s after start`,
      );
      const hungGaps = reader.events({ kinds: ["gap"] }).filter((e) => e.device === "hung");
      assert.ok(hungGaps.length > 0, "the hung device's wait is in the session as gaps");
      assert.ok(
        reader.events({ kinds: ["gap"] }).every((e) => e.device === "hung"),
        "the good device missed no deadline",
      );
    } finally {
      reader.close();
    }
  } finally {
    hung.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a monitor killed with -9 leaves a segment that session info shows as interrupted, with its last sample", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-kill9-" });
  try {
    const session = `${dir}/s.session.sqlite`;
    const p = spawnLabwire(
      ["monitor", "--demo", "--session", session, "--interval", "100ms", "--json"],
      {},
      { stdout: true },
    );
    await until(() => p.out.length >= 20, 20_000, "readings");
    // Written within 100 ms of each sample: give the last ones time to land, then kill.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await p.stop("SIGKILL"), 137);
    const s = await info(session);
    assert.equal(s.segments.length, 1);
    assert.equal(s.segments[0]!.state, "interrupted");
    assert.equal(s.segments[0]!.stop, undefined);
    assert.equal(typeof s.segments[0]!.last, "number");
    const text = await runCliOnTerminal(["session", "info", session]);
    assert.match(text.stdout, /interrupted \(last sample \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+\)/);
    assert.doesNotMatch(text.stdout, /running/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("monitor refusing to start on a nearly full disk leaves no session file", async () => {
  const dir = await smallDisk(8);
  if (!dir) return;
  try {
    const r = await runCli(["monitor", "--demo", "--session", `${dir}/s.session.sqlite`]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /only .* free on its disk \(need at least 67\.1 MB\)/);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await unmount(dir);
  }
});

Deno.test("monitor on a disk that fills up keeps sampling and printing, and resumes recording when space returns", async () => {
  const dir = await smallDisk(80);
  if (!dir) return;
  try {
    const session = `${dir}/s.session.sqlite`;
    const p = spawnLabwire(
      ["monitor", "--demo", "--session", session, "--interval", "100ms", "--json"],
      {},
      { stdout: true },
    );
    try {
      await p.waitFor(/recording \d+ devices/);
      const filler = await fill(dir);
      await p.waitFor(/writing the session .* failed: .*full.*; still sampling/i, 20_000);
      const printed = p.out.length;
      await until(() => p.out.length > printed + 20, 20_000, "readings printed while full");
      await Deno.remove(filler);
      await p.waitFor(/the session is written again after/, 60_000);
    } finally {
      assert.equal(await p.stop("SIGINT"), 130, p.lines.join("\n"));
    }
    assert.ok(!p.lines.some((l) => /unhandled/i.test(l)), p.lines.join("\n"));
    assert.ok(
      p.lines.some((l) => /\d+ failed session writes, 0 samples dropped/.test(l)),
      p.lines.join("\n"),
    );
    const r = SessionReader.open(session);
    try {
      assert.equal(r.events({ kinds: ["store"] }).length, 1);
      assert.equal(r.segments()[0]!.state, "stopped");
    } finally {
      r.close();
    }
  } finally {
    await unmount(dir);
  }
});
