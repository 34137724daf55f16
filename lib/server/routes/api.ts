/**
 * What the resource sub-apps of the HTTP API share: the state one `createApp` builds (the lab's
 * managers by name, the attr cache, the stream hub, the busy rule), the sub-app constructor with
 * the app's validation rule, the documented error answers, and `getRoute` for polled GETs.
 *
 * @module
 */
import { OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import type { H, RouterRoute } from "hono/types";
import type { Router } from "hono/router";
import { getQueryParam, tryDecodeURIComponent } from "hono/utils/url";
import type { Attr } from "../../device/attr.ts";
import type { DeviceManager } from "../../lab/manager.ts";
import type { ServerContext } from "../context.ts";
import { HttpError, issuesError } from "../http_error.ts";
import { StreamHub } from "../sse.ts";
import { ErrorSchema } from "../schemas.ts";
import { TIME_QUERY_KEYS } from "../time_query.ts";
import { didYouMean } from "../../device/suggest.ts";

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
  /**
   * Each device's attributes as last fetched, while current (units for /metrics, instant detail
   * answers): {@linkcode DeviceManager.cachedAttrs}.
   */
  attrCache: { get(device: string): Attr[] | undefined };
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
  // Kept by each device's manager: a device removed at run time (or re-added with another table)
  // has a new manager, and a remote that came back is asked again.
  const attrCache = { get: (device: string) => ctx.lab.find(device)?.cachedAttrs() };
  return {
    ctx,
    hub,
    started,
    timeout,
    attrCache,
    manager(name) {
      const m = ctx.lab.find(name);
      if (!m) {
        const hint = didYouMean(name, ctx.lab.names);
        throw new HttpError(
          404,
          `no device "${name}"; devices: ${ctx.lab.names.join(", ")}${hint ? ` (${hint})` : ""}`,
        );
      }
      return m;
    },
    // Request signals are not passed to devices: a reading a client gave up on still completes
    // (and is cached and published), and the device queue stays in order.
    attrsOf(m) {
      return m.attrs({ timeout });
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
 * router of the app that serves (sub-apps only hand their routes over). Its `openapi()` makes
 * every route's query strict (none declared: only `time` and `utc`) and names an unknown query
 * parameter or JSON body key with those the route takes, as {@linkcode getRoute} does.
 */
export function newApi(opts: { router?: Router<[H, RouterRoute]> } = {}): OpenAPIHono {
  const app = new OpenAPIHono({
    ...opts,
    defaultHook: (result) => {
      if (!result.success) throw issuesError(result.error.issues, "[server] max_scan_points");
    },
  });
  const declare = app.openapi;
  // Every route's query is strict and answered like a polled route's (getRoute): an unknown
  // parameter is named with those the route takes, a route that declares none takes only `time`
  // and `utc`. The hook of a route is the one place that knows its schema's keys.
  app.openapi = ((route: RouteConfig, handler: never, hook?: never) => {
    if (hook !== undefined) return declare(route, handler, hook);
    const query = (route.request?.query ?? NO_PARAMETERS) as z.ZodObject;
    const queryKeys = [...Object.keys(query.shape), ...TIME_QUERY_KEYS];
    // `time` and `utc` reach a route only as `?utc=1` without `time` (withTimeQuery takes the
    // pair off the URL), which changes nothing: accepted, not validated.
    const validated = query.extend(
      Object.fromEntries(TIME_QUERY_KEYS.map((k) => [k, z.string().optional()])),
    );
    // a JSON body's own keys, for an unknown one (nested objects keep zod's words)
    const media = route.request?.body?.content?.["application/json"] as
      | { schema?: z.ZodObject }
      | undefined;
    const body = media?.schema;
    const bodyKeys = body?.shape ? Object.keys(body.shape) : undefined;
    const { middleware: _m, hide, ...documented } = route as RouteConfig & { hide?: boolean };
    if (!hide) app.openAPIRegistry.registerPath(documented);
    return declare(
      { ...route, hide: true, request: { ...route.request, query: validated } },
      handler,
      ((result: { success: boolean; error?: z.ZodError; target: string }) => {
        if (result.success || !result.error) return;
        throw issuesError(
          result.error.issues,
          "[server] max_scan_points",
          result.target === "query" ? queryKeys : undefined,
          result.target === "json" ? bodyKeys : undefined,
        );
      }) as never,
    );
  }) as typeof declare;
  return app;
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

/** The init of every {@linkcode jsonAnswer} (one object, not one per answer). */
const JSON_INIT: ResponseInit = { headers: JSON_HEADERS };

/** A 200 answer of JSON text a route serialised itself. */
export function jsonAnswer(body: string): Response {
  return new Response(body, JSON_INIT);
}

/**
 * What the handler of a polled route is given of its request: the same calls as hono's
 * `c.req`, which is what it gets when hono serves the route (behind middleware such as CORS).
 */
export interface PolledRequest {
  /** The request. */
  readonly raw: Request;
  /** A path parameter, percent-decoded. */
  param(name: string): string | undefined;
  /** One query parameter (`name`), or all of them. */
  query(name: string): string | undefined;
  /** All query parameters (the first value of each). */
  query(): Record<string, string>;
  /** A request header. */
  header(name: string): string | undefined;
  /**
   * The error answer of this request, for a handler that answers its own failures with it (its
   * promise then never rejects, and none is chained to catch it). Served by hono, a request has
   * none: a handler's throw or rejection goes to hono's `onError`.
   */
  answersErrors?(): (err: unknown) => Response;
}

/**
 * The handler of a polled route (see {@linkcode getRoute}); `hasQuery` says whether the URL has
 * a query, when the caller knows it already (else the handler looks).
 */
type PolledHandler = (req: PolledRequest, hasQuery?: boolean) => Response | Promise<Response>;

/** The polled handler behind each hono handler `getRoute` registered. */
const POLLED = new WeakMap<H, PolledHandler>();

/** The query of a request without one (shared, never written: handlers only read queries). */
const NO_QUERY = Object.freeze({});

/**
 * The query of a polled route that declares none: only the parameters every route takes, so a
 * typo (`/api/devices?atrs=…`) or a filter the route does not have is an error, not ignored.
 */
const NO_PARAMETERS = z.object({}).strict();

/**
 * A request's query without the parameters every route takes (`time`, `utc`): the time-query
 * wrapper handles them, and `utc` without `time` changes nothing (not an unknown parameter).
 */
function ownQuery(all: Record<string, string>): Record<string, string> {
  if (!TIME_QUERY_KEYS.some((k) => k in all)) return all;
  const own = { ...all };
  for (const k of TIME_QUERY_KEYS) delete own[k];
  return own;
}

/**
 * Declares on `app` a GET route that scripts and dashboards poll: documented from its zod
 * schemas like every other route, but with no validator middleware — its path parameters are
 * plain strings (nothing left to check once the route matched) and its query is validated in the
 * handler, only when the URL has one. Served by {@linkcode polledDispatch} when nothing else
 * applies to the path, or by hono (which then calls the handler directly, composing no chain).
 */
export function getRoute<Q>(
  app: OpenAPIHono,
  route: RouteConfig & { method: "get" },
  handler: (req: PolledRequest, query: Partial<Q>) => Response | Promise<Response>,
): void {
  const params = route.request?.params as z.ZodObject | undefined;
  for (const [key, schema] of Object.entries(params?.shape ?? {})) {
    const def = (schema as z.ZodType).def as { type: string; checks?: unknown[] };
    if (def.type !== "string" || def.checks?.length) {
      throw new Error(`${route.path}: path parameter ${key} is not a plain string`);
    }
  }
  const query = (route.request?.query ?? NO_PARAMETERS) as z.ZodType<Q>;
  const emptyQueryOk = query.safeParse({}).success;
  // what an unknown parameter's answer lists: the route's own and those every route takes
  const queryKeys = [
    ...Object.keys((query as unknown as z.ZodObject).shape ?? {}),
    ...TIME_QUERY_KEYS,
  ];
  app.openAPIRegistry.registerPath(route);
  const polled: PolledHandler = (req, hasQuery) => {
    if (emptyQueryOk && !(hasQuery ?? req.raw.url.includes("?"))) {
      return handler(req, NO_QUERY as Partial<Q>);
    }
    const result = query.safeParse(ownQuery(req.query()));
    if (!result.success) throw issuesError(result.error.issues, undefined, queryKeys);
    return handler(req, result.data);
  };
  const viaHono: H = (c) => polled(c.req);
  POLLED.set(viaHono, polled);
  app.get(route.path.replaceAll(/\/{(.+?)}/g, "/:$1"), viaHono);
}

/**
 * Declares on `app` a GET route served like a polled one ({@linkcode polledDispatch}: no hono
 * Context per request) but left out of the API document and answered whatever its query: for
 * what is not the JSON API (`/metrics`, whose scrapers may add parameters of their own).
 */
export function plainGetRoute(app: OpenAPIHono, path: string, handler: () => Response): void {
  const viaHono: H = () => handler();
  POLLED.set(viaHono, handler);
  app.get(path, viaHono);
}

/**
 * What {@linkcode polledDispatch} remembers of a path that reaches a polled route and nothing
 * else: the handler, the path parameters (percent-decoded once), and the error answer of a
 * request that fails (one function per path, not a closure per request).
 */
interface PolledPath {
  handler: PolledHandler;
  params: Readonly<Record<string, string>>;
  failed: (err: unknown) => Response;
}

/** What {@linkcode polledDispatch} remembers of a URL of a polled path: its path's, and whether it has a query. */
interface PolledUrl extends PolledPath {
  hasQuery: boolean;
}

/** A request of a polled route served by {@linkcode polledDispatch}: hono's lookups, no more. */
class Polled implements PolledRequest {
  /** Whether the handler took {@linkcode answersErrors}. */
  caught = false;

  constructor(readonly raw: Request, readonly known: PolledPath) {}

  answersErrors(): (err: unknown) => Response {
    this.caught = true;
    return this.known.failed;
  }

  param(name: string): string | undefined {
    return this.known.params[name];
  }

  query(name: string): string | undefined;
  query(): Record<string, string>;
  query(name?: string): string | undefined | Record<string, string> {
    return name === undefined ? getQueryParam(this.raw.url) : getQueryParam(this.raw.url, name);
  }

  header(name: string): string | undefined {
    return this.raw.headers.get(name) ?? undefined;
  }
}

/** Polled URLs compared as text before the map of all of them is asked. */
const RECENT_URLS = 4;

/** Options of {@linkcode polledDispatch}. */
export interface PolledDispatchOptions {
  /**
   * Most remembered paths (and URLs of polled paths) before the memory starts over (default
   * 1024; paths are what clients send).
   */
  maxPaths?: number;
  /** URLs left to hono whatever their path (e.g. those with `time=`, which the app rewrites). */
  leaves?: (url: string) => boolean;
}

/**
 * Serves a GET whose path matches a polled route ({@linkcode getRoute}) and nothing else (no
 * middleware on that path): the handler is called with the match of `app`'s own router, and a
 * throw or rejection is answered by `onError`. Returns undefined for every other request, which
 * hono then serves. Hono builds a Context per request (two dozen closures, ~1 KB), its request
 * wrapper and a then/catch pair around the answer: with /api/devices/{name}/read recorded and
 * published per request, that was a fifth of the JavaScript each one cost (profiled). What a
 * path reaches is a pure function of the path while the app's routes stay as they are, so it is
 * worked out once per path (router match, handler lookup, parameter decoding) and remembered,
 * bounded; a route added later makes every path be worked out again. A URL of a polled path is
 * remembered too (with whether it has a query), so a poll of the same URL is one lookup of the
 * URL's text: taking the path out of the URL (hono's `getPath`, a loop over its characters) and
 * the searches for `?` and `time=` cost ~1.3k instructions a request (callgrind).
 */
export function polledDispatch(
  app: OpenAPIHono,
  onError: (err: unknown, method: string, path: string) => Response,
  opts: PolledDispatchOptions = {},
): (req: Request) => Response | Promise<Response> | undefined {
  const router = app.router as Router<[H, RouterRoute]>;
  const maxPaths = opts.maxPaths ?? 1024;
  // null: a path hono serves (no polled route, or middleware on it).
  const paths = new Map<string, PolledPath | null>();
  // Only URLs of polled paths: the URLs of other routes (`?since=` of the samples, …) change.
  const urls = new Map<string, PolledUrl>();
  const leaves = opts.leaves;
  let routeCount = app.routes.length;
  const resolve = (path: string): PolledPath | null => {
    const match = router.match("GET", path);
    const routes = match[0];
    if (routes.length !== 1) return null;
    const [[h], found] = routes[0]!;
    const handler = POLLED.get(h);
    if (handler === undefined) return null;
    const stash = match[1];
    const params: Record<string, string> = {};
    for (const key in found) {
      const at = (found as Record<string, string | number>)[key]!;
      const value = stash ? stash[at as number] : at as string;
      if (value !== undefined) params[key] = tryDecodeURIComponent(value);
    }
    return { handler, params, failed: (err) => onError(err, "GET", path) };
  };
  const byPath = (req: Request, url: string): PolledUrl | undefined => {
    if (leaves !== undefined && leaves(url)) return undefined;
    const path = app.getPath(req);
    let known = paths.get(path);
    if (known === undefined) {
      known = resolve(path);
      if (paths.size >= maxPaths) paths.clear();
      paths.set(path, known);
    }
    if (known === null) return undefined;
    const byUrl = { ...known, hasQuery: url.includes("?") };
    if (urls.size >= maxPaths) urls.clear();
    urls.set(url, byUrl);
    return byUrl;
  };
  // The last few polled URLs, compared as text before the map is asked: a request's URL is a new
  // string each time, which a Map lookup hashes first (a call into the runtime: with the lookup,
  // ~1k instructions per /api/devices/g42/read in callgrind's call tree); comparing it with the
  // URL of the same poll is a comparison of its characters.
  const recentUrls: string[] = new Array<string>(RECENT_URLS).fill("");
  const recentKnown: (PolledUrl | undefined)[] = new Array(RECENT_URLS).fill(undefined);
  let recentNext = 0;
  const recent = (url: string): PolledUrl | undefined => {
    for (let i = 0; i < RECENT_URLS; i++) {
      if (recentUrls[i] === url) return recentKnown[i];
    }
    const known = urls.get(url);
    if (known !== undefined) {
      recentUrls[recentNext] = url;
      recentKnown[recentNext] = known;
      recentNext = (recentNext + 1) % RECENT_URLS;
    }
    return known;
  };
  return (req) => {
    const url = req.url;
    if (app.routes.length !== routeCount) {
      paths.clear();
      urls.clear();
      recentUrls.fill("");
      recentKnown.fill(undefined);
      routeCount = app.routes.length;
    }
    const known = recent(url) ?? byPath(req, url);
    if (known === undefined) return undefined;
    try {
      const polled = new Polled(req, known);
      const res = known.handler(polled, known.hasQuery);
      return res instanceof Promise && !polled.caught ? res.catch(known.failed) : res;
    } catch (err) {
      return known.failed(err);
    }
  };
}
