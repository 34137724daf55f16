/**
 * The server's view of the session being recorded: downsampled history for `/api/samples`
 * (min/max per bucket, computed off the main thread by {@linkcode SamplesWorker}) and readings
 * since a time for SSE resume. It reads through its own read-only connections (WAL lets them in
 * beside the writer), opened on first use.
 *
 * @module
 */
import type { Reading } from "../device/device.ts";
import { SessionReader } from "../session/reader.ts";
import type { SampleSeries, SeriesQuery, SessionSource } from "./context.ts";
import { HttpError } from "./http_error.ts";
import { SamplesWorker } from "./samples_worker.ts";

/** Where the figures of a running recording come from. */
export interface RecordingFigures {
  /** Sample rows written so far. */
  rowsWritten(): number;
  /** Null while recording works, else why not. */
  problem(): string | null;
  /** Failed write attempts so far. */
  writeErrors?(): number;
  /** Samples dropped because writes failed for longer than the buffer holds. */
  dropped?(): number;
}

/** A {@linkcode SessionSource} over a session file being recorded. */
export class SessionFileSource implements SessionSource {
  #reader: SessionReader | undefined;
  readonly #queries: SamplesWorker;

  /** Reads the session at `path`; `figures` tells how the recording is going. */
  constructor(readonly path: string, readonly figures: RecordingFigures) {
    this.#queries = new SamplesWorker(path);
  }

  /** Sample rows written so far. */
  rowsWritten(): number {
    return this.figures.rowsWritten();
  }

  /** Null while recording works, else why not. */
  problem(): string | null {
    return this.figures.problem();
  }

  /** Failed write attempts so far. */
  writeErrors(): number {
    return this.figures.writeErrors?.() ?? 0;
  }

  /** Samples dropped because writes failed for longer than the buffer holds. */
  dropped(): number {
    return this.figures.dropped?.() ?? 0;
  }

  #open(): SessionReader {
    this.#reader ??= SessionReader.open(this.path);
    return this.#reader;
  }

  /** Recorded numeric values of one attribute, min/max per bucket (computed in a worker). */
  async samples(q: SeriesQuery): Promise<SampleSeries> {
    try {
      return await this.#queries.query(q);
    } catch (err) {
      const status = (err as { status?: number }).status;
      throw new HttpError(status === 404 ? 404 : 503, (err as Error).message, undefined, {
        cause: err,
      });
    }
  }

  /** Readings recorded at or after `tMs`, oldest first, rebuilt from their samples. */
  readingsSince(tMs: number, devices: ReadonlySet<string> | undefined, limit: number): Reading[] {
    const reader = this.#open();
    reader.reloadAttrs();
    const attrs = new Map(reader.attrs().map((a) => [a.id, a]));
    const ids = [...attrs.values()].filter((a) => !devices || devices.has(a.device)).map((a) =>
      a.id
    );
    if (ids.length === 0) return [];
    const out: Reading[] = [];
    let current = new Map<string, Reading>();
    let currentT = NaN;
    for (const s of reader.samples({ from: tMs / 1000, attrIds: ids })) {
      if (s.t !== currentT) {
        out.push(...current.values());
        if (out.length >= limit) break;
        current = new Map();
        currentT = s.t;
      }
      const a = attrs.get(s.attrId);
      if (!a) continue;
      let r = current.get(a.device);
      if (!r) {
        r = { t: s.t, device: a.device, values: {} };
        current.set(a.device, r);
      }
      r.values[a.attr] = s.value;
    }
    if (out.length < limit) out.push(...current.values());
    return out.slice(0, limit);
  }

  /** Closes the read connection. */
  close(): void {
    this.#queries.close();
    this.#reader?.close();
    this.#reader = undefined;
  }
}
