/**
 * The live table in a real terminal: tmux runs `labwire stream`/`monitor` in panes of 80×24,
 * 120×40, 160×40 and 200×50, and `capture-pane` shows what a person sees: one table (each device
 * once), no line wider than the terminal, the status area under the table (active alarms with
 * severity, device.attr, value and since when), and a note naming the columns that did not fit.
 * Raw bytes of the pane (`pipe-pane`) show that `TERM=dumb` gets no cursor movement.
 */
import assert from "node:assert/strict";
import { findProgram, peerTest } from "../peers.ts";
import { ROOT } from "../e2e/run_cli.ts";
import { displayWidth } from "../../lib/output/terminal.ts";

const DEVICES = ["gauge", "thermo", "motor", "dmm", "det"];

/** A tmux server of its own (its own socket), killed at the end. */
class Tmux {
  readonly socket = `labwire-test-${Deno.pid}-${Math.random().toString(36).slice(2, 8)}`;

  run(...args: string[]): string {
    const out = new Deno.Command("tmux", { args: ["-L", this.socket, ...args], stderr: "piped" })
      .outputSync();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return text;
  }

  /** Starts `command` in a detached pane of `columns`×`rows`; the pane stays after it ends. */
  start(columns: number, rows: number, command: string, env: Record<string, string> = {}) {
    const vars = Object.entries({ NO_COLOR: "1", ...env }).map(([k, v]) => `${k}=${v}`).join(" ");
    this.run(
      "new-session",
      "-d",
      "-x",
      String(columns),
      "-y",
      String(rows),
      `cd ${ROOT} && env ${vars} ${Deno.execPath()} run -A main.ts ${command}; ` +
        "echo LABWIRE-EXIT-$?; sleep 600",
    );
  }

  /** The visible screen, one string per line (trailing blanks removed). */
  screen(): string[] {
    return this.run("capture-pane", "-p").split("\n").map((l) => l.trimEnd());
  }

