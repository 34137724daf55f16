import assert from "node:assert/strict";
import { createRoute, z } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import type { Result, Router } from "hono/router";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { TrieRouter } from "hono/router/trie-router";
import { HttpError, toHttpError } from "../http_error.ts";
import { getRoute, newApi, plainGetRoute, polledDispatch } from "./api.ts";

/** A router that counts the matches it is asked for. */
class CountingRouter<T> implements Router<T> {
  name = "counting";
  matches = 0;
  constructor(readonly inner: Router<T> = new RegExpRouter<T>()) {}
  add(method: string, path: string, handler: T): void {
    this.inner.add(method, path, handler);
  }
  match(method: string, path: string): Result<T> {
    this.matches++;
    return this.inner.match(method, path);
  }
}

const NAME = z.object({ name: z.string().openapi({ param: { name: "name", in: "path" } }) });

/** An app with two polled routes (one with a strict query) and a plain hono route. */
function polledApp(
  router = new CountingRouter<never>(),
  maxPaths?: number,
  leaves?: (url: string) => boolean,
) {
  const app = newApi({ router: router as never });
  app.onError((err, c) => {
    const e = toHttpError(err);
    return c.json(e.body(), e.status);
  });
  getRoute(
    app,
    createRoute({
      method: "get",
      path: "/things/{name}",
      request: { params: NAME },
      responses: { 200: { description: "A thing" } },
    }),
    (req) => {
      const name = req.param("name")!;
      if (name === "missing") throw new HttpError(404, `no thing "${name}"`);
      return Response.json({ name, agent: req.header("user-agent") ?? null });
    },
  );
  getRoute<{ n: string }>(
    app,
    createRoute({
      method: "get",
      path: "/things/{name}/read",
      request: { params: NAME, query: z.object({ n: z.string().optional() }).strict() },
      responses: { 200: { description: "A reading" } },
    }),
    (req, query) => {
      const name = req.param("name")!;
      if (name === "down") {
        return Promise.reject(new HttpError(503, `${name}: no answer`, "device_error"));
      }
      if (name === "broken") return Promise.reject(new Error("a bug"));
      return Promise.resolve(Response.json({ name, n: query.n ?? null }));
    },
  );
  // answers its own errors (with the request's error answer, when it has one)
  const own = new Map<string, Promise<Response>>();
  getRoute(
    app,
    createRoute({
      method: "get",
      path: "/own/{name}",
      request: { params: NAME },
      responses: { 200: { description: "A thing" } },
    }),
    (req) => {
      const name = req.param("name")!;
      const failed = req.answersErrors?.();
      // without an error answer of its own the rejection passes through (to hono's onError)
      const res = Promise.resolve().then(() => {
        if (name === "down") throw new HttpError(503, `${name}: no answer`, "device_error");
        return Response.json({ name });
      }).then(undefined, failed);
      own.set(name, res);
      return res;
    },
  );
  app.get("/plain/:name", (c) => c.text(`plain ${c.req.param("name")}`));
  const errors: string[] = [];
  const dispatch = polledDispatch(app, (err, method, path) => {
    const e = toHttpError(err);
    if (e.code === "internal") errors.push(`${method} ${path}: ${e.message}`);
    return Response.json(e.body(), { status: e.status });
  }, { maxPaths, leaves });
  return { app, router, dispatch, errors, own };
}

const get = (path: string, init?: RequestInit) => new Request(`http://localhost${path}`, init);

Deno.test("polled dispatch: a path is worked out once; its parameters come decoded, every time", async () => {
  const { router, dispatch } = polledApp();
  for (let i = 0; i < 3; i++) {
    const res = await dispatch(get("/things/g%2042", { headers: { "user-agent": `a${i}` } }))!;
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { name: "g 42", agent: `a${i}` });
    const read = await dispatch(get(`/things/g7/read?n=${i}`))!;
    assert.deepEqual(await read.json(), { name: "g7", n: String(i) });
  }
  assert.equal(router.matches, 2, "one match per path, whatever the query");
});

