import assert from "node:assert/strict";
import { Hono } from "hono";
import { RegExpRouter } from "hono/router/reg-exp-router";
import type { Result, Router } from "hono/router";
import { CachedRouter } from "./route_cache.ts";

/** A router that counts the matches it is asked for. */
class CountingRouter<T> implements Router<T> {
  name = "counting";
  matches = 0;
  readonly #inner = new RegExpRouter<T>();
  add(method: string, path: string, handler: T): void {
    this.#inner.add(method, path, handler);
  }
  match(method: string, path: string): Result<T> {
    this.matches++;
    return this.#inner.match(method, path);
  }
}

Deno.test("a path is matched once and answers the same afterwards, parameters included", async () => {
  const counting = new CountingRouter<never>();
  const app = new Hono({ router: new CachedRouter({ router: counting }) as never });
  app.get("/api/devices/:name/read", (c) => c.text(`read ${c.req.param("name")}`));
  app.get("/api/devices/:name", (c) => c.text(`detail ${c.req.param("name")}`));
  app.put("/api/devices/:name", (c) => c.text(`put ${c.req.param("name")}`));
  for (let i = 0; i < 3; i++) {
    assert.equal(await (await app.request("/api/devices/g42/read")).text(), "read g42");
    assert.equal(await (await app.request("/api/devices/g7")).text(), "detail g7");
  }
  assert.equal(counting.matches, 2);
  // the method is part of what is remembered
  assert.equal(
    await (await app.request("/api/devices/g7", { method: "PUT" })).text(),
    "put g7",
  );
  assert.equal((await app.request("/nowhere")).status, 404);
  assert.equal(counting.matches, 4);
});

Deno.test("the cache is bounded: made-up paths start it over instead of growing it", async () => {
  const counting = new CountingRouter<never>();
  const app = new Hono({ router: new CachedRouter({ router: counting, maxPaths: 4 }) as never });
  app.get("/d/:name", (c) => c.text(c.req.param("name")!));
  for (let i = 0; i < 10; i++) assert.equal(await (await app.request(`/d/x${i}`)).text(), `x${i}`);
  assert.equal(counting.matches, 10);
  // x8 and x9 are still remembered (the cache started over at x8)
  await app.request("/d/x9");
  assert.equal(counting.matches, 10);
  await app.request("/d/x0");
  assert.equal(counting.matches, 11);
});
