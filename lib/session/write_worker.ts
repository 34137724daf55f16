/**
 * The session writer's worker: it owns the connection that writes samples and events, so the
 * SQLite work of recording (inserts, commits, ~3 µs per `GET /read` recorded at 20,000 a second)
 * runs beside the thread that samples devices and answers requests, not on it. The recording
 * thread puts rows in a ring in shared memory (`row_ring.ts`), which the worker drains on its
 * own timer while rows come: no message, no allocation and no wake-up call per flush (the
 * recording thread rings a doorbell only after a quiet period put the worker to sleep). Events,
 * and the rare row that does not fit in the ring, go in a page with a message.
 *
 * An explicit flush, a hold, a retry and the close wait for their answer (`request`), which the
 * worker sends on a port nobody listens to and wakes the waiting thread through shared memory,
 * so the writer's synchronous contract (a flush that throws when the database refuses) holds as
 * before. The worker's running figures (written, received, held) are in shared memory too; a
 * timed write that fails is posted back. Every answer carries the worker's count of write
 * attempts: a later answer supersedes an earlier one.
 *
 * The same module is the worker (when loaded as one) and the client the writer uses.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { getPriority, setPriority } from "node:os";
import { receiveMessageOnPort } from "node:worker_threads";
import {
  type FlusherOptions,
  ROWS_PER_WORKER_SLICE,
  SampleFlusher,
  SLICE_PAUSE_MS,
} from "./flusher.ts";
import type { RowPage } from "./row_buffer.ts";
import { RingDoor, type RingMemory, RingReader } from "./row_ring.ts";

/** How the worker opens the session file. */
export interface WorkerInit {
  /** Session file (already created and migrated by the recording thread). */
  path: string;
  /** Statements run on each connection it opens (`PRAGMA …`). */
  pragmas: string[];
  /** What the flusher needs besides its database. */
  flusher: FlusherOptions;
  /** The ring the recording thread puts samples in. */
  ring: RingMemory;
  /** How often the worker drains the ring while rows come, ms (the writer's flush delay). */
  delayMs: number;
}

/**
 * A request to the worker. A write or hold first drains the ring; `page` brings what did not go
 * through it (events, a text longer than the ring, a row that found the ring full), newer than
 * every row in the ring.
 */
export type WorkerRequest =
  | { kind: "write"; page?: RowPage; final: boolean }
  | { kind: "hold"; page?: RowPage }
  | { kind: "pragma"; sql: string }
  | { kind: "detach" }
  | { kind: "reopen" }
  | { kind: "close" };

/** The worker's running figures, in shared memory (read with {@linkcode WriteWorker.figures}). */
export interface WorkerFigures {
  /** Samples written so far. */
  samples: number;
  /** Events written so far. */
  events: number;
  /** Transactions committed so far. */
  flushes: number;
  /** Longest transaction so far, ms. */
  maxFlushMs: number;
  /** Samples received so far (from the ring and in pages). */
  received: number;
  /** Events received so far. */
  receivedEvents: number;
  /** Samples held, not yet written. */
  heldRows: number;
  /** Events held, not yet written. */
  heldEvents: number;
  /** Write attempts so far (each transaction tried, or a failed one). */
  attempts: number;
}

/** The answer to a request, or a timed write's failure. */
export interface WorkerAnswer {
  /** The request this answers (1: start-up; 0: a timed write). */
  seq: number;
  /** Write attempts the worker had made when it answered: a later answer supersedes. */
  attempts: number;
  /** The error of this request's write, when it failed. */
  error?: unknown;
}

/** The figures of a worker that has written nothing yet. */
export const NO_FIGURES: Readonly<WorkerFigures> = {
  samples: 0,
  events: 0,
  flushes: 0,
  maxFlushMs: 0,
  received: 0,
  receivedEvents: 0,
  heldRows: 0,
  heldEvents: 0,
  attempts: 0,
};