Deno.test("polled dispatch: errors answer with their status and the error body", async () => {
  const { dispatch, errors } = polledApp();
  const missing = await dispatch(get("/things/missing"))!;
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("content-type"), "application/json");
  assert.deepEqual(await missing.json(), {
    error: { code: "not_found", message: 'no thing "missing"' },
  });
  const down = await dispatch(get("/things/down/read"))!;
  assert.equal(down.status, 503);
  assert.equal((await down.json()).error.code, "device_error");
  const strict = await dispatch(get("/things/g7/read?m=1"))!;
  assert.equal(strict.status, 400, "the query is checked against its schema");
  assert.match((await strict.json()).error.message, /m/);
  assert.deepEqual(errors, [], "nothing internal so far");
  const broken = await dispatch(get("/things/broken/read"))!;
  assert.equal(broken.status, 503);
  assert.equal((await broken.json()).error.code, "internal");
  assert.deepEqual(errors, ["GET /things/broken/read: internal error: a bug"], "with its path");
});

Deno.test("polled dispatch: paths it does not serve go to hono, remembered or not", () => {
  const { dispatch } = polledApp();
  for (let i = 0; i < 2; i++) {
    assert.equal(dispatch(get("/plain/x")), undefined, "a route that is not polled");
    assert.equal(dispatch(get("/nowhere")), undefined, "no route at all");
    assert.equal(dispatch(get("/things/a/b/c")), undefined);
  }
});

Deno.test("polled dispatch: middleware added to a path later sends it through hono", async () => {
  // hono's RegExpRouter takes no route once it matched; its TrieRouter does
  const { app, dispatch } = polledApp(new CountingRouter<never>(new TrieRouter()));
  const before = await dispatch(get("/things/g1"))!;
  assert.equal(before.status, 200);
  app.use("/things/*", cors({ origin: "https://lab.example.org" }));
  assert.equal(dispatch(get("/things/g1")), undefined, "CORS now applies: hono serves it");
  const res = await app.request("/things/g1");
  assert.equal(res.status, 200);
  assert.equal((await res.json()).name, "g1");
});

Deno.test("polled dispatch: the paths remembered are bounded (made-up paths start it over)", async () => {
  const { router, dispatch } = polledApp(new CountingRouter<never>(), 4);
  for (let i = 0; i < 10; i++) {
    assert.equal((await (await dispatch(get(`/things/x${i}`))!).json()).name, `x${i}`);
  }
  assert.equal(router.matches, 10);
  await (await dispatch(get("/things/x9"))!).body?.cancel();
  assert.equal(router.matches, 10, "x9 is still remembered");
  await (await dispatch(get("/things/x0"))!).body?.cancel();
  assert.equal(router.matches, 11, "x0 was forgotten");
});

Deno.test("polled dispatch: a URL it remembers is still answered by its own query", async () => {
  const { router, dispatch } = polledApp();
  for (let i = 0; i < 3; i++) {
    const plain = await dispatch(get("/things/g7/read"))!;
    assert.deepEqual(await plain.json(), { name: "g7", n: null });
    const asked = await dispatch(get("/things/g7/read?n=5"))!;
    assert.deepEqual(await asked.json(), { name: "g7", n: "5" });
    const wrong = await dispatch(get("/things/g7/read?m=5"))!;
    assert.equal(wrong.status, 400, "a remembered URL's query is checked every time");
  }
  assert.equal(router.matches, 1, "three URLs of one path: one match");
});

Deno.test("polled dispatch: URLs the caller leaves go to hono, the same path without them does not", async () => {
  const { dispatch } = polledApp(undefined, undefined, (url) => url.includes("time="));
  for (let i = 0; i < 2; i++) {
    assert.equal(dispatch(get("/things/g1?time=iso")), undefined);
    const res = await dispatch(get("/things/g1"))!;
    assert.equal((await res.json()).name, "g1");
  }
});

