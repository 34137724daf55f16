/**
 * A fair share of the event loop for long loops. A loop over zero-latency devices (in-process
 * simulators answer with already-resolved promises) runs entirely in microtasks: awaiting a
 * resolved promise never lets timers, sockets or signal handlers run, so one scan could starve
 * the HTTP API, the sampling of other devices, SIGTERM and Ctrl-C.
 *
 * {@linkcode fairTurn} watches whether the event loop has turned recently (a zero-delay
 * heartbeat timer that only fires when the loop gets to its timers) and, when it has not for
 * `budgetMs`, waits for a real macrotask (a zero-delay timer). Loops call it once per step: it costs
 * a clock read while the loop is turning, and a timer tick every `budgetMs` of continuous work.
 *
 * @module
 */
import { onTimeout } from "./timer.ts";

/** Default longest continuous run of microtask work before yielding, ms. */
export const FAIR_BUDGET_MS = 10;

let armedAt = 0;
let armed = false;
/** Yields taken so far (for tests and benchmarks). */
let yields = 0;

function heartbeat(): void {
  armed = false;
}

/**
 * True when the event loop has not reached its timers for `budgetMs`: the caller has been
 * running (in microtasks) for that long and should yield.
 *
 * @example
 * ```ts
 * import { starving } from "./fair.ts";
 * starving(); // false: nothing has been running for long
 * ```
 */
export function starving(budgetMs: number = FAIR_BUDGET_MS): boolean {
  const now = performance.now();
  if (!armed) {
    // The last heartbeat fired (the loop turned) some time ago; start watching from now.
    armed = true;
    armedAt = now;
    // The runtime's own timer, not Node's setTimeout (see ./timer.ts); it keeps the
    // process alive for the one turn it waits.
    onTimeout(0, heartbeat);
    return false;
  }
  return now - armedAt >= budgetMs;
}

/**
 * Resolves at once while the event loop turns, or after a macrotask when the caller has kept it
 * busy for `budgetMs` (see the module doc). Await it once per step of every long loop.
 *
 * @example
 * ```ts
 * import { fairTurn } from "./fair.ts";
 * for (let i = 0; i < 1000; i++) await fairTurn();
 * ```
 */
export function fairTurn(budgetMs: number = FAIR_BUDGET_MS): Promise<void> {
  if (!starving(budgetMs)) return Promise.resolve();
  return macrotask();
}

/** Resolves after one turn of the event loop (timers, sockets and signals get to run). */
export function macrotask(): Promise<void> {
  yields++;
  return new Promise((resolve) => onTimeout(0, () => resolve()));
}

/** Number of yields {@linkcode fairTurn} has taken in this process. */
export function fairYields(): number {
  return yields;
}

/**
 * Event-loop time shared in turn by many streams, e.g. every client connection of a server.
 * Each stream awaits {@linkcode TurnQueue.next} before each step (one read and what it
 * brings). While nobody waits and the loop turns, steps go at once; once the streams have kept
 * the loop busy for `budgetMs`, steps wait in arrival order, and each later turn of the loop
 * (after its timers, sockets and other requests) lets them run for another `budgetMs`, from the
 * oldest waiter on. So however many streams flood in, the loop gets back to everything else
 * after about `budgetMs` of their work, and no stream can take the share of the others (a
 * per-stream byte quota cannot promise either: twenty streams each within their quota still
 * add up to one long turn).
 *
 * @example
 * ```ts
 * import { TurnQueue } from "./fair.ts";
 * const turns = new TurnQueue(2);
 * for (let i = 0; i < 1000; i++) await turns.next();
 * ```
 */
export class TurnQueue {
  readonly #budgetMs: number;
  readonly #waiting: (() => void)[] = [];
  /** When the current turn began letting waiters run (performance.now()). */
  #turnStart = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Creates a queue whose streams run at most about `budgetMs` per turn of the event loop. */
  constructor(budgetMs: number = 2) {
    this.#budgetMs = budgetMs;
  }

  /** Streams waiting for a turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Resolves when the caller may take its next step (see the class doc). */
  next(): Promise<void> {
    if (this.#waiting.length === 0 && !starving(this.#budgetMs)) return Promise.resolve();
    return new Promise((resolve) => {
      // The caller goes behind everyone already waiting; while this turn's budget lasts, the
      // oldest waiter runs now (the caller itself when it waits alone).
      this.#waiting.push(resolve);
      if (performance.now() - this.#turnStart < this.#budgetMs) this.#waiting.shift()!();
      // A released stream may stop calling (its socket has nothing more to read): whoever
      // still waits is let go by the next turn, not by it.
      if (this.#waiting.length > 0) this.#arm();
    });
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    yields++;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#turnStart = performance.now();
      this.#waiting.shift()?.();
      if (this.#waiting.length > 0) this.#arm();
    }, 0);
  }
}
