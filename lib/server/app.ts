/**
 * The HTTP API of `labwire serve`, as a value: `createApp(ctx)` returns a hono app that tests
 * call with `app.request()` and `serve` hands to `Deno.serve`. Routes are declared with
 * `@hono/zod-openapi`, so the schemas that validate requests also produce `/api/openapi.json`.
 * Each resource's routes are a sub-app in `routes/`; this file holds what applies to every
 * request (errors, 404 and 405, CORS, the bearer token, the body limit) and mounts them with
 * `app.route()`, which copies their handlers into this app's one router (no extra hop).
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import type { ServerContext } from "./context.ts";
import { HttpError, toHttpError } from "./http_error.ts";
import { timingSafeEqualText } from "./auth.ts";
import { limitBody } from "./body_limit.ts";
import { CachedRouter } from "./route_cache.ts";
import { hasTimeQuery, withTimeQuery } from "./time_query.ts";
import { positionRoutes } from "./routes/positions.ts";
import { alarmRoutes } from "./routes/alarms.ts";
import { apiState, newApi, polledDispatch } from "./routes/api.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";
import { deviceRoutes } from "./routes/devices.ts";
import { opsRoutes } from "./routes/ops.ts";
import { sampleRoutes } from "./routes/samples.ts";
import { scanRoutes } from "./routes/scans.ts";
import { streamRoutes } from "./routes/stream.ts";
import { taskRoutes } from "./routes/tasks.ts";

/**
 * The app `createApp` returns: a hono app, and `warmAttrs()` to fetch every device's attributes
 * in the background (the daemon calls it once listening).
 */
export type LabwireApp = OpenAPIHono & { warmAttrs(): void };

const MUTATING = new Set(["PUT", "POST", "DELETE", "PATCH"]);

/** Builds the HTTP app over a lab and whatever else `ctx` holds. Nothing listens here. */
export function createApp(ctx: ServerContext): LabwireApp {
  const api = apiState(ctx);
  // Polled paths are matched once, not once per request (see route_cache.ts).
  const app = newApi({ router: new CachedRouter() });

  /** The error answer of a failed request (an internal one is logged). */
  const failure = (err: unknown, method: string, path: string): HttpError => {
    let e: HttpError;
    if (err instanceof HTTPException) {
      const status = [400, 401, 404, 405, 409, 413, 422, 503].includes(err.status)
        ? err.status as HttpError["status"]
        : 400;
      e = new HttpError(status, err.message || "bad request");
    } else {
      e = toHttpError(err);
    }
    if (e.code === "internal") ctx.log?.log("error", `${method} ${path}: ${e.message}`);
    return e;
  };
  app.onError((err, c) => {
    const e = failure(err, c.req.method, c.req.path);
    return c.json(e.body(), e.status);
  });

  // Filled from the registered routes once they are all declared (see the end of createApp).
  let routeMethods: [RegExp, string[]][] = [];
  app.notFound((c) => {
    const allowed = routeMethods.find(([re]) => re.test(c.req.path))?.[1];
    if (allowed) {
      const e = new HttpError(
        405,
        `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(" or ")}`,
      );
      c.header("Allow", allowed.join(", "));
      return c.json(e.body(), 405);
    }
    return c.json(
      new HttpError(404, `no route ${c.req.method} ${c.req.path}; see /api/openapi.json`).body(),
      404,
    );
  });

  if (ctx.cors && ctx.cors.length > 0) {
    app.use(
      "/api/*",
      cors({
        origin: ctx.cors,
        allowMethods: ["GET", "PUT", "POST", "DELETE"],
        allowHeaders: ["Authorization", "Content-Type", "Last-Event-ID"],
      }),
    );
  }

  if (ctx.token !== undefined) {
    const expected = ctx.token;
    // Only requests that change something need the token (GETs skip the middleware altogether).
    app.on([...MUTATING], "*", async (c, next) => {
      const header = c.req.header("authorization") ?? "";
      const m = /^Bearer\s+(.+)$/i.exec(header);
      if (!m || !timingSafeEqualText(m[1]!.trim(), expected)) {
        c.header("WWW-Authenticate", 'Bearer realm="labwire"');
        const why = m ? "wrong bearer token" : "this server needs Authorization: Bearer <token>";
        return c.json(new HttpError(401, `${why} for ${c.req.method} requests`).body(), 401);
      }
      await next();
    });
  }

  const maxBody = ctx.maxBodyBytes ?? 64 * 1024;
  app.on([...MUTATING], "/api/*", limitBody(maxBody));

  // Mounted in the order the OpenAPI document lists them; each is complete before it is mounted
  // (`route()` copies the routes a sub-app has at that moment).
  app.route("/", deviceRoutes(api));
  app.route("/", taskRoutes(api));
  app.route("/", scanRoutes(api));
  app.route("/", streamRoutes(api));
  app.route("/", sampleRoutes(api));
  app.route("/", alarmRoutes(api));
  app.route("/", positionRoutes(api));
  app.route("/", opsRoutes(api));

  app.doc31("/api/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "labwire",
      version: ctx.version ?? "dev",
      description:
        "Instrument server: devices, validated writes, tasks, live readings (SSE), recorded samples, alarms. " +
        "Bound beyond loopback, PUT/POST/DELETE need `Authorization: Bearer <token>`.",
    },
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
  });
  app.route("/", dashboardRoutes());

  routeMethods = methodsByPath(app.routes);
  // Polled GETs are answered without a hono Context when nothing but their handler applies; a
  // URL with time= is left to hono behind the time-query wrapper (which serves the same handler).
  const polled = polledDispatch(app, (err, method, path) => {
    const e = failure(err, method, path);
    return Response.json(e.body(), { status: e.status });
  }, { leaves: hasTimeQuery });
  // ?time=iso on every JSON answer (the one time policy), without a route knowing about it.
  const honoFetch = withTimeQuery(app.fetch);
  app.fetch = (req, env, executionCtx) => {
    if (req.method === "GET") return polled(req) ?? honoFetch(req, env, executionCtx);
    const res = honoFetch(req, env, executionCtx);
    return req.body === null ? res : afterBody(req, res, maxBody);
  };
  return Object.assign(app, {
    // Filling the attr cache (so /metrics has units and detail answers are instant) is device
    // I/O: the daemon starts it once it listens, never the construction.
    warmAttrs(): void {
      for (const m of ctx.lab.managers) api.attrsOf(m).catch(() => {});
    },
  });
}

