/**
 * The zod schemas of the HTTP API. They validate requests (objects are strict: unknown fields are
 * a 400) and generate `/api/openapi.json`, so the document cannot drift from the code.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";

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

/** One reading. */
export const ReadingSchema = z.object({
  t: z.number().openapi({
    description: "Unix epoch seconds, ms precision",
    example: 1732550000.123,
  }),
  device: z.string(),
  values: z.record(z.string(), ValueSchema),
  error: z.string().optional(),
}).openapi("Reading");

/** An attribute declaration. */
export const AttrSchema = z.object({
  name: z.string(),
  type: z.enum(["number", "integer", "boolean", "string", "enum", "number[]"]),
  rw: z.boolean(),
  status: z.boolean(),
  units: z.string().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  options: z.array(z.string()).optional(),
  precision: z.number().optional(),
  description: z.string().optional(),
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

/** Body of `POST /api/devices/{name}/tasks` (tomato's task payload). */
export const TaskBodySchema = z.object({
  technique: z.string().min(1).openapi({ example: "hold" }),
  params: z.record(z.string(), z.unknown()).default({}),
  sampling_interval: z.number().positive().optional().openapi({ description: "seconds" }),
  max_duration: z.number().positive().optional().openapi({ description: "seconds" }),
}).strict().openapi("TaskBody");

/** A task's status. */
export const TaskSchema = z.object({
  id: z.string(),
  device: z.string(),
  technique: z.string(),
  params: z.record(z.string(), z.unknown()),
  sampling_interval: z.number(),
  max_duration: z.number().nullable(),
  state: z.enum(["queued", "running", "completed", "stopped", "failed"]),
  running: z.boolean(),
  can_submit: z.boolean(),
  progress: z.number().nullable(),
  started: z.number().nullable(),
  ended: z.number().nullable(),
  samples: z.number(),
  errors: z.number(),
  last_error: z.string().nullable(),
}).openapi("Task");

/** A task's status with the data it cached since the last drain (each row is returned once). */
export const TaskDataSchema = z.object({
  task: TaskSchema,
  data: z.object({
    id: z.string(),
    device: z.string(),
    units: z.record(z.string(), z.string()),
    rows: z.array(z.record(z.string(), z.unknown())),
    dropped: z.number(),
  }),
}).openapi("TaskData");

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
