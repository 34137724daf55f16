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
  /** The shared state word (`STATE`), which `stop` and the worker hand over between them. */
  state: Int32Array;
}

/** A running checkpointer. */
export interface Checkpointer {
  /**
   * Stops the worker: when it returns, the worker's connection is closed (or was never opened)
   * and the worker touches the file no more.
   */
  stop(): void;
}

// The state word. Terminating a worker is asynchronous: its connection would close whenever its
// isolate goes, and a worker slow to start could still open the file after the store closed it.
// A connection closed last checkpoints and deletes the log *by its name*, so after the session
// file was replaced, the old worker's late close deleted the new file's log, and after a close a
// late open left a log and an index beside the file (a test's clean-up then found the directory
// not empty). The handover below makes `stop` synchronous instead.
/** Not opened yet; `stop` may take it to STOPPED and the worker will never open. */
const NEW = 0;
/** Open and idle between checkpoints. */
const OPEN = 1;
/** The worker is opening the file or checkpointing; `stop` waits for it. */
const BUSY = 2;
/** `stop` asked an open worker to close its connection. */
const CLOSING = 3;
/** Closed, or never opened: the worker does nothing more. */
const STOPPED = 4;
/**
 * How long `stop` waits for the worker. A PASSIVE checkpoint never waits on locks, so only a hung
 * disk takes this long; a daemon's SIGTERM must end within 2 s.
 */
const STOP_WAIT_MS = 1000;

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
  const state = new Int32Array(new SharedArrayBuffer(4));
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
  worker.postMessage({ path, everyMs, state } satisfies CheckpointerStart);
  return {
    stop: () => {
      const deadline = performance.now() + STOP_WAIT_MS;
      for (;;) {
        const s = Atomics.load(state, 0);
        if (s === STOPPED) break;
        if (s === NEW && Atomics.compareExchange(state, 0, NEW, STOPPED) === NEW) break;
        if (s === OPEN && Atomics.compareExchange(state, 0, OPEN, CLOSING) === OPEN) {
          worker.postMessage("close");
          continue;
        }
        const left = deadline - performance.now();
        // A worker that does not answer in time (a hung disk) is terminated all the same.
        if (left <= 0) break;
        if (s === BUSY || s === CLOSING) Atomics.wait(state, 0, s, left);
      }
      worker.terminate();
    },
  };
}

/** The worker's side: opens the file, checkpoints on a timer, closes when `stop` asks. */
function runCheckpointer(start: CheckpointerStart, report: (error: string) => void): void {
  const { state } = start;
  const settle = (to: number) => {
    Atomics.store(state, 0, to);
    Atomics.notify(state, 0);
  };
  if (Atomics.compareExchange(state, 0, NEW, BUSY) !== NEW) return;
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(start.path);
    db.exec("PRAGMA busy_timeout = 1000");
  } catch (err) {
    settle(STOPPED);
    report(err instanceof Error ? err.message : String(err));
    return;
  }
  settle(OPEN);
  const timer = setInterval(() => {
    if (Atomics.compareExchange(state, 0, OPEN, BUSY) !== OPEN) return;
    try {
      db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch (err) {
      report(err instanceof Error ? err.message : String(err));
    } finally {
      settle(OPEN);
    }
  }, start.everyMs);
  // deno-lint-ignore no-explicit-any
  (globalThis as any).onmessage = (e: MessageEvent<unknown>) => {
    if (e.data !== "close" || Atomics.load(state, 0) !== CLOSING) return;
    clearInterval(timer);
    try {
      db.close();
    } finally {
      settle(STOPPED);
    }
  };
}

// Inside the worker: the first message starts it.
// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined" && scope instanceof scope.WorkerGlobalScope) {
  scope.onmessage = (e: MessageEvent<CheckpointerStart>) =>
    runCheckpointer(e.data, (error) => scope.postMessage({ error }));
}
