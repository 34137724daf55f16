/**
 * The session writer's worker: it owns the connection that writes samples and events, so the
 * SQLite work of recording (inserts, commits, ~3 µs per `GET /read` recorded at 20,000 a second)
 * runs beside the thread that samples devices and answers requests, not on it. The recording
 * thread hands rows over a page per flush (one typed array transferred, text and events cloned),
 * not a message per sample.
 *
 * A timed flush is posted and answered later (`onMessage`); an explicit flush, a retry and the
 * close wait for their answer (`request`), which the worker sends on a port nobody listens to
 * and wakes the waiting thread through shared memory, so the writer's synchronous contract (a
 * flush that throws when the database refuses) holds as before. Every answer carries the
 * worker's running totals and its sequence number: later answers supersede earlier ones.
 *
 * The same module is the worker (when loaded as one) and the client the writer uses.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { receiveMessageOnPort } from "node:worker_threads";
import { type FlusherOptions, ROWS_PER_SLICE, SampleFlusher } from "./flusher.ts";
import type { RowPage } from "./row_buffer.ts";

/** How the worker opens the session file. */
export interface WorkerInit {
  /** Session file (already created and migrated by the recording thread). */
  path: string;
  /** Statements run on each connection it opens (`PRAGMA …`). */
  pragmas: string[];
  /** What the flusher needs besides its database. */
  flusher: FlusherOptions;
}

/** A request to the worker. */
export type WorkerRequest =
  | { kind: "write"; page: RowPage; final: boolean }
  | { kind: "pragma"; sql: string }
  | { kind: "detach" }
  | { kind: "reopen" }
  | { kind: "close" };

/** The worker's state after a request: running totals, and what it still holds. */
export interface WorkerState {
  /** The request this answers (1: start-up). */
  seq: number;
  /** Samples written so far. */
  samples: number;
  /** Events written so far. */
  events: number;
  /** Transactions committed so far. */
  flushes: number;
  /** Longest transaction so far, ms. */
  maxFlushMs: number;
  /** Samples received so far (written, held or dropped with the worker). */
  received: number;
  /** Events received so far. */
  receivedEvents: number;
  /** Samples held, not yet written. */
  heldRows: number;
  /** Events held, not yet written. */
  heldEvents: number;
  /** Failed write attempts so far. */
  failures: number;
  /** The error of this request's write, when it failed. */
  error?: unknown;
}

/** The state of a worker that has written nothing and answered nothing yet. */
export const NO_STATE: Readonly<WorkerState> = {
  seq: 0,
  samples: 0,
  events: 0,
  flushes: 0,
  maxFlushMs: 0,
  received: 0,
  receivedEvents: 0,
  heldRows: 0,
  heldEvents: 0,
  failures: 0,
};

/** Longest wait for an answer; a worker that takes longer is taken for dead. */
const ANSWER_TIMEOUT_MS = 60_000;

/** The recording thread's side of the worker. */
export class WriteWorker {
  readonly #worker: Worker;
  readonly #answers: MessagePort;
  readonly #done: Int32Array;
  // 1 answers the start-up; the shared counter starts at 0 (nothing answered yet).
  #seq = 1;
  #closed = false;
  #ready: boolean | undefined;

  private constructor(worker: Worker, answers: MessagePort, done: Int32Array) {
    this.#worker = worker;
    this.#answers = answers;
    this.#done = done;
  }

  /**
   * Starts the worker on `init.path` (it opens its connection while this thread goes on);
   * `onMessage` gets the answers to posted requests. Undefined when no worker can be created
   * here. Whether it could open the file is {@linkcode WriteWorker.ready}.
   */
  static start(init: WorkerInit, onMessage: (state: WorkerState) => void): WriteWorker | undefined {
    let worker: Worker;
    try {
      worker = new Worker(new URL("./write_worker.ts", import.meta.url).href, { type: "module" });
    } catch {
      return undefined;
    }
    const channel = new MessageChannel();
    const done = new Int32Array(new SharedArrayBuffer(4));
    const client = new WriteWorker(worker, channel.port1, done);
    worker.onmessage = (e: MessageEvent<WorkerState>) => {
      if (e.data.seq === 1) client.#ready ??= e.data.error === undefined;
      else onMessage(e.data);
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      client.#ready ??= false;
    };
    worker.postMessage({ init, answers: channel.port2, done: done.buffer }, [channel.port2]);
    return client;
  }

