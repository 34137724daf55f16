/**
 * Tasks: `POST /api/devices/{name}/tasks` starts one (a technique with its params, bounded by
 * `[server] max_task_duration`), `/api/tasks/{id}` answers its status, its data since the last
 * call, and stops it.
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
  TaskSchema,
} from "../schemas.ts";
import { type ApiState, JSON_ERRORS, newApi } from "./api.ts";

/** The task routes over `api`'s task board (a 503 when the server has none). */
export function taskRoutes(api: ApiState): OpenAPIHono {
  const { ctx, manager, busy } = api;
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
      summary: "Start a task (technique, params, sampling_interval, max_duration)",
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
          description: "Task accepted",
          content: { "application/json": { schema: TaskSchema } },
        },
        ...JSON_ERRORS(400, 401, 404, 409, 413, 422, 503),
      },
    }),
    async (c) => {
      const m = manager(c.req.valid("param").name);
      const body = c.req.valid("json");
      const t = tasks();
      if (busy(m.name)) {
        throw new HttpError(409, `${m.name} is busy with a task or scan; stop it first`);
      }
      const techniques = ["sample", "hold", ...m.device.techniques()];
      if (!techniques.includes(body.technique)) {
        throw new HttpError(
          422,
          `${m.name} has no technique "${body.technique}"; it has: ${techniques.join(", ")}`,
        );
      }
      const created = await t.submit(m.name, { ...body, params: body.params ?? {} });
      c.header("Location", `/api/tasks/${encodeURIComponent(created.id)}`);
      ctx.log?.log(
        "info",
        `task ${created.id} on ${m.name}: ${body.technique} ${JSON.stringify(body.params ?? {})}`,
      );
      return c.json(created.status(), 202);
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
      summary: "The readings a task took since the last call (each row is answered once)",
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
      return c.json({ task: t.status(), data: t.data(c.req.valid("query").limit) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/tasks/{id}",
      tags: ["tasks"],
      summary: "Stop a task; answers its final status and data",
      request: { params: IdParam },
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
      const data = await t.stop();
      return c.json({ task: t.status(), data }, 200);
    },
  );

  return app;
}
