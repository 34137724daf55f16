/**
 * Tasks, after tomato's driver model: a task is `{technique, params, sampling_interval,
 * max_duration}` run on one device. `prepare` sets attributes from the params; then the task
 * samples every `sampling_interval` until `max_duration` or a stop, keeping its data (read with a
 * cursor by {@linkcode Task.data}, annotated with units; reading never drains it). Each device
 * runs one task at a time from a FIFO queue; a task that writes (every technique but `sample`)
 * owns its device while it runs, waits while a scan owns it (`DeviceOwners`), and leaves the
 * device in its configured safe state when it ends or is stopped ({@linkcode applySafeState}).
 *
 * Techniques: `sample` (read chosen attrs: `params.attrs`), `hold` (write every param, then
 * sample), and device-specific ones a device lists in `techniques()` — `move` writes its
 * params and ends when the device stops moving.
 *
 * Bounded: the interval is at least 1 ms, every task ends by `max_duration` (capped by the
 * board, 7 days unless configured), the kept rows sit in a fixed ring (the oldest are dropped
 * and counted), a read answers at most a page of them, a device queues at most
 * {@linkcode MAX_QUEUED_TASKS} tasks, the board forgets all but the last
 * {@linkcode KEEP_FINISHED_TASKS} finished ones, and the sampling loop yields to the event loop
 * ({@linkcode fairTurn}) so a 1 ms task on a zero-latency device starves nothing.
 *
 * The task documents and spec checks are in `task_spec.ts`; the row ring in `task_rows.ts`.
 *
 * @module
 */
import type { Reading } from "../device/device.ts";
import { errorMessage, UsageError } from "../device/errors.ts";
import type { Owner } from "./owners.ts";
import { applySafeState, type SafeStateResult } from "./safe_state.ts";
import { fairTurn } from "../schedule/fair.ts";
import { Schedule } from "../schedule/periodic.ts";
import type { Lab } from "./lab.ts";
import type { DeviceManager } from "./manager.ts";
import {
  checkTaskParams,
  checkTaskSpec,
  GENERIC_TECHNIQUES,
  type TaskData,
  type TaskDataPage,
  type TaskSpec,
  type TaskState,
  type TaskStatus,
} from "./task_spec.ts";
import { TaskRows } from "./task_rows.ts";

/** Rows a task keeps before dropping the oldest. */
export const MAX_TASK_ROWS = 10_000;

/** Tasks one device's queue holds (more is refused: `limit_exceeded`). */
export const MAX_QUEUED_TASKS = 1000;

/** Finished tasks the board remembers (older ones are in the session only). */
export const KEEP_FINISHED_TASKS = 1000;

/** Longest task when the board sets no cap, seconds (7 days). */
export const MAX_TASK_DURATION_S = 7 * 86_400;

let nextId = 1;

/** One task on one device. */
export class Task {
  /** Unique id, e.g. `t17`. */
  readonly id = `t${nextId++}`;
  #state: TaskState = "queued";
  #started: number | null = null;
  #ended: number | null = null;
  // A queued task's ring holds no buffer (1,000 queued tasks cost no memory of their own).
  readonly #rows: TaskRows;
  #samples = 0;
  #errors = 0;
  #lastError: string | null = null;
  #units: Record<string, string> = {};
  readonly #stop = new AbortController();
  /** Resolves when the task has ended (whatever the reason). */
  readonly done: Promise<void>;
  #resolveDone!: () => void;

