import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import { UsageError, WriteRejected } from "../device/errors.ts";
import { Lab } from "./lab.ts";
import { TaskBoard } from "./task.ts";

async function bench() {
  const lab = await Lab.open(parseConfig(`[devices.motor]
address = "sim://motor?id=taskmotor&velocity=100"
[devices.thermo]
address = "sim://thermo"
`));
  return { lab, board: new TaskBoard(lab) };
}

Deno.test("a sample task collects data annotated with units until its max duration", async () => {
  const { lab, board } = await bench();
  try {
    const task = await board.submit("thermo", {
      technique: "sample",
      params: { attrs: ["temperature"] },
      sampling_interval: 0.01,
      max_duration: 0.1,
    });
    await task.done;
    const status = task.status();
    assert.equal(status.state, "completed");
    assert.equal(status.progress, 1);
    const data = task.data();
    assert.equal(data.units.temperature, "°C");
    assert.ok(data.rows.length >= 5 && data.rows.length <= 11, `${data.rows.length} rows`);
    assert.deepEqual(Object.keys(data.rows[0]!).sort(), ["t", "temperature"]);
    assert.equal(task.data().rows.length, 0, "data is drained");
  } finally {
    await board.close();
    await lab.close();
  }
});

Deno.test("tasks queue per device, and stop returns the collected data", async () => {
  const { lab, board } = await bench();
  try {
    const hold = await board.submit("thermo", {
      technique: "hold",
      params: { setpoint: 30 },
      sampling_interval: 0.01,
    });
    const next = await board.submit("thermo", { technique: "sample", sampling_interval: 0.01 });
    assert.equal(next.state, "queued");
    assert.equal(hold.status().can_submit, false);
    await new Promise((r) => setTimeout(r, 50));
    const data = await hold.stop();
    assert.equal(hold.state, "stopped");
    assert.ok(data.rows.length > 0);
    assert.equal(data.rows.at(-1)!.setpoint, 30);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(next.state, "running");
    await next.stop();
  } finally {
    await board.close();
    await lab.close();
  }
});

Deno.test("the motor's move task ends when the move is done", async () => {
  const { lab, board } = await bench();
  try {
    const task = await board.submit("motor", {
      technique: "move",
      params: { position: 2 },
      sampling_interval: 0.005,
    });
    await task.done;
    assert.equal(task.state, "completed");
    const rows = task.data().rows;
    assert.equal(rows.at(-1)!.moving, false);
    assert.ok(Math.abs((rows.at(-1)!.readback as number) - 2) < 1e-6);
  } finally {
    await board.close();
    await lab.close();
  }
});

Deno.test("a task the device cannot run is refused, listing what it can", async () => {
  const { lab, board } = await bench();
  try {
    await assert.rejects(
      () => board.submit("thermo", { technique: "move" }),
      (e) =>
        e instanceof UsageError &&
        /thermo cannot run "move"; it can run: sample, hold/.test(e.message),
    );
    await assert.rejects(
      () => board.submit("motor", { technique: "hold", params: { position: 1e6 } }),
      WriteRejected,
    );
    await assert.rejects(
      () => board.submit("thermo", { technique: "sample", max_duration: -1 }),
      /max_duration/,
    );
    assert.deepEqual(board.list(), []);
  } finally {
    await lab.close();
  }
});
