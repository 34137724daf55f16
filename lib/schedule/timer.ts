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
 * Every runtime timer wakes the process when it expires, whether anyone still listens or not:
 * on Deno 2.9.6 neither `clearTimeout` nor taking the listener off an `AbortSignal.timeout` takes
 * the wake-up back (checked: 20 timers armed and cleared at once woke an idle process 20 times).
 * A wake-up of an idle `deno` costs ~150-250 us of CPU on this project's VMs (a Python
 * `time.sleep` loop ~75 us), more than a dozen polls. So this module remembers the timers it armed
 * until they fire, and work that may run at any moment of a window (writing out a batch of
 * output) rides on one of them with {@linkcode onWakeWithin} instead of a wake-up of its own.
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

/** A runtime timer armed here: when it expires, and how other work rides on it. */
interface Armed {
  /** When it expires (`performance.now()` ms). */
  readonly at: number;
  /** False once it fired or was cleared: nothing can ride on it any more. */
  live(): boolean;
  /** Runs `fire` when it fires (keeping the process alive until then); returns the undo. */
  ride(fire: () => void): () => void;
}

/**
 * The timers armed here that have not fired yet, soonest first. At most {@linkcode MAX_ARMED}
 * are remembered (a few are pending at once in practice: the sampler's next slot, the deadline
 * wheel, an output batch); a timer not remembered still fires, it only cannot be shared.
 */
const armed: Armed[] = [];
const MAX_ARMED = 32;

/** Remembers `timer` until it fires (dropping those that fired). */
function remember(timer: Armed): void {
  let k = 0;
  for (let i = 0; i < armed.length; i++) {
    const e = armed[i]!;
    if (e.live()) armed[k++] = e;
  }
  armed.length = k;
  let i = k;
  while (i > 0 && armed[i - 1]!.at > timer.at) i--;
  if (i < MAX_ARMED) {
    armed.splice(i, 0, timer);
    if (armed.length > MAX_ARMED) armed.length = MAX_ARMED;
  }
}

/** Arms a runtime timer of `ms` (whole ms, at least 0) and remembers it until it fires. */
function arm(ms: number): AbortSignal {
  const signal = AbortSignal.timeout(ms);
  remember({
    at: performance.now() + ms,
    live: () => !signal.aborted,
    ride: (fire) => {
      signal.addEventListener("abort", fire, { once: true });
      return () => signal.removeEventListener("abort", fire);
    },
  });
  return signal;
}

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
  const signal = arm(Math.max(0, Math.trunc(ms)));
  signal.addEventListener("abort", fire, { once: true });
  return signal;
}

/**
 * Calls `fire` once, at the latest `ms` from now (whole ms, at least 0) and possibly sooner: when
 * the last timer already armed here that expires within that time fires, or else on a timer of
 * its own. For work that must not wait longer than `ms` but may run any time before (a batch of
 * output): it costs no wake-up of its own while other timers keep the process waking. Returns
 * what cancels it (a shared timer still fires for the others). Until `fire` runs or is
 * cancelled, the process stays alive.
 *
 * @example
 * ```ts
 * import { onTimeout, onWakeWithin } from "./timer.ts";
 * onTimeout(10, () => console.log("10 ms"));
 * onWakeWithin(50, () => console.log("with it")); // fires with the 10 ms timer
 * ```
 */
export function onWakeWithin(ms: number, fire: () => void): () => void {
  const latest = performance.now() + Math.max(0, Math.trunc(ms));
  for (let i = armed.length - 1; i >= 0; i--) {
    const e = armed[i]!;
    if (e.at <= latest && e.live()) return e.ride(fire);
  }
  const signal = onTimeout(ms, fire);
  return () => signal.removeEventListener("abort", fire);
}

/**
 * One wake-up on Node's `setTimeout` that other work may ride on: the sleeper's own callback
 * first, then the riders'.
 */
class NodeWake implements Armed {
  readonly at: number;
  #fired = false;
  #riders: (() => void)[] = [];
  readonly #id: ReturnType<typeof setTimeout>;
  readonly #wake: () => void;
  readonly #run = (): void => {
    this.#fired = true;
    this.#wake();
    const riders = this.#riders;
    this.#riders = [];
    for (let i = 0; i < riders.length; i++) riders[i]!();
  };

  /** Calls `wake` after `ms`, then the riders. */
  constructor(ms: number, wake: () => void) {
    this.#wake = wake;
    this.at = performance.now() + ms;
    this.#id = setTimeout(this.#run, ms);
  }

  /** False once fired or dropped. */
  live(): boolean {
    return !this.#fired;
  }

  /** Runs `fire` after the sleeper's callback; returns the undo. */
  ride(fire: () => void): () => void {
    this.#riders.push(fire);
    return () => {
      const i = this.#riders.indexOf(fire);
      if (i >= 0) this.#riders.splice(i, 1);
    };
  }

  /** The sleeper no longer waits: the timer goes unless work rides on it. */
  drop(): void {
    if (this.#fired || this.#riders.length > 0) return;
    this.#fired = true;
    clearTimeout(this.#id);
  }
}

/**
 * Sleeps `ms` (whole ms, truncated as `setTimeout` does) or until `signal` aborts, on Node's
 * `setTimeout`: a wake-up costs ~100 us of CPU less than one of an `AbortSignal.timeout` here
 * (~220 against ~320 us for an idle `deno`: no `DOMException` and abort event per firing), for
 * loops that sleep many times a second in verbs that load Node's timers anyway (the sampler's
 * slots: 32 a second at 1,000 gauges, ~160 at 10,000). Other work may ride on it
 * ({@linkcode onWakeWithin}).
 *
 * @example
 * ```ts
 * import { sleepOnNodeTimer } from "./timer.ts";
 * await sleepOnNodeTimer(10);
 * ```
 */
export function sleepOnNodeTimer(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const stop = () => {
      wake.drop();
      resolve();
    };
    const wake = new NodeWake(Math.max(0, Math.trunc(ms)), () => {
      signal?.removeEventListener("abort", stop);
      resolve();
    });
    remember(wake);
    signal?.addEventListener("abort", stop, { once: true });
  });
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
    const signal = arm(Math.max(0, Math.ceil(ms)));
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
