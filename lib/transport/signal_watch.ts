/**
 * Callers' abort signals watched for a message line's exchanges. A poller passes the same signal
 * (its task's) to every exchange, so each signal gets one lasting listener (at most
 * {@linkcode IDLE_SIGNALS} idle ones kept) instead of an add and a remove per exchange.
 *
 * @module
 */
import type { Cancel } from "./cancel.ts";

/** Callers' signals a line keeps listening to while no exchange of theirs runs. */
export const IDLE_SIGNALS = 4;

/** Signals watched by one lasting listener each, with the exchanges running under them now. */
export class SignalWatch {
  // An array per signal, not a Set: a Set that goes from one entry to none and back on every
  // exchange re-allocated its table each time (~120 B of garbage per query).
  readonly #outers = new Map<AbortSignal, { cancels: Cancel[]; listener: () => void }>();

  /** Aborts `cancel` when `signal` aborts (at once if it already has). */
  watch(signal: AbortSignal, cancel: Cancel): void {
    if (signal.aborted) return cancel.abort(signal.reason);
    let w = this.#outers.get(signal);
    if (!w) {
      const cancels: Cancel[] = [];
      const listener = () => {
        this.#outers.delete(signal);
        for (const c of cancels.splice(0)) c.abort(signal.reason);
      };
      w = { cancels, listener };
      this.#outers.set(signal, w);
      signal.addEventListener("abort", listener, { once: true });
    }
    w.cancels.push(cancel);
  }

  /** The exchange of `cancel` ended; idle signals beyond the few kept lose their listener. */
  unwatch(signal: AbortSignal, cancel: Cancel): void {
    const w = this.#outers.get(signal);
    if (!w) return;
    const i = w.cancels.indexOf(cancel);
    if (i >= 0) {
      // Order does not matter: the last one takes its place.
      const last = w.cancels.pop()!;
      if (i < w.cancels.length) w.cancels[i] = last;
    }
    if (this.#outers.size <= IDLE_SIGNALS) return;
    for (const [s, other] of this.#outers) {
      if (this.#outers.size <= IDLE_SIGNALS) break;
      if (other.cancels.length > 0) continue;
      s.removeEventListener("abort", other.listener);
      this.#outers.delete(s);
    }
  }

  /** Removes every listener (the line closed). */
  clear(): void {
    for (const [s, w] of this.#outers) s.removeEventListener("abort", w.listener);
    this.#outers.clear();
  }
}
