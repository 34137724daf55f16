/**
 * The dashboard: `GET /` and `GET /assets/{file}`, the assets embedded in the binary.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { dashboardAsset } from "../dashboard.ts";
import { HttpError } from "../http_error.ts";

/** The dashboard routes (not in the OpenAPI document: they serve a page, not the API). */
export function dashboardRoutes(): Hono {
  const app = new Hono();
  const asset = (c: Context, name: string) => {
    const a = dashboardAsset(name);
    if (!a) return c.json(new HttpError(404, `no asset "${name}"`).body(), 404);
    return c.body(a.body, 200, { "content-type": a.type, "cache-control": "no-cache" });
  };
  app.get("/", (c) => asset(c, "index.html"));
  app.get("/assets/:file", (c) => asset(c, c.req.param("file")));

  return app;
}
