import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import { UsageError, WriteRejected } from "../device/errors.ts";
import { Lab } from "./lab.ts";
import { MAX_TASK_ROWS, TaskBoard } from "./task.ts";

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
    // A row is a reading, flat as the CLI prints it.
    assert.deepEqual(Object.keys(data.rows[0]!), ["t", "device", "temperature"]);
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

Deno.test("task bounds: interval ≥ 1 ms, max_duration capped and defaulted to the cap", async () => {
  const lab = await Lab.open(parseConfig(`[devices.thermo]\naddress = "sim://thermo"\n`));
  const board = new TaskBoard(lab, { maxDurationS: 60 });
  try {
    for (const sampling_interval of [1e-9, 0.0005, 0, -1, Infinity, NaN, 1e6]) {
      await assert.rejects(
        () => board.submit("thermo", { technique: "sample", sampling_interval }),
        (e: unknown) => e instanceof UsageError && /sampling_interval must be/.test(e.message),
        String(sampling_interval),
      );
    }
    await assert.rejects(
      () => board.submit("thermo", { technique: "sample", max_duration: 61 }),
      /over the limit of 60 s \(\[server\] max_task_duration\)/,
    );
    const t = await board.submit("thermo", { technique: "sample", sampling_interval: 0.001 });
    assert.equal(t.status().max_duration, 60, "a task without max_duration ends at the cap");
    await t.stop();
  } finally {
    await board.close();
    await lab.close();
  }
});

Deno.test("task rows sit in a bounded ring, drained oldest first a page at a time", async () => {
  const lab = await Lab.open(parseConfig(`[devices.thermo]\naddress = "sim://thermo"\n`));
  const board = new TaskBoard(lab, { maxRows: 200 });
  try {
    assert.equal(new TaskBoard(lab).maxRows, MAX_TASK_ROWS);
    const task = await board.submit("thermo", { technique: "sample", sampling_interval: 0.001 });
    // fill past the ring: the oldest rows are dropped and counted, never an unbounded cache
    while (task.status().samples < 300) await new Promise((r) => setTimeout(r, 10));
    const first = task.data(50);
    assert.equal(first.rows.length, 50);
    assert.ok(first.dropped >= 100, `${first.dropped} dropped`);
    const rest = await task.stop();
    assert.ok(rest.rows.length <= 200 && rest.rows.length >= 150, `${rest.rows.length} rows`);
    assert.ok((first.rows[49]!.t as number) <= (rest.rows[0]!.t as number), "in order");
    assert.equal(task.data().rows.length, 0);
  } finally {
    await board.close();
    await lab.close();
  }
});
