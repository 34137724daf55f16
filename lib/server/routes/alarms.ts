/**
 * `/api/alarms`: the active alarms and recent transitions, and acknowledging one.
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { HttpError } from "../http_error.ts";
import { IdParam } from "../schemas.ts";
import { type ApiState, JSON_ERRORS, newApi } from "./api.ts";

/** The alarm routes over `api`'s alarm engine (empty lists when the server has none). */
export function alarmRoutes(api: ApiState): OpenAPIHono {
  const { ctx } = api;
  const app = newApi();
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/alarms",
      tags: ["alarms"],
      summary: "Active alarms and recent transitions",
      responses: {
        200: {
          description: "Alarms",
          content: {
            "application/json": {
              schema: z.object({ active: z.array(z.unknown()), history: z.array(z.unknown()) }),
            },
          },
        },
      },
    }),
    (c) =>
      c.json({ active: ctx.alarms?.active() ?? [], history: ctx.alarms?.history?.() ?? [] }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/alarms/{id}/ack",
      tags: ["alarms"],
      summary: "Acknowledge an active alarm (its name, URL-encoded); recorded as a session event",
      request: { params: IdParam },
      responses: {
        200: {
          description: "The acknowledged alarm",
          content: { "application/json": { schema: z.object({ alarm: z.unknown() }) } },
        },
        ...JSON_ERRORS(401, 404),
      },
    }),
    (c) => {
      const id = c.req.valid("param").id;
      const alarm = ctx.alarms?.acknowledge?.(id);
      if (alarm === undefined) {
        throw new HttpError(404, `no active alarm "${id}"; GET /api/alarms lists them`);
      }
      ctx.log?.log("info", `alarm acknowledged: ${id}`);
      return c.json({ alarm }, 200);
    },
  );

  return app;
}
