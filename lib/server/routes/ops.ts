/**
 * What operators and monitoring poll: `GET /healthz` (devices up/down, session state) and
 * `GET /metrics` (Prometheus text).
 *
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { LatestValues, METRICS_CONTENT_TYPE, MetricsPage } from "../metrics.ts";
import { HealthSchema } from "../schemas.ts";
import { type ApiState, newApi, plainGetRoute } from "./api.ts";

const METRICS_HEADERS = { "content-type": METRICS_CONTENT_TYPE };

/** The health and metrics routes over `api`'s lab, session, sampler and hub. */
export function opsRoutes(api: ApiState): OpenAPIHono {
  const { ctx, hub, started } = api;
  const app = newApi();
  const latest = new LatestValues();
  latest.attach(ctx.lab, hub);

  app.openapi(
    createRoute({
      method: "get",
      path: "/healthz",
      tags: ["ops"],
      summary: "Devices up/down, last sample age, session state",
      description: "200 while the daemon serves, `degraded` (with `problems`) when a device is " +
        "down or the session cannot be written: live data, alarms and the API still work, and " +
        "a restart would not bring a device or a disk back.",
      responses: {
        200: {
          description: "Serving: ok or degraded",
          content: { "application/json": { schema: HealthSchema } },
        },
      },
    }),
    (c) => {
      const managers = ctx.lab.managers;
      const by = (s: string) => managers.filter((m) => m.state === s).map((m) => m.name);
      const newest = Math.max(...managers.map((m) => m.lastGood?.t ?? -Infinity));
      const problem = ctx.session?.problem() ?? null;
      const down = by("down");
      const problems = [
        ...(problem !== null ? [problem] : []),
        ...(down.length > 0
          ? [`device${down.length === 1 ? "" : "s"} down: ${down.join(", ")}`]
          : []),
      ];
      const body = {
        status: problems.length > 0 ? "degraded" as const : "ok" as const,
        version: ctx.version ?? "dev",
        uptime_s: Math.round((Date.now() - started) / 1000),
        devices: { up: by("up"), down, unknown: by("unknown") },
        last_sample_age_s: Number.isFinite(newest)
          ? Math.round((Date.now() / 1000 - newest) * 1000) / 1000
          : null,
        session: {
          ok: problem === null,
          recording: ctx.session !== undefined,
          problem,
          path: ctx.session?.path ?? null,
          rows_written: ctx.session?.rowsWritten() ?? 0,
          write_errors: ctx.session?.writeErrors?.() ?? 0,
          dropped_samples: ctx.session?.dropped?.() ?? 0,
        },
        problems,
        missed_deadlines: ctx.sampler?.stats.missed ?? 0,
        sse_clients: hub.clientCount,
      };
      return c.json(body, 200);
    },
  );

  // The last page is answered as it is while nothing it shows moved (see MetricsPage), served
  // as the polled routes are: no hono Context per scrape (~1 KB of closures and wrappers).
  const page = new MetricsPage(ctx, hub, latest);
  plainGetRoute(app, "/metrics", () => new Response(page.text(), { headers: METRICS_HEADERS }));

  return app;
}
