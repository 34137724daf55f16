/**
 * Deadlines for many short calls on one timer. Arming a timer per exchange costs more than the
 * exchange itself on loopback (a `setTimeout`/`clearTimeout` pair per query measured ~15–25 µs
 * of CPU against ~40 µs for the socket I/O): here one timer is armed for the earliest deadline,
 * finished calls just leave the set, and the timer is only moved when a new deadline is earlier
 * than the armed one — in steady polling that is about once per timeout period, not per call.
 * The timer keeps the process alive only while a deadline is pending: with none left it is
 * unref'd (not cleared), so a finished program exits at once.
 *
 * How to use it: `const d = deadlines.add(ms, () => controller.abort(…))`, and
 * `deadlines.remove(d)` when the call ends (success or failure).
 *
 * @module
 */

import { Timer } from "../schedule/timer.ts";

/** One registered deadline. */
export interface Deadline {
  /** When it expires (`performance.now()` time). */
  readonly at: number;
  /** What expiry does (called with `self` as `this`). */
  readonly fire: () => void;
  /** The `this` of `fire`: a caller's method fires without a closure per call. */
  readonly self?: unknown;
}

/** A registered deadline as kept inside {@linkcode Deadlines}. */
interface Entry {
  at: number;
  fire: () => void;
  self: unknown;
  /** False once removed or fired. */
  live: boolean;
}

const nothing = () => {};

/** A set of deadlines sharing one lazily re-armed timer. */
export class Deadlines {
  // A plain array reused from slot 0 whenever it empties, not a Set: a Set that empties and fills
  // again on every query re-allocated its table each time (~0.25 KB of garbage per query).
  #entries: Entry[] = [];
  #used = 0;
  #live = 0;
  // Not setTimeout: the first one loads Node's timers (see timer.ts).
  readonly #timer = new Timer(() => this.#tick());
  #timerAt = Infinity;
  #refd = false;

  /** Number of deadlines not yet removed or fired. */
  get size(): number {
    return this.#live;
  }

  /**
   * Calls `fire` (with `self` as `this`) `ms` after `from` (a `performance.now()` time; now by
   * default: a caller that has just read the clock saves reading it again) unless removed first.
   */
  add(ms: number, fire: () => void, self?: unknown, from: number = performance.now()): Deadline {
    const d: Entry = { at: from + ms, fire, self, live: true };
    if (this.#used === this.#entries.length) this.#entries.push(d);
    else this.#entries[this.#used] = d;
    this.#used++;
    this.#live++;
    if (d.at < this.#timerAt) this.#arm(d.at);
    else if (!this.#refd && this.#timer.pending) {
      this.#timer.ref();
      this.#refd = true;
    }
    return d;
  }

  /** Forgets a deadline (its call ended); the timer stays where it is. */
  remove(d: Deadline): void {
    const e = d as Entry;
    if (!e.live) return;
    e.live = false;
    // A removed entry waits in the array until it is reused or compacted: it must not keep its
    // call (and everything the call holds) alive, or calls outlive young collections in bulk.
    e.self = undefined;
    e.fire = nothing;
    this.#live--;
    if (this.#live === 0) {
      this.#used = 0;
      if (this.#refd && this.#timer.pending) {
        this.#timer.unref();
        this.#refd = false;
      }
    } else if (this.#used > 64 && this.#live * 2 < this.#used) this.#compact();
  }

  /** Moves the live entries to the front (many calls ended out of order). */
  #compact(): void {
    let k = 0;
    for (let i = 0; i < this.#used; i++) {
      const e = this.#entries[i]!;
      if (e.live) this.#entries[k++] = e;
    }
    this.#entries.length = k;
    this.#used = k;
  }

  #arm(at: number): void {
    this.#timerAt = at;
    this.#timer.start(at - performance.now());
    this.#refd = true;
  }

  #tick(): void {
    this.#refd = false;
    this.#timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    const due: Entry[] = [];
    for (let i = 0; i < this.#used; i++) {
      const d = this.#entries[i]!;
      if (!d.live) continue;
      // A timer that fires early re-arms for what is left: a deadline is never early.
      if (d.at <= now) due.push(d);
      else if (d.at < next) next = d.at;
    }
    const fired = due.map((d) => [d.fire, d.self] as const);
    for (const d of due) this.remove(d);
    if (next < Infinity && next < this.#timerAt) this.#arm(next);
    // Fired after the bookkeeping: a fire() may add or remove deadlines itself.
    for (const [fire, self] of fired) fire.call(self);
  }
}

/** The deadlines of every message line in the process. */
export const deadlines: Deadlines = new Deadlines();
