/**
 * Tasks, after tomato's driver model: a task is `{technique, params, sampling_interval,
 * max_duration}` run on one device. `prepare` sets attributes from the params; then the task
 * samples every `sampling_interval` until `max_duration` or a stop, caching its data (drained
 * by {@linkcode Task.data}, annotated with units). Each device runs one task at a time; later
 * submissions wait in the device's task queue.
 *
 * Techniques: `sample` (read chosen attrs: `params.attrs`), `hold` (write every param, then
 * sample), and device-specific ones a device lists in `techniques()` — `move` writes its
 * params and ends when the device stops moving.
 *
 * Bounded: the interval is at least 1 ms, every task ends by `max_duration` (capped by the
 * board, 7 days unless configured), the cached rows sit in a fixed ring (the oldest are dropped
 * and counted), a drain answers at most a page of them, and the sampling loop yields to the event
 * loop ({@linkcode fairTurn}) so a 1 ms task on a zero-latency device starves nothing.
 *
 * @module
 */
import type { Attr, Value } from "../device/attr.ts";
import { findAttr, validateWrite } from "../device/attr.ts";
import type { Reading } from "../device/device.ts";
import { errorMessage, UsageError } from "../device/errors.ts";
import { fairTurn } from "../schedule/fair.ts";
import { Schedule } from "../schedule/periodic.ts";
import type { Lab } from "./lab.ts";
import type { DeviceManager } from "./manager.ts";
import { readingRecord } from "../output/record.ts";

/** What a client submits. Durations in seconds, as in tomato's payloads. */
export interface TaskSpec {
  /** Technique name: `sample`, `hold`, or one the device lists. */
  technique: string;
  /** Technique parameters (attr values for `hold`/`move`; `attrs` for `sample`). */
  params?: Record<string, unknown>;
  /** Seconds between samples (default 1). */
  sampling_interval?: number;
  /** Seconds before the task completes by itself (default: until stopped; `move`: until done). */
  max_duration?: number;
}

/** Where a task is in its life. */
export type TaskState = "queued" | "running" | "completed" | "stopped" | "failed";

/** A task's status as the API reports it. */
export interface TaskStatus {
  /** Task id. */
  id: string;
  /** Device name. */
  device: string;
  /** Technique name. */
  technique: string;
  /** Parameters as submitted. */
  params: Record<string, unknown>;
  /** Seconds between samples. */
  sampling_interval: number;
  /** Maximum duration in seconds, or null for unbounded. */
  max_duration: number | null;
  /** Life state. */
  state: TaskState;
  /** True while the task is running. */
  running: boolean;
  /** True when the device's queue would take another task now (nothing running or queued). */
  can_submit: boolean;
  /** Fraction of max_duration elapsed (0–1), or null when unbounded. */
  progress: number | null;
  /** Epoch seconds of start, or null. */
  started: number | null;
  /** Epoch seconds of end, or null. */
  ended: number | null;
  /** Samples taken. */
  samples: number;
  /** Samples that failed. */
  errors: number;
  /** The last error message, or null. */
  last_error: string | null;
}

/** A task's cached data: rows (readings, flat as the CLI prints them) and each attribute's units. */
export interface TaskData {
  /** Task id. */
  id: string;
  /** Device name. */
  device: string;
  /** Units per attribute (absent attrs have none). */
  units: Record<string, string>;
  /** Samples since the last drain: `{t, ...values, error?}`. */
  rows: Record<string, unknown>[];
  /** Rows dropped because the cache was full (oldest first). */
  dropped: number;
}

/** The techniques every device can run. */
export const GENERIC_TECHNIQUES = ["sample", "hold"];

/** One parameter of a technique, as a form shows it. */
export interface TechniqueParam {
  /** Parameter name (`attrs` for `sample`, else a writable attribute). */
  name: string;
  /** Value type: an attribute type, or `attrs` for a list of this device's attribute names. */
  type: Attr["type"] | "attrs";
  /** Units of the attribute. */
  units?: string;
  /** Lower limit. */
  min?: number;
  /** Upper limit. */
  max?: number;
  /** Choices (enum values, or the attribute names `sample` can read). */
  options?: string[];
  /** What it is. */
  description?: string;
}