  /**
   * Whether the worker runs with its connection open: undefined while it starts, unless `wait`
   * (then this thread waits for it, at most `timeoutMs`; no answer counts as false).
   */
  ready(wait: boolean, timeoutMs = 10_000): boolean | undefined {
    if (this.#ready !== undefined || !wait) return this.#ready;
    try {
      this.#ready = this.#wait(1, timeoutMs).error === undefined;
    } catch {
      this.#ready = false;
    }
    return this.#ready;
  }

  /** Posts a request; its answer comes to `onMessage`. Returns its sequence number. */
  post(req: WorkerRequest, transfer: Transferable[] = []): number {
    const seq = ++this.#seq;
    this.#worker.postMessage({ seq, sync: false, req }, transfer);
    return seq;
  }

  /** Sends a request and waits for its answer (throws when the worker does not answer). */
  request(req: WorkerRequest, transfer: Transferable[] = []): WorkerState {
    if (this.#closed) throw new Error("the session writer's worker has stopped");
    const seq = ++this.#seq;
    this.#worker.postMessage({ seq, sync: true, req }, transfer);
    return this.#wait(seq, ANSWER_TIMEOUT_MS);
  }

  #wait(seq: number, timeoutMs: number): WorkerState {
    const deadline = performance.now() + timeoutMs;
    for (let v = Atomics.load(this.#done, 0); v < seq; v = Atomics.load(this.#done, 0)) {
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.wait(this.#done, 0, v, left) === "timed-out") {
        throw new Error(`the session writer's worker did not answer in ${timeoutMs} ms`);
      }
    }
    // Only waited-for answers come on this port, in order: the last one is this request's.
    for (;;) {
      const m = receiveMessageOnPort(this.#answers as never) as
        | { message: WorkerState }
        | undefined;
      if (m === undefined) throw new Error("the session writer's worker lost an answer");
      if (m.message.seq === seq) return m.message;
    }
  }

  /** Stops the worker at once (after `close`, or when it cannot be used). */
  terminate(): void {
    this.#closed = true;
    this.#worker.terminate();
    this.#answers.close();
  }
}

/** The worker's side: one connection, one flusher, requests in order. */
class WriterThread {
  #db: DatabaseSync | undefined;
  #flusher: SampleFlusher | undefined;
  #state: Omit<WorkerState, "seq" | "heldRows" | "heldEvents" | "error"> = { ...NO_STATE };
  // After a failed write, posted pages are only held: the writer's retry (a waited-for
  // request) tries again, with its backoff.
  #failing = false;
  readonly #pending: RowPage[] = [];

  constructor(readonly init: WorkerInit) {
    this.#open();
  }

  #open(): SampleFlusher {
    if (this.#flusher && this.#db) return this.#flusher;
    const db = new DatabaseSync(this.init.path);
    try {
      for (const sql of this.init.pragmas) db.exec(sql);
    } catch (err) {
      db.close();
      throw err;
    }
    this.#db = db;
    if (this.#flusher) this.#flusher.reopen(db);
    else this.#flusher = new SampleFlusher(db, this.init.flusher);
    // Pages received while no file could be opened are held from now on.
    for (const page of this.#pending.splice(0)) this.#flusher.absorb(page);
    return this.#flusher;
  }

  #close(): void {
    try {
      this.#db?.close();
    } catch { /* its file may be gone */ }
    this.#db = undefined;
  }

  handle(req: WorkerRequest, sync: boolean): unknown {
    switch (req.kind) {
      case "write":
        return this.#write(req.page, req.final, sync);
      case "pragma": {
        // It replaces the setting of the same name for connections opened later.
        const name = (sql: string) => sql.split("=")[0]!.trim();
        this.init.pragmas = this.init.pragmas.filter((p) => name(p) !== name(req.sql))
          .concat(req.sql);
        this.#db?.exec(req.sql);
        return undefined;
      }
      case "detach":
        this.#close();
        return undefined;
      case "reopen":
        this.#close();
        return undefined; // opened again by the next write
      case "close":
        this.#close();
        return undefined;
    }
  }

  #write(page: RowPage, final: boolean, sync: boolean): unknown {
    this.#state.received += page.numRows + page.textV.length;
    this.#state.receivedEvents += page.events.length;
    if (this.#flusher && this.#db) this.#flusher.absorb(page);
    else this.#pending.push(page);
    if (this.#failing && !sync) return undefined;
    try {
      const flusher = this.#open();
      // A waited-for flush writes everything in one transaction (as the writer did on its own
      // thread); a timed one in slices, so another writer of the file waits little for the lock.
      const limit = sync ? Infinity : ROWS_PER_SLICE;
      let first = true;
      while (first || flusher.rows.rows > 0) {
        first = false;
        const done = flusher.write(final, limit);
        if (!done) break;
        this.#state.samples += done.samples;
        this.#state.events += done.events;
        this.#state.flushes++;
        if (done.ms > this.#state.maxFlushMs) this.#state.maxFlushMs = done.ms;
      }
      this.#failing = false;
      return undefined;
    } catch (err) {
      this.#failing = true;
      this.#state.failures++;
      return err;
    }
  }

  state(seq: number, error: unknown): WorkerState {
    const held = this.#flusher?.rows;
    let heldRows = held?.rows ?? 0;
    let heldEvents = held?.events.length ?? 0;
    for (const p of this.#pending) {
      heldRows += p.numRows + p.textV.length;
      heldEvents += p.events.length;
    }
    return { ...this.#state, seq, heldRows, heldEvents, error };
  }
}

// Inside the worker: open the file, then answer requests in order until terminated.
// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined" && scope instanceof scope.WorkerGlobalScope) {
  let thread: WriterThread | undefined;
  let answers: MessagePort;
  let done: Int32Array;
  const post = (state: WorkerState, sync: boolean) => {
    if (sync) answers.postMessage(state);
    else scope.postMessage(state);
  };
  // Every request is answered, whatever its error holds: a waiting thread must never wait out
  // its timeout for an answer that could not be cloned.
  const answer = (state: WorkerState, sync: boolean) => {
    try {
      post(state, sync);
    } catch {
      const error = new Error(
        state.error instanceof Error ? state.error.message : String(state.error),
      );
      post({ ...state, error }, sync);
    }
    if (!sync) return;
    Atomics.store(done, 0, state.seq);
    Atomics.notify(done, 0);
  };
  scope.onmessage = (
    e: MessageEvent<
      | { init: WorkerInit; answers: MessagePort; done: SharedArrayBuffer }
      | { seq: number; sync: boolean; req: WorkerRequest }
    >,
  ) => {
    const m = e.data;
    if ("init" in m) {
      answers = m.answers;
      done = new Int32Array(m.done);
      let error: unknown;
      try {
        thread = new WriterThread(m.init);
      } catch (err) {
        error = err;
      }
      const state: WorkerState = { ...NO_STATE, seq: 1, error };
      // Waited for, or not: the recording thread goes on while the worker starts.
      scope.postMessage(state);
      return answer(state, true);
    }
    let error: unknown;
    try {
      error = thread!.handle(m.req, m.sync);
    } catch (err) {
      error = err;
    }
    answer(thread!.state(m.seq, error), m.sync);
  };
}
