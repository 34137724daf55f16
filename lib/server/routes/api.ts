/**
 * What the resource sub-apps of the HTTP API share: the state one `createApp` builds (the lab's
 * managers by name, the attr cache, the stream hub, the busy rule), the sub-app constructor with
 * the app's validation rule, the documented error answers, and `getRoute` for polled GETs.
 *
 * @module
 */
import { OpenAPIHono, type RouteConfig, type z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { H, RouterRoute } from "hono/types";
import type { Router } from "hono/router";
import type { Attr } from "../../device/attr.ts";
import type { DeviceManager } from "../../lab/manager.ts";
import type { ServerContext } from "../context.ts";
import { HttpError, issuesError } from "../http_error.ts";
import { StreamHub } from "../sse.ts";
import { ErrorSchema } from "../schemas.ts";

/** The state every resource's routes of one app share. */
export interface ApiState {
  /** What the app was built from. */
  ctx: ServerContext;
  /** The stream hub (the context's, or one attached to the lab). */
  hub: StreamHub;
  /** When the app was built, epoch ms (for /healthz's uptime). */
  started: number;
  /** Timeout of device calls made for a request, ms. */
  timeout: number;
  /** Each device's attributes as last fetched (units for /metrics, instant detail answers). */
  attrCache: Map<string, Attr[]>;
  /** The manager of device `name`; a 404 naming the devices when there is none. */
  manager(name: string): DeviceManager;
  /** Fetches a device's attributes through its queue and caches them. */
  attrsOf(m: DeviceManager): Promise<Attr[]>;
  /** True while a writing task or a scan owns `device` (`DeviceOwners`). */
  busy(device: string): boolean;
}

/** Builds the shared state of one app; attaches a new stream hub to the lab when `ctx` has none. */
export function apiState(ctx: ServerContext): ApiState {
  const started = Date.now();
  const hub = ctx.hub ?? (() => {
    const h = new StreamHub({ session: ctx.session });
    h.attach(ctx.lab);
    return h;
  })();
  const timeout = ctx.requestTimeoutMs ?? 5000;
  const attrCache = new Map<string, Attr[]>();
  // a device removed at run time (or re-added with another table) is fetched anew
  ctx.lab.onChange((c) => {
    if (c.removed) attrCache.delete(c.removed.name);
  });
  return {
    ctx,
    hub,
    started,
    timeout,
    attrCache,
    manager(name) {
      const m = ctx.lab.find(name);
      if (!m) {
        throw new HttpError(404, `no device "${name}"; devices: ${ctx.lab.names.join(", ")}`);
      }
      return m;
    },
    // Request signals are not passed to devices: a reading a client gave up on still completes
    // (and is cached and published), and the device queue stays in order.
    async attrsOf(m) {
      const attrs = await m.attrs({ timeout });
      attrCache.set(m.name, attrs);
      return attrs;
    },
    // A task that writes (hold, move, …) or a scan owns the device; a sampling task does not.
    busy(device) {
      return ctx.lab.owners.holder(device) !== undefined;
    },
  };
}

/**
 * A sub-app (or the app itself) whose request validation failures throw the app's 400/422
 * (`issuesError`), so `app.onError` answers them like every other error; `opts.router` is the
 * router of the app that serves (sub-apps only hand their routes over).
 */
export function newApi(opts: { router?: Router<[H, RouterRoute]> } = {}): OpenAPIHono {
  return new OpenAPIHono({
    ...opts,
    defaultHook: (result) => {
      if (!result.success) throw issuesError(result.error.issues, "[server] max_scan_points");
    },
  });
}

/** The documented error answers of a route, by status. */
export const JSON_ERRORS = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [c, {
      description: ERROR_TEXT[c] ?? "error",
      content: { "application/json": { schema: ErrorSchema } },
    }]),
  );

const ERROR_TEXT: Record<number, string> = {
  400: "Malformed request, unknown field or parameter",
  401: "Missing or wrong bearer token (servers bound beyond loopback)",
  404: "No such device, attribute, task or scan",
  409: "The device is owned by a task that writes or by a scan (the message names it)",
  413: "Request body too large",
  422:
    "Refused by a declaration: a write outside the attribute's type or limits, a value over a server limit (code limit_exceeded, the message names the limit)",
  503: "The device (or the session) is unavailable",
};

/** Headers of a JSON body the routes serialise themselves. */
export const JSON_HEADERS = { "content-type": "application/json" };

/**
 * Declares on `app` a GET route that scripts and dashboards poll: documented from its zod
 * schemas like every other route, but with no validator middleware — its path parameters are
 * plain strings (nothing left to check once the route matched) and its query is validated in the
 * handler, only when the URL has one. With no middleware either, hono calls the handler directly
 * instead of composing a chain, which is most of a small answer's cost.
 */
export function getRoute<Q>(
  app: OpenAPIHono,
  route: RouteConfig & { method: "get" },
  handler: (c: Context, query: Partial<Q>) => Response | Promise<Response>,
): void {
  const params = route.request?.params as z.ZodObject | undefined;
  for (const [key, schema] of Object.entries(params?.shape ?? {})) {
    const def = (schema as z.ZodType).def as { type: string; checks?: unknown[] };
    if (def.type !== "string" || def.checks?.length) {
      throw new Error(`${route.path}: path parameter ${key} is not a plain string`);
    }
  }
  const query = route.request?.query as z.ZodType<Q> | undefined;
  const emptyQueryOk = !query || query.safeParse({}).success;
  app.openAPIRegistry.registerPath(route);
  app.get(route.path.replaceAll(/\/{(.+?)}/g, "/:$1"), (c) => {
    if (!query || (emptyQueryOk && !c.req.url.includes("?"))) return handler(c, {});
    const result = query.safeParse(c.req.query());
    if (!result.success) throw issuesError(result.error.issues);
    return handler(c, result.data);
  });
}
