/**
 * `/api/devices`: the device list, one device's detail, a fresh reading and a validated write.
 * The list and the detail are what dashboards and scripts poll, so their bodies are cached and
 * served without validator middleware (`getRoute`).
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Attr } from "../../device/attr.ts";
import type { Reading } from "../../device/device.ts";
import type { DeviceManager } from "../../lab/manager.ts";
import { GENERIC_TECHNIQUES, techniqueParams } from "../../lab/task_spec.ts";
import { HttpError, toHttpError } from "../http_error.ts";
import { attrRecord, readingJson } from "../../output/record.ts";
import {
  AddDeviceSchema,
  DeviceDetailSchema,
  DeviceSummarySchema,
  NameParam,
  ReadingSchema,
  WriteBodySchema,
  WriteResultSchema,
} from "../schemas.ts";
import { type ApiState, getRoute, JSON_ERRORS, jsonAnswer, newApi } from "./api.ts";

/**
 * A fresh reading's answer: the text SSE clients and the device's detail send for it, or a 503
 * naming the device when the read failed (one function for every request, no closure each).
 */
function readingAnswer(r: Reading): Response {
  if (r.error !== undefined) throw new HttpError(503, `${r.device}: ${r.error}`, "device_error");
  return jsonAnswer(readingJson(r));
}

/** Whether each of `managers` has the last reading `lasts` says, in the same order. */
function sameLasts(lasts: readonly (Reading | undefined)[], managers: DeviceManager[]): boolean {
  if (lasts.length !== managers.length) return false;
  for (let i = 0; i < lasts.length; i++) if (managers[i]!.last !== lasts[i]) return false;
  return true;
}

/** The device routes over `api`'s lab. */
export function deviceRoutes(api: ApiState): OpenAPIHono {
  const { ctx, attrCache, manager, attrsOf, busy, timeout } = api;
  const app = newApi();
  const devicesAdmin = () => {
    if (!ctx.devices) throw new HttpError(503, "adding and removing devices needs labwire serve");
    return ctx.devices;
  };
  /**
   * Options of every request's reading (one object, not one per request): requests that find
   * the device busy share its next read (`join`, see `SampleOptions.join`).
   */
  const readOptions = { timeout, join: true };
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

  /** Devices added or removed so far (a cached device list is only valid for the ones it saw). */
  let changes = 0;
  ctx.lab.onChange(() => changes++);
  // The list made last: when, of which devices, and each one's last reading then (compared per
  // list request, not counted per reading: every `GET /read` publishes one).
  let list = { ms: -1, changes: -1, lasts: [] as (Reading | undefined)[], body: "" };

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

  getRoute(
    app,
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
    () => {
      // Each device's summary is serialised once per reading or state change, and the list once
      // per clock millisecond: ages are rounded to the millisecond, so within one millisecond
      // and with no new reading the whole body is the same (pollers share it).
      const nowMs = Date.now();
      const managers = ctx.lab.managers;
      if (list.ms === nowMs && list.changes === changes && sameLasts(list.lasts, managers)) {
        return jsonAnswer(list.body);
      }
      const now = nowMs / 1000;
      const parts = managers.map((m) => {
        const s = summaryJson(m);
        const age = m.last ? Math.max(0, Math.round((now - m.last.t) * 1000) / 1000) : null;
        return s.head + age + s.tail;
      });
      const lasts = managers.map((m) => m.last);
      list = { ms: nowMs, changes, lasts, body: `{"devices":[${parts.join(",")}]}` };
      return jsonAnswer(list.body);
    },
  );

  getRoute(
    app,
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
    (req) => {
      const m = manager(req.param("name")!);
      const attrs = attrCache.get(m.name);
      // Answered synchronously once the attrs are cached: Deno.serve sends a Response returned
      // at once on its fast path, like the bare server's; a promise (even one already resolved)
      // takes its slower path.
      if (attrs) return jsonAnswer(detailBody(m, attrs, null));
      return attrsOf(m).then(
        (fetched) => jsonAnswer(detailBody(m, fetched, null)),
        (err) => jsonAnswer(detailBody(m, undefined, toHttpError(err).message)),
      );
    },
  );

  getRoute<{ attrs: string }>(
    app,
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
    (req, query) => {
      const m = manager(req.param("name")!);
      // The default reading (what pollers ask): the answer is made in the turn the reading is
      // (one promise from the device's queue to the answer, no async frame around it), an error
      // answer too when the request has one (no promise chained to catch).
      if (query.attrs === undefined) {
        return m.sampleTo(undefined, readOptions, readingAnswer, req.answersErrors?.());
      }
      const names = query.attrs.split(",").map((s) => s.trim()).filter((s) => s !== "");
      return attrsOf(m).then((attrs) => {
        const unknown = names.filter((n) => !attrs.some((a) => a.name === n));
        if (unknown.length > 0) {
          throw new HttpError(
            400,
            `${m.name} has no attribute ${unknown.map((u) => `"${u}"`).join(", ")}; it has: ${
              attrs.map((a) => a.name).join(", ")
            }`,
          );
        }
        return m.sampleTo(names, readOptions, readingAnswer);
      });
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
      // the one ownership rule: a device a writing task or a scan owns refuses plain writes
      ctx.lab.owners.check(name);
      const { value } = c.req.valid("json");
      const back = await m.write(attr, value, { timeout });
      ctx.log?.log(
        "info",
        `write ${name}.${attr} = ${JSON.stringify(value)} (read-back ${JSON.stringify(back)})`,
      );
      return c.json({ device: name, attr, value: back, t: m.last?.t ?? Date.now() / 1000 }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/devices",
      tags: ["devices"],
      summary:
        "Add a device at run time: {name, address, options} validated exactly like a [devices.NAME] table of the config",
      request: {
        body: { required: true, content: { "application/json": { schema: AddDeviceSchema } } },
      },
      responses: {
        201: {
          description: "The device, opened and sampled from now on",
          content: { "application/json": { schema: DeviceSummarySchema } },
        },
        ...JSON_ERRORS(400, 401, 409, 413, 422, 503),
      },
    }),
    async (c) => {
      const admin = devicesAdmin();
      const { name, address, options } = c.req.valid("json");
      await admin.add(name, { ...options, address }, "POST /api/devices");
      c.header("Location", `/api/devices/${encodeURIComponent(name)}`);
      return c.json(summary(manager(name)), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/devices/{name}",
      tags: ["devices"],
      summary:
        "Remove a device at run time (its tasks are stopped; 409 while a writing task or a scan owns it)",
      request: { params: NameParam },
      responses: {
        200: {
          description: "The device removed",
          content: {
            "application/json": {
              schema: z.object({ name: z.string(), address: z.string(), removed: z.boolean() }),
            },
          },
        },
        ...JSON_ERRORS(401, 404, 409, 503),
      },
    }),
    async (c) => {
      const admin = devicesAdmin();
      const m = manager(c.req.valid("param").name);
      await admin.remove(m.name, "DELETE /api/devices");
      return c.json({ name: m.name, address: m.device.address, removed: true }, 200);
    },
  );

  return app;
}
