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
  readonly #outers = new Map<AbortSignal, { cancels: Set<Cancel>; listener: () => void }>();

  /** Aborts `cancel` when `signal` aborts (at once if it already has). */
  watch(signal: AbortSignal, cancel: Cancel): void {
    if (signal.aborted) return cancel.abort(signal.reason);
    let w = this.#outers.get(signal);
    if (!w) {
      const cancels = new Set<Cancel>();
      const listener = () => {
        this.#outers.delete(signal);
        for (const c of cancels) c.abort(signal.reason);
      };
      w = { cancels, listener };
      this.#outers.set(signal, w);
      signal.addEventListener("abort", listener, { once: true });
    }
    w.cancels.add(cancel);
  }

  /** The exchange of `cancel` ended; idle signals beyond the few kept lose their listener. */
  unwatch(signal: AbortSignal, cancel: Cancel): void {
    const w = this.#outers.get(signal);
    if (!w) return;
    w.cancels.delete(cancel);
    if (this.#outers.size <= IDLE_SIGNALS) return;
    for (const [s, other] of this.#outers) {
      if (this.#outers.size <= IDLE_SIGNALS) break;
      if (other.cancels.size > 0) continue;
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
