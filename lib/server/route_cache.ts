/**
 * A hono router that remembers what each (method, path) matched. Hono's default router matches
 * a path with parameters (`/api/devices/g42/read`) by running one large regular expression over
 * every route, which builds a match array of one slot per capture group of the whole app: about
 * a microsecond and most of a kilobyte per request, the same for every poll of the same path.
 * The routes are fixed once the app is built, so a match is a pure function of method and path:
 * this router keeps the last results (bounded; a client making up paths only empties it) and
 * hands the same result object to every request of that path (hono only reads it).
 *
 * @module
 */
import type { Result, Router } from "hono/router";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";

/** Options of a {@linkcode CachedRouter}. */
export interface CachedRouterOptions<T> {
  /** The router that matches (default: hono's own default, RegExpRouter or TrieRouter). */
  router?: Router<T>;
  /** Most remembered paths per method before the cache starts over (default 1024). */
  maxPaths?: number;
}

/**
 * Wraps a hono router so each (method, path) is matched once while the cache holds it.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { CachedRouter } from "./route_cache.ts";
 * const app = new Hono({ router: new CachedRouter() });
 * app.get("/api/devices/:name", (c) => c.text(c.req.param("name")!));
 * await (await app.request("/api/devices/g42")).text(); // "g42"
 * ```
 */
export class CachedRouter<T> implements Router<T> {
  /** Shown by hono (`app.router.name`). */
  name: string;
  readonly #router: Router<T>;
  readonly #maxPaths: number;
  readonly #byMethod = new Map<string, Map<string, Result<T>>>();

  /** A cache in front of `opts.router` (hono's default router when not given). */
  constructor(opts: CachedRouterOptions<T> = {}) {
    this.#router = opts.router ??
      new SmartRouter<T>({ routers: [new RegExpRouter<T>(), new TrieRouter<T>()] });
    this.#maxPaths = opts.maxPaths ?? 1024;
    this.name = `CachedRouter + ${this.#router.name}`;
  }

  /** Adds a route (and forgets every remembered match: it may now match differently). */
  add(method: string, path: string, handler: T): void {
    this.#router.add(method, path, handler);
    this.#byMethod.clear();
  }

  /** The routes `path` matches for `method`: remembered, or matched and remembered. */
  match(method: string, path: string): Result<T> {
    let paths = this.#byMethod.get(method);
    if (paths === undefined) this.#byMethod.set(method, paths = new Map());
    const hit = paths.get(path);
    if (hit !== undefined) return hit;
    const result = this.#router.match(method, path);
    // Bounded: paths are what clients send. Starting over is cheap; the next polls refill it.
    if (paths.size >= this.#maxPaths) paths.clear();
    paths.set(path, result);
    return result;
  }
}