/**
 * The parameters each technique of a device takes, from its attributes (what the task board
 * validates against): `sample` takes `attrs` (names to read); `hold`, `move` and device
 * techniques write each given parameter to the writable attribute of that name first.
 *
 * @example
 * ```ts
 * import { techniqueParams } from "./task.ts";
 * const attrs = [{ name: "position", type: "number" as const, rw: true, status: true, units: "mm" }];
 * techniqueParams(["sample", "hold"], attrs).hold; // [{ name: "position", type: "number", units: "mm" }]
 * ```
 */
export function techniqueParams(
  techniques: readonly string[],
  attrs: readonly Attr[],
): Record<string, TechniqueParam[]> {
  const writable = attrs.filter((a) => a.rw).map((a): TechniqueParam => {
    const p: TechniqueParam = { name: a.name, type: a.type };
    if (a.units !== undefined) p.units = a.units;
    if (a.min !== undefined) p.min = a.min;
    if (a.max !== undefined) p.max = a.max;
    if (a.options !== undefined) p.options = [...a.options];
    if (a.description !== undefined) p.description = a.description;
    return p;
  });
  const out: Record<string, TechniqueParam[]> = {};
  for (const t of techniques) {
    out[t] = t === "sample"
      ? [{
        name: "attrs",
        type: "attrs",
        options: attrs.map((a) => a.name),
        description: "attributes to read (default: the status attributes)",
      }]
      : writable;
  }
  return out;
}

/** Rows a task keeps before dropping the oldest. */
export const MAX_TASK_ROWS = 10_000;

