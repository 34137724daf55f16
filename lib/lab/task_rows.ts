/**
 * A task's kept rows: a ring that grows to its capacity, then lets the newest row take the
 * oldest's slot, counting what it dropped. Rows are numbered from 0 over the task's life, so a
 * reader pages on its own cursor and reading takes nothing away. The ring keeps the task's
 * readings themselves (shared with the last-reading cache and the event stream's ring) and
 * flattens them into rows only when a page is read: a 1 kHz task kept no second object per
 * sample living its 10 s in the ring (each promoted to the old generation, then garbage).
 *
 * @module
 */
import type { Reading } from "../device/device.ts";
import { readingRecord } from "../output/record.ts";
import type { TaskDataPage } from "./task_spec.ts";

/** One page of a {@linkcode TaskRows} ring. */
export interface RowsPage {
  /** Index of the first row of the page. */
  since: number;
  /** The rows, oldest first. */
  rows: Record<string, unknown>[];
  /** Cursor of the next page. */
  next_since: number;
  /** Rows no longer kept (dropped because the ring was full). */
  dropped: number;
}

/** A fixed-capacity ring of readings, read by cursor as rows. */
export class TaskRows {
  // Grows to the cap, then wraps: an empty ring (a queued task's) holds no buffer.
  readonly #rows: Reading[] = [];
  /** Rows added over the ring's life (it holds the last `cap` of them). */
  #count = 0;

  /** Creates an empty ring keeping at most `cap` rows. */
  constructor(readonly cap: number) {}

  /** Adds a reading; full, the newest takes the oldest's slot. */
  push(row: Reading): void {
    if (this.#rows.length < this.cap) this.#rows.push(row);
    else this.#rows[this.#count % this.cap] = row;
    this.#count++;
  }

  /**
   * The kept rows from row `since` on (default: the oldest kept), at most `limit`: each a reading
   * as every output writes it (t, device, values or error).
   */
  page(page: TaskDataPage = {}): RowsPage {
    const cap = this.cap;
    const first = Math.max(0, this.#count - cap);
    const since = Math.min(Math.max(page.since ?? first, first), this.#count);
    const n = Math.max(0, Math.min(page.limit ?? cap, this.#count - since));
    const rows = new Array<Record<string, unknown>>(n);
    for (let k = 0; k < n; k++) rows[k] = readingRecord(this.#rows[(since + k) % cap]!);
    return { since, rows, next_since: since + n, dropped: first };
  }
}
