/**
 * Modbus end to end: `labwire sim omega-cn7500` as a process (TCP and RTU on a pty), then read,
 * write (validated), query (raw requests), stream, scan (the set value as positioner) and
 * monitor with an alarm through the CLI, a generic device from a config file, and
 * `instruments check --sim` of a user's register map.
 */
import assert from "node:assert/strict";
import {
  ndjsonRows,
  runCli,
  runConfigAscan,
  runConfigMonitor,
  runShell,
  spawnSim,
} from "./run_cli.ts";
import { hungServer } from "./hung_server.ts";

Deno.test("labwire sim omega-cn7500 over TCP: read, write, query, stream, scan, monitor with an alarm", async () => {
  const sim = await spawnSim(["omega-cn7500", "--listen", "127.0.0.1:0"]);
  const dir = await Deno.makeTempDir({ prefix: "labwire-modbus-" });
  try {
    const address = sim.addresses[0]!;
    assert.match(address, /^modbus:\/\/127\.0\.0\.1:\d+\?instrument=omega-cn7500$/);
    const read = await runCli(["read", address]);
    assert.equal(read.code, 0, read.stderr);
    const doc = JSON.parse(read.stdout);
    assert.deepEqual(Object.keys(doc), ["t", "device", "process_value", "set_value", "running"]);
    assert.equal(doc.set_value, 25);

    const write = await runCli(["write", address, "set_value=30.5", "control_mode=manual"]);
    assert.equal(write.code, 0, write.stderr);
    const { t: _t, device: _d, ...written } = JSON.parse(write.stdout);
    assert.deepEqual(written, { set_value: 30.5, control_mode: "manual" });
    const refused = await runCli(["write", address, "set_value=2000"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /set_value: 2000 is above the upper limit 1300 °C/);

    const plain = address.replace(/\?.*$/, "");
    const q = await runCli([
      "query",
      `${plain}?unit=1`,
      "read holding 4097",
      "write holding 4097 250",
      "read coil 2068",
    ]);
    assert.equal(q.code, 0, q.stderr);
    assert.deepEqual(q.stdout.trimEnd().split("\n"), ["[305]", "ok", "[true]"]);
    const bad = await runCli(["query", plain, "read holding 4200"]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /illegal data address at holding register 4200 \(read holding registers, exception 02\)/,
    );

    const head = await runShell(`labwire stream '${address}' --interval 100ms | head -3`);
    assert.equal(head.code, 0, head.stderr);
    const lines = head.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 3);
    for (const l of lines) assert.equal(typeof l.process_value, "number", JSON.stringify(l));

    await Deno.writeTextFile(
      `${dir}/labwire.toml`,
      `[devices.oven]
address = "${address}"
interval = "100ms"

[devices.raw]
address = "${plain}?unit=1"
interval = "100ms"
registers.sv = { register = 44098, type = "int16", scale = 0.1, units = "°C", write = 6, status = true }
registers.run = { table = "coil", address = 2068, status = true }

[[alarms]]
device = "raw"
attr = "sv"
compare = ">"
trip = 35
severity = "minor"
`,
    );
    const cfg = `${dir}/labwire.toml`;
    const scan = await runConfigAscan(cfg, "oven.set_value", [30, 40, 3], "raw.sv", "--json");
    assert.equal(scan.code, 0, scan.stderr);
    const points = ndjsonRows(scan.stdout);
    assert.deepEqual(points.map((p) => p["raw.sv"]), [30, 35, 40]);

    const monitor = await runConfigMonitor(cfg, "1500ms", `${dir}/s.sqlite`);
    assert.equal(monitor.code, 0, monitor.stderr);
    const rows = ndjsonRows(monitor.stdout);
    assert.ok(rows.some((r) => r.device === "raw" && r.sv === 40), monitor.stdout.slice(0, 400));
    // The scan left the set value at 40: the alarm on the generic device trips.
    assert.match(monitor.stderr, /alarm MINOR active raw\.sv > 35/);
  } finally {
    const log = await sim.stop();
    assert.match(log, /labwire sim: stopped; answered \d+ requests/);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("labwire sim omega-cn7500 --pty --unit 1,2: two units on one RTU line", async () => {
  const sim = await spawnSim(["omega-cn7500", "--pty", "--unit", "1,2"], 2);
  try {
    const [a, b] = sim.addresses;
    assert.match(a!, /^modbus\+rtu:\/\/\/dev\/pts\/\d+\?instrument=omega-cn7500&unit=1$/);
    const w = await runCli(["write", b!, "set_value=42"]);
    assert.equal(w.code, 0, w.stderr);
    const r = await runCli(["read", a!, b!]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    const [first, second] = Object.values(doc) as { set_value: number }[];
    assert.equal(first!.set_value, 25);
    assert.equal(second!.set_value, 42);
  } finally {
    await sim.stop();
  }
});

Deno.test("instruments check --sim of a user register map; a bad map names the file and the key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-modbus-def-" });
  try {
    await Deno.writeTextFile(
      `${dir}/chiller.toml`,
      `protocol = "modbus"
[modbus]
word_order = "CDAB"
[attrs.temperature]
register = 30001
type = "float32"
status = true
sim = { value = 18.5 }
[attrs.set_point]
table = "holding"
address = 10
type = "int16"
scale = 0.1
min = -20
max = 40
write = true
sim = { value = 20 }
`,
    );
    const ok = await runCli(["instruments", "check", `${dir}/chiller.toml`, "--sim"]);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    await Deno.writeTextFile(
      `${dir}/bad.toml`,
      `protocol = "modbus"\n[attrs.a]\nregister = 40001\ntype = "float32"\n[attrs.b]\nregister = 40002\n`,
    );
    const bad = await runCli(["instruments", "check", `${dir}/bad.toml`]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /bad\.toml: attrs\.b: b \(holding register 1\) overlaps a \(attrs\.a: holding register 0…1\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a Modbus TCP device that takes the connection and never answers: the read says what to check", async () => {
  const hung = hungServer();
  try {
    // omega-cn7500's reading is two requests in flight: the one behind may fail first
    const r = await runCli([
      "read",
      `modbus://127.0.0.1:${hung.port}?instrument=omega-cn7500`,
      "--timeout",
      "500ms",
    ]);
    assert.equal(r.code, 1, r.stderr);
    // The request that got no answer, not one behind it that failed with the connection.
    assert.match(
      r.stderr,
      /: no answer to read \w+ [\d…]+ of unit 1 within 500 ms; check the unit id \(a gateway needs the serial device's\) and the port\n$/,
    );
  } finally {
    hung.close();
  }
});