/** Shortest sampling interval, seconds. */
export const MIN_INTERVAL_S = 0.001;

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
  readonly #rows: (Record<string, unknown> | undefined)[];
  #head = 0;
  #size = 0;
  #dropped = 0;
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
    this.#rows = new Array(board.maxRows);
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

  /** Drains up to `limit` cached rows, oldest first (each row is returned once), annotated with units. */
  data(limit: number = this.#rows.length): TaskData {
    const n = Math.max(0, Math.min(limit, this.#size));
    const rows = new Array<Record<string, unknown>>(n);
    for (let k = 0; k < n; k++) {
      const at = (this.#head + k) % this.#rows.length;
      rows[k] = this.#rows[at]!;
      this.#rows[at] = undefined;
    }
    this.#head = (this.#head + n) % this.#rows.length;
    this.#size -= n;
    const dropped = this.#dropped;
    this.#dropped = 0;
    return { id: this.id, device: this.manager.name, units: this.#units, rows, dropped };
  }

  /** Stops the task (a queued task never starts), waits for it to end and returns its data. */
  async stop(): Promise<TaskData> {
    this.#stop.abort();
    if (this.#state === "queued") this.#finish("stopped");
    await this.done;
    return this.data();
  }

  /** Runs the task: prepare, then sample until done. Called by the board in queue order. */
  async run(): Promise<void> {
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
    // A row is a reading as every output writes it: t, device, values (or error).
    const row = readingRecord(reading);
    const cap = this.#rows.length;
    if (this.#size === cap) {
      // full: the oldest row makes room
      this.#head = (this.#head + 1) % cap;
      this.#size--;
      this.#dropped++;
    }
    this.#rows[(this.#head + this.#size) % cap] = row;
    this.#size++;
  }

  #finish(state: TaskState): void {
    if (this.#ended !== null) return;
    this.#state = state;
    this.#ended = Date.now() / 1000;
    this.#resolveDone();
  }
}

/** Every task of a Lab, with one task queue per device. */
export class TaskBoard {
  readonly #tasks = new Map<string, Task>();
  readonly #queues = new Map<string, Task[]>();
  readonly #running = new Map<string, Task>();

  readonly #maxDurationS: number;
  /** Rows each task caches before dropping the oldest. */
  readonly maxRows: number;

  /**
   * Creates the board of a lab; no task runs longer than `maxDurationS` (default 7 days) or
   * caches more than `maxRows` rows (default {@linkcode MAX_TASK_ROWS}).
   */
  constructor(readonly lab: Lab, options: { maxDurationS?: number; maxRows?: number } = {}) {
    this.#maxDurationS = options.maxDurationS ?? MAX_TASK_DURATION_S;
    this.maxRows = options.maxRows ?? MAX_TASK_ROWS;
  }

  /** The techniques a device can run: generic ones plus its own. */
  techniques(device: string): string[] {
    return [...GENERIC_TECHNIQUES, ...this.lab.get(device).device.techniques()];
  }

  /** True when nothing runs or waits on the device. */
  canSubmit(device: string): boolean {
    return !this.#running.has(device) && (this.#queues.get(device)?.length ?? 0) === 0;
  }

  /**
   * Validates and queues a task; throws a usage error (before anything runs) for an unknown
   * device, a technique the device cannot run, a bad duration or a parameter that fails the
   * attribute's validation.
   */
  async submit(device: string, spec: TaskSpec): Promise<Task> {
    const m = this.lab.get(device);
    const known = this.techniques(device);
    if (!known.includes(spec.technique)) {
      throw new UsageError(
        `${device} cannot run "${spec.technique}"; it can run: ${known.join(", ")}`,
      );
    }
    const iv = spec.sampling_interval;
    if (
      iv !== undefined &&
      !(typeof iv === "number" && iv >= MIN_INTERVAL_S && iv <= 86_400)
    ) {
      throw new UsageError(
        `sampling_interval must be a number of seconds from ${MIN_INTERVAL_S} to 86400, got ${
          JSON.stringify(iv)
        }`,
      );
    }
    const max = spec.max_duration;
    if (max !== undefined && !(typeof max === "number" && max > 0 && Number.isFinite(max))) {
      throw new UsageError(
        `max_duration must be a number of seconds > 0, got ${JSON.stringify(max)}`,
      );
    }
    if (max !== undefined && max > this.#maxDurationS) {
      throw new UsageError(
        `max_duration ${max} s is over the limit of ${this.#maxDurationS} s ([server] max_task_duration)`,
      );
    }
    // every task ends: without a max_duration it runs until the cap
    spec = { ...spec, max_duration: max ?? this.#maxDurationS };
    const params = spec.params ?? {};
    const attrs = await m.attrs();
    if (spec.technique === "sample") {
      const list = params.attrs;
      if (
        list !== undefined && !(Array.isArray(list) && list.every((x) => typeof x === "string"))
      ) {
        throw new UsageError("sample: params.attrs must be a list of attribute names");
      }
      for (const n of (list as string[] | undefined) ?? []) findAttr(attrs, n, device);
      for (const k of Object.keys(params)) {
        if (k !== "attrs") {
          throw new UsageError(`sample: unknown parameter "${k}" (it takes attrs)`);
        }
      }
    } else {
      const normalised: Record<string, Value> = {};
      for (const [name, value] of Object.entries(params)) {
        normalised[name] = validateWrite(findAttr(attrs, name, device), value);
      }
      spec = { ...spec, params: normalised };
    }
    const task = new Task(m, spec, this);
    this.#tasks.set(task.id, task);
    const queue = this.#queues.get(device) ?? [];
    queue.push(task);
    this.#queues.set(device, queue);
    this.#pump(device);
    return task;
  }

  /** Returns a task by id, or undefined. */
  get(id: string): Task | undefined {
    return this.#tasks.get(id);
  }

  /** Every task, oldest first. */
  list(): Task[] {
    return [...this.#tasks.values()];
  }

  /** Stops every task and waits for them. */
  async close(): Promise<void> {
    await Promise.all(this.list().map((t) => t.stop()));
  }

  #pump(device: string): void {
    if (this.#running.has(device)) return;
    const queue = this.#queues.get(device) ?? [];
    let next = queue.shift();
    while (next && next.state !== "queued") next = queue.shift();
    if (!next) return;
    this.#running.set(device, next);
    next.run().finally(() => {
      this.#running.delete(device);
      this.#pump(device);
    });
  }
}
