import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import { ConfigError } from "../device/errors.ts";
import { Lab } from "./lab.ts";
import { applySafeState, safeStateMessage } from "./safe_state.ts";
import { TaskBoard } from "./task.ts";
import type { SafeStateResult } from "./safe_state.ts";

const BENCH = `
[devices.thermo]
address = "sim://thermo"
safe_state = { setpoint = 20, heater = false }

[devices.slow]
address = "sim://thermo?latency=300ms"
safe_state = { heater = false }
safe_state_timeout = "50ms"

[devices.wrong]
address = "sim://thermo"
safe_state = { setpoint = 1000 }

[devices.plain]
address = "sim://thermo"

[devices.slower]
address = "sim://thermo?latency=1500ms"
safe_state = { heater = false }
safe_state_timeout = "1s"
`;

Deno.test("safe_state is read from the config in the order written", () => {
  const c = parseConfig(BENCH);
  assert.deepEqual(c.devices[0]!.safeState, [["setpoint", 20], ["heater", false]]);
  assert.equal(c.devices[1]!.safeStateTimeout, 50);
  assert.equal(c.devices[3]!.safeState, undefined);
  assert.throws(
    () => parseConfig(`[devices.t]\naddress = "sim://thermo"\nsafe_state = { heater = {} }\n`),
    (e) => e instanceof ConfigError && /safe_state\.heater/.test(e.message),
  );
  assert.throws(
    () => parseConfig(`[devices.t]\naddress = "sim://thermo"\nsafe_state = 3\n`),
    (e) => e instanceof ConfigError && /table of attribute = value/.test(e.message),
  );
});

Deno.test("applySafeState writes each attribute in order, and says why when it cannot", async () => {
  const lab = await Lab.open(parseConfig(BENCH));
  try {
    await lab.get("thermo").write("heater", true);
    const ok = await applySafeState(lab.get("thermo"), "test");
    assert.ok(ok);
    assert.equal(ok.ok, true);
    assert.deepEqual(ok.values, { setpoint: 20, heater: false });
    assert.equal((await lab.get("thermo").read(["heater"])).heater, false);
    assert.equal(
      safeStateMessage(ok),
      "safe state of thermo applied (test): setpoint=20 heater=false",
    );

    const refused = (await applySafeState(lab.get("wrong"), "test"))!;
    assert.equal(refused.ok, false);
    assert.match(refused.error!, /setpoint: 1000 is above the upper limit 150/);

    const late = (await applySafeState(lab.get("slow"), "test"))!;
    assert.equal(late.ok, false);
    assert.match(late.error!, /not done within 50 ms \(safe_state_timeout\)/);
    // whole seconds as every other message says them
    const later = (await applySafeState(lab.get("slower"), "test"))!;
    assert.match(later.error!, /not done within 1 s \(safe_state_timeout\)/);

    assert.equal(await applySafeState(lab.get("plain"), "test"), undefined);
  } finally {
    await lab.close();
  }
});

Deno.test("a task that wrote leaves its device in the safe state; a sample task does not", async () => {
  const lab = await Lab.open(parseConfig(BENCH));
  const applied: SafeStateResult[] = [];
  const board = new TaskBoard(lab, { onSafeState: (r) => applied.push(r) });
  try {
    const hold = await board.submit("thermo", {
      technique: "hold",
      params: { heater: true, setpoint: 60 },
      sampling_interval: 0.01,
    });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal((await lab.get("thermo").read(["heater"])).heater, true);
    const end = await hold.stop();
    assert.equal(end.state, "stopped");
    // applied before the task is done: whoever waited for the stop finds the device safe
    assert.equal(applied.length, 1);
    assert.equal(applied[0]!.reason, `task ${hold.id} stopped`);
    assert.deepEqual(await lab.get("thermo").read(["setpoint", "heater"]), {
      setpoint: 20,
      heater: false,
    });
    const sample = await board.submit("thermo", { technique: "sample", max_duration: 0.02 });
    await sample.done;
    assert.equal(applied.length, 1, "a sample task writes nothing, so nothing is reset");
  } finally {
    await board.close();
    await lab.close();
  }
});
