/**
 * What the task queue adds to a task's start, with 100 tasks queued on one device (a zero-latency
 * sim thermo): 101 short `hold` tasks are submitted at once (one runs, 100 wait), five rounds.
 *
 * - handoff: from a task's end (the board's `onEnd`) to the next one's start (`onStart`): the
 *   queue's own work between two tasks (dropping the finished one, letting the device go,
 *   picking and starting the next);
 * - submit: one `submit` (validation included) while 100 tasks wait in the queue.
 *
 * Target (issue 14): the queue adds ≤ 1 ms per task start (p99) at 100 queued tasks.
 *
 * Run: deno run -A tests/bench/task_queue.ts
 */
import "../../lib/drivers/mod.ts";
import { parseConfig } from "../../lib/config/load.ts";
import { Lab } from "../../lib/lab/lab.ts";
import { type Task, TaskBoard } from "../../lib/lab/task.ts";
import { Targets } from "./targets.ts";

const targets = new Targets("task-queue");
const QUEUED = 100;
const ROUNDS = 5;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const lab = await Lab.open(parseConfig(`[devices.thermo]\naddress = "sim://thermo"\n`));
const ended = new Map<Task, number>();
const started = new Map<Task, number>();
const board = new TaskBoard(lab, {
  onStart: (t) => started.set(t, performance.now()),
  onEnd: (t) => ended.set(t, performance.now()),
});
const handoffs: number[] = [];
const submits: number[] = [];
try {
  for (let round = 0; round <= ROUNDS; round++) {
    ended.clear();
    started.clear();
    const tasks: Task[] = [];
    for (let i = 0; i <= QUEUED; i++) {
      const t0 = performance.now();
      tasks.push(
        await board.submit("thermo", {
          technique: "hold",
          params: { setpoint: 20 + (i % 10) },
          sampling_interval: 0.001,
          max_duration: 0.002,
        }),
      );
      // the 101st submit finds 100 tasks waiting; round 0 warms the JIT up
      if (i === QUEUED && round > 0) submits.push(performance.now() - t0);
    }
    await Promise.all(tasks.map((t) => t.done));
    if (round === 0) continue;
    for (let i = 1; i < tasks.length; i++) {
      handoffs.push(started.get(tasks[i]!)! - ended.get(tasks[i - 1]!)!);
    }
    // one submit per queue length would give 5 samples: measure 100 more at a full queue
    const blocker = await board.submit("thermo", { technique: "hold", params: { setpoint: 20 } });
    const waiting: Task[] = [];
    for (let i = 0; i < QUEUED; i++) {
      const t0 = performance.now();
      waiting.push(await board.submit("thermo", { technique: "sample", max_duration: 0.001 }));
      if (i >= QUEUED / 2) submits.push(performance.now() - t0);
    }
    for (const t of waiting) await t.stop();
    await blocker.stop();
  }
} finally {
  await board.close();
  await lab.close();
}
const h = [...handoffs].sort((a, b) => a - b);
const s = [...submits].sort((a, b) => a - b);
const f = (x: number) => x.toFixed(4);
console.log(
  `task-queue: ${handoffs.length} handoffs with up to ${QUEUED} tasks queued: median ${
    f(quantile(h, 0.5))
  } ms, p99 ${f(quantile(h, 0.99))} ms, max ${f(h.at(-1)!)} ms; ${submits.length} submits ` +
    `with 50–100 queued: median ${f(quantile(s, 0.5))} ms, p99 ${f(quantile(s, 0.99))} ms`,
);
targets.check(
  "queue handoff to the next task's start, p99, 100 queued",
  quantile(h, 0.99),
  "<=",
  1,
  "ms",
);
targets.check("submit with 100 queued, p99", quantile(s, 0.99), "<=", 1, "ms");
targets.finish();