/**
 * `res`, once the part of `req`'s body that nobody read (an answer made before it: 401, 404,
 * 405) is read, up to `maxBytes`. Over HTTP/2 (HTTPS) the runtime resets the stream of a request
 * answered with its body unread, and curl then reports "Stream error in the HTTP/2 framing layer"
 * instead of the answer (most of the time, 13 of 20 POSTs with a small body).
 */
async function afterBody(
  req: Request,
  res: Response | Promise<Response>,
  maxBytes: number,
): Promise<Response> {
  const answer = await res;
  const body = req.body;
  if (body === null || req.bodyUsed || body.locked) return answer;
  const reader = body.getReader();
  let size = 0;
  try {
    while (size <= maxBytes) {
      const { value, done } = await reader.read();
      if (done) break;
      size += value.byteLength;
    }
  } catch {
    // the client went away: the answer is not read either
  } finally {
    reader.releaseLock();
  }
  return answer;
}

/**
 * The methods each registered path answers (middleware and wildcard paths left out), as path
 * patterns: a request for a known path with another method is a 405 naming them.
 */
export function methodsByPath(routes: readonly { method: string; path: string }[]): [
  RegExp,
  string[],
][] {
  const byPath = new Map<string, Set<string>>();
  for (const r of routes) {
    if (r.method === "ALL" || r.path.includes("*")) continue;
    let methods = byPath.get(r.path);
    if (!methods) byPath.set(r.path, methods = new Set());
    methods.add(r.method);
  }
  return [...byPath].map(([path, methods]) => [
    new RegExp(
      `^${
        path.split("/").map((part) =>
          part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
        ).join("/")
      }$`,
    ),
    [...methods].sort((a, b) => METHOD_ORDER.indexOf(a) - METHOD_ORDER.indexOf(b)),
  ]);
}

/** The order methods are named in `Allow` headers and messages. */
const METHOD_ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
