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

/** One registered deadline. */
export interface Deadline {
  /** When it expires (`performance.now()` time). */
  readonly at: number;
  /** What expiry does. */
  readonly fire: () => void;
}

/** A set of deadlines sharing one lazily re-armed timer. */
export class Deadlines {
  #entries = new Set<Deadline>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #refd = false;

  /** Number of deadlines not yet removed or fired. */
  get size(): number {
    return this.#entries.size;
  }

  /** Calls `fire` after `ms` unless removed first. */
  add(ms: number, fire: () => void): Deadline {
    const d: Deadline = { at: performance.now() + ms, fire };
    this.#entries.add(d);
    if (d.at < this.#timerAt) this.#arm(d.at);
    else if (!this.#refd && this.#timer !== undefined) {
      Deno.refTimer(this.#timer);
      this.#refd = true;
    }
    return d;
  }

  /** Forgets a deadline (its call ended); the timer stays where it is. */
  remove(d: Deadline): void {
    this.#entries.delete(d);
    if (this.#entries.size === 0 && this.#refd && this.#timer !== undefined) {
      Deno.unrefTimer(this.#timer);
      this.#refd = false;
    }
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, at - performance.now()));
    this.#refd = true;
  }

  #tick(): void {
    this.#timer = undefined;
    this.#refd = false;
    this.#timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const d of this.#entries) {
      // A timer that fires early re-arms for what is left: a deadline is never early.
      if (d.at <= now) {
        this.#entries.delete(d);
        d.fire();
      } else if (d.at < next) next = d.at;
    }
    if (next < Infinity && next < this.#timerAt) this.#arm(next);
  }
}

/** The deadlines of every message line in the process. */
export const deadlines: Deadlines = new Deadlines();
