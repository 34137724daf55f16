/**
 * Scans: `POST /api/scans` queues a plan (bounded by `[server] max_scan_points`), `GET` lists
 * them or answers one with a page of its points, `DELETE` interrupts one as Ctrl-C does.
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { DEFAULT_MAX_SCAN_POINTS } from "../config.ts";
import { HttpError } from "../http_error.ts";
import { IdParam, scanBodySchema, ScanPageQuery, ScanStopQuery } from "../schemas.ts";
import { type ApiState, JSON_ERRORS, newApi } from "./api.ts";

/** The scan routes over `api`'s scan runner (a 503 when the server has none). */
export function scanRoutes(api: ApiState): OpenAPIHono {
  const { ctx } = api;
  const app = newApi();
  const scans = () => {
    if (!ctx.scans) throw new HttpError(503, "scans are not available in this server");
    return ctx.scans;
  };
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/scans",
      tags: ["scans"],
      summary: "Queue a scan plan",
      request: {
        body: {
          required: true,
          content: {
            "application/json": {
              schema: scanBodySchema(ctx.maxScanPoints ?? DEFAULT_MAX_SCAN_POINTS),
            },
          },
        },
      },
      responses: {
        202: {
          description: "Scan accepted",
          content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
        },
        ...JSON_ERRORS(400, 401, 409, 413, 422, 503),
      },
    }),
    async (c) => {
      const s = scans();
      const info = await s.submit(c.req.valid("json")) as Record<string, unknown>;
      if (typeof info.id === "string" || typeof info.id === "number") {
        c.header("Location", `/api/scans/${encodeURIComponent(String(info.id))}`);
      }
      return c.json(info, 202);
    },
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/scans",
      tags: ["scans"],
      summary:
        "Scans this server knows (running and the last finished), oldest first, without points",
      responses: {
        200: {
          description: "Scans",
          content: {
            "application/json": {
              schema: z.object({ scans: z.array(z.record(z.string(), z.unknown())) }),
            },
          },
        },
        ...JSON_ERRORS(503),
      },
    }),
    (c) => c.json({ scans: (scans().list?.() ?? []) as Record<string, unknown>[] }, 200),
  );
  const scan = (id: string, page?: z.infer<typeof ScanPageQuery>) => {
    const info = scans().get(id, page);
    if (info === undefined) throw new HttpError(404, `no scan "${id}"`);
    return info as Record<string, unknown>;
  };
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/scans/{id}",
      tags: ["scans"],
      summary: "A scan's status and a page of its points (`since`, `limit`; next_since continues)",
      request: { params: IdParam, query: ScanPageQuery },
      responses: {
        200: {
          description: "Scan",
          content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
        },
        ...JSON_ERRORS(404, 503),
      },
    }),
    (c) => c.json(scan(c.req.valid("param").id, c.req.valid("query")), 200),
  );
  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/scans/{id}",
      tags: ["scans"],
      summary: "Interrupt a scan as Ctrl-C does (`now=1`, or a second DELETE: at once, as a " +
        "second Ctrl-C); answers its status and first page of points",
      request: { params: IdParam, query: ScanStopQuery },
      responses: {
        200: {
          description: "Final scan status",
          content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
        },
        ...JSON_ERRORS(401, 404, 503),
      },
    }),
    async (c) => {
      const id = c.req.valid("param").id;
      scan(id, { limit: 1 });
      const { now, ...page } = c.req.valid("query");
      const stopped = await scans().stop(id, page, { now });
      return c.json(stopped as Record<string, unknown>, 200);
    },
  );

  return app;
}
