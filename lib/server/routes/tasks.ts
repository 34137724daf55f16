/**
 * Tasks: `POST /api/devices/{name}/tasks` queues one (a technique with its params, bounded by
 * `[server] max_task_duration`) in the device's FIFO queue and answers 202 with its place;
 * `GET /api/tasks` lists them; `/api/tasks/{id}` answers its status, pages of its kept data
 * (`?since=` cursor), and stops it (a queued one is cancelled).
 *
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { DEFAULT_MAX_TASK_DURATION_S } from "../config.ts";
import { HttpError } from "../http_error.ts";
import {
  IdParam,
  NameParam,
  taskBodySchema,
  TaskDataQuery,
  TaskDataSchema,
  TaskListQuery,
  TaskListSchema,
  TaskSchema,
} from "../schemas.ts";
import { type ApiState, JSON_ERRORS, newApi } from "./api.ts";
import { didYouMean } from "../../device/suggest.ts";

/** The task routes over `api`'s task board (a 503 when the server has none). */
export function taskRoutes(api: ApiState): OpenAPIHono {
  const { ctx, manager } = api;
  const app = newApi();
  const tasks = () => {
    if (!ctx.tasks) throw new HttpError(503, "tasks are not available in this server");
    return ctx.tasks;
  };

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/devices/{name}/tasks",
      tags: ["tasks"],
      summary:
        "Queue a task (technique, params, sampling_interval, max_duration) in the device's FIFO queue",
      request: {
        params: NameParam,
        body: {
          required: true,
          content: {
            "application/json": {
              schema: taskBodySchema(ctx.maxTaskDurationS ?? DEFAULT_MAX_TASK_DURATION_S),
            },
          },
        },
      },
      responses: {
        202: {
          description:
            "Task accepted: running, or queued with its queue_position (1 = next) and waiting_for",
          content: { "application/json": { schema: TaskSchema } },
        },
        ...JSON_ERRORS(400, 401, 404, 413, 422, 503),
      },
    }),
    async (c) => {
      const m = manager(c.req.valid("param").name);
      const body = c.req.valid("json");
      const t = tasks();
      const techniques = ["sample", "hold", ...m.device.techniques()];
      if (!techniques.includes(body.technique)) {
        const hint = didYouMean(body.technique, techniques);
        throw new HttpError(
          422,
          `${m.name} has no technique "${body.technique}"; it has: ${techniques.join(", ")}${
            hint ? ` (${hint})` : ""
          }`,
        );
      }
      const created = await t.submit(m.name, { ...body, params: body.params ?? {} });
      c.header("Location", `/api/tasks/${encodeURIComponent(created.id)}`);
      const status = created.status();
      ctx.log?.log(
        "info",
        `task ${created.id} on ${m.name}: ${body.technique} ${JSON.stringify(body.params ?? {})}${
          status.state === "queued" ? ` (queued at ${status.queue_position})` : ""
        }`,
      );
      return c.json(status, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/tasks",
      tags: ["tasks"],
      summary:
        "Tasks this server keeps (queued, running, the last 1000 finished), oldest first; ?device= and ?state= filter",
      request: { query: TaskListQuery },
      responses: {
        200: {
          description: "Tasks",
          content: { "application/json": { schema: TaskListSchema } },
        },
        ...JSON_ERRORS(400, 503),
      },
    }),
    (c) => {
      const { device, state } = c.req.valid("query");
      if (device !== undefined) manager(device);
      const list = tasks().list().filter((t) =>
        (device === undefined || t.manager.name === device) &&
        (state === undefined || t.state === state)
      );
      return c.json({ tasks: list.map((t) => t.status()) }, 200);
    },
  );

  const task = (id: string) => {
    const info = tasks().get(id);
    if (!info) throw new HttpError(404, `no task "${id}"`);
    return info;
  };

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/tasks/{id}",
      tags: ["tasks"],
      summary: "A task's status",
      request: { params: IdParam },
      responses: {
        200: { description: "Task", content: { "application/json": { schema: TaskSchema } } },
        ...JSON_ERRORS(404, 503),
      },
    }),
    (c) => c.json(task(c.req.valid("param").id).status(), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/tasks/{id}/data",
      tags: ["tasks"],
      summary:
        "A page of the readings a task kept, from row ?since= (default the oldest kept); next_since continues",
      request: { params: IdParam, query: TaskDataQuery },
      responses: {
        200: {
          description: "Task data",
          content: { "application/json": { schema: TaskDataSchema } },
        },
        ...JSON_ERRORS(404, 503),
      },
    }),
    (c) => {
      const t = task(c.req.valid("param").id);
      return c.json({ task: t.status(), data: t.data(c.req.valid("query")) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/tasks/{id}",
      tags: ["tasks"],
      summary:
        "Stop a running task (its safe state applied) or cancel a queued one; answers its final status and a page of data",
      request: { params: IdParam, query: TaskDataQuery },
      responses: {
        200: {
          description: "Stopped task and its data",
          content: { "application/json": { schema: TaskDataSchema } },
        },
        ...JSON_ERRORS(401, 404, 503),
      },
    }),
    async (c) => {
      const t = task(c.req.valid("param").id);
      const status = await t.stop();
      return c.json({ task: status, data: t.data(c.req.valid("query")) }, 200);
    },
  );

  return app;
}
