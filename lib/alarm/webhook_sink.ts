/**
 * The `webhook` sink: POSTs each alarm event as one JSON document to a URL. Any 2xx answer is
 * a delivery; anything else (or no answer within the timeout) is retried.
 *
 * @module
 */
import type { AlarmEvent } from "./event.ts";
import { alarmPayload } from "./payload.ts";

/**
 * Returns a deliver function posting each event to `url` with extra `headers`.
 *
 * @example
 * ```ts ignore
 * import { webhookSink } from "./webhook_sink.ts";
 * const deliver = webhookSink("https://chat.example.org/hooks/lab", {});
 * ```
 */
export function webhookSink(
  url: string,
  headers: Record<string, string> = {},
): (events: AlarmEvent[], signal: AbortSignal) => Promise<void> {
  return async (events, signal) => {
    for (const event of events) {
      let res: Response;
      try {
        res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "labwire", ...headers },
          body: JSON.stringify(alarmPayload(event)),
          signal,
        });
      } catch (err) {
        if (signal.aborted) throw err;
        // fetch says only "fetch failed"; the reason (refused, DNS, TLS) is in its cause.
        const cause = (err as Error).cause;
        const why = (cause instanceof Error ? cause.message : (err as Error).message)
          .replace(/^error sending request for url \([^)]*\): (client error \(\w+\): )?/, "");
        throw new Error(`POST ${url}: ${why}`, { cause: err });
      }
      const text = await res.text();
      if (!res.ok) {
        const why = text.trim().split("\n")[0]?.slice(0, 200) ?? "";
        throw new Error(
          `POST ${url}: HTTP ${res.status} ${res.statusText}${why ? `: ${why}` : ""}`,
        );
      }
    }
  };
}
