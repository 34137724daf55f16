/**
 * What a task is to its clients: the spec a client submits, the status and data documents it
 * reads back, the techniques every device runs and the parameters each technique takes, and the
 * checks a spec passes before the board queues it ({@linkcode checkTaskSpec},
 * {@linkcode checkTaskParams}) — pure, no device I/O.
 *
 * @module
 */
import type { Attr, Value } from "../device/attr.ts";
import { findAttr, validateWrite } from "../device/attr.ts";
import { UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";

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
export type TaskState = "queued" | "running" | "completed" | "stopped" | "failed" | "cancelled";

/** Every task state, in life order (`cancelled`: stopped while queued, never started). */
export const TASK_STATES: readonly TaskState[] = [
  "queued",
  "running",
  "completed",
  "stopped",
  "failed",
  "cancelled",
];

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
  /** True when a task submitted to this device now would start at once (nothing runs or waits). */
  can_submit: boolean;
  /** Place in the device's queue while queued (1 = next to start), else null. */
  queue_position: number | null;
  /** While queued: what it waits for (`task t3`, `scan s1`), else null. */
  waiting_for: string | null;
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

/** A page of a task's kept data: rows (readings, flat as the CLI prints them) and units. */
export interface TaskData {
  /** Task id. */
  id: string;
  /** Device name. */
  device: string;
  /** Units per attribute (absent attrs have none). */
  units: Record<string, string>;
  /** Index of the first row of this page (row numbers count from 0 over the task's life). */
  since: number;
  /** Rows from `since` on: `{t, device, ...values}` or `{t, device, error}`. */
  rows: Record<string, unknown>[];
  /** Cursor of the next page: pass it as `since` to continue where this page ended. */
  next_since: number;
  /** Rows no longer kept (the oldest ones, dropped because the ring was full). */
  dropped: number;
}

/** Which rows of a task's data to answer. */
export interface TaskDataPage {
  /** First row index (default: the oldest row kept). */
  since?: number;
  /** Most rows (default: all kept). */
  limit?: number;
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
 * import { techniqueParams } from "./task_spec.ts";
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

/** Shortest sampling interval, seconds. */
export const MIN_INTERVAL_S = 0.001;

/**
 * Checks a spec's technique against the ones `device` can run (`known`) and its interval and
 * duration against their bounds; throws a usage error naming what to change.
 */
export function checkTaskSpec(
  device: string,
  spec: TaskSpec,
  known: readonly string[],
  maxDurationS: number,
): void {
  if (!known.includes(spec.technique)) {
    throw new UsageError(
      `${device} cannot run "${spec.technique}"; it can run: ${known.join(", ")}`,
      didYouMean(spec.technique, known) || undefined,
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
  if (max !== undefined && max > maxDurationS) {
    throw new UsageError(
      `max_duration ${max} s is over the limit of ${maxDurationS} s ([server] max_task_duration)`,
    );
  }
}

/**
 * Checks a spec's parameters against the device's attributes and answers the spec with them
 * normalised: `sample` takes only `attrs` (known names); every other technique's parameters are
 * validated as writes to the attribute of that name. Throws a usage error.
 */
export function checkTaskParams(device: string, spec: TaskSpec, attrs: readonly Attr[]): TaskSpec {
  const params = spec.params ?? {};
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
    return spec;
  }
  const normalised: Record<string, Value> = {};
  for (const [name, value] of Object.entries(params)) {
    normalised[name] = validateWrite(findAttr(attrs, name, device), value);
  }
  return { ...spec, params: normalised };
}
