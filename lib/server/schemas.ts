/**
 * The zod schemas of the HTTP API. They validate requests (objects are strict: unknown fields are
 * a 400) and generate `/api/openapi.json`, so the document cannot drift from the code. Every
 * number a request carries is finite and bounded here (a value over a limit is a 422 naming it):
 * a request cannot make the daemon allocate or loop without limit.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { TASK_STATES, type TaskState } from "../lab/task_spec.ts";

/** An attribute value. */
export const ValueSchema = z.union([
  z.number(),
  z.boolean(),
  z.string(),
  z.array(z.number()),
  z.null(),
])
  .openapi("Value");

/** An error answer. */
export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({ example: "write_rejected" }),
    message: z.string().openapi({ example: "position: 300 is above the upper limit 100 mm" }),
  }),
}).openapi("Error");

/**
 * One reading, flat as the CLI prints it: `t`, `device`, then one key per attribute value, or
 * `error` when the read failed (no attribute may be called `t`, `device` or `error`).
 */
export const ReadingSchema = z.object({
  t: z.number().openapi({
    description: "Unix epoch seconds, ms precision (ISO 8601 with offset under ?time=iso)",
    example: 1732550000.123,
  }),
  device: z.string(),
  error: z.string().optional().openapi({ description: "why the read failed; no values then" }),
}).catchall(ValueSchema).openapi("Reading", {
  example: { t: 1732550000.123, device: "gauge", pressure: 0.0779, pressure_units: "torr" },
});

/** One range of an attribute's EPICS limits; null for a bound that is not set. */
const LimitRangeSchema = z.object({ low: z.number().nullable(), high: z.number().nullable() });

/** An attribute declaration. */
export const AttrSchema = z.object({
  name: z.string(),
  type: z.enum(["number", "integer", "boolean", "string", "enum", "number[]"]),
  rw: z.boolean(),
  units: z.string().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  options: z.array(z.string()).optional(),
  precision: z.number().optional(),
  description: z.string().optional(),
  limits: z.object({
    display: LimitRangeSchema,
    warning: LimitRangeSchema,
    alarm: LimitRangeSchema,
    control: LimitRangeSchema,
  }).optional().openapi({
    description: "an EPICS PV's display, warning, alarm and control ranges (DBR_CTRL)",
  }),
  elements: z.number().int().optional().openapi({ description: "element count of an array" }),
  default_reading: z.boolean().openapi({ description: "part of the device's default reading" }),
}).openapi("Attr");

/** A device in the list. */
export const DeviceSummarySchema = z.object({
  name: z.string(),
  driver: z.string(),
  address: z.string(),
  state: z.enum(["unknown", "up", "down"]),
  interval_s: z.number(),
  last_t: z.number().nullable(),
  last_age_s: z.number().nullable(),
  error: z.string().nullable(),
}).openapi("DeviceSummary");

/** A device in detail. */
export const DeviceDetailSchema = DeviceSummarySchema.omit({ last_age_s: true }).extend({
  attrs: z.array(AttrSchema),
  attrs_error: z.string().nullable(),
  last: ReadingSchema.nullable(),
  techniques: z.array(z.string()),
  technique_params: z.record(
    z.string(),
    z.array(z.object({
      name: z.string(),
      type: z.string(),
      units: z.string().optional(),
      min: z.number().optional(),
      max: z.number().optional(),
      options: z.array(z.string()).optional(),
      description: z.string().optional(),
    })),
  ).openapi({
    description: "Each technique's parameters (what a task form asks for): sample takes attrs, " +
      "hold and move take writable attributes",
  }),
  busy: z.boolean(),
}).openapi("DeviceDetail");

/** Body of `PUT /api/devices/{name}/attrs/{attr}`. */
export const WriteBodySchema = z.object({ value: ValueSchema }).strict().openapi("WriteBody");

/** Answer of a write: the read-back. */
export const WriteResultSchema = z.object({
  device: z.string(),
  attr: z.string(),
  value: ValueSchema,
  t: z.number(),
}).openapi("WriteResult");

/** Body of `POST /api/devices`: the name, address and other keys of a `[devices.NAME]` table. */
export const AddDeviceSchema = z.object({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, "letters, digits, _ and -, not first a digit")
    .max(100).openapi({ example: "gauge2" }),
  address: z.string().min(1).max(2000).openapi({ example: "sim://gauge?seed=4" }),
  options: z.record(z.string(), z.unknown()).default({}).openapi({
    description:
      'the other keys of the table (interval, timeout, safe_state, driver options), e.g. {"interval": "500ms"}',
  }),
}).strict().openapi("AddDevice");

