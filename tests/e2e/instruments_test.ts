/**
 * Instruments as data, end to end: `labwire sim NAME` as a process, then read, stream, write
 * (validated, actions), scan (a power supply's voltage as positioner, a DMM as detector) and
 * monitor on those simulators through the CLI; `labwire instruments list|show|check`.
 */
import assert from "node:assert/strict";
import {
  ndjsonRows,
  runCli,
  runCliOnTerminal,
  runConfigAscan,
  runConfigMonitor,
  spawnSim,
} from "./run_cli.ts";

Deno.test("labwire sim keysight-34461a as a process: read, stream --count 2, write, actions", async () => {
  const sim = await spawnSim(["keysight-34461a", "--listen", "127.0.0.1:0"]);
  try {
    assert.match(sim.addresses[0]!, /^tcp:\/\/127\.0\.0\.1:\d+\?instrument=keysight-34461a$/);
    const read = await runCli(["read", sim.addresses[0]!]);
    assert.equal(read.code, 0, read.stderr);
    const doc = JSON.parse(read.stdout);
    assert.deepEqual(Object.keys(doc), ["t", "device", "voltage_dc"]);
    assert.ok(Math.abs(doc.voltage_dc - 1.2345678) < 0.001, read.stdout);

    const stream = await runCli(["stream", sim.addresses[0]!, "--count", "2", "--interval", "1s"]);
    assert.equal(stream.code, 0, stream.stderr);
    const lines = stream.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    for (const l of lines) assert.equal(typeof l.voltage_dc, "number", JSON.stringify(l));

    const write = await runCli(["write", sim.addresses[0]!, "range=100", "autorange=off"]);
    assert.equal(write.code, 0, write.stderr);
    const { t: _wt, device: wd, ...written } = JSON.parse(write.stdout);
    assert.equal(wd, sim.addresses[0]!.replace(/^tcp:\/\/|\?.*$/g, ""));
    assert.deepEqual(written, { range: 100, autorange: false });
    const refused = await runCli(["write", sim.addresses[0]!, "range=7"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /range: 7 is not one of 0\.1, 1, 10, 100, 1000 V/);
    const action = await runCli(["write", sim.addresses[0]!, "reset"]);
    assert.equal(action.code, 0, action.stderr);
    const { t: _at, device: _ad, ...acted } = JSON.parse(action.stdout);
    assert.deepEqual(acted, { reset: true });
    const back = await runCli(["read", sim.addresses[0]!, "--attrs", "range,autorange"]);
    const { t: _t, device: _d, ...values } = JSON.parse(back.stdout);
    assert.deepEqual(values, { range: 10, autorange: true }, "reset restored");
    const describe = await runCli(["read", sim.addresses[0]!, "--describe", "--attrs", "nplc"]);
    assert.equal(JSON.parse(describe.stdout).nplc.rw, true);
  } finally {
    const log = await sim.stop();
    assert.match(
      log,
      /labwire sim: 1 keysight-34461a on 127\.0\.0\.1:\d+ \(scpi, no faults, seed 1\)/,
    );
    assert.match(log, /labwire sim: stopped; answered \d+ messages/);
  }
});

Deno.test("a bench of instruments from a config file: scan a PSU against a DMM, monitor them", async () => {
  const psu = await spawnSim(["keysight-e36312a", "--listen", "127.0.0.1:0"]);
  const dmm = await spawnSim(["keysight-34465a", "--listen", "127.0.0.1:0"]);
  const dir = await Deno.makeTempDir({ prefix: "labwire-instruments-" });
  try {
    const port = psu.addresses[0]!.replace(/^tcp:\/\/127\.0\.0\.1:(\d+)\?.*$/, "$1");
    await Deno.writeTextFile(
      `${dir}/labwire.toml`,
      `[devices.psu]
address = "tcp://127.0.0.1:${port}"
instrument = "keysight-e36312a"
interval = "100ms"

[devices.dmm]
address = "${dmm.addresses[0]!}"
interval = "100ms"
`,
    );
    const cfg = `${dir}/labwire.toml`;
    const scan = await runConfigAscan(
      cfg,
      "psu.ch1_voltage_set",
      [0, 5, 6],
      "psu.ch1_voltage,dmm.voltage_dc",
      "--json",
    );
    assert.equal(scan.code, 0, scan.stderr);
    const points = ndjsonRows(scan.stdout);
    assert.equal(points.length, 6);
    points.forEach((p, i) => {
      assert.equal(p["psu.ch1_voltage_set"], i);
      assert.ok(Math.abs(p["psu.ch1_voltage"] - i) < 0.01, JSON.stringify(p));
      assert.equal(typeof p["dmm.voltage_dc"], "number");
    });
    const over = await runConfigAscan(cfg, "psu.ch1_voltage_set", [0, 9, 3], "dmm.voltage_dc");
    assert.equal(over.code, 2, "the limit of CH1 (6 V) is checked before anything moves");
    assert.match(over.stderr, /6/);

    const monitor = await runConfigMonitor(cfg, "700ms", `${dir}/s.sqlite`);
    assert.equal(monitor.code, 0, monitor.stderr);
    const rows = ndjsonRows(monitor.stdout);
    const devices = new Set(rows.map((r) => r.device));
    assert.ok(devices.has("psu") && devices.has("dmm"), monitor.stdout.slice(0, 400));
    const psuRow = rows.find((r) => r.device === "psu" && !r.error);
    assert.equal(typeof psuRow?.ch3_current, "number", JSON.stringify(psuRow));
  } finally {
    await psu.stop();
    await dmm.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("labwire instruments list, show, check; an unknown instrument suggests the name", async () => {
  const list = await runCli(["instruments", "list"]);
  assert.equal(list.code, 0, list.stderr);
  const names = JSON.parse(list.stdout).map((i: { name: string }) => i.name);
  for (
    const n of [
      "keysight-34461a",
      "keysight-34465a",
      "keysight-e36312a",
      "rigol-dp832",
      "lakeshore-336",
      "alicat",
      "pfeiffer-tpg36x",
      "scpi",
    ]
  ) {
    assert.ok(names.includes(n), n);
  }
  const show = await runCli(["instruments", "show", "lakeshore-336", "--json"]);
  assert.equal(show.code, 0, show.stderr);
  const ls = JSON.parse(show.stdout);
  assert.equal(ls.transport.port, 7777);
  assert.equal(ls.transport.serial, "57600 7O1");
  assert.equal(ls.attrs.setpoint_2.set, "SETP 2,{value}");
  const unknown = await runCli(["instruments", "show", "lakeshore-363"]);
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /unknown instrument "lakeshore-363"[\s\S]*did you mean "lakeshore-336"/,
  );
  const read = await runCli(["read", "tcp://127.0.0.1:1?instrument=keysight-34416a"]);
  assert.equal(read.code, 2);
  assert.match(read.stderr, /did you mean "keysight-34461a"/);

  const dir = await Deno.makeTempDir({ prefix: "labwire-defs-" });
  try {
    await Deno.writeTextFile(
      `${dir}/good.toml`,
      '[attrs.volts]\nget = "MEAS:VOLT?"\nunits = "V"\nstatus = true\n',
    );
    await Deno.writeTextFile(
      `${dir}/bad.toml`,
      '[attrs.volts]\nget = "MEAS:VOLT?"\nparse = "flags"\n',
    );
    const ok = await runCli(["instruments", "check", `${dir}/good.toml`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).name, "good");
    const sim = await runCli(["instruments", "check", `${dir}/good.toml`, "--sim"]);
    assert.equal(sim.code, 0, sim.stderr);
    const report = JSON.parse(sim.stdout);
    assert.equal(report.ok, true);
    assert.deepEqual(report.steps.map((s: { step: string }) => s.step), ["read", "read volts"]);
    const bad = await runCli(["instruments", "check", `${dir}/bad.toml`]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad\.toml: attrs\.volts\.bits: flags need bits/);
    // A definition that does not compile fails where it is used, naming file and key.
    const broken = await runCli(["instruments", "show", "bad", "--instruments", dir]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /bad\.toml: attrs\.volts\.bits: flags need bits/);
    const shown = await runCli(["instruments", "show", "good", "--instruments", dir, "--json"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(JSON.parse(shown.stdout).attrs.volts.units, "V");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("README: the instruments list and show examples are the lines a terminal shows", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  for (const cmd of ["instruments list", "instruments show keysight-e36312a"]) {
    const at = readme.indexOf(`\n$ labwire ${cmd}\n`);
    assert.ok(at >= 0, `README has no "$ labwire ${cmd}"`);
    const block = readme.slice(at + cmd.length + 12).split("\n");
    const shown = block.slice(0, block.findIndex((l) => l.startsWith("$ ") || l === "```"));
    const out = (await runCliOnTerminal(cmd.split(" "))).stdout.split("\n");
    for (const line of shown) {
      if (line === "…") continue;
      // a line the README cuts short ends in "…": the program's line starts with the rest
      const want = line.endsWith("…") ? line.slice(0, -1) : line;
      assert.ok(
        out.some((l) => line.endsWith("…") ? l.startsWith(want) : l === want),
        `labwire ${cmd} prints no line ${JSON.stringify(line)}:\n${out.join("\n")}`,
      );
    }
  }
});
