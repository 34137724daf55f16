import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import { UsageError, WriteRejected } from "../device/errors.ts";
import { Lab } from "./lab.ts";
import {
  KEEP_FINISHED_TASKS,
  MAX_QUEUED_TASKS,
  MAX_TASK_ROWS,
  QueueFull,
  TaskBoard,
} from "./task.ts";

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
    const again = task.data();
    assert.deepEqual(again.rows, data.rows, "reading keeps the data");
    assert.equal(again.next_since, data.rows.length);
    assert.equal(task.data({ since: again.next_since }).rows.length, 0, "nothing after the end");
  } finally {
    await board.close();
    await lab.close();
  }
});

Deno.test("tasks queue per device, and a stopped task keeps its data", async () => {
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
    assert.equal((await hold.stop()).state, "stopped");
    const data = hold.data();
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
    // a typo gets the closest technique, as the daemon's answer has it
    await assert.rejects(
      () => board.submit("thermo", { technique: "sampel" }),
      (e) => e instanceof UsageError && e.hint === 'did you mean "sample"?',
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
    const first = task.data({ limit: 50 });
    assert.equal(first.rows.length, 50);
    assert.ok(first.dropped >= 100, `${first.dropped} dropped`);
    assert.equal(first.since, first.dropped, "the page starts at the oldest row kept");
    await task.stop();
    const rest = task.data({ since: first.next_since });
    assert.equal(rest.since, first.next_since);
    assert.ok(rest.rows.length <= 150 && rest.rows.length >= 100, `${rest.rows.length} rows`);
    assert.ok((first.rows[49]!.t as number) <= (rest.rows[0]!.t as number), "in order");
    assert.equal(task.data({ since: rest.next_since }).rows.length, 0);
    // a cursor from before the ring's start continues at the oldest row kept
    assert.equal(task.data({ since: 0 }).since, task.data().dropped);
  } finally {
    await board.close();
    await lab.close();
  }
});

Deno.test("a FIFO queue per device: positions, cancelling a queued task, the next one starts", async () => {
  const { lab, board } = await bench();
  try {
    const first = await board.submit("thermo", { technique: "hold", params: { setpoint: 30 } });
    const second = await board.submit("thermo", { technique: "sample", sampling_interval: 0.01 });
    const third = await board.submit("thermo", { technique: "sample", sampling_interval: 0.01 });
    assert.equal(first.state, "running");
    assert.equal(first.status().queue_position, null);
    assert.deepEqual(
      [second.status().queue_position, third.status().queue_position],
      [1, 2],
    );
    assert.equal(second.status().waiting_for, `task ${first.id}`);
    const cancelled = await second.stop();
    assert.equal(cancelled.state, "cancelled");
    assert.equal(cancelled.started, null);
    assert.equal(third.status().queue_position, 1, "the one behind moves up");
    await first.stop();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(third.state, "running", "the next one starts when the running one ends");
    assert.equal(second.state, "cancelled", "a cancelled task never starts");
    await third.stop();
    assert.deepEqual(board.list().map((t) => t.id), [first.id, second.id, third.id]);
  } finally {
    await board.close();
    await lab.close();
  }
});

Deno.test("one owner per device: a writing task waits while a scan owns it, then runs", async () => {
  const { lab, board } = await bench();
  try {
    lab.owners.claim(["motor"], { kind: "scan", id: "s1" });
    const move = await board.submit("motor", { technique: "move", params: { position: 1 } });
    assert.equal(move.state, "queued");
    assert.equal(move.status().waiting_for, "scan s1");
    assert.equal(board.canSubmit("motor"), false);
    // a sample task does not own: it runs beside the scan
    const sample = await board.submit("thermo", { technique: "sample", sampling_interval: 0.01 });
    assert.equal(sample.state, "running");
    lab.owners.release({ kind: "scan", id: "s1" });
    assert.equal(move.state, "running", "released: the queued task starts at once");
    assert.deepEqual(lab.owners.holder("motor"), move.owner);
    // while the task owns the motor, a scan (or a plain write) is refused
    assert.throws(
      () => lab.owners.claim(["motor"], { kind: "scan", id: "s2" }),
      /motor is owned by task t\d+ \(move\)/,
    );
    await move.done;
    assert.equal(lab.owners.holder("motor"), undefined, "the task let go when it ended");
    await sample.stop();
  } finally {
    await board.close();
    await lab.close();
  }
});

Deno.test("a device's queue is bounded and the board forgets old finished tasks", async () => {
  const { lab, board } = await bench();
  try {
    const running = await board.submit("thermo", { technique: "hold", params: { setpoint: 1 } });
    const queued = [];
    for (let i = 0; i < MAX_QUEUED_TASKS; i++) {
      queued.push(await board.submit("thermo", { technique: "sample" }));
    }
    await assert.rejects(
      () => board.submit("thermo", { technique: "sample" }),
      (e) => e instanceof QueueFull && /already has 1000 tasks queued/.test(e.message),
    );
    for (const t of queued) await t.stop();
    await running.stop();
    for (let i = 0; i < 5; i++) await (await board.submit("motor", { technique: "sample" })).stop();
    assert.ok(board.list().length <= KEEP_FINISHED_TASKS, `${board.list().length} kept`);
    assert.equal(board.get(running.id), undefined, "the oldest finished task is forgotten");
  } finally {
    await board.close();
    await lab.close();
  }
});