  /** Waits until the screen satisfies `ok`, returning it. */
  async until(ok: (lines: string[]) => boolean, what: string, ms = 60_000): Promise<string[]> {
    const end = Date.now() + ms;
    let lines = this.screen();
    while (!ok(lines)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${lines.join("\n")}`);
      await new Promise((r) => setTimeout(r, 250));
      lines = this.screen();
    }
    return lines;
  }

  close() {
    try {
      this.run("kill-server");
    } catch {
      // already gone
    }
  }
}

const exited = (lines: string[]) => lines.some((l) => l.startsWith("LABWIRE-EXIT-"));

/** One table on screen: each device's row exactly once, no line wider than the terminal. */
function assertOneTable(lines: string[], columns: number) {
  const screen = lines.join("\n");
  for (const line of lines) {
    assert.ok(displayWidth(line) <= columns, `line wider than ${columns}: ${line}\n${screen}`);
  }
  for (const device of DEVICES) {
    const rows = lines.filter((l) => new RegExp(`^(│ )?${device}\\s`).test(l));
    assert.equal(rows.length, 1, `${device} shown ${rows.length} times:\n${screen}`);
  }
  assert.equal(lines.filter((l) => l.startsWith("alarms:")).length, 1, screen);
}

const missing = () => (findProgram("tmux") ? [] : ["tmux"]);

for (const [columns, rows] of [[80, 24], [120, 40], [160, 40], [200, 50]] as const) {
  peerTest(
    `stream --demo in a ${columns}×${rows} tmux pane: one table that fits, alarms under it`,
    missing,
    async () => {
      const tmux = new Tmux();
      try {
        tmux.start(columns, rows, "stream --demo --count 6 --interval 300ms");
        const lines = await tmux.until(exited, "stream to end");
        assert.ok(lines.includes("LABWIRE-EXIT-0"), lines.join("\n"));
        assertOneTable(lines.filter((l) => !l.startsWith("LABWIRE-EXIT-")), columns);
        // The screen shows the last table: every device read 5 or 6 times (a loaded machine
        // may miss one deadline).
        for (const device of DEVICES) {
          assert.ok(
            lines.some((l) => l.includes(device) && /\b[56]\/0\b/.test(l)),
            `${device} 5/0 or 6/0:\n${lines.join("\n")}`,
          );
        }
        if (columns < 175) {
          // The gauge's table is ~175 columns wide: narrower terminals get the compact layout
          // and, when even that does not fit, a note naming the columns left out.
          assert.ok(!lines.some((l) => l.includes("┌")), lines.join("\n"));
          assert.match(lines.join("\n"), /\bpressure\b[\s\S]*\btorr\b/);
        }
        if (columns === 80) {
          const note = lines.find((l) => l.includes("--attrs"));
          assert.ok(note, `no --attrs note:\n${lines.join("\n")}`);
          assert.match(note!, /^\+\d+ columns \(--attrs NAME,… picks them/);
        }
      } finally {
        tmux.close();
      }
    },
  );
}

peerTest(
  "a resized tmux pane (SIGWINCH) still holds one table that fits",
  missing,
  async () => {
    const tmux = new Tmux();
    try {
      tmux.start(200, 50, "stream --demo --count 40 --interval 150ms");
      await tmux.until((l) => l.some((x) => x.includes("gauge")), "first table");
      tmux.run("resize-window", "-x", "90", "-y", "30");
      const lines = await tmux.until(exited, "stream to end");
      assertOneTable(lines.filter((l) => !l.startsWith("LABWIRE-EXIT-")), 90);
    } finally {
      tmux.close();
    }
  },
);

peerTest(
  "monitor in an 80×24 pane shows an active alarm under the table (severity, value, since)",
  missing,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "labwire-tmux-" });
    const tmux = new Tmux();
    try {
      await Deno.writeTextFile(
        `${dir}/bench.toml`,
        `[devices.thermo]
address = "sim://thermo?seed=2"
interval = "200ms"

[devices.dmm]
address = "sim://dmm?seed=4"
interval = "200ms"

[[alarms]]
name = "warm"
device = "thermo"
attr = "temperature"
compare = ">"
trip = 0
severity = "major"
`,
      );
      tmux.start(80, 24, `monitor ${dir}/bench.toml --duration 3s --session ${dir}/s.sqlite`);
      const lines = await tmux.until(exited, "monitor to end");
      const screen = lines.join("\n");
      for (const line of lines) assert.ok(displayWidth(line) <= 80, line);
      assert.ok(lines.includes("alarms: 1 active"), screen);
      assert.match(
        screen,
        /^ {2}MAJOR {3}thermo\.temperature = \d+\.\d+ °C {2}since \d\d:\d\d:\d\d {2}warm$/m,
      );
      // The transition is in the events list too, and not left as a stray stderr line.
      assert.match(screen, /^\d\d:\d\d:\d\d MAJOR warm: /m);
      assert.ok(!/ alarm MAJOR active /.test(screen), screen);
      assert.equal(lines.filter((l) => /^(│ )?thermo\s/.test(l)).length, 1, screen);
    } finally {
      tmux.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

peerTest(
  "TERM=dumb on a terminal: tables are appended, no cursor movement at all",
  missing,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "labwire-tmux-" });
    const tmux = new Tmux();
    try {
      tmux.start(100, 30, "stream --demo thermo dmm --count 3 --interval 300ms", {
        TERM: "dumb",
      });
      tmux.run("pipe-pane", "-o", `cat >> ${dir}/raw`);
      await tmux.until(exited, "stream to end");
      const all = await Deno.readTextFile(`${dir}/raw`);
      // What `deno run` itself prints before labwire starts (its download progress) is not ours.
      const raw = all.slice(all.indexOf("thermo"));
      assert.ok(raw.includes("thermo"), all);
      assert.ok(raw.split("alarms: none active").length >= 2, raw);
      // No CSI sequence: no cursor up, no erase (NO_COLOR is set, so no colour either).
      assert.ok(!raw.includes("\x1b["), JSON.stringify(raw.slice(0, 400)));
    } finally {
      tmux.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
