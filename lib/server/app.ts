/**
 * The HTTP API of `labwire serve`, as a value: `createApp(ctx)` returns a hono app that tests
 * call with `app.request()` and `serve` hands to `Deno.serve`. Routes are declared with
 * `@hono/zod-openapi`, so the schemas that validate requests also produce `/api/openapi.json`.
 *
 * @module
 */
import { createRoute, OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import type { Attr } from "../device/attr.ts";
import type { Reading } from "../device/device.ts";
import type { DeviceManager } from "../lab/manager.ts";
import type { ServerContext } from "./context.ts";
import { HttpError, issuesError, toHttpError } from "./http_error.ts";
import { DeviceLines, LatestValues, METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import { StreamHub } from "./sse.ts";
import { GENERIC_TECHNIQUES, techniqueParams } from "../lab/task.ts";
import { readingJson } from "./reading_json.ts";
import { dashboardAsset } from "./dashboard.ts";
import { timingSafeEqualText } from "./auth.ts";
import { limitBody } from "./body_limit.ts";
import { DEFAULT_MAX_SCAN_POINTS, DEFAULT_MAX_TASK_DURATION_S } from "./config.ts";
import {
  DeviceDetailSchema,
  DeviceSummarySchema,
  ErrorSchema,
  HealthSchema,
  IdParam,
  NameParam,
  ReadingSchema,
  SamplesSchema,
  scanBodySchema,
  ScanPageQuery,
  taskBodySchema,
  TaskDataQuery,
  TaskDataSchema,
  TaskSchema,
  WriteBodySchema,
  WriteResultSchema,
} from "./schemas.ts";
import { attrRecord } from "../output/record.ts";
import { withTimeQuery } from "./time_query.ts";

/**
 * The app `createApp` returns: a hono app, and `warmAttrs()` to fetch every device's attributes
 * in the background (the daemon calls it once listening).
 */
export type LabwireApp = OpenAPIHono & { warmAttrs(): void };

const JSON_ERRORS = (...codes: number[]) =>
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
  409: "The device is busy with a task or scan",
  413: "Request body too large",
  422:
    "Refused by a declaration: a write outside the attribute's type or limits, a value over a server limit (code limit_exceeded, the message names the limit)",
  503: "The device (or the session) is unavailable",
};

const JSON_HEADERS = { "content-type": "application/json" };
const METRICS_HEADERS = { "content-type": METRICS_CONTENT_TYPE };

const MUTATING = new Set(["PUT", "POST", "DELETE", "PATCH"]);

/** Builds the HTTP app over a lab and whatever else `ctx` holds. Nothing listens here. */
export function createApp(ctx: ServerContext): LabwireApp {
  const started = Date.now();
  const hub = ctx.hub ?? (() => {
    const h = new StreamHub({ session: ctx.session });
    h.attach(ctx.lab);
    return h;
  })();
  const timeout = ctx.requestTimeoutMs ?? 5000;
  const attrCache = new Map<string, Attr[]>();
  const detailCache = new Map<string, { of: Attr[]; attrs: string; techniques: string }>();
  const detailJson = (device: string, attrs: Attr[], techniques: string[]) => {
    let d = detailCache.get(device);
    if (!d || d.of !== attrs) {
      const all = [...GENERIC_TECHNIQUES, ...techniques];
      d = {
        of: attrs,
        attrs: JSON.stringify(attrs.map(attrRecord)),
        techniques: JSON.stringify(techniques) +
          `,"technique_params":${JSON.stringify(techniqueParams(all, attrs))}`,
      };
      detailCache.set(device, d);
    }
    return d;
  };
  // The hot path of dashboards and scripts polling a device: the attrs and the last reading
  // are serialised once (per attrs fetch, per reading), not per request.
  // The whole body is cached per device until its last reading, state, attrs or busy flag
  // changes (a device at 10 Hz: at most 10 serialisations a second, however many pollers).
  const bodies = new Map<
    string,
    {
      last?: Reading;
      state: string;
      busy: boolean;
      attrs?: Attr[];
      error: string | null;
      body: string;
    }
  >();
  const detailBody = (m: DeviceManager, attrs: Attr[] | undefined, attrsError: string | null) => {
    const b = busy(m.name);
    const hit = bodies.get(m.name);
    if (
      hit && hit.last === m.last && hit.state === m.state && hit.busy === b &&
      hit.attrs === attrs &&
      hit.error === attrsError
    ) return hit.body;
    const fixed = attrs ? detailJson(m.name, attrs, m.device.techniques()) : undefined;
    const { last_age_s: _age, ...fields } = summary(m);
    const body = JSON.stringify(fields).slice(0, -1) +
      `,"attrs":${fixed?.attrs ?? "[]"},"attrs_error":${JSON.stringify(attrsError)}` +
      `,"last":${m.last ? readingJson(m.last) : "null"}` +
      `,"techniques":${
        fixed?.techniques ??
          `${JSON.stringify(m.device.techniques())},"technique_params":{}`
      }` +
      `,"busy":${b}}`;
    bodies.set(m.name, { last: m.last, state: m.state, busy: b, attrs, error: attrsError, body });
    return body;
  };
  const latest = new LatestValues();
  latest.attach(ctx.lab);

  const app = new OpenAPIHono({
    defaultHook: (result) => {
      if (!result.success) throw issuesError(result.error.issues, "[server] max_scan_points");
    },
  });

  app.onError((err, c) => {
    let e: HttpError;
    if (err instanceof HTTPException) {
      const status = [400, 401, 404, 405, 409, 413, 422, 503].includes(err.status)
        ? err.status as HttpError["status"]
        : 400;
      e = new HttpError(status, err.message || "bad request");
    } else {
      e = toHttpError(err);
    }
    if (e.code === "internal") ctx.log?.log("error", `${c.req.method} ${c.req.path}: ${e.message}`);
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

  /**
   * Declares a GET route that scripts and dashboards poll: documented from its zod schemas like
   * every other route, but with no validator middleware — its path parameters are plain strings
   * (nothing left to check once the route matched) and its query is validated in the handler,
   * only when the URL has one. With no middleware either, hono calls the handler directly
   * instead of composing a chain, which is most of a small answer's cost.
   */
  const getRoute = <Q>(
    route: RouteConfig & { method: "get" },
    handler: (c: Context, query: Partial<Q>) => Response | Promise<Response>,
  ) => {
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
  };

  const manager = (name: string): DeviceManager => {
    const m = ctx.lab.find(name);
    if (!m) {
      throw new HttpError(404, `no device "${name}"; devices: ${ctx.lab.names.join(", ")}`);
    }
    return m;
  };
  // Request signals are not passed to devices: a reading a client gave up on still completes
  // (and is cached and published), and the device queue stays in order.
  const attrsOf = async (m: DeviceManager): Promise<Attr[]> => {
    const attrs = await m.attrs({ timeout });
    attrCache.set(m.name, attrs);
    return attrs;
  };
  // A task that writes (hold, move, …) or a scan owns the device; a sampling task does not.
  // (canSubmit is O(1): the task list is only searched while something runs on the device.)
  const busy = (device: string) =>
    (ctx.tasks !== undefined && !ctx.tasks.canSubmit(device) &&
      ctx.tasks.list().some((t) =>
        t.manager.name === device && t.state === "running" && t.spec.technique !== "sample"
      )) || (ctx.scans?.busy?.(device) ?? false);
  const summary = (m: DeviceManager) => {
    const last = m.last;
    return {
      name: m.name,
      driver: m.device.driver,
      address: m.device.address,
      state: m.state,
      interval_s: m.config.interval / 1000,
      last_t: last?.t ?? null,
      last_age_s: last ? Math.max(0, Math.round((Date.now() / 1000 - last.t) * 1000) / 1000) : null,
      error: last?.error ?? null,
    };
  };

  /** Readings published so far (a cached device list is only valid for the readings it saw). */
  let readings = 0;
  for (const m of ctx.lab.managers) m.onReading(() => readings++);
  let list = { ms: -1, readings: -1, body: "" };

  const summaries = new WeakMap<
    DeviceManager,
    { last?: Reading; state: string; head: string; tail: string }
  >();
  /** A device's summary as JSON around its `last_age_s` (which changes with every request). */
  const summaryJson = (m: DeviceManager) => {
    const hit = summaries.get(m);
    if (hit && hit.last === m.last && hit.state === m.state) return hit;
    const { last_age_s: _age, error, ...head } = summary(m);
    const entry = {
      last: m.last,
      state: m.state,
      head: JSON.stringify(head).slice(0, -1) + ',"last_age_s":',
      tail: `,"error":${JSON.stringify(error)}}`,
    };
    summaries.set(m, entry);
    return entry;
  };

  // --- devices ---------------------------------------------------------------------------------
  getRoute(
    createRoute({
      method: "get",
      path: "/api/devices",
      tags: ["devices"],
      summary: "List devices with connection state and last reading age",
      responses: {
        200: {
          description: "Devices",
          content: {
            "application/json": { schema: z.object({ devices: z.array(DeviceSummarySchema) }) },
          },
        },
      },
    }),
    (c) => {
      // Each device's summary is serialised once per reading or state change, and the list once
      // per clock millisecond: ages are rounded to the millisecond, so within one millisecond
      // and with no new reading the whole body is the same (pollers share it).
      const nowMs = Date.now();
      if (list.ms === nowMs && list.readings === readings) {
        return c.body(list.body, 200, JSON_HEADERS);
      }
      const now = nowMs / 1000;
      const parts = ctx.lab.managers.map((m) => {
        const s = summaryJson(m);
        const age = m.last ? Math.max(0, Math.round((now - m.last.t) * 1000) / 1000) : null;
        return s.head + age + s.tail;
      });
      list = { ms: nowMs, readings, body: `{"devices":[${parts.join(",")}]}` };
      return c.body(list.body, 200, JSON_HEADERS);
    },
  );

  getRoute(
    createRoute({
      method: "get",
      path: "/api/devices/{name}",
      tags: ["devices"],
      summary: "One device: attrs with units, rw and limits, last reading, techniques",
      request: { params: NameParam },
      responses: {
        200: {
          description: "Device",
          content: { "application/json": { schema: DeviceDetailSchema } },
        },
        ...JSON_ERRORS(404),
      },
    }),
    async (c) => {
      const m = manager(c.req.param("name")!);
      let attrs = attrCache.get(m.name);
      let attrsError: string | null = null;
      if (!attrs) {
        try {
          attrs = await attrsOf(m);
        } catch (err) {
          attrsError = toHttpError(err).message;
        }
      }
      return c.body(detailBody(m, attrs, attrsError), 200, JSON_HEADERS);
    },
  );

  getRoute<{ attrs: string }>(
    createRoute({
      method: "get",
      path: "/api/devices/{name}/read",
      tags: ["devices"],
      summary: "A fresh reading through the device's queue",
      request: {
        params: NameParam,
        query: z.object({
          attrs: z.string().optional().openapi({
            description: "comma-separated attribute names; default: the status attrs",
            example: "pressure",
          }),
        }).strict(),
      },
      responses: {
        200: { description: "Reading", content: { "application/json": { schema: ReadingSchema } } },
        ...JSON_ERRORS(400, 404, 503),
      },
    }),
    async (c, query) => {
      const m = manager(c.req.param("name")!);
      const q = query.attrs;
      let names: string[] | undefined;
      if (q !== undefined) {
        names = q.split(",").map((s) => s.trim()).filter((s) => s !== "");
        const attrs = await attrsOf(m);
        const unknown = names.filter((n) => !attrs.some((a) => a.name === n));
        if (unknown.length > 0) {
          throw new HttpError(
            400,
            `${m.name} has no attribute ${unknown.map((u) => `"${u}"`).join(", ")}; it has: ${
              attrs.map((a) => a.name).join(", ")
            }`,
          );
        }
      }
      const r = await m.sample(names, { timeout });
      if (r.error !== undefined) throw new HttpError(503, `${m.name}: ${r.error}`, "device_error");
      // Encoded once: SSE clients and the device's detail send the same text.
      return c.body(readingJson(r), 200, JSON_HEADERS);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/api/devices/{name}/attrs/{attr}",
      tags: ["devices"],
      summary: "Validated write; answers the read-back",
      request: {
        params: NameParam.extend({
          attr: z.string().openapi({ param: { name: "attr", in: "path" }, example: "position" }),
        }),
        body: { required: true, content: { "application/json": { schema: WriteBodySchema } } },
      },
      responses: {
        200: {
          description: "Read-back after the write",
          content: { "application/json": { schema: WriteResultSchema } },
        },
        ...JSON_ERRORS(400, 401, 404, 409, 413, 422, 503),
      },
    }),
    async (c) => {
      const { name, attr } = c.req.valid("param");
      const m = manager(name);
      const attrs = await attrsOf(m);
      if (!attrs.some((a) => a.name === attr)) {
        throw new HttpError(
          404,
          `${name} has no attribute "${attr}"; it has: ${attrs.map((a) => a.name).join(", ")}`,
        );
      }
      if (busy(name)) {
        throw new HttpError(409, `${name} is busy with a task or scan; stop it first`);
      }
      const { value } = c.req.valid("json");
      const back = await m.write(attr, value, { timeout });
      ctx.log?.log(
        "info",
        `write ${name}.${attr} = ${JSON.stringify(value)} (read-back ${JSON.stringify(back)})`,
      );
      return c.json({ device: name, attr, value: back, t: m.last?.t ?? Date.now() / 1000 }, 200);
    },
  );

  // --- tasks -----------------------------------------------------------------------------------
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

  // --- scans (issue 5) -------------------------------------------------------------------------
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
      summary: "Interrupt a scan as Ctrl-C does; answers its status and first page of points",
      request: { params: IdParam, query: ScanPageQuery },
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
      return c.json(await scans().stop(id, c.req.valid("query")) as Record<string, unknown>, 200);
    },
  );

  // --- stream, samples, alarms -----------------------------------------------------------------
  getRoute<{ devices: string }>(
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
    (c, query) => {
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
      const lastId = c.req.header("last-event-id") ?? c.req.query("last_event_id") ?? null;
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

  // --- health, metrics, docs -------------------------------------------------------------------
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

  // A device's lines are rendered again only when it changed (units come with its cached attrs).
  const metricLines = new DeviceLines((device) => attrCache.get(device));
  app.get("/metrics", (c) => {
    const page = renderMetrics(
      ctx,
      (device, attr) => attrCache.get(device)?.find((a) => a.name === attr)?.units,
      { sseClients: hub.clientCount, sseLagDisconnects: hub.lagDisconnects },
      latest,
      metricLines,
    );
    return c.body(page, 200, METRICS_HEADERS);
  });

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

  // --- dashboard -------------------------------------------------------------------------------
  const asset = (c: Context, name: string) => {
    const a = dashboardAsset(name);
    if (!a) return c.json(new HttpError(404, `no asset "${name}"`).body(), 404);
    return c.body(a.body, 200, { "content-type": a.type, "cache-control": "no-cache" });
  };
  app.get("/", (c) => asset(c, "index.html"));
  app.get("/assets/:file", (c) => asset(c, c.req.param("file")));

  routeMethods = methodsByPath(app.routes);
  // ?time=iso on every JSON answer (the one time policy), without a route knowing about it.
  app.fetch = withTimeQuery(app.fetch);
  return Object.assign(app, {
    // Filling the attr cache (so /metrics has units and detail answers are instant) is device
    // I/O: the daemon starts it once it listens, never the construction.
    warmAttrs(): void {
      for (const m of ctx.lab.managers) attrsOf(m).catch(() => {});
    },
  });
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