Deno.test("polled dispatch: a route added later makes remembered URLs be worked out again", async () => {
  const { app, dispatch } = polledApp(new CountingRouter<never>(new TrieRouter()));
  for (let i = 0; i < 3; i++) {
    assert.equal((await (await dispatch(get("/things/g1/read?n=1"))!).json()).name, "g1");
  }
  app.use("/things/*", cors({ origin: "https://lab.example.org" }));
  assert.equal(dispatch(get("/things/g1/read?n=1")), undefined, "CORS now applies: hono serves it");
});

Deno.test("polled dispatch: a handler that answers its own errors gets no promise chained to catch", async () => {
  const { app, dispatch, own } = polledApp();
  for (const name of ["g1", "down"]) {
    const res = dispatch(get(`/own/${name}`));
    assert.equal(res, own.get(name), "the handler's own promise is the answer");
  }
  assert.equal((await (await own.get("g1"))!.json()).name, "g1");
  const down = (await own.get("down"))!;
  assert.equal(down.status, 503);
  assert.equal((await down.json()).error.code, "device_error");
  // served by hono (no error answer of its own), the rejection goes to onError
  const viaHono = await app.request("/own/down");
  assert.equal(viaHono.status, 503);
  assert.equal((await viaHono.json()).error.code, "device_error");
});

Deno.test("polled dispatch: URLs polled in turn (more than it compares as text) each get their own answer", async () => {
  const { router, dispatch } = polledApp();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 7; i++) {
      const res = await dispatch(get(`/things/g${i}/read?n=${round}`))!;
      assert.deepEqual(await res.json(), { name: `g${i}`, n: String(round) });
      const detail = await dispatch(get(`/things/g${i}`))!;
      assert.equal((await detail.json()).name, `g${i}`);
    }
  }
  assert.equal(router.matches, 14, "one match per path");
});

Deno.test("polled routes: a route without a query refuses unknown parameters; time and utc pass on every route", async () => {
  const { app, dispatch } = polledApp();
  const served = (path: string) => dispatch(get(path)) ?? app.fetch(get(path));
  for (const answer of [served, (path: string) => app.fetch(get(path))]) {
    const typo = await answer("/things/g7?nmae=g8");
    assert.equal(typo.status, 400);
    assert.deepEqual(await typo.json(), {
      error: {
        code: "bad_request",
        message: 'unknown query parameter "nmae"; it takes time, utc',
      },
    });
    const ownTypo = await answer("/things/g7/read?m=1");
    assert.equal(ownTypo.status, 400);
    assert.match((await ownTypo.json()).error.message, /^unknown query parameter "m"; it takes n,/);
    // utc alone (no time) changes nothing, and is no unknown parameter
    const utc = await answer("/things/g7?utc=1");
    assert.equal(utc.status, 200);
    assert.equal((await utc.json()).name, "g7");
    const readUtc = await answer("/things/g7/read?n=2&utc=1");
    assert.deepEqual(await readUtc.json(), { name: "g7", n: "2" });
  }
});

Deno.test("plain routes: served by the polled dispatch and by hono alike, whatever the query, and not documented", async () => {
  const app = newApi();
  let calls = 0;
  plainGetRoute(app, "/page", () => new Response(`page ${++calls}`));
  app.get("/other", (c) => c.text("other"));
  const dispatch = polledDispatch(app, (err) => Response.json(toHttpError(err).body()));
  const polled = dispatch(get("/page?anything=1"));
  assert.ok(polled instanceof Response, "the polled dispatch serves it");
  assert.equal(await polled.text(), "page 1");
  assert.equal(await (await app.fetch(get("/page?zzz=2"))).text(), "page 2");
  assert.equal(dispatch(get("/other")), undefined);
  const doc = app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "t", version: "1" } });
  assert.equal(doc.paths?.["/page"], undefined);
});
