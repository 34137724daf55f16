/**
 * HTTP POST with a deadline and an abort signal, where every failure — refused, DNS, timeout,
 * reset, a bad status — becomes a {@linkcode DeviceError} saying what was tried and what to
 * check. Drivers of HTTP instruments (ToolWeb gauges, …) sit on this.
 *
 * @module
 */
import { DeviceError, TimeoutError } from "../device/errors.ts";
import { formatMs } from "../device/device.ts";

/** Options of one POST. */
export interface PostOptions {
  /** Milliseconds before the call fails with a {@linkcode TimeoutError}, body included. */
  timeout: number;
  /** Caller's abort (Ctrl-C, a stopped task); its reason is rethrown as is. */
  signal?: AbortSignal;
  /** Request headers. */
  headers?: Record<string, string>;
  /** A Deno HTTP client (own connection pool), e.g. one per device. */
  client?: Deno.HttpClient;
  /** Names the device in errors. */
  device?: string;
}

/** What came back: status and the whole body as text. */
export interface PostResult {
  /** HTTP status code. */
  status: number;
  /** Response body text (read fully, within the deadline). */
  text: string;
}

/**
 * POSTs `body` to `url` and reads the whole answer within `timeout` ms. Any status is
 * returned (the caller decides what is an error); network failures throw a DeviceError.
 *
 * @example
 * ```ts
 * import { httpPost } from "./http.ts";
 * // const { status, text } = await httpPost("http://10.0.0.5/ToolWeb/Cmd", "<PollRequest/>", { timeout: 1000 });
 * ```
 */
export async function httpPost(url: string, body: string, opts: PostOptions): Promise<PostResult> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException("timeout", "TimeoutError"));
  }, opts.timeout);
  const outer = opts.signal;
  const onAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) controller.abort(outer.reason);
  else outer?.addEventListener("abort", onAbort, { once: true });
  let res: Response | undefined;
  try {
    res = await fetch(url, {
      method: "POST",
      body,
      headers: opts.headers,
      signal: controller.signal,
      client: opts.client,
    });
    const text = await res.text();
    return { status: res.status, text };
  } catch (err) {
    // Free the connection of a half-read answer so the pool does not keep a dead socket.
    await res?.body?.cancel().catch(() => {});
    if (outer?.aborted && !timedOut) throw outer.reason ?? err;
    throw describeFailure(err, url, opts, timedOut);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onAbort);
  }
}

/** Turns a fetch failure into a DeviceError with a cause-specific hint. */
export function describeFailure(
  err: unknown,
  url: string,
  opts: Pick<PostOptions, "timeout" | "device">,
  timedOut = false,
): DeviceError {
  const where = hostOf(url);
  const tried = `POST ${url}`;
  if (timedOut) {
    return new TimeoutError(
      `${tried}: no answer within ${formatMs(opts.timeout)}; check that ${where} is powered, ` +
        `on this network and not overloaded, or allow more time with ?timeout=`,
      opts.device,
      { cause: err },
    );
  }
  const detail = causeText(err);
  const lower = detail.toLowerCase();
  let why: string;
  let check: string;
  if (lower.includes("refused")) {
    why = "connection refused";
    check = `nothing listens on ${where}; check the address and port, and that the device's ` +
      `web server is enabled`;
  } else if (lower.includes("dns") || lower.includes("lookup") || lower.includes("resolve")) {
    why = "the host name does not resolve";
    check = `check the spelling of "${new URL(url).hostname}" or use the device's IP address`;
  } else if (
    lower.includes("reset") || lower.includes("closed before") || lower.includes("broken pipe") ||
    lower.includes("connection closed") || lower.includes("incomplete")
  ) {
    why = "the connection was dropped before a complete answer";
    check = `the device at ${where} closed the connection; check it is the right device and ` +
      `not rebooting`;
  } else if (lower.includes("unreachable") || lower.includes("no route")) {
    why = "the network is unreachable";
    check = `check cabling, VLAN and this computer's address/route to ${where}`;
  } else if (lower.includes("blocked")) {
    why = "the port is blocked by the HTTP client";
    check = "use the device's real port";
  } else {
    why = detail || "request failed";
    check = `check that ${where} is reachable`;
  }
  return new DeviceError(`${tried}: ${why}; ${check}`, opts.device, { cause: err });
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** The innermost useful message of a fetch error (Deno nests the OS error in `cause`). */
function causeText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && depth < 5; depth++) {
    if (e instanceof Error) {
      parts.push(e.message);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(": ");
}
