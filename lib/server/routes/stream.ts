/**
 * `GET /api/stream`: the Server-Sent Events of the stream hub (readings with ids for
 * Last-Event-ID resume, alarms, tasks, scan points), optionally for some devices only.
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { HttpError } from "../http_error.ts";
import { type ApiState, getRoute, JSON_ERRORS, newApi } from "./api.ts";

/** The event stream route over `api`'s hub. */
export function streamRoutes(api: ApiState): OpenAPIHono {
  const { ctx, hub } = api;
  const app = newApi();
  getRoute<{ devices: string; last_event_id: string }>(
    app,
    createRoute({
      method: "get",
      path: "/api/stream",
      tags: ["live"],
      summary:
        "Server-Sent Events: `reading` events (with ids for Last-Event-ID resume), `alarm`, `task`, `scan_point`",
      request: {
        query: z.object({
          devices: z.string().optional().openapi({
            description: "comma-separated device names; default: all",
          }),
          last_event_id: z.string().optional().openapi({
            description: "as the Last-Event-ID header, for a client that cannot set headers",
          }),
        }).strict(),
      },
      responses: {
        200: {
          description: "An event stream",
          content: { "text/event-stream": { schema: z.string() } },
        },
        ...JSON_ERRORS(400, 404),
      },
    }),
    (req, query) => {
      const q = query.devices;
      let devices: Set<string> | undefined;
      if (q !== undefined && q !== "") {
        devices = new Set(q.split(",").map((s) => s.trim()).filter((s) => s !== ""));
        const unknown = [...devices].filter((d) => !ctx.lab.find(d));
        if (unknown.length > 0) {
          throw new HttpError(
            404,
            `no device ${unknown.map((u) => `"${u}"`).join(", ")}; devices: ${
              ctx.lab.names.join(", ")
            }`,
          );
        }
      }
      const lastId = req.header("last-event-id") ?? query.last_event_id ?? null;
      const body = hub.connect(devices, lastId);
      return new Response(body, {
        headers: {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache",
          "x-accel-buffering": "no",
        },
      });
    },
  );

  return app;
}
