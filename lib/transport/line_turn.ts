/**
 * Whose turn it is on a message line: the FIFO lock that hands the line to one exchange at a
 * time (waiters served in order, a cancelled waiter leaves the queue), and {@linkcode Turn}, one
 * exchange's cancellation, deadline and progress. `message.ts` runs every exchange through them;
 * its pipeline takes the same lock.
 *
 * @module
 */
import type { IoOptions } from "./byte_stream.ts";
import { Cancel } from "./cancel.ts";
import type { Deadline } from "./deadline.ts";

/** A first-in first-out lock: one owner, the others queued in the order they asked. */
export class FifoLock {
  #busy = false;
  /**
   * Who waits, in order (its `length`: the callers waiting, not counting the owner; read by the
   * pipeline on every send without a call); only the lock changes it.
   */
  readonly waiters: (() => void)[] = [];

  /** Somebody owns the lock. */
  get busy(): boolean {
    return this.#busy;
  }

  /** Takes the lock if it is free (true); false when somebody owns it. */
  take(): boolean {
    if (this.#busy) return false;
    return this.#busy = true;
  }

  /** Takes the lock now if it is free (true); otherwise queues `owned`, called once it is ours. */
  acquire(owned: () => void): boolean {
    if (this.take()) return true;
    this.waiters.push(owned);
    return false;
  }

  /**
   * Called when a caller queues for the lock: an owner that holds it while idle (a pipeline
   * between flights) releases it then.
   */
  onQueue: (() => void) | undefined;

  /** Waits for the lock (busy now) in FIFO order; the caller owns it when this resolves. */
  queue(cancel: Cancel): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const turn = () => {
        cancel.unhook(onAbort);
        resolve();
      };
      const onAbort = (reason: unknown) => {
        const i = this.waiters.indexOf(turn);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(reason);
      };
      this.waiters.push(turn);
      cancel.hook(onAbort);
      this.onQueue?.();
    });
  }

  /** Hands the lock to the next waiter, or frees it. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.#busy = false;
  }
}

/** One exchange: its cancellation, the stream options that carry it, how far it got. */
export class Turn {
  /** Aborted by the deadline or the caller's signal. */
  readonly cancel: Cancel = new Cancel();
  /** What the stream's reads and writes of this exchange take. */
  readonly io: IoOptions;
  /** The command went out (a timeout after this means no answer, not a busy line). */
  sent = false;
  /** The deadline fired. */
  timedOut = false;
  /** The line's lock is held by this exchange. */
  acquired = false;
  /** Exchanges that held or waited for the line when this one asked (for the timeout's wording). */
  ahead = 0;
  /** Its deadline, while armed. */
  deadline: Deadline | undefined;

  /**
   * `takesCancel`: the stream takes `{ cancel }` rather than an AbortSignal (`cancel.ts`);
   * `name` names the exchange in errors (a function is called only then); `timeout` is its
   * deadline, ms; `outer` the caller's signal, if any.
   */
  constructor(
    takesCancel: boolean,
    readonly name: string | (() => string),
    readonly timeout: number,
    readonly outer: AbortSignal | undefined,
  ) {
    this.io = takesCancel ? { cancel: this.cancel } : { signal: this.cancel.signal };
  }

  /** What the exchange is, for an error. */
  what(): string {
    return typeof this.name === "string" ? this.name : this.name();
  }

  /** The deadline fired: abort whatever the exchange waits for. */
  expire(): void {
    this.timedOut = true;
    this.cancel.abort(new DOMException("timeout", "TimeoutError"));
  }
}
