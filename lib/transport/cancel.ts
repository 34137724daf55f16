/**
 * Cancellation of one short I/O call that costs nothing until it is used.
 *
 * Why not an `AbortSignal`: on Deno 2.9.6 an `"abort"` listener on a fresh signal, held while the
 * call waits for a socket, measured ~20 µs of CPU per query on loopback (`deno run --cpu-prof`
 * and `process.cpuUsage` over 8,000 `MEAS:VOLT:DC?` round trips: 54 µs with it, 34 µs without)
 * — as much as the socket I/O itself. A {@linkcode Cancel} is a plain object: the call that waits
 * hooks one callback, {@linkcode Cancel.abort} calls it. Code that needs a real `AbortSignal` (a
 * connect, a sleep) asks for {@linkcode Cancel.signal}, which is made on first use only.
 *
 * How to use it: the message layer (`message.ts`) makes one per exchange and passes it to the
 * stream as `{ cancel }` (see `IoOptions` in `byte_stream.ts`); a deadline or Ctrl-C calls `abort()`.
 *
 * ```ts
 * import { Cancel } from "./cancel.ts";
 * const c = new Cancel();
 * const waiting = new Promise((_, reject) => c.hook(reject));
 * c.abort(new Error("deadline"));
 * await waiting.catch((e) => e.message); // "deadline"
 * ```
 *
 * @module
 */

/** What every one-shot abort of a call shares: whether it was aborted, and with what. */
export abstract class OneShotAbort {
  #aborted = false;
  #reason: unknown = undefined;

  /** True once `abort` was called. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** What `abort` was called with. */
  get reason(): unknown {
    return this.#reason;
  }

  /** Aborts with `reason`, calling what waits on it; a second call does nothing. */
  abstract abort(reason: unknown): void;

  /** Records the abort; false when it had already happened (the caller then does nothing). */
  protected settle(reason: unknown): boolean {
    if (this.#aborted) return false;
    this.#aborted = true;
    this.#reason = reason;
    return true;
  }
}

/** A one-shot cancellation with one hook (the wait in progress) and an on-demand AbortSignal. */
export class Cancel extends OneShotAbort {
  #hook: ((reason: unknown) => void) | undefined;
  #controller: AbortController | undefined;

  /** Cancels: calls the hook (if any) and aborts the signal (if one was made). Once only. */
  abort(reason: unknown): void {
    if (!this.settle(reason)) return;
    const hook = this.#hook;
    this.#hook = undefined;
    hook?.(reason);
    this.#controller?.abort(reason);
  }

  /** Has `fn` called on abort; one hook at a time (the call waiting now), replacing any other. */
  hook(fn: (reason: unknown) => void): void {
    this.#hook = fn;
  }

  /** Removes `fn` if it is the hook. */
  unhook(fn: (reason: unknown) => void): void {
    if (this.#hook === fn) this.#hook = undefined;
  }

  /** An `AbortSignal` that aborts with this, for APIs that take one (made on first use). */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }
}