  /** Creates a queued task (use {@linkcode TaskBoard.submit}). */
  constructor(
    readonly manager: DeviceManager,
    readonly spec: Required<Pick<TaskSpec, "technique">> & TaskSpec,
    private readonly board: TaskBoard,
  ) {
    this.done = new Promise((r) => (this.#resolveDone = r));
    this.#rows = new TaskRows(board.maxRows);
  }

  /** The task's state. */
  get state(): TaskState {
    return this.#state;
  }

  /** The status document. */
  status(): TaskStatus {
    const max = this.spec.max_duration ?? null;
    const now = this.#ended ?? Date.now() / 1000;
    return {
      id: this.id,
      device: this.manager.name,
      technique: this.spec.technique,
      params: this.spec.params ?? {},
      sampling_interval: this.spec.sampling_interval ?? 1,
      max_duration: max,
      state: this.#state,
      running: this.#state === "running",
      can_submit: this.board.canSubmit(this.manager.name),
      queue_position: this.#state === "queued" ? this.board.position(this) : null,
      waiting_for: this.#state === "queued" ? this.board.waitingFor(this) : null,
      progress: max === null || this.#started === null
        ? null
        : this.#state === "completed"
        ? 1
        : Math.min(1, (now - this.#started) / max),
      started: this.#started,
      ended: this.#ended,
      samples: this.#samples,
      errors: this.#errors,
      last_error: this.#lastError,
    };
  }

  /**
   * A page of the kept rows from row `since` on (default: the oldest kept), at most `limit`,
   * annotated with units. Reading takes nothing away: every reader pages on its own cursor
   * (`next_since`), as instserver's `get_data` keeps its data.
   */
  data(page: TaskDataPage = {}): TaskData {
    return { id: this.id, device: this.manager.name, units: this.#units, ...this.#rows.page(page) };
  }

  /**
   * Stops the task (a queued one is `cancelled` and never starts), waits for it to end (its
   * safe state applied) and answers its status.
   */
  async stop(): Promise<TaskStatus> {
    this.#stop.abort();
    if (this.#state === "queued") this.#finish("cancelled");
    await this.done;
    return this.status();
  }

  /** Who this task is as a device owner. */
  get owner(): Owner {
    return { kind: "task", id: this.id, what: this.spec.technique };
  }

  /**
   * Runs the task: prepare, then sample until done; then `after` (the board's end of task: the
   * safe state), and only then is the task `done`. Called by the board in queue order.
   */
  async run(after?: () => Promise<void> | void): Promise<void> {
    try {
      await this.#run();
    } finally {
      try {
        await after?.();
      } finally {
        this.#resolveDone();
      }
    }
  }

  async #run(): Promise<void> {
    if (this.#state !== "queued") return;
    this.#state = "running";
    this.#started = Date.now() / 1000;
    const signal = this.#stop.signal;
    try {
      const attrs = await this.manager.attrs({ signal });
      for (const a of attrs) if (a.units) this.#units[a.name] = a.units;
      const names = await this.#prepare(signal);
      const interval = (this.spec.sampling_interval ?? 1) * 1000;
      const maxMs = this.spec.max_duration === undefined
        ? undefined
        : this.spec.max_duration * 1000;
      const isMove = this.spec.technique === "move";
      for await (const _tick of new Schedule(interval, { signal, duration: maxMs })) {
        await fairTurn();
        if (signal.aborted) break;
        const reading = await this.manager.sample(names, { signal });
        this.#record(reading);
        if (isMove && this.manager.device.isMoving) {
          const moving = await this.manager.exclusive(
            () => this.manager.device.isMoving!({ signal }),
            signal,
          );
          if (!moving) {
            this.#record(await this.manager.sample(names, { signal }));
            break;
          }
        }
      }
      this.#finish(signal.aborted ? "stopped" : "completed");
    } catch (err) {
      if (signal.aborted) this.#finish("stopped");
      else {
        this.#lastError = errorMessage(err);
        this.#finish("failed");
      }
    }
  }

  /** Writes the technique's parameters; returns the attrs to sample (undefined = default). */
  async #prepare(signal: AbortSignal): Promise<string[] | undefined> {
    const params = this.spec.params ?? {};
    if (this.spec.technique === "sample") {
      const attrs = params.attrs;
      return Array.isArray(attrs) ? attrs.map(String) : undefined;
    }
    for (const [name, value] of Object.entries(params)) {
      await this.manager.write(name, value, { signal });
    }
    return undefined;
  }

  #record(reading: Reading): void {
    this.#samples++;
    if (reading.error !== undefined) {
      this.#errors++;
      this.#lastError = reading.error;
    }
    this.#rows.push(reading);
  }

  #finish(state: TaskState): void {
    if (this.#ended !== null) return;
    this.#state = state;
    this.#ended = Date.now() / 1000;
    // a task that never ran is done at once; one that ran is done after its end (run's after)
    if (this.#started === null) this.#resolveDone();
  }
}

/** Options of a {@linkcode TaskBoard}. */
export interface TaskBoardOptions {
  /** Longest task, seconds (default 7 days). */
  maxDurationS?: number;
  /** Rows each task keeps (default {@linkcode MAX_TASK_ROWS}). */
  maxRows?: number;
  /** Called with every task accepted (the session records it). */
  onSubmit?: (task: Task) => void;
  /** Called with each safe state applied at the end of a task (the session records it). */
  onSafeState?: (result: SafeStateResult) => void;
  /** Called when a task leaves its queue and starts (the daemon sends a `task` event). */
  onStart?: (task: Task) => void;
  /** Called when a task that ran has ended, before its safe state and the next task. */
  onEnd?: (task: Task) => void;
}

/** Every task of a Lab, with one FIFO task queue per device. */
export class TaskBoard {
  readonly #tasks = new Map<string, Task>();
  readonly #queues = new Map<string, Task[]>();
  readonly #running = new Map<string, Task>();
  readonly #offRelease: () => void;
  #finished = 0;
  #closing = false;

  readonly #maxDurationS: number;
  /** Rows each task keeps before dropping the oldest. */
  readonly maxRows: number;

  /**
   * Creates the board of a lab; no task runs longer than `maxDurationS` (default 7 days) or
   * keeps more than `maxRows` rows (default {@linkcode MAX_TASK_ROWS}).
   */
  constructor(readonly lab: Lab, readonly options: TaskBoardOptions = {}) {
    this.#maxDurationS = options.maxDurationS ?? MAX_TASK_DURATION_S;
    this.maxRows = options.maxRows ?? MAX_TASK_ROWS;
    // a scan (or task) letting go of a device starts the task waiting for it
    this.#offRelease = lab.owners.onRelease((device) => this.#pump(device));
  }

  /** The techniques a device can run: generic ones plus its own. */
  techniques(device: string): string[] {
    return [...GENERIC_TECHNIQUES, ...this.lab.get(device).device.techniques()];
  }

  /** True when a task submitted to `device` now would start at once. */
  canSubmit(device: string): boolean {
    return !this.#running.has(device) &&
      !(this.#queues.get(device)?.some((t) => t.state === "queued") ?? false) &&
      this.lab.owners.holder(device) === undefined;
  }

  /** A queued task's place in its device's queue (1 = next), or null. */
  position(task: Task): number | null {
    let n = 0;
    for (const t of this.#queues.get(task.manager.name) ?? []) {
      if (t.state !== "queued") continue; // cancelled ones leave at the next start
      n++;
      if (t === task) return n;
    }
    return null;
  }

  /** What a queued task waits for: the task running on its device, or the device's owner. */
  waitingFor(task: Task): string | null {
    const device = task.manager.name;
    const running = this.#running.get(device);
    if (running) return `task ${running.id}`;
    const ahead = this.#queues.get(device)?.find((t) => t.state === "queued");
    if (ahead && ahead !== task) return `task ${ahead.id}`;
    const owner = this.lab.owners.holder(device);
    return owner ? `${owner.kind} ${owner.id}` : null;
  }

  /**
   * Validates and queues a task; throws a usage error (before anything runs) for an unknown
   * device, a technique the device cannot run, a bad duration, a parameter that fails the
   * attribute's validation, or a full queue.
   */
  async submit(device: string, spec: TaskSpec): Promise<Task> {
    const m = this.lab.get(device);
    checkTaskSpec(device, spec, this.techniques(device), this.#maxDurationS);
    const queued = this.#queues.get(device);
    if (queued && queued.length >= MAX_QUEUED_TASKS) this.#compact(queued);
    if ((queued?.length ?? 0) >= MAX_QUEUED_TASKS) {
      throw new QueueFull(
        `${device} already has ${MAX_QUEUED_TASKS} tasks queued (the most a device queues); ` +
          "wait for some to finish or cancel them",
      );
    }
    // every task ends: without a max_duration it runs until the cap
    spec = { ...spec, max_duration: spec.max_duration ?? this.#maxDurationS };
    spec = checkTaskParams(device, spec, await m.attrs());
    const task = new Task(m, spec, this);
    this.#tasks.set(task.id, task);
    const queue = this.#queues.get(device) ?? [];
    queue.push(task);
    this.#queues.set(device, queue);
    this.options.onSubmit?.(task);
    task.done.then(() => this.#forgetOld());
    this.#pump(device);
    return task;
  }

  /** Stops every task of `device` (queued ones are cancelled) and waits for them (a device removed). */
  async stopDevice(device: string): Promise<void> {
    const mine = this.list().filter((t) => t.manager.name === device);
    for (const t of mine) if (t.state === "queued") void t.stop();
    await Promise.all(mine.map((t) => t.stop()));
    this.#queues.delete(device);
  }

  /** Returns a task by id, or undefined. */
  get(id: string): Task | undefined {
    return this.#tasks.get(id);
  }

  /** Every task kept (queued, running, the last finished), oldest first. */
  list(): Task[] {
    return [...this.#tasks.values()];
  }

  /**
   * Stops every task and waits for them. No safe state is applied for them here: the caller
   * (the daemon stopping) applies every device's once.
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#offRelease();
    // queued ones first, so none starts while the running ones stop
    const all = this.list();
    for (const t of all) if (t.state === "queued") void t.stop();
    await Promise.all(all.map((t) => t.stop()));
  }

  #pump(device: string): void {
    if (this.#running.has(device)) return;
    const queue = this.#queues.get(device);
    if (!queue) return;
    while (queue.length > 0 && queue[0]!.state !== "queued") queue.shift();
    const next = queue[0];
    if (!next) return;
    const writes = next.spec.technique !== "sample";
    // a task that writes waits while a scan (or anyone) owns the device: the release pumps again
    if (writes && this.lab.owners.holder(device) !== undefined) return;
    queue.shift();
    if (writes) this.lab.owners.claim([device], next.owner);
    this.#running.set(device, next);
    // the device is let go before the task is `done`: whoever awaited the end finds it free
    void next.run(async () => {
      try {
        this.options.onEnd?.(next);
        // a task that wrote leaves its device in its safe state before the next one starts
        if (writes && !this.#closing) {
          const r = await applySafeState(next.manager, `task ${next.id} ${next.state}`);
          if (r) this.options.onSafeState?.(r);
        }
      } finally {
        this.#running.delete(device);
        if (writes) this.lab.owners.release(next.owner);
        else this.#pump(device);
      }
    });
    // run() has set it running before its first await: the hook sees it started
    this.options.onStart?.(next);
  }

  /** Drops cancelled tasks from a queue (they stay in it until then: cancelling is O(1)). */
  #compact(queue: Task[]): void {
    let w = 0;
    for (const t of queue) if (t.state === "queued") queue[w++] = t;
    queue.length = w;
  }

  #forgetOld(): void {
    this.#finished++;
    if (this.#finished <= KEEP_FINISHED_TASKS) return;
    for (const [id, t] of this.#tasks) {
      if (this.#finished <= KEEP_FINISHED_TASKS) break;
      if (t.state === "queued" || t.state === "running") continue;
      this.#tasks.delete(id);
      this.#finished--;
    }
  }
}

/** A device's task queue is full. */
export class QueueFull extends UsageError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "QueueFull";
  }
}
