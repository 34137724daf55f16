import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import { Lab } from "../lab/lab.ts";
import { AlarmEngine } from "../alarm/engine.ts";
import { createApp } from "./app.ts";
import { StreamHub } from "./sse.ts";
import { aboveZeroRule } from "../../tests/fixtures/alarm_rules.ts";

const BENCH = `
[devices.motor]
address = "sim://motor?seed=3"

[devices.thermo]
address = "sim://thermo?seed=2"
`;

async function withAlarmApp(
  token: string | undefined,
  fn: (app: ReturnType<typeof createApp>, engine: AlarmEngine, acked: string[]) => Promise<void>,
) {
  const lab = await Lab.open(parseConfig(BENCH, "<test>"));
  const hub = new StreamHub();
  hub.attach(lab);
  const engine = new AlarmEngine(aboveZeroRule("warm", "thermo", "temperature"), { log: () => {} });
  const acked: string[] = [];
  engine.onAcknowledge((a) => acked.push(a.name));
  try {
    await fn(createApp({ lab, hub, alarms: engine, token }), engine, acked);
  } finally {
    hub.close();
    await lab.close();
  }
}

const ack = (app: ReturnType<typeof createApp>, id: string, token?: string) =>
  app.request(`/api/alarms/${encodeURIComponent(id)}/ack`, {
    method: "POST",
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });

Deno.test("POST /api/alarms/ID/ack marks the active alarm once; unknown names are 404", async () => {
  await withAlarmApp(undefined, async (app, engine, acked) => {
    assert.equal((await ack(app, "warm")).status, 404, "nothing active yet");
    engine.observe({ t: 100, device: "thermo", values: { temperature: 25 } });
    const res = await ack(app, "warm");
    assert.equal(res.status, 200);
    const { alarm } = await res.json();
    assert.equal(alarm.name, "warm");
    assert.equal(typeof alarm.acknowledged, "number");
    assert.equal((await ack(app, "warm")).status, 200, "acknowledging again is harmless");
    assert.deepEqual(acked, ["warm"], "listeners (the session event) hear of it once");
    const list = await (await app.request("/api/alarms")).json();
    assert.equal(list.active[0].acknowledged, alarm.acknowledged);
    // Cleared and active again: a new alarm, not acknowledged.
    engine.observe({ t: 101, device: "thermo", values: { temperature: -1 } });
    engine.observe({ t: 102, device: "thermo", values: { temperature: 25 } });
    const again = await (await app.request("/api/alarms")).json();
    assert.equal(again.active[0].acknowledged, undefined);
    assert.equal((await app.request("/api/alarms/warm/ack")).status, 405);
  });
});

Deno.test("acknowledging follows the token rules of every write", async () => {
  await withAlarmApp("s3cret", async (app, engine, acked) => {
    engine.observe({ t: 100, device: "thermo", values: { temperature: 25 } });
    assert.equal((await ack(app, "warm")).status, 401);
    assert.equal((await ack(app, "warm", "wrong")).status, 401);
    assert.deepEqual(acked, []);
    assert.equal((await ack(app, "warm", "s3cret")).status, 200);
    assert.deepEqual(acked, ["warm"]);
  });
});

Deno.test("a device's detail lists each technique's parameters (task forms are built from them)", async () => {
  await withAlarmApp(undefined, async (app) => {
    const detail = await (await app.request("/api/devices/motor")).json();
    assert.deepEqual(Object.keys(detail.technique_params), [
      "sample",
      "hold",
      ...detail.techniques,
    ]);
    assert.equal(detail.technique_params.sample[0].name, "attrs");
    assert.ok(detail.technique_params.sample[0].options.includes("readback"));
    const position = detail.technique_params.move.find((p: { name: string }) =>
      p.name === "position"
    );
    assert.equal(position.units, "mm");
    assert.equal(position.type, "number");
    assert.ok(!detail.technique_params.hold.some((p: { name: string }) => p.name === "readback"));
  });
});
