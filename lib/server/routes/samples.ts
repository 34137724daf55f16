/**
 * `GET /api/samples`: recorded data of one attribute over a time range, min/max-downsampled by
 * the session (a 503 when nothing is recording).
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { HttpError } from "../http_error.ts";
import { SamplesSchema } from "../schemas.ts";
import { type ApiState, JSON_ERRORS, newApi } from "./api.ts";

/** The recorded-samples route over `api`'s session. */
export function sampleRoutes(api: ApiState): OpenAPIHono {
  const { ctx, manager, attrCache } = api;
  const app = newApi();
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/samples",
      tags: ["history"],
      summary: "Recorded data of one attribute over a time range, min/max-downsampled",
      request: {
        query: z.object({
          device: z.string().min(1),
          attr: z.string().min(1),
          from: z.coerce.number().optional().openapi({
            description: "epoch seconds; default: to - 1 h",
          }),
          to: z.coerce.number().optional().openapi({ description: "epoch seconds; default: now" }),
          max_points: z.coerce.number().int().min(2).max(100_000).default(2000),
        }).strict(),
      },
      responses: {
        200: { description: "Samples", content: { "application/json": { schema: SamplesSchema } } },
        ...JSON_ERRORS(400, 404, 503),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const m = manager(q.device);
      const to = q.to ?? Date.now() / 1000;
      const from = q.from ?? to - 3600;
      if (!(from < to)) throw new HttpError(400, `from (${from}) must be before to (${to})`);
      if (!ctx.session) {
        throw new HttpError(503, "no session is recording; samples come from the session");
      }
      const cached = attrCache.get(m.name);
      if (cached && !cached.some((a) => a.name === q.attr)) {
        throw new HttpError(404, `${m.name} has no attribute "${q.attr}"`);
      }
      const s = await ctx.session.samples({
        device: m.name,
        attr: q.attr,
        from,
        to,
        maxPoints: q.max_points,
      });
      const units = cached?.find((a) => a.name === q.attr)?.units ?? null;
      return c.json({ device: m.name, attr: q.attr, units, from, to, ...s }, 200);
    },
  );

  return app;
}
