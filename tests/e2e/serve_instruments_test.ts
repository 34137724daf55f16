/**
 * `labwire serve` over instrument definitions: a power supply and a temperature controller
 * behind their simulators, read, written (validated) and acted on through the HTTP API.
 */
import assert from "node:assert/strict";
import { startTestDaemon } from "./serve_fixture.ts";
import { findInstrument } from "../../lib/instruments/loader.ts";
import { startTcpSimulator } from "../../lib/drivers/message/simulator.ts";

Deno.test("serve: instrument devices in the API — schema, readings, validated writes, actions", async () => {
  const psuSim = await startTcpSimulator(await findInstrument("keysight-e36312a"), { port: 0 });
  const lsSim = await startTcpSimulator(await findInstrument("lakeshore-336"), { port: 0 });
  const d = await startTestDaemon({
    bench: `
[devices.psu]
address = "tcp://127.0.0.1:${psuSim.port}"
instrument = "keysight-e36312a"
interval = "200ms"

[devices.cryo]
address = "${lsSim.address}"
interval = "200ms"
`,
  });
  try {
    const detail = await (await fetch(`${d.url}/api/devices/psu`)).json();
    const attrs = detail.attrs as { name: string; rw: boolean; max?: number; units?: string }[];
    const v1 = attrs.find((a) => a.name === "ch1_voltage_set")!;
    assert.deepEqual([v1.rw, v1.max, v1.units], [true, 6, "V"]);
    assert.ok(attrs.some((a) => a.name === "reset" && a.rw), "actions are listed as writable");

    const put = (device: string, attr: string, value: unknown) =>
      fetch(`${d.url}/api/devices/${device}/attrs/${attr}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ value }),
      });
    const ok = await put("psu", "ch1_voltage_set", 4.5);
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).value, 4.5);
    const over = await put("psu", "ch1_voltage_set", 7);
    assert.ok(over.status >= 400 && over.status < 500, String(over.status));
    assert.match(JSON.stringify(await over.json()), /above the upper limit 6 V/);
    const on = await put("psu", "ch1_output", true);
    assert.equal(on.status, 200);
    await on.body?.cancel();
    const read = await (await fetch(`${d.url}/api/devices/psu/read?attrs=ch1_voltage,ch1_output`))
      .json();
    const values = read.values ?? read;
    assert.ok(Math.abs(values.ch1_voltage - 4.5) < 0.01, JSON.stringify(read));
    assert.equal(values.ch1_output, true);
    const act = await put("psu", "reset", true);
    assert.equal(act.status, 200);
    assert.equal((await act.json()).value, true);
    const after = await (await fetch(`${d.url}/api/devices/psu/read?attrs=ch1_voltage_set`)).json();
    assert.equal((after.values ?? after).ch1_voltage_set, 0, "*RST restored 0 V");

    const sp = await put("cryo", "setpoint_2", 120.5);
    assert.equal(sp.status, 200);
    assert.equal((await sp.json()).value, 120.5);
    const cryo = await (await fetch(`${d.url}/api/devices/cryo/read`)).json();
    assert.equal(typeof (cryo.values ?? cryo).temperature_a, "number", JSON.stringify(cryo));
  } finally {
    await d.close();
    await psuSim.close();
    await lsSim.close();
  }
});
