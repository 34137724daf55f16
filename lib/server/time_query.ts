/**
 * `?time=iso` on every JSON answer of the API: the one time policy says machine output carries
 * epoch seconds, or ISO 8601 with the offset when asked. Rather than teach every route, the app's
 * `fetch` is wrapped: the parameter is taken off the URL (so routes with strict queries never see
 * it), and an `iso` answer has its times rewritten: a JSON body as a whole, an event stream
 * (`/api/stream`) event by event. Epoch answers (the default, the hot path) pass through
 * untouched. Event ids stay epoch milliseconds either way (they are what Last-Event-ID resumes).
 *
 * @module
 */
import { isoWithOffset } from "../output/time.ts";
import { HttpError } from "./http_error.ts";

/** Keys whose numbers are times (epoch seconds) in the API's answers. */
export const TIME_KEYS: ReadonlySet<string> = new Set([
  "t",
  "last_t",
  "started",
  "ended",
  "since",
  "from",
  "to",
  "start",
  "stop",
  "first",
  "last",
  "created",
  "acked",
]);

/**
 * Rewrites the times of a JSON value (numbers, or arrays of numbers, under {@linkcode TIME_KEYS})
 * as ISO 8601 with the local offset (`Z` under `utc`).
 *
 * @example
 * ```ts
 * import { isoTimes } from "./time_query.ts";
 * isoTimes({ t: 0, device: "g", p: 1 }, true); // { t: "1970-01-01T00:00:00.000Z", device: "g", p: 1 }
 * ```
 */
export function isoTimes(value: unknown, utc = false, key?: string): unknown {
  if (key !== undefined && TIME_KEYS.has(key)) {
    if (typeof value === "number" && Number.isFinite(value)) return isoWithOffset(value, { utc });
    if (Array.isArray(value) && value.every((v) => typeof v === "number")) {
      return value.map((v) => isoWithOffset(v, { utc }));
    }
  }
  if (Array.isArray(value)) return value.map((v) => isoTimes(v, utc));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = isoTimes(v, utc, k);
    return out;
  }
  return value;
}

/** The query parameters every route takes, through {@linkcode withTimeQuery}. */
export const TIME_QUERY_KEYS: readonly string[] = ["time", "utc"];

/** Whether `url` asks for a time format ({@linkcode withTimeQuery} rewrites its answer). */
export function hasTimeQuery(url: string): boolean {
  return url.includes("time=");
}

/** A fetch handler, as hono's `app.fetch` and `Deno.serve` take it. */
type Fetch = (req: Request, env?: never, ctx?: never) => Response | Promise<Response>;

/**
 * Wraps `fetch` so `?time=epoch|iso` (and `&utc=1`) work on every JSON answer and on every
 * Server-Sent Event's data; any other `time` is a 400 naming the choices.
 */
export function withTimeQuery<F extends Fetch>(fetch: F): F {
  // Without `time=` the answer is the app's own, as it comes: a synchronous answer stays
  // synchronous (Deno.serve sends those on its fast path) and no await is added per request
  // (nor an array: the arguments are passed as they are, not gathered and spread).
  const wrapped = (req: Request, env?: never, ctx?: never): Response | Promise<Response> =>
    hasTimeQuery(req.url) ? withTime(req, env, ctx) : fetch(req, env, ctx);
  const withTime = async (req: Request, env?: never, ctx?: never): Promise<Response> => {
    const url = new URL(req.url);
    const time = url.searchParams.get("time");
    if (time === null) return await fetch(req, env, ctx);
    if (time !== "iso" && time !== "epoch") {
      const e = new HttpError(400, `time: "${time}" is not one of epoch, iso`);
      return Response.json(e.body(), { status: 400 });
    }
    const utc = ["1", "true"].includes(url.searchParams.get("utc") ?? "");
    url.searchParams.delete("time");
    url.searchParams.delete("utc");
    // The request is copied without its signal: Deno.serve's legacy abort fires request signals
    // on every successful answer and warns once a copy listens to one; nothing here needs it.
    const sent = req.method === "GET" || req.method === "HEAD" ? undefined : req.body;
    const res = await fetch(
      new Request(url, { method: req.method, headers: req.headers, body: sent }),
      env,
      ctx,
    );
    const type = res.headers.get("content-type") ?? "";
    if (time === "iso" && type.startsWith("text/event-stream") && res.body) {
      return new Response(res.body.pipeThrough(isoEvents(utc)), {
        status: res.status,
        headers: res.headers,
      });
    }
    if (time === "epoch" || !type.startsWith("application/json")) return res;
    const body = isoTimes(await res.json(), utc);
    const headers = new Headers(res.headers);
    headers.delete("content-length");
    return new Response(JSON.stringify(body), { status: res.status, headers });
  };
  return wrapped as F;
}

/**
 * Rewrites the times in the `data:` lines of an event stream as {@linkcode isoTimes} does;
 * ids, event names, comments (heartbeats) and data that is not JSON pass as they are. Lines
 * split across chunks are put together first. Cancelling the output cancels the source (the
 * hub then drops the client).
 *
 * @example
 * ```ts ignore
 * const body = hub.connect(undefined, null).pipeThrough(isoEvents(true));
 * // "data: {\"t\":\"2026-12-01T13:08:17.123Z\",\"device\":\"g\",…}"
 * ```
 */
export function isoEvents(utc = false): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let rest = "";
  const line = (l: string): string => {
    if (!l.startsWith("data:")) return l;
    const text = l.slice(l.startsWith("data: ") ? 6 : 5);
    try {
      return "data: " + JSON.stringify(isoTimes(JSON.parse(text), utc));
    } catch {
      return l; // not JSON: nothing to rewrite
    }
  };
  return new TransformStream({
    transform(chunk, controller) {
      const text = rest + decoder.decode(chunk, { stream: true });
      const end = text.lastIndexOf("\n");
      if (end < 0) {
        rest = text;
        return;
      }
      rest = text.slice(end + 1);
      const out = text.slice(0, end + 1).split("\n").map(line).join("\n");
      controller.enqueue(encoder.encode(out));
    },
    flush(controller) {
      const text = rest + decoder.decode();
      if (text !== "") controller.enqueue(encoder.encode(line(text)));
    },
  });
}
