/**
 * Following a session file while another process records into it (`labwire session tail`):
 * the last few samples and events first, then whatever is appended, polled.
 *
 * @module
 */
import { sleep } from "../schedule/periodic.ts";
import type { EventInfo, Sample, SessionReader } from "./reader.ts";

/** What `tailSession` reads. */
export interface TailOptions {
  /** Samples and events shown from before the start (default 10). */
  lines?: number;
  /** How often the file is looked at, ms (default 500). */
  pollMs?: number;
  /** Ends the tail (Ctrl-C). */
  signal: AbortSignal;
}

/** Rows appended since the previous batch: events, or samples (at most 10,000 a batch). */
export interface TailBatch {
  /** New events, oldest first. */
  events: EventInfo[];
  /** New samples, oldest first. */
  samples: Sample[];
}

/**
 * Yields what is appended to the session, starting with the last `lines` samples and events,
 * until `signal` aborts. A burst larger than one batch comes in several batches without waiting.
 *
 * @example
 * ```ts ignore
 * for await (const b of tailSession(reader, { signal })) console.log(b.samples.length);
 * ```
 */
export async function* tailSession(
  reader: SessionReader,
  options: TailOptions,
): AsyncGenerator<TailBatch> {
  const lines = options.lines ?? 10;
  const signal = options.signal;
  let rowid = reader.lastRowid(lines);
  let eventId = Math.max(0, reader.lastEventId() - lines);
  while (!signal.aborted) {
    const events = reader.events({ afterId: eventId });
    if (events.length) {
      eventId = events[events.length - 1]!.id;
      yield { events, samples: [] };
    }
    for (;;) {
      const { rows, last } = reader.samplesAfter(rowid);
      rowid = last;
      if (rows.length) yield { events: [], samples: rows };
      if (rows.length < 10_000) break;
    }
    await sleep(options.pollMs ?? 500, signal);
  }
}
