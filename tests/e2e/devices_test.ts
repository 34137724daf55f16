/**
 * `labwire devices`: the devices of a config without touching them, and their states when the
 * daemon serving the config answers (at its `[server] listen`, or `--server URL`).
 */
import assert from "node:assert/strict";
import { runCli, runCliOnTerminal } from "./run_cli.ts";
import { startTestDaemon, TEST_BENCH } from "./serve_fixture.ts";

Deno.test("devices lists name, address, driver and interval; --json is one document", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-devices-" });
  try {
    // Nothing listens on a port of the discard range here: no daemon, no states.
    await Deno.writeTextFile(
      `${dir}/labwire.toml`,
      `${TEST_BENCH}\n[devices.psu]\naddress = "tcp://192.0.2.7:5025?instrument=rigol-dp832"\n` +
        `\n[server]\nlisten = "127.0.0.1:9"\n`,
    );
    const text = await runCliOnTerminal(["devices"], { cwd: dir });
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^name\s+address\s+driver\s+interval$/);
    assert.match(lines[1]!, /^motor\s+sim:\/\/motor\?seed=3\s+sim\s+200ms$/);
    assert.match(
      lines.at(-1)!,
      /^psu\s+tcp:\/\/192\.0\.2\.7:5025\?instrument=rigol-dp832\s+tcp \(rigol-dp832\)\s+1s$/,
    );
    const json = JSON.parse((await runCli(["devices", "--json"], { cwd: dir })).stdout);
    // a pipe gets data, as the output contract says: the --json document, not the table
    const piped = await runCli(["devices"], { cwd: dir });
    assert.equal(piped.code, 0, piped.stderr);
    assert.deepEqual(JSON.parse(piped.stdout), json);
    assert.equal(json.server, null);
    assert.deepEqual(json.devices[0], {
      name: "motor",
      address: "sim://motor?seed=3",
      driver: "sim",
      instrument: null,
      interval_s: 0.2,
      state: null,
    });
    const none = await runCli(["devices", "--config", `${dir}/nope.toml`]);
    assert.equal(none.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("devices asks the daemon for each device's state", async () => {
  const daemon = await startTestDaemon();
  try {
    // Let every device be sampled once: the broken one is then down, the rest up.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const list = await (await fetch(`${daemon.url}/api/devices`)).json();
      if (list.devices.every((d: { state: string }) => d.state !== "unknown")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await Deno.writeTextFile(`${daemon.dir}/bench.toml`, TEST_BENCH);
    const r = await runCli([
      "devices",
      `${daemon.dir}/bench.toml`,
      "--server",
      daemon.url,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.server, daemon.url.replace(/\/$/, ""));
    const state = Object.fromEntries(
      doc.devices.map((d: { name: string; state: string }) => [d.name, d.state]),
    );
    assert.deepEqual(state, { motor: "up", det: "up", thermo: "up", broken: "down" });
    const text = await runCliOnTerminal([
      "devices",
      `${daemon.dir}/bench.toml`,
      "--server",
      daemon.url,
    ]);
    assert.match(
      text.stdout,
      /^broken\s+sim:\/\/gauge\?seed=9&error_rate=1\s+sim\s+200ms\s+down$/m,
    );

    // --server needs no config file: the list is what the daemon serves
    const empty = await Deno.makeTempDir({ prefix: "labwire-devices-none-" });
    try {
      const env = { LABWIRE_CONFIG: "" };
      const served = await runCli(["devices", "--server", daemon.url], { cwd: empty, env });
      assert.equal(served.code, 0, served.stderr);
      const list = JSON.parse(served.stdout);
      assert.equal(list.server, daemon.url.replace(/\/$/, ""));
      assert.deepEqual(list.devices.find((d: { name: string }) => d.name === "broken"), {
        name: "broken",
        address: "sim://gauge?seed=9&error_rate=1",
        driver: "sim",
        instrument: null,
        interval_s: 0.2,
        state: "down",
      });
      assert.deepEqual(
        list.devices.map((d: { name: string }) => d.name).sort(),
        ["broken", "det", "motor", "thermo"],
      );
      const table = await runCliOnTerminal(["devices", "--server", daemon.url], {
        cwd: empty,
        env,
      });
      assert.match(table.stdout, /^motor\s+sim:\/\/motor\?seed=3\s+sim\s+200ms\s+up$/m);
      const nobody = await runCli(["devices", "--server", "http://127.0.0.1:9"], {
        cwd: empty,
        env,
      });
      assert.equal(nobody.code, 1);
      assert.match(nobody.stderr, /no labwire daemon answered at http:\/\/127\.0\.0\.1:9/);
      // $LABWIRE_URL points devices at a daemon as it points task at one
      const viaEnv = await runCli(["devices"], {
        cwd: empty,
        env: { ...env, LABWIRE_URL: daemon.url },
      });
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
      assert.deepEqual(JSON.parse(viaEnv.stdout), list);
      // --server comes first
      const flagFirst = await runCli(["devices", "--server", daemon.url], {
        cwd: empty,
        env: { ...env, LABWIRE_URL: "http://127.0.0.1:9" },
      });
      assert.equal(flagFirst.code, 0, flagFirst.stderr);
      assert.deepEqual(JSON.parse(flagFirst.stdout), list);
    } finally {
      await Deno.remove(empty, { recursive: true });
    }
    // $LABWIRE_URL comes before the config's [server] listen (nothing listens on port 9)
    await Deno.writeTextFile(
      `${daemon.dir}/listen9.toml`,
      `${TEST_BENCH}\n[server]\nlisten = "127.0.0.1:9"\n`,
    );
    const overConfig = await runCli(["devices", `${daemon.dir}/listen9.toml`], {
      env: { LABWIRE_URL: daemon.url },
    });
    assert.equal(overConfig.code, 0, overConfig.stderr);
    assert.equal(JSON.parse(overConfig.stdout).server, daemon.url.replace(/\/$/, ""));
    const bad = await runCli(["devices", "--server", "localhost:8600"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not an http:\/\/ URL/);
  } finally {
    await daemon.close();
  }
});

Deno.test("devices without any config file says there is none, not that it has no devices", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-devices-none-" });
  try {
    const r = await runCli(["devices"], { cwd: dir, env: { LABWIRE_CONFIG: "" } });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      "labwire devices: no config file: ./labwire.toml is not there, and neither CONFIG, " +
        "--config FILE nor $LABWIRE_CONFIG names one\n  try: labwire devices --demo\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
