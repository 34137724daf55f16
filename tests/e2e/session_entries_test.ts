/**
 * `labwire session note|add` and `[session.parameters]` (issue 14): notes and manual values go
 * into a session while `monitor` records into it, and `session info` shows them with the
 * parameters of the config — all as real processes.
 */
import assert from "node:assert/strict";
import { ROOT, runCli, runCliOnTerminal } from "./run_cli.ts";

const CONFIG = `
[devices.thermo]
address = "sim://thermo?seed=2"
interval = "100ms"

[session]
path = "p.session.sqlite"

[session.parameters]
sample = "Cu-12"
flow_sccm = 20
cooled = true
`;

Deno.test("notes and manual values recorded while monitor runs; info shows them and the parameters", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-entries-" });
  try {
    await Deno.writeTextFile(`${dir}/p.toml`, CONFIG);
    const session = `${dir}/p.session.sqlite`;
    const monitor = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}main.ts`, "monitor", `${dir}/p.toml`, "--duration", "6s"],
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // the monitor has created the session once its first samples are in
    for (let i = 0; i < 100; i++) {
      try {
        if (Deno.statSync(session).size > 0) break;
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    const note = await runCli(["session", "note", session, "valve V3 opened, pumping"]);
    assert.equal(note.code, 0, note.stderr);
    assert.match(note.stderr, /^note \d+ added to .*p\.session\.sqlite at /);
    const add = await runCli(["session", "add", session, "flow_sccm=25", "valve=open", "ok=true"]);
    assert.equal(add.code, 0, add.stderr);
    const out = await monitor.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));

    const info = await runCli(["session", "info", session, "--json"]);
    assert.equal(info.code, 0, info.stderr);
    const s = JSON.parse(info.stdout);
    assert.deepEqual(s.parameters, { sample: "Cu-12", flow_sccm: 20, cooled: true });
    assert.equal(s.notes.length, 1);
    assert.equal(s.notes[0].message, "valve V3 opened, pumping");
    assert.equal(s.notes[0].segment, 1, "in the segment being recorded");
    assert.deepEqual(s.entries[0].data, { flow_sccm: 25, valve: "open", ok: true });
    assert.ok(s.samples > 0, "the monitor kept recording around them");
    const text = await runCliOnTerminal(["session", "info", session]);
    assert.match(text.stdout, /parameters\n {2}sample +"Cu-12"\n {2}flow_sccm +20\n/);
    assert.match(
      text.stdout,
      /notes and entries\n.* note {3}valve V3 opened, pumping\n.* entry {2}flow_sccm=25 valve="open" ok=true\n/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("session note/add and [session.parameters] mistakes are usage errors (exit 2)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-entries-" });
  try {
    const missing = await runCli(["session", "note", `${dir}/none.sqlite`, "hello"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no session file/);
    const bad = await runCli(["session", "add", `${dir}/none.sqlite`, "flow"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /expected KEY=VALUE, got "flow"/);
    const empty = await runCli(["session", "add", `${dir}/none.sqlite`]);
    assert.equal(empty.code, 2);
    await Deno.writeTextFile(
      `${dir}/p.toml`,
      CONFIG.replace("cooled = true", "cooled = [1, 2]"),
    );
    const cfg = await runCli(["read", "-c", `${dir}/p.toml`, "thermo"]);
    assert.equal(cfg.code, 2);
    assert.match(
      cfg.stderr,
      /session\.parameters\.cooled: expected a number, a string or true\/false/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