const FIGURES = Object.keys(NO_FIGURES) as (keyof WorkerFigures)[];

// The shared words: the last waited-for request answered, and the figures' version (odd while
// the worker updates them: a reader that sees it change reads again).
const ANSWERED = 0;
const VERSION = 1;

/** How much nicer than the recording thread the worker's thread runs (see where it is set). */
export const WORKER_NICE = 5;

/** Longest wait for an answer; a worker that takes longer is taken for dead. */
const ANSWER_TIMEOUT_MS = 60_000;

/** The recording thread's side of the worker. */
export class WriteWorker {
  readonly #worker: Worker;
  readonly #answers: MessagePort;
  readonly #done: Int32Array;
  readonly #figures: Float64Array;
  // The worker blocks in Atomics.wait between drains: each message posted knocks on its ring.
  readonly #door: RingDoor;
  // 1 answers the start-up; the shared counter starts at 0 (nothing answered yet).
  #seq = 1;
  #closed = false;
  #ready: boolean | undefined;

  private constructor(
    worker: Worker,
    answers: MessagePort,
    done: Int32Array,
    figures: Float64Array,
    door: RingDoor,
  ) {
    this.#door = door;
    this.#worker = worker;
    this.#answers = answers;
    this.#done = done;
    this.#figures = figures;
  }

