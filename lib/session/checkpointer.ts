/**
 * A worker that checkpoints a session's write-ahead log on its own connection, so the fsyncs of
 * a checkpoint (tens of milliseconds on a busy disk) never stall the thread that samples
 * devices. Started by {@linkcode startCheckpointer}; the recording connection turns its own
 * automatic checkpoints off while this runs. PASSIVE checkpoints never block the writer.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";

/** The message that starts the worker. */
export interface CheckpointerStart {
  /** Session file. */
  path: string;
  /** Time between checkpoints, ms. */
  everyMs: number;
}

/** A running checkpointer. */
export interface Checkpointer {
  /** Stops the worker. */
  stop(): void;
}

/**
 * Starts checkpointing `path` every `everyMs` in a worker. `onError` is told (once) when the
 * worker cannot run, so the caller can go back to checkpointing on its own connection.
 */
export function startCheckpointer(
  path: string,
  everyMs: number,
  onError: (message: string) => void,
): Checkpointer {
  const worker = new Worker(new URL("./checkpointer.ts", import.meta.url).href, { type: "module" });
  let failed = false;
  const fail = (message: string) => {
    if (failed) return;
    failed = true;
    onError(message);
  };
  worker.onmessage = (e: MessageEvent<{ error?: string }>) => {
    if (e.data.error) fail(e.data.error);
  };
  worker.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    fail(e.message);
  };
  worker.postMessage({ path, everyMs } satisfies CheckpointerStart);
  return { stop: () => worker.terminate() };
}

// Inside the worker: open the file and checkpoint on a timer until terminated.
// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined" && scope instanceof scope.WorkerGlobalScope) {
  scope.onmessage = (e: MessageEvent<CheckpointerStart>) => {
    try {
      const db = new DatabaseSync(e.data.path);
      db.exec("PRAGMA busy_timeout = 1000");
      setInterval(() => {
        try {
          db.exec("PRAGMA wal_checkpoint(PASSIVE)");
        } catch (err) {
          scope.postMessage({ error: err instanceof Error ? err.message : String(err) });
        }
      }, e.data.everyMs);
    } catch (err) {
      scope.postMessage({ error: err instanceof Error ? err.message : String(err) });
    }
  };
}
