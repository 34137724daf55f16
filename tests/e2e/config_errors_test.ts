import assert from "node:assert/strict";
import { runCli } from "./run_cli.ts";

// Every config or usage mistake ends every verb with exit 2 and a message naming where the
// mistake is (file and key, flag or address), before any device is contacted.

const TYPO = '[devices.g]\naddress = "baratron://10.0.0.5"\nintervall = "1s"\n';
const BARE = '[devices.g]\naddress = "sim://gauge"\ninterval = 100\n';
const ZERO = '[devices.g]\naddress = "sim://gauge"\ninterval = "0s"\n';

Deno.test("config and usage mistakes exit 2 in every verb, naming the file and key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/typo.toml`, TYPO);
    await Deno.writeTextFile(`${dir}/bare.toml`, BARE);
    await Deno.writeTextFile(`${dir}/zero.toml`, ZERO);
    const typo = /typo\.toml: devices\.g\.intervall: unknown key.*\(did you mean "interval"\?\)/;
    const cases: [string[], RegExp][] = [
      [["read", "-c", "typo.toml", "g"], typo],
      [["write", "-c", "typo.toml", "g", "x=1"], typo],
      [["stream", "-c", "typo.toml", "g"], typo],
      [["monitor", "typo.toml"], typo],
      [["serve", "typo.toml"], typo],
      [["serve", "typo.toml", "--print-systemd-unit"], typo],
      [["scan", "-c", "typo.toml", "count", "2", "-d", "g.pressure"], typo],
      [
        ["read", "-c", "bare.toml", "g"],
        /bare\.toml: devices\.g\.interval: 100 has no unit: write "100ms" or "100s"/,
      ],
      [
        ["monitor", "zero.toml"],
        /zero\.toml: devices\.g\.interval: "0s" is too short: expected a duration ≥ 1ms/,
      ],
      [["read", "ca://X?wiat=1"], /ca:\/\/X\?wiat=1: unknown option "wiat"[^]*did you mean "wait"/],
      [["read", "baratron://h?intervall=1s"], /unknown option "intervall"/],
      [["stream", "sim://gauge?seedd=3"], /unknown option "seedd"[^]*did you mean "seed"/],
      [["read", "--timeout", "-1s", "sim://gauge"], /--timeout: "-1s" is negative/],
      [["stream", "--interval", "-1s", "sim://gauge"], /--interval: "-1s" is negative/],
      [["serve", "--demo", "--interval", "0s"], /--interval: "0s" is too short/],
      [["scan", "--demo", "count", "2", "-d", "det.counts", "--dwell", "-1s"], /--dwell: "-1s"/],
      [["sim", "baratron", "--warmup", "-5s"], /--warmup: "-5s" is negative/],
      [["read", "baratron://999.999.999.999"], /host "999\.999\.999\.999" is not a valid address/],
      [
        ["read", "ca://LAB:m1?move_guard=1s"],
        /option move_guard: is for a motor: give motor = true/,
      ],
      [["session", "tail", "x.sqlite", "--poll", "-1"], /--poll: "-1" is negative/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(args, { cwd: dir });
      assert.equal(r.code, 2, `${args.join(" ")}\n${r.stderr}`);
      assert.match(r.stderr, re, args.join(" "));
      assert.doesNotMatch(r.stderr, /argument is ambiguous|Invalid URL|\n\s+at /, args.join(" "));
      assert.equal(r.stdout, "", args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a ca:// device's pvs map is checked with the config, before any PV is searched", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = (pvs: string, extra = "") =>
      `[devices.m1]\naddress = "ca://LAB:m1"\nmotor = true\n${extra}pvs = ${pvs}\n`;
    const cases: [string, RegExp][] = [
      [
        bad('{ position = ":VAL", readback = { pv = ":RBV", typ = "number" } }'),
        /lab\.toml: devices\.m1\.pvs\.readback\.typ: unknown key; a pvs entry takes: pv, type/,
      ],
      [
        bad('{ "read back" = ":RBV" }'),
        /devices\.m1\.pvs\.read back: "read back" cannot name an attribute/,
      ],
      [
        bad('{ done = ": DMOV" }'),
        /devices\.m1\.pvs\.done: ": DMOV": a PV name suffix has no spaces/,
      ],
      [
        bad('{ velocity = ":VELO" }', 'move_guard = "fast"\n'),
        /devices\.m1\.move_guard: "fast" is not a duration/,
      ],
      [
        '[devices.m1]\naddress = "ca://LAB:m1"\npvs = 1979-05-27\n',
        /devices\.m1\.pvs: expected a table of attribute = PV suffix/,
      ],
      [
        '[devices.m1]\naddress = "ca://LAB:m1"\nmove_guard = "200ms"\n',
        /lab\.toml: devices\.m1\.move_guard: is for a motor: give motor = true \(or a pvs map\)/,
      ],
      [
        '[devices.m1]\naddress = "ca://LAB:m1"\nmotr = true\n',
        /devices\.m1\.motr: unknown key; a ca:\/\/ device takes: .*pvs, motor, move_guard \(did you mean "motor"\?\)/,
      ],
    ];
    for (const [toml, re] of cases) {
      await Deno.writeTextFile(`${dir}/lab.toml`, toml);
      const r = await runCli(["read", "-c", "lab.toml", "m1"], { cwd: dir });
      assert.equal(r.code, 2, `${toml}\n${r.stderr}`);
      assert.match(r.stderr, re, toml);
      assert.equal(r.stdout, "");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("README: the error examples are what the verbs print", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const section = readme.slice(readme.indexOf("Every error has the same shape"));
  const block = section.slice(section.indexOf("```console\n") + 11, section.indexOf("\n```\n"));
  const steps = block.split(/^\$ labwire /m).slice(1);
  // The two config examples read a lab.toml each; the others need no file.
  const labToml = [
    '[devices.gauge1]\naddress = "baratron://10.0.0.5"\nintervall = "1s"\n',
    '[devices.gauge1]\naddress = "baratron://10.0.0.5"\ninterval = 100\n',
  ];
  assert.equal(steps.length, 5, block);
  for (const [i, step] of steps.entries()) {
    const [cmd, ...shown] = step.replace(/\n$/, "").split("\n");
    const dir = await Deno.makeTempDir();
    try {
      if (labToml[i] !== undefined) await Deno.writeTextFile(`${dir}/lab.toml`, labToml[i]!);
      const args = cmd!.split(" ").map((a) => a.replace(/^"(.*)"$/, "$1"));
      const r = await runCli(args, { cwd: dir });
      assert.equal(r.code, 2, cmd);
      assert.equal(r.stderr, shown.join("\n") + "\n", cmd);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});
