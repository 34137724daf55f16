/**
 * One request of the HTTP client: its options, its state through the client's phases, its
 * deadlines, and the per-signal list of calls a caller's abort cancels (no closure per request).
 *
 * @module
 */
import { deadlines } from "./deadline.ts";
import type { AnswerFrame } from "./http_codec.ts";

/** Options of one request. */
export interface RequestOptions {
  /** Milliseconds before the call fails with a {@linkcode TimeoutError} (connect to last byte). */
  timeout: number;
  /** Caller's abort (Ctrl-C, a stopped task); its reason is rethrown as is. */
  signal?: AbortSignal;
  /** Extra request headers (lower-case names recommended). */
  headers?: Record<string, string>;
}

/**
 * Turns a whole answer into the caller's value, synchronously, before the connection's buffer
 * is reused: `f` says where the status, headers and body lie in `received` (the body in
 * `f.body`). A decoder that reads the body's bytes itself makes no strings for a poll. What it
 * throws is the request's failure (a {@linkcode DeviceError} is passed on as it is).
 */
export type AnswerDecoder<T> = (f: AnswerFrame, received: Uint8Array) => T;

/** What a call reports to: the client that runs it. */
export interface CallOwner {
  /** Cancels the call (its deadline passed or its caller aborted). */
  cancel(call: Call): void;
  /** The answer the call waits behind is too late: reconnect for it. */
  overtake(call: Call): void;
}

/**
 * The calls waiting on each caller's signal. A sampler hands one signal to every poll of a
 * tick: an abort listener per request made `removeEventListener` scan a list of 1,000
 * listeners 1,000 times a tick. Here each signal gets one listener, and its calls form a list
 * through the calls themselves (joining and leaving it allocates nothing).
 */
const watched = new WeakMap<AbortSignal, { first: Call | undefined }>();

/** Adds `call` to the calls cancelled when `signal` aborts. */
export function watchAbort(signal: AbortSignal, call: Call): void {
  let list = watched.get(signal);
  if (!list) {
    const calls: { first: Call | undefined } = list = { first: undefined };
    watched.set(signal, calls);
    signal.addEventListener("abort", () => {
      for (let c = calls.first; c; c = calls.first) {
        unwatchAbort(signal, c);
        c.client.cancel(c);
      }
    }, { once: true });
  }
  call.watchNext = list.first;
  if (list.first) list.first.watchPrev = call;
  list.first = call;
  call.watching = true;
}

/** Takes `call` off its signal's list (nothing if it is not on it). */
export function unwatchAbort(signal: AbortSignal, call: Call): void {
  if (!call.watching) return;
  call.watching = false;
  const list = watched.get(signal)!;
  if (call.watchPrev) call.watchPrev.watchNext = call.watchNext;
  else list.first = call.watchNext;
  if (call.watchNext) call.watchNext.watchPrev = call.watchPrev;
  call.watchPrev = call.watchNext = undefined;
}

/** Where a call is: waiting for the connection, connecting, waiting for a late answer, sent. */
export type Phase = "queued" | "connecting" | "behind" | "sent" | "done";

/**
 * The reason of every call that ran out of time (the cause of its TimeoutError): one object, since
 * building an exception (and its stack) per timeout made overload, when thousands time out at
 * once, cost more.
 */
const TIMED_OUT = new DOMException("timeout", "TimeoutError");

/**
 * One request: everything it needs lives here (no closure per request); it is its own deadline
 * target ({@linkcode Call.expire}).
 */
export class Call {
  phase: Phase = "queued";
  timedOut = false;
  cancelled = false;
  /** Fresh connections tried after a kept-alive one turned out dead. */
  retried = false;
  /** The request went out on a connection that had answered before. */
  reused = false;
  deadline: ReturnType<typeof deadlines.add> | undefined;
  /** While behind a late answer: when to stop waiting for it and reconnect instead. */
  patience: ReturnType<typeof deadlines.add> | undefined;
  /** Neighbours in the list of calls watching the same signal. */
  watchPrev: Call | undefined;
  watchNext: Call | undefined;
  watching = false;

  constructor(
    readonly client: CallOwner,
    readonly method: string,
    readonly path: string,
    readonly body: string | undefined,
    readonly opts: RequestOptions,
    readonly decode: AnswerDecoder<unknown>,
    /** Gets the decoded answer: a promise's resolve, or a poller's callback. */
    readonly resolve: (value: unknown) => void,
    /** Gets the request's failure: a promise's reject, or a poller's callback. */
    readonly reject: (err: unknown) => void,
  ) {}

  /** The deadline passed (called by the deadline timer with the call as `this`). */
  expire(this: Call): void {
    this.timedOut = true;
    this.client.cancel(this);
  }

  /** Waited as long as an earlier request's late answer was due: reconnect instead. */
  impatient(this: Call): void {
    this.patience = undefined;
    this.client.overtake(this);
  }

  /** Why the call was cancelled: our deadline, or the caller's abort reason. */
  reason(): unknown {
    return this.timedOut ? TIMED_OUT : this.opts.signal?.reason;
  }
}