  /**
   * Starts the worker on `init.path` (it opens its connection while this thread goes on);
   * `onFailure` gets the failures of the writes it times itself (draining the ring). Undefined
   * when no worker can be created here. Whether it could open the file is
   * {@linkcode WriteWorker.ready}.
   */
  static start(
    init: WorkerInit,
    onFailure: (answer: WorkerAnswer) => void,
  ): WriteWorker | undefined {
    let worker: Worker;
    try {
      worker = new Worker(new URL("./write_worker.ts", import.meta.url).href, { type: "module" });
    } catch {
      return undefined;
    }
    const channel = new MessageChannel();
    const done = new Int32Array(new SharedArrayBuffer(8));
    const figures = new Float64Array(new SharedArrayBuffer(8 * FIGURES.length));
    const client = new WriteWorker(worker, channel.port1, done, figures, new RingDoor(init.ring));
    worker.onmessage = (e: MessageEvent<WorkerAnswer>) => {
      if (e.data.seq === 1) client.#ready ??= e.data.error === undefined;
      else onFailure(e.data);
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      client.#ready ??= false;
    };
    worker.postMessage(
      { init, answers: channel.port2, done: done.buffer, figures: figures.buffer },
      [
        channel.port2,
      ],
    );
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

  /**
   * The worker's figures now, into `into`: a consistent set (read again while the worker
   * updates them).
   */
  figures(into: WorkerFigures): WorkerFigures {
    const f = this.#figures;
    // A worker stopped in the middle of an update leaves the version odd: a few tries, then
    // what was read.
    for (let tries = 0; tries < 1000; tries++) {
      const v = Atomics.load(this.#done, VERSION);
      for (let i = 0; i < FIGURES.length; i++) into[FIGURES[i]!] = f[i]!;
      if ((v & 1) === 0 && Atomics.load(this.#done, VERSION) === v) break;
    }
    return into;
  }

  /** Posts a request; a failure of its write comes to `onFailure`. */
  post(req: WorkerRequest, transfer: Transferable[] = []): void {
    this.#worker.postMessage({ seq: 0, sync: false, req }, transfer);
    this.#door.posted();
  }

  /** Sends a request and waits for its answer (throws when the worker does not answer). */
  request(req: WorkerRequest, transfer: Transferable[] = []): WorkerAnswer {
    if (this.#closed) throw new Error("the session writer's worker has stopped");
    const seq = ++this.#seq;
    this.#worker.postMessage({ seq, sync: true, req }, transfer);
    this.#door.posted();
    return this.#wait(seq, ANSWER_TIMEOUT_MS);
  }

  #wait(seq: number, timeoutMs: number): WorkerAnswer {
    const deadline = performance.now() + timeoutMs;
    for (
      let v = Atomics.load(this.#done, ANSWERED);
      v < seq;
      v = Atomics.load(this.#done, ANSWERED)
    ) {
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.wait(this.#done, ANSWERED, v, left) === "timed-out") {
        throw new Error(`the session writer's worker did not answer in ${timeoutMs} ms`);
      }
    }
    // Only waited-for answers come on this port, in order: the last one is this request's.
    for (;;) {
      const m = receiveMessageOnPort(this.#answers as never) as
        | { message: WorkerAnswer }
        | undefined;
      if (m === undefined) throw new Error("the session writer's worker lost an answer");
      if (m.message.seq === seq) return m.message;
    }
  }

  /** Stops the worker at once (after `close`, or when it cannot be used). */
  terminate(): void {
    this.#closed = true;
    // A worker blocked in Atomics.wait is not stopped by terminate() (nor is the process that
    // waits for it): it leaves its wait first.
    this.#door.stop();
    this.#worker.terminate();
    this.#answers.close();
  }
}

/** The worker's side: one connection, one flusher, the ring and requests in order. */
class WriterThread {
  #db: DatabaseSync | undefined;
  #flusher: SampleFlusher | undefined;
  readonly #ring: RingReader;
  readonly #figures: WorkerFigures = { ...NO_FIGURES };
  // After a failed write, rows are only held: the writer's retry (a waited-for request) tries
  // again, with its backoff.
  #failing = false;
  // Between detach and reopen (the file is being replaced): a timed drain due after the detach
  // must not open the path, where the new file is not made yet.
  #detached = false;
  readonly #pending: RowPage[] = [];
  // Rows of the ring the current timed drain has still to take (the rows put since wait for the
  // next one).
  #left = 0;

  constructor(
    readonly init: WorkerInit,
    readonly shared: { done: Int32Array; figures: Float64Array },
  ) {
    this.#ring = new RingReader(init.ring);
    this.#open();
  }

  /** The ring the rows come through. */
  get ring(): RingReader {
    return this.#ring;
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
        this.#take(req.page);
        if (this.#failing && !sync) return undefined;
        return this.#write(req.final, sync);
      case "hold":
        this.#take(req.page);
        return undefined;
      case "pragma": {
        // It replaces the setting of the same name for connections opened later.
        const name = (sql: string) => sql.split("=")[0]!.trim();
        this.init.pragmas = this.init.pragmas.filter((p) => name(p) !== name(req.sql))
          .concat(req.sql);
        this.#db?.exec(req.sql);
        return undefined;
      }
      case "detach":
        this.#detached = true;
        this.#close();
        return undefined;
      case "reopen":
        this.#detached = false;
        this.#close();
        return undefined; // opened again by the next write
      case "close":
        this.#close();
        return undefined;
    }
  }

  /**
   * The worker's timer (or the doorbell): what the ring holds is written, a first slice now and
   * the rest by {@linkcode WriterThread.slice} while {@linkcode WriterThread.slicing} (held only
   * while writes fail or the file is being replaced).
   */
  timed(): unknown {
    this.#left = this.#ring.held;
    return this.slice();
  }

  /**
   * One slice of a timed drain: the ring's next rows of it and what the flusher held before them,
   * at most {@linkcode ROWS_PER_WORKER_SLICE} rows in one transaction.
   */
  slice(): unknown {
    if (this.#failing || this.#detached) {
      // Only held: the ring's room is freed, the rows wait for the writer's retry (or the file).
      this.#left = 0;
      this.#take(undefined);
      return undefined;
    }
    const f = this.#figures;
    try {
      const flusher = this.#open();
      const n = this.#ring.drain(flusher, Math.min(this.#left, ROWS_PER_WORKER_SLICE));
      f.received += n;
      this.#left -= n;
      f.attempts++;
      const done = flusher.write(false, ROWS_PER_WORKER_SLICE);
      if (done) {
        f.samples += done.samples;
        f.events += done.events;
        f.flushes++;
        if (done.ms > f.maxFlushMs) f.maxFlushMs = done.ms;
      }
      return undefined;
    } catch (err) {
      this.#failing = true;
      this.#left = 0;
      return err;
    }
  }

  /** Whether a timed drain has slices left to write (after a pause, {@linkcode SLICE_PAUSE_MS}). */
  get slicing(): boolean {
    if (this.#failing || this.#detached) return false;
    return this.#left > 0 || (this.#flusher !== undefined && this.#flusher.rows.rows > 0);
  }

  /** Takes the ring's rows, then a page's (newer). */
  #take(page: RowPage | undefined): void {
    const f = this.#figures;
    // The flusher exists once a file was opened (else the writer writes without the worker).
    if (this.#flusher) f.received += this.#ring.drain(this.#flusher);
    if (!page) return;
    f.received += page.numRows + page.textV.length;
    f.receivedEvents += page.events.length;
    if (this.#flusher && this.#db) this.#flusher.absorb(page);
    else this.#pending.push(page);
  }

  #write(final: boolean, sync: boolean): unknown {
    const f = this.#figures;
    try {
      const flusher = this.#open();
      // A waited-for flush writes everything in one transaction (as the writer did on its own
      // thread); a timed one what it drained, a long backlog in slices.
      const limit = sync ? Infinity : ROWS_PER_WORKER_SLICE;
      let first = true;
      while (first || flusher.rows.rows > 0) {
        first = false;
        f.attempts++;
        const done = flusher.write(final, limit);
        if (!done) break;
        f.samples += done.samples;
        f.events += done.events;
        f.flushes++;
        if (done.ms > f.maxFlushMs) f.maxFlushMs = done.ms;
      }
      this.#failing = false;
      return undefined;
    } catch (err) {
      this.#failing = true;
      return err;
    }
  }

  /** Publishes the figures to the recording thread (after every request and timed write). */
  publish(): number {
    const f = this.#figures;
    const held = this.#flusher?.rows;
    f.heldRows = held?.rows ?? 0;
    f.heldEvents = held?.events.length ?? 0;
    for (const p of this.#pending) {
      f.heldRows += p.numRows + p.textV.length;
      f.heldEvents += p.events.length;
    }
    const { done, figures } = this.shared;
    Atomics.add(done, VERSION, 1);
    for (let i = 0; i < FIGURES.length; i++) figures[i] = f[FIGURES[i]!];
    Atomics.add(done, VERSION, 1);
    return f.attempts;
  }
}

// Inside the worker: open the file, then answer requests and drain the ring in order.
// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined" && scope instanceof scope.WorkerGlobalScope) {
  let thread: WriterThread | undefined;
  let answers: MessagePort;
  let done: Int32Array;
  const post = (answer: WorkerAnswer, sync: boolean) => {
    if (sync) answers.postMessage(answer);
    else scope.postMessage(answer);
  };
  // Every request is answered, whatever its error holds: a waiting thread must never wait out
  // its timeout for an answer that could not be cloned.
  const answer = (a: WorkerAnswer, sync: boolean) => {
    try {
      post(a, sync);
    } catch {
      const error = new Error(a.error instanceof Error ? a.error.message : String(a.error));
      post({ ...a, error }, sync);
    }
    if (!sync) return;
    Atomics.store(done, ANSWERED, a.seq);
    Atomics.notify(done, ANSWERED);
  };
  // Messages taken so far (the start-up's aside), and the loop waiting for one still to come.
  let taken = 0;
  let caughtUp: (() => void) | undefined;
  // The ring is drained every `delayMs` while rows come; after a period that brought none the
  // worker sleeps until the recording thread's next timed flush rings the doorbell. It waits
  // for a first ring before it drains: only then does the recording thread take it as started
  // (a worker that started too late leaves the ring to the thread's own flusher). It blocks in
  // Atomics.wait, not on a timer of its event loop (~0.25 against ~0.65 ms of CPU per wake-up on
  // this project's VMs, ten a second while rows come), so the event loop turns only when a
  // message is posted: the poster knocks, and the loop waits for the message to be taken before
  // it goes on (a waited-for request must not wait out a drain period). It leaves for good when
  // told to stop, for a blocked worker is not stopped by terminate().
  const listen = async (t: WriterThread) => {
    const { ring, init: { delayMs } } = t;
    let started = false;
    let next = 0;
    let paused = false;
    for (;;) {
      const bell = ring.bell();
      if (ring.stopped) return;
      if (ring.posted > taken) {
        await new Promise<void>((resolve) => caughtUp = resolve);
        continue;
      }
      if (!started) {
        if (!ring.rung) {
          ring.wait(bell, Infinity);
          continue;
        }
        started = true;
      }
      let error: unknown;
      if (t.slicing) {
        // A pause between two slices of a drain: whatever it took the core from runs again.
        // Not while the ring fills up (the worker got too little CPU): a full ring would make the
        // recording thread hand its rows over and wait for the worker.
        if (!paused && !ring.filling) {
          paused = true;
          ring.wait(bell, SLICE_PAUSE_MS);
          continue;
        }
        paused = false;
        error = t.slice();
      } else {
        if (ring.held === 0) {
          ring.sleep(bell);
          continue;
        }
        const left = next - performance.now();
        if (left > 0) {
          ring.wait(bell, left);
          continue;
        }
        error = t.timed();
        next = performance.now() + delayMs;
      }
      const attempts = t.publish();
      if (error !== undefined) answer({ seq: 0, attempts, error }, false);
    }
  };
  scope.onmessage = (
    e: MessageEvent<
      | {
        init: WorkerInit;
        answers: MessagePort;
        done: SharedArrayBuffer;
        figures: SharedArrayBuffer;
      }
      | { seq: number; sync: boolean; req: WorkerRequest }
    >,
  ) => {
    const m = e.data;
    if ("init" in m) {
      answers = m.answers;
      done = new Int32Array(m.done);
      let error: unknown;
      try {
        thread = new WriterThread(m.init, { done, figures: new Float64Array(m.figures) });
      } catch (err) {
        error = err;
      }
      // This thread gives way a little (nice +5 from the recording thread's; on Linux the call
      // sets the calling thread's) to the one answering requests: a drain is one burst of up to
      // a few ms of CPU, which on a busy two-core machine took the core from wrk or the answering
      // thread and put `GET /read`'s p99 at ~1.6–2× the bare server's (three alternating pairs
      // of `bench serve`'s /read rounds: 2.03, 1.83, 1.80× -> 1.76, 1.69, 1.25×). At nice +5 it
      // still gets a quarter of a contended core, ~8× what it needs at 45,000 requests/s, so the
      // ring does not fill. Before the start-up's answer: whoever waited for it finds it set.
      try {
        setPriority(Math.min(19, getPriority() + WORKER_NICE));
      } catch { /* not allowed here: the same priority as the recording thread */ }
      const a: WorkerAnswer = { seq: 1, attempts: 0, error };
      // Waited for, or not: the recording thread goes on while the worker starts.
      scope.postMessage(a);
      answer(a, true);
      // After the answers: the loop blocks this thread until its first wait ends.
      if (thread) listen(thread);
      return;
    }
    let error: unknown;
    try {
      error = thread!.handle(m.req, m.sync);
    } catch (err) {
      error = err;
    }
    const attempts = thread!.publish();
    if (m.sync || error !== undefined) answer({ seq: m.seq, attempts, error }, m.sync);
    taken++;
    const resume = caughtUp;
    caughtUp = undefined;
    resume?.();
  };
}
