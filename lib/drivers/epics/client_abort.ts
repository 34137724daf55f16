/**
 * What stops a wait of the CA client (for a connection, for a reply): an `AbortSignal`, or a
 * {@linkcode CallAbort}, the `ca://` driver's cheaper stand-in for one. On Deno 2.9.6 an "abort"
 * listener added to and removed from a fresh signal costs more than the CA exchange it guards:
 * `labwire read` of 1,000 PVs spent ~30 ms of main-thread CPU (of ~130 for the reads) in
 * `addEventListener`/`removeEventListener` for its two waits per read (`deno run --cpu-prof`,
 * and the read phase timed with and without them). A CallAbort keeps its hooks in an array.
 *
 * @module
 */

import { OneShotAbort } from "../../transport/cancel.ts";

/** A one-shot abort with any number of hooks, for one call of the `ca://` driver. */
export class CallAbort extends OneShotAbort {
  #hooks: (() => void)[] = [];

  /** Aborts: every hook is called once. */
  abort(reason: unknown): void {
    if (!this.settle(reason)) return;
    const hooks = this.#hooks;
    this.#hooks = [];
    for (const fn of hooks) fn();
  }

  /** Has `fn` called on abort (unless removed first). */
  hook(fn: () => void): void {
    this.#hooks.push(fn);
  }

  /** Removes `fn`. */
  unhook(fn: () => void): void {
    const i = this.#hooks.indexOf(fn);
    if (i >= 0) this.#hooks.splice(i, 1);
  }
}

/** An `AbortSignal` or a {@linkcode CallAbort}. */
export type Abortable = AbortSignal | CallAbort;

/** Calls `fn` when `a` aborts (not if it already has); returns what takes the hook away. */
export function onAbort(a: Abortable, fn: () => void): () => void {
  if (a instanceof CallAbort) {
    a.hook(fn);
    return () => a.unhook(fn);
  }
  a.addEventListener("abort", fn, { once: true });
  return () => a.removeEventListener("abort", fn);
}

/** Rejects as soon as `a` aborts, even if `p` does not heed it. */
export function raceAbortable<T>(p: Promise<T>, a: Abortable): Promise<T> {
  if (a.aborted) return Promise.reject(a.reason);
  return new Promise<T>((resolve, reject) => {
    const off = onAbort(a, () => reject(a.reason));
    p.then((v) => {
      off();
      resolve(v);
    }, (e) => {
      off();
      reject(e);
    });
  });
}

/**
 * The settle functions of a call that waits (for a connection, for a reply), kept as one object
 * rather than wrapper closures per call; settling takes the call's abort hook away first.
 */
export class Settler<T> {
  /** Takes the abort hook away (set when the call has a signal). */
  off: (() => void) | undefined;

  /** Wraps a promise's `resolve` and `reject`. */
  constructor(readonly settleOk: (v: T) => void, readonly settleErr: (e: Error) => void) {}

  /** Resolves the call. */
  resolve(v: T): void {
    this.off?.();
    this.settleOk(v);
  }

  /** Rejects the call. */
  reject(e: Error): void {
    this.off?.();
    this.settleErr(e);
  }
}
