/**
 * `/api/positions`: named positions over HTTP, as `labwire position` does them — list, show,
 * save the current values (`PUT`, attributes or a `[positions]` group), restore (`POST …/restore`,
 * 409 while a scan or task owns a device), delete.
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { HttpError } from "../http_error.ts";
import { positionRefs, readPosition, restorePosition } from "../../scan/positions.ts";
import { checkPositionName, type NamedPosition } from "../../session/positions.ts";
import { type ApiState, JSON_ERRORS, newApi } from "./api.ts";

const PositionParam = z.object({
  name: z.string().min(1).max(64).openapi({ param: { name: "name", in: "path" }, example: "park" }),
});

const SaveBody = z.object({
  attrs: z.array(z.string().min(3).max(200)).min(1).max(256).optional().openapi({
    example: ["motor.position", "thermo.setpoint"],
  }),
  group: z.string().min(1).max(64).optional().openapi({ description: "a [positions] group" }),
}).strict().openapi("PositionSave");

const RestoreBody = z.object({
  wait: z.boolean().optional(),
  timeout_ms: z.number().min(1).max(3_600_000).optional(),
}).strict().openapi("PositionRestore");

const json = (schema: z.ZodType) => ({ "application/json": { schema } });
const anyObject = z.record(z.string(), z.unknown());

function doc(p: NamedPosition): Record<string, unknown> {
  return { name: p.name, saved: p.saved, values: Object.fromEntries(p.values) };
}

/** The position routes over `api`'s position store (a 503 when the server has none). */
export function positionRoutes(api: ApiState): OpenAPIHono {
  const { ctx } = api;
  const app = newApi();
  const store = () => {
    if (!ctx.positions) throw new HttpError(503, "named positions are not available here");
    return ctx.positions();
  };
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/positions",
      tags: ["positions"],
      summary: "Every saved position",
      responses: {
        200: {
          description: "Positions",
          content: json(z.object({ positions: z.array(anyObject) })),
        },
        ...JSON_ERRORS(503),
      },
    }),
    (c) => c.json({ positions: store().list().map(doc) }, 200),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/api/positions/{name}",
      tags: ["positions"],
      summary: "One saved position",
      request: { params: PositionParam },
      responses: {
        200: { description: "Position", content: json(anyObject) },
        ...JSON_ERRORS(404, 503),
      },
    }),
    (c) => c.json(doc(store().require(c.req.valid("param").name)), 200),
  );
  app.openapi(
    createRoute({
      method: "put",
      path: "/api/positions/{name}",
      tags: ["positions"],
      summary: "Save the current values of attributes (or a [positions] group) under a name",
      request: {
        params: PositionParam,
        body: { required: true, content: { "application/json": { schema: SaveBody } } },
      },
      responses: {
        200: { description: "Saved position", content: json(anyObject) },
        ...JSON_ERRORS(400, 401, 404, 503),
      },
    }),
    async (c) => {
      const name = checkPositionName(c.req.valid("param").name);
      const body = c.req.valid("json");
      if ((body.attrs === undefined) === (body.group === undefined)) {
        throw new HttpError(400, "give attrs (device.attr list) or group, one of them");
      }
      const refs = positionRefs(body.attrs ?? [body.group!], ctx.lab.config);
      const p = await readPosition(ctx.lab, name, refs);
      const replaced = store().save(p);
      ctx.log?.log("info", `position ${name} ${replaced ? "replaced" : "saved"}`);
      return c.json({ ...doc(p), replaced }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/positions/{name}/restore",
      tags: ["positions"],
      summary: "Write a saved position back, in order (409 while a scan or task owns a device)",
      request: { params: PositionParam, body: { required: false, content: json(RestoreBody) } },
      responses: {
        200: { description: "What was written", content: json(anyObject) },
        ...JSON_ERRORS(400, 401, 404, 409, 422, 503),
      },
    }),
    async (c) => {
      const p = store().require(c.req.valid("param").name);
      const body = await c.req.json().catch(() => ({})) as z.infer<typeof RestoreBody>;
      const parsed = RestoreBody.safeParse(body ?? {});
      if (!parsed.success) throw new HttpError(400, parsed.error.issues[0]!.message);
      const restored = await restorePosition(ctx.lab, p, {
        wait: parsed.data.wait,
        timeoutMs: parsed.data.timeout_ms,
      });
      ctx.log?.log("info", `position ${p.name} restored`);
      return c.json({ name: p.name, restored }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/positions/{name}",
      tags: ["positions"],
      summary: "Delete a saved position",
      request: { params: PositionParam },
      responses: {
        200: { description: "Deleted", content: json(z.object({ deleted: z.string() })) },
        ...JSON_ERRORS(401, 404, 503),
      },
    }),
    (c) => {
      const name = c.req.valid("param").name;
      store().delete(name);
      return c.json({ deleted: name }, 200);
    },
  );
  return app;
}