/** Shortest task sampling interval, seconds (1 ms: the schedule's resolution). */
export const MIN_SAMPLING_INTERVAL_S = 0.001;
/** Longest task sampling interval, seconds (1 day). */
export const MAX_SAMPLING_INTERVAL_S = 86_400;

/** Body of `POST /api/devices/{name}/tasks` with `max_duration` capped at `maxDurationS` seconds. */
export function taskBodySchema(maxDurationS: number) {
  return z.object({
    technique: z.string().min(1).max(100).openapi({ example: "hold" }),
    params: z.record(z.string(), z.unknown()).default({}),
    sampling_interval: z.number().min(MIN_SAMPLING_INTERVAL_S).max(MAX_SAMPLING_INTERVAL_S)
      .optional().openapi({ description: "seconds, 0.001 to 86400 (default 1)" }),
    max_duration: z.number().positive().max(maxDurationS).optional().openapi({
      description:
        `seconds; at most ${maxDurationS} ([server] max_task_duration), which is also the default`,
    }),
  }).strict().openapi("TaskBody");
}

/** Body of `POST /api/devices/{name}/tasks` with the default duration cap (7 days). */
export const TaskBodySchema = taskBodySchema(7 * 86_400);

/** Most points one `GET /api/scans/{id}` answers. */
export const MAX_POINTS_PAGE = 10_000;

/** Which points of a scan to answer. */
export interface ScanPage {
  /** First point index (default 0). */
  since?: number;
  /** Most points (default 1000, at most {@linkcode MAX_POINTS_PAGE}). */
  limit?: number;
}

/** Query of `GET /api/scans/{id}`: a page of points. */
export const ScanPageQuery = z.object({
  since: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().openapi({
    description: "first point index (default 0); pass the answer's next_since to continue",
  }),
  limit: z.coerce.number().int().min(1).max(MAX_POINTS_PAGE).optional().openapi({
    description: `most points (default 1000, at most ${MAX_POINTS_PAGE})`,
  }),
}).strict();

/** Query of `DELETE /api/scans/{id}`: stop at once or after the current point, and a page. */
export const ScanStopQuery = ScanPageQuery.extend({
  now: z.enum(["1", "true", "0", "false"]).optional().transform((v) => v === "1" || v === "true")
    .openapi({
      description: "1 or true: stop at once, as a second Ctrl-C does (nothing moves back); " +
        "default: after the current point, relative positioners returned",
    }),
}).strict();

/** Query of `GET /api/tasks/{id}/data`: a page of the kept rows. */
export const TaskDataQuery = z.object({
  since: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().openapi({
    description:
      "first row index (default: the oldest row kept); pass the answer's next_since to continue",
  }),
  limit: z.coerce.number().int().min(1).max(MAX_POINTS_PAGE).optional().openapi({
    description: `most rows (default and at most ${MAX_POINTS_PAGE})`,
  }),
}).strict();

/** Query of `GET /api/tasks`: filters. */
export const TaskListQuery = z.object({
  device: z.string().min(1).max(200).optional().openapi({ description: "only this device's" }),
  state: z.enum(TASK_STATES as [TaskState, ...TaskState[]]).optional().openapi({
    description: "only tasks in this state",
  }),
}).strict();

const finite = () => z.number();
const ref = () => z.string().min(3).max(200);

/** A line or mesh axis. */
const AxisSchema = z.object({ positioner: ref(), start: finite(), stop: finite() }).strict();

/**
 * The plan of a scan (see lib/scan/plan.ts) with at most `maxPoints` points per `num` and per
 * list; the product of a mesh's axes is checked against the same limit when the plan is made.
 */
export function planSchema(maxPoints: number) {
  const num = () => z.number().int().min(1).max(maxPoints);
  return z.discriminatedUnion("kind", [
    z.object({
      kind: z.literal("line"),
      relative: z.boolean().default(false),
      axes: z.array(AxisSchema).min(1).max(16),
      num: num(),
      spacing: z.enum(["linear", "log"]).default("linear"),
    }).strict(),
    z.object({
      kind: z.literal("mesh"),
      relative: z.boolean().default(false),
      axes: z.array(AxisSchema.extend({ num: num() })).min(1).max(8),
      snake: z.boolean().default(false),
    }).strict(),
    z.object({
      kind: z.literal("list"),
      relative: z.boolean().default(false),
      positioners: z.array(ref()).min(1).max(16),
      points: z.array(z.array(finite()).max(16)).min(1).max(maxPoints),
    }).strict(),
    z.object({ kind: z.literal("count"), num: num() }).strict(),
  ]).openapi({
    example: {
      kind: "line",
      relative: false,
      axes: [{ positioner: "motor.position", start: 0, stop: 10 }],
      num: 11,
      spacing: "linear",
    },
  });
}

