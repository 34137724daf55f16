/**
 * The exponential backoff between failed open attempts of a re-opening stream: pure, times are
 * passed in.
 *
 * @module
 */

/** The exponential backoff between failed open attempts (pure: times are passed in). */
export class Backoff {
  #delay = 0;
  #next = 0;
  /** Creates a backoff from `min` to `max` ms, doubling per failure. */
  constructor(readonly min = 100, readonly max = 5000) {}
  /** Records a failure at `now`; returns the delay before the next attempt. */
  fail(now: number): number {
    this.#delay = this.#delay === 0 ? this.min : Math.min(this.max, this.#delay * 2);
    this.#next = now + this.#delay;
    return this.#delay;
  }
  /** Records a success: the next failure starts from `min` again. */
  succeed(): void {
    this.#delay = 0;
    this.#next = 0;
  }
  /** Milliseconds to wait at `now` before an attempt is allowed (0 when allowed). */
  wait(now: number): number {
    return Math.max(0, this.#next - now);
  }
}
