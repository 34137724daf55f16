import assert from "node:assert/strict";
import "../../drivers/mod.ts";
import { parseFlags } from "../../cli/flags.ts";
import { parseConfig } from "../../config/load.ts";
import { Lab } from "../../lab/lab.ts";
import type { AlarmEvent } from "../../alarm/event.ts";
import { serveAddons } from "../addon.ts";
import { silentLogger } from "../log.ts";
import { caServeAddon } from "./addon.ts";
import { decodeDbr } from "../../drivers/epics/dbr.ts";
import { DBR } from "../../drivers/epics/dbr_types.ts";
import { RawClient } from "./test_client.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

Deno.test("serve --ca add-on: registered, wanted by its flags, follows the alarm engine", async () => {
  assert.ok(serveAddons().includes(caServeAddon));
  assert.equal(caServeAddon.wanted(parseFlags([], caServeAddon.flags)), false);
  assert.equal(caServeAddon.wanted(parseFlags(["--ca"], caServeAddon.flags)), true);
  const noFlags = parseFlags([], caServeAddon.flags);
  assert.equal(caServeAddon.wanted(noFlags, parseConfig(`[ca]\nprefix = "X:"\n`)), true);
  assert.equal(caServeAddon.wanted(noFlags, parseConfig(`[ca]\nenabled = false\n`)), false);

  const port = freePort();
  const config = parseConfig(`
[devices.oven]
address = "sim://thermo"
[ca]
port = ${port}
interfaces = ["127.0.0.1"]
auto_beacon = false
beacon_addrs = []
`);
  const lab = await Lab.open(config);
  let listener: ((e: AlarmEvent) => void) | undefined;
  const alarms = {
    active: () => [{
      name: "hot",
      kind: "threshold",
      device: "oven",
      attr: "temperature",
      severity: "major",
      since: 0,
      value: 99,
      message: "hot",
    }],
    on(l: (e: AlarmEvent) => void) {
      listener = l;
      return () => listener = undefined;
    },
    config: {
      rules: [{
        name: "cold",
        key: "alarms[0]",
        device: "oven",
        attr: "temperature",
        compare: "<" as const,
        trip: 5,
        delay: 0,
        hysteresis: 0,
        severity: "minor" as const,
      }],
    },
  };
  const running = await caServeAddon.start({
    lab,
    config,
    flags: parseFlags(["--ca", "--ca-prefix", "OV:"], caServeAddon.flags),
    alarms,
    log: silentLogger,
  });
  const c = await RawClient.connect(port);
  try {
    const ch = await c.open(1, "OV:oven:temperature");
    const read = async (ioid: number) => {
      c.send({ kind: "read_notify", dbrType: DBR.STS_DOUBLE, count: 1, sid: ch.sid, ioid });
      const m = await c.next("read_notify_resp", (m) => m.ioid === ioid);
      return decodeDbr(DBR.STS_DOUBLE, 1, m.payload);
    };
    // The alarm active at start shows as MAJOR / HIHI.
    assert.deepEqual([(await read(1)).severity, (await read(1)).status], [2, 3]);
    listener!({
      t: 1,
      name: "hot",
      kind: "threshold",
      device: "oven",
      attr: "temperature",
      severity: "major",
      state: "cleared",
      value: 20,
      message: "ok",
    });
    assert.equal((await read(2)).severity, 0);
    // A low-side threshold shows as LOW (its rule says which side), as an EPICS record would.
    listener!({
      t: 2,
      name: "cold",
      kind: "threshold",
      device: "oven",
      attr: "temperature",
      severity: "minor",
      state: "active",
      value: 2,
      message: "cold",
    });
    assert.deepEqual([(await read(3)).severity, (await read(3)).status], [1, 6]);
  } finally {
    await c.close();
    await running.close();
    await lab.close();
  }
  assert.equal(listener, undefined, "the add-on stops listening when closed");
});