/** Body of `POST /api/scans` for a server taking plans of at most `maxPoints` points. */
export function scanBodySchema(maxPoints: number) {
  return z.object({
    plan: planSchema(maxPoints),
    detectors: z.array(ref()).max(64).openapi({ example: ["det.counts"] }),
    triggers: z.array(ref()).max(16).optional().openapi({ example: ["dmm.initiate"] }),
    settle_ms: z.number().min(0).max(3_600_000).optional(),
    dwell_ms: z.number().min(0).max(3_600_000).optional(),
    tolerance: z.number().positive().optional(),
    move_timeout_ms: z.number().positive().max(86_400_000).optional(),
    readbacks: z.record(ref(), ref()).optional(),
    poll_ms: z.number().min(1).max(60_000).optional(),
    goto: z.enum(["peak", "cen", "com"]).optional().openapi({
      description: "when the scan completes, move the first positioner to the first detector's " +
        "peak, centre of its FWHM or centre of mass",
    }),
    set: z.record(ref(), z.union([z.number(), z.boolean(), z.string().max(1000)])).optional()
      .openapi({
        description: "settings for the scan: written before the first move, restored after",
        example: { "dmm.range": "10" },
      }),
    baseline: z.array(z.string().min(1).max(200)).max(64).optional().openapi({
      description: "devices read at the start and the end, stored with the scan",
      example: ["thermo"],
    }),
    suspend_on: z.array(z.string().min(1).max(200)).min(1).max(64).optional().openapi({
      description: 'alarm names (or "any") that suspend the scan while active',
      example: ["any"],
    }),
    resume_after_ms: z.number().min(0).max(86_400_000).optional(),
  }).strict().openapi("ScanRequest");
}

/** A parsed `POST /api/scans` body. */
export type ScanBody = z.infer<ReturnType<typeof scanBodySchema>>;

/** A task's status. */
export const TaskSchema = z.object({
  id: z.string(),
  device: z.string(),
  technique: z.string(),
  params: z.record(z.string(), z.unknown()),
  sampling_interval: z.number(),
  max_duration: z.number().nullable(),
  state: z.enum(TASK_STATES as [TaskState, ...TaskState[]]),
  running: z.boolean(),
  can_submit: z.boolean(),
  queue_position: z.number().int().nullable(),
  waiting_for: z.string().nullable(),
  progress: z.number().nullable(),
  started: z.number().nullable(),
  ended: z.number().nullable(),
  samples: z.number(),
  errors: z.number(),
  last_error: z.string().nullable(),
}).openapi("Task");

/** A task's status with a page of its kept data (reading it takes nothing away). */
export const TaskDataSchema = z.object({
  task: TaskSchema,
  data: z.object({
    id: z.string(),
    device: z.string(),
    units: z.record(z.string(), z.string()),
    since: z.number().int(),
    rows: z.array(z.record(z.string(), z.unknown())),
    next_since: z.number().int(),
    dropped: z.number().int(),
  }),
}).openapi("TaskData");

/** `GET /api/tasks`. */
export const TaskListSchema = z.object({ tasks: z.array(TaskSchema) }).openapi("TaskList");

/** Recorded samples, downsampled. */
export const SamplesSchema = z.object({
  device: z.string(),
  attr: z.string(),
  units: z.string().nullable(),
  from: z.number(),
  to: z.number(),
  rows: z.number().int(),
  bucket: z.number().nullable().openapi({ description: "bucket width in seconds; null: raw" }),
  t: z.array(z.number()),
  min: z.array(z.number()),
  max: z.array(z.number()),
}).openapi("Samples");

/** Health summary. */
export const HealthSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  version: z.string(),
  uptime_s: z.number(),
  devices: z.object({
    up: z.array(z.string()),
    down: z.array(z.string()),
    unknown: z.array(z.string()),
  }),
  last_sample_age_s: z.number().nullable(),
  session: z.object({
    ok: z.boolean(),
    recording: z.boolean(),
    problem: z.string().nullable(),
    path: z.string().nullable(),
    rows_written: z.number(),
    write_errors: z.number(),
    dropped_samples: z.number(),
  }),
  problems: z.array(z.string()),
  missed_deadlines: z.number(),
  sse_clients: z.number(),
}).openapi("Health");

/** Name path parameter. */
export const NameParam = z.object({
  name: z.string().openapi({ param: { name: "name", in: "path" }, example: "gauge" }),
});

/** Id path parameter. */
export const IdParam = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" } }),
});
