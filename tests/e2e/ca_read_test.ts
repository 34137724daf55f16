/**
 * `labwire read` of `ca://` targets as a process against the in-process fake CA server: one
 * batch reads them (one circuit, one CREATE_CHAN per PV), with the values and per-target errors
 * of a plain read.
 */
import assert from "node:assert/strict";
import { runCli } from "./run_cli.ts";
import { FakeServer, pv } from "../../lib/drivers/epics/fake_server.ts";
import { DBR } from "../../lib/drivers/epics/dbr_types.ts";

function caEnv(fake: FakeServer): Record<string, string> {
  return {
    EPICS_CA_ADDR_LIST: "127.0.0.1",
    EPICS_CA_AUTO_ADDR_LIST: "NO",
    EPICS_CA_SERVER_PORT: String(fake.udpPort),
  };
}

Deno.test("read of ca:// targets: one batch on one circuit, missing ones named", async () => {
  const fake = new FakeServer();
  await fake.start();
  for (let i = 0; i < 50; i++) fake.pvs.set(`E:pv${i}`, pv(DBR.DOUBLE, [i + 0.25]));
  try {
    const targets = Array.from({ length: 50 }, (_, i) => `ca://E:pv${i}`);
    const r = await runCli(["read", "-t", "1s", ...targets, "ca://E:missing", "--compact"], {
      env: caEnv(fake),
    });
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout) as Record<string, { value?: number; error?: string }>;
    assert.equal(doc["E:pv49"]?.value, 49.25);
    assert.equal(Object.keys(doc).length, 51);
    assert.match(doc["E:missing"]!.error!, /^PV E:missing not found: .* within 1 s /);
    assert.match(r.stderr, /labwire read: E:missing: PV E:missing not found/);
    // One batch did everything (searches may repeat on a slow machine, so they are not counted).
    const created = fake.received.filter((m) => m.kind === "create_chan" && m.name === "E:pv0");
    assert.equal(created.length, 1);
    assert.equal(fake.connections, 1);
  } finally {
    await fake.close();
  }
});

Deno.test("read --describe of a ca:// target is not batched: the device describes it", async () => {
  const fake = new FakeServer();
  await fake.start();
  fake.pvs.set("E:d", pv(DBR.DOUBLE, [1]));
  try {
    const r = await runCli(["read", "ca://E:d", "--describe"], { env: caEnv(fake) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).value.type, "number");
    assert.equal(fake.received.filter((m) => m.kind === "create_chan").length, 1);
  } finally {
    await fake.close();
  }
});
