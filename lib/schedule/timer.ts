/**
 * A one-shot timer that does not load Node's timers. On Deno 2.9.6 the global `setTimeout` is
 * Node's implementation, loaded with its dependencies (async hooks, Node's errors, `inspect`) on
 * first use: ~16 ms of main-thread CPU (`deno run --cpu-prof`: `lazyLoad` under the first
 * `setTimeout`), more than a fifth of what `labwire read` of a thousand `ca://` PVs does beside
 * Deno's own start-up. `AbortSignal.timeout` is built on the runtime's own timers and costs a few
 * ms the first time; a {@linkcode Timer} is one of those signals with its abort listener.
 *
 * Keeping the process alive follows Deno's rule for that signal: its timer is held (ref'd) only
 * while a listener waits, so {@linkcode Timer.unref} takes the listener away (the timer then
 * fires unheard) and {@linkcode Timer.ref} puts it back, running the callback at once if the
 * time passed meanwhile. A timer that must fire without keeping the process alive is not
 * possible here: use `setTimeout` with `Deno.unrefTimer` for that.
 *
 * For timers re-armed rarely (a deadline wheel, a search back-off, a liveness check); each
 * `start` makes a new signal, so it is no cheaper than `setTimeout` per arming.
 *
 * @example
 * ```ts
 * import { Timer } from "./timer.ts";
 * const t = new Timer(() => console.log("late"));
 * t.start(10);
 * t.cancel(); // nothing is printed, and the process may exit at once
 * ```
 *
 * @module
 */

/**
 * Calls `fire` once after `ms` (whole ms, at least 0) on the runtime's own timer; the returned
 * signal holds the process open while the listener is on it (`removeEventListener("abort",
 * fire)` lets go of it, and `fire` is then never called).
 *
 * @example
 * ```ts
 * import { onTimeout } from "./timer.ts";
 * onTimeout(0, () => console.log("a turn later"));
 * ```
 */
export function onTimeout(ms: number, fire: () => void): AbortSignal {
  const signal = AbortSignal.timeout(Math.max(0, Math.trunc(ms)));
  signal.addEventListener("abort", fire, { once: true });
  return signal;
}

/** A one-shot, restartable timer on `AbortSignal.timeout` (see the module doc). */
export class Timer {
  readonly #fire: () => void;
  #signal: AbortSignal | undefined;
  #refd = false;
  readonly #onAbort = () => {
    this.#signal = undefined;
    this.#refd = false;
    this.#fire();
  };

  /** A stopped timer that calls `fire` when it expires. */
  constructor(fire: () => void) {
    this.#fire = fire;
  }

  /** True while started and not yet fired or cancelled. */
  get pending(): boolean {
    return this.#signal !== undefined;
  }

  /** (Re)starts the timer: `fire` runs after `ms` (at least 0), unless cancelled first. */
  start(ms: number): void {
    this.cancel();
    const signal = AbortSignal.timeout(Math.max(0, Math.ceil(ms)));
    this.#signal = signal;
    this.ref();
  }

  /** Stops the timer; `fire` will not run. */
  cancel(): void {
    this.unref();
    this.#signal = undefined;
  }

  /** Lets the process exit while the timer waits; `fire` does not run until {@linkcode ref}. */
  unref(): void {
    if (!this.#refd) return;
    this.#refd = false;
    this.#signal?.removeEventListener("abort", this.#onAbort);
  }

  /** Keeps the process alive until the timer fires; fires now if its time already came. */
  ref(): void {
    const signal = this.#signal;
    if (this.#refd || signal === undefined) return;
    this.#refd = true;
    if (signal.aborted) {
      // Its time came while nobody listened: fire now (unless stopped or unref'd meanwhile).
      queueMicrotask(() => {
        if (this.#signal === signal && this.#refd) this.#onAbort();
      });
      return;
    }
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }
}
