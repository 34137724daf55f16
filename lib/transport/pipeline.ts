/**
 * Requests sent ahead of their answers on one connection: a bounded window of requests in
 * flight, the ones queued together written in one write, answers read by one loop and matched
 * to their requests — by key (Modbus TCP's transaction and unit id) or, without a key, in order
 * (a SCPI instrument processes its input buffer in order and answers in order). Each request
 * keeps its own deadline: never failed before it, and on a busy line (more than 64 requests
 * between two firings of the pipeline's one deadline) at most a quarter of the timeout after
 * it — such a line reads the clock for its first 64, not for every request (see `request`).
 * {@linkcode MessageLine} uses it when opened with `window` > 1; the
 * line's lock is held while requests are in flight, so an exchange (init commands, an ACK/ENQ
 * dialogue) still has the line to itself: once one waits, no new request is sent until the
 * flight has landed.
 *
 * After a timeout: a keyed request is dropped (its late answer, if any, is counted as a stray)
 * unless nothing at all was heard since it was sent — then, as for any timeout of an in-order
 * request (a late answer would be taken for the next one's), the connection is closed and every
 * request in flight fails with it; queued ones go out on the next connection.
 *
 * How to use it (through the line):
 * ```ts ignore
 * const line = new MessageLine(openTcp("10.0.0.7", 5025), { window: 8 });
 * const answers = await Promise.all(cmds.map((c) => line.query(c))); // one write, answers in order
 * ```
 *
 * @module
 */
import { DeviceError, TimeoutError, UsageError } from "../device/errors.ts";
import type { ByteListener, ByteStream, WriteEnds } from "./byte_stream.ts";
import { Cancel } from "./cancel.ts";
import { type Deadline, deadlines } from "./deadline.ts";
import { type Framer, FramingError } from "./framing.ts";

/** An answer found in the received bytes: its key (-1: answers come in order) and its value. */
export interface Keyed<T> {
  /** The key of the request it answers, or -1 when answers come in the order of the requests. */
  key: number;
  /** The answer. */
  value: T;
}

/**
 * Finds the next whole answer in what was received, or undefined until it is all there. The
 * {@linkcode Keyed} it returns is read at once, so a parser may reuse one object.
 */
export type AnswerParser<T> = (framer: Framer) => Keyed<T> | undefined;

/**
 * What the caller of a request gets, made once per kind of request (a poll's read), not per
 * request: its answer decoded the moment it lands — the value may be a view into the receive
 * buffer, valid only during the call — and its failures worded for the caller. No `then` per
 * request, and the caller's `await` resumes straight from the read that landed the answer.
 */
export interface Outcome<V, T> {
  /** The caller's value from the answer; a throw rejects the request with it. */
  decode(value: V): T;
  /** The caller's error for a request that failed with `err` (its deadline was `timeout` ms). */
  failed(err: unknown, timeout: number): unknown;
  /**
   * For requests whose bytes are a template shared by every request of the kind (never changed
   * once made: a copy of it may be reused from write to write): writes the
   * request's own fields (its `key`, e.g. Modbus TCP's transaction id) into its copy at `at` of
   * the buffer being written. The pipeline then copies the request into its one write buffer —
   * no array per request, and the buffer handed to the socket is the same every time.
   */
  stamp?(out: Uint8Array, at: number, key: number): void;
}

/** What the pipeline needs from the line it runs on. */
export interface PipelineHost {
  /** The connection. */
  readonly stream: ByteStream;
  /** The line's receive buffer. */
  readonly framer: Framer;
  /** The stream's label, for errors. */
  readonly label: string;
  /** Device name carried by errors. */
  readonly device?: string;
  /** Takes the line's lock now (true) or queues `owned` to be called when it is taken (false). */
  acquire(owned: () => void): boolean;
  /** Gives the lock back (to the next waiter). */
  release(): void;
  /** Exchanges waiting for the lock (its queue: read, never changed, here). */
  readonly waiters: { readonly length: number };
  /** The error of a request that timed out (the line's wording). */
  timeoutError(
    what: string,
    timeout: number,
    acquired: boolean,
    sent: boolean,
    cause: unknown,
  ): TimeoutError;
}

/**
 * What a request fails with when the connection was closed under it because `request`, sent
 * before it, got no answer within `timeout` ms: that request's timeout (its message, what to
 * check included), so the user hears the first cause whichever request reaches them first. An
 * {@linkcode Outcome} that words its own timeouts words this one as `request`'s.
 *
 * @example
 * ```ts
 * import { UnansweredBefore } from "./pipeline.ts";
 * import { TimeoutError } from "../device/errors.ts";
 * const first = new TimeoutError('tcp://h:5025: no answer to "A?" within 1 s; check …');
 * new UnansweredBefore("A?", 1000, first).message; // 'tcp://h:5025: no answer to "A?" within 1 s; check …'
 * ```
 */
export class UnansweredBefore extends TimeoutError {
  /** Creates the error of a request behind `request`, whose own timeout was `first`. */
  constructor(
    readonly request: string,
    readonly timeout: number,
    first: TimeoutError,
    device?: string,
  ) {
    super(first.message, device, { cause: first });
  }
}

/** Most requests a window lets in flight on one connection. */
export const MAX_WINDOW = 64;

/**
 * Reads a window (`?window=`, `--window`): a whole number 1…{@linkcode MAX_WINDOW}, else a
 * usage error naming `where`.
 *
 * @example
 * ```ts
 * import { parseWindow } from "./pipeline.ts";
 * parseWindow("8", "--window"); // 8
 * ```
 */
export function parseWindow(text: string, where: string): number {
  const n = Number(text.trim());
  if (!/^\d{1,3}$/.test(text.trim()) || n < 1 || n > MAX_WINDOW) {
    throw new UsageError(
      `${where}: window ${JSON.stringify(text)} is not a window`,
      `requests in flight at once: a whole number 1…${MAX_WINDOW} (1: one at a time)`,
    );
  }
  return n;
}

/** The pipeline's deadline fired: one function for all, the pipeline as `this`. */
function checkDeadlines(this: Pipeline): void {
  this.expireDue();
}

/**
 * Requests timed with a clock read each between two firings of a pipeline's deadline; past
 * that, the line is busy, and its deadline is brought to within a {@linkcode BUSY_CHECKS}th of
 * the timeout and times the later requests when it fires: a request still never fails before
 * its timeout, and fails at most that share of it late. A line polled a few times a second
 * times every request (its deadline, at a timeout, fires before it has made that many).
 */
const CLOCK_READS = 64;
/** A busy line's deadline fires at least this many times a timeout (see {@linkcode CLOCK_READS}). */
const BUSY_CHECKS = 4;
/** {@linkcode Flight.at} of a request not timed yet. */
const UNTIMED = -1;

const QUEUED = 0;
const SENT = 1;
const DONE = 2;

/** Stands for a request's resolve and reject until its promise is made. */
function unsettled(): void {}

/**
 * One request: queued, in flight or done. Its fields are declared and set in the constructor
 * (no field initializers): one function per request made, not a second one for the fields.
 */
class Flight {
  /** QUEUED, SENT or DONE. */
  declare state: number;
  /** The line's count of arrivals when it went out (anything heard since: a higher count). */
  declare sentAfter: number;
  /** Given up by its caller (aborted) while in flight: its answer, when it comes, is dropped. */
  declare abandoned: boolean;
  /**
   * When it expires (`performance.now()` time); {@linkcode UNTIMED} until the pipeline's
   * deadline fires, for a request of a busy line (see `Pipeline.request`).
   */
  declare at: number;
  /** The caller's signal, while the request is watched for its abort. */
  declare signal: AbortSignal | undefined;
  /** Decodes the answer and words the failures, when the caller gave one. */
  declare outcome: Outcome<unknown, unknown> | undefined;
  /** Settles the caller's promise (set by {@linkcode settleInto} as the promise is made). */
  declare resolve: (value: unknown) => void;
  /** Rejects the caller's promise. */
  declare reject: (err: unknown) => void;
  /** The request's bytes (a template when its outcome stamps them). */
  declare readonly bytes: Uint8Array;
  /** The key its answer carries (-1: answers come in order). */
  declare readonly key: number;
  /** Finds its answer in what was received. */
  declare readonly parse: AnswerParser<unknown>;
  /** Names it in errors. */
  declare readonly what: string | (() => string);
  /** Its deadline, ms. */
  declare readonly timeout: number;

  constructor(
    bytes: Uint8Array,
    key: number,
    parse: AnswerParser<unknown>,
    what: string | (() => string),
    timeout: number,
    outcome: Outcome<unknown, unknown> | undefined,
  ) {
    this.state = QUEUED;
    this.sentAfter = 0;
    this.abandoned = false;
    this.at = 0;
    this.signal = undefined;
    this.outcome = outcome;
    this.resolve = unsettled;
    this.reject = unsettled;
    this.bytes = bytes;
    this.key = key;
    this.parse = parse;
    this.what = what;
    this.timeout = timeout;
  }

  name(): string {
    return typeof this.what === "string" ? this.what : this.what();
  }

  /** Rejects with `err` as the outcome words it. */
  fail(err: unknown): void {
    const outcome = this.outcome;
    this.reject(outcome === undefined ? err : outcome.failed(err, this.timeout));
  }
}

/** The request whose promise is being made (see {@linkcode settleInto}). */
let making: Flight | undefined;

/**
 * The executor of every request's promise: hands its resolve and reject to the request being
 * made. One function for all, not `Promise.withResolvers` (an object and a destructuring per
 * request, on a path that runs cold for its first few hundred requests).
 */
function settleInto(resolve: (value: unknown) => void, reject: (err: unknown) => void): void {
  const f = making!;
  f.resolve = resolve;
  f.reject = reject;
}

/** A bounded window of requests in flight on one line. */
export class Pipeline {
  readonly #host: PipelineHost;
  readonly #window: number;
  #flight: Flight[] = [];
  /** The deadline of the earliest request (see `request` and `expireDue`). */
  #deadline: Deadline | undefined;
  /** How far ahead of the clock reading that armed it {@linkcode #deadline} was set, ms. */
  #deadlineSpan = 0;
  /** Requests timed (the clock read for them) since the deadline last fired. */
  #clockReads = 0;
  /** A busy line's deadline comes at most this long after it last fired, ms (see `request`). */
  #busyCheck = 0;
  #backlog: Flight[] = [];
  /** The pipeline holds the line's lock. */
  #owns = false;
  /** The pipeline waits for the line's lock. */
  #asking = false;
  /** The pipeline keeps the line with nothing in flight (see #send). */
  #idle = false;
  #fillQueued = false;
  /**
   * The bytes of requests sent but not written yet: the first `#outCount` slots. The array is
   * kept from write to write (a new one, or one emptied by `length = 0`, is a new backing store
   * per request).
   */
  #out: (Flight | undefined)[] = [];
  #outCount = 0;
  /**
   * The buffer requests are copied into when they are written together or stamped (one write
   * at a time: reused from write to write, grown when a write needs more).
   */
  #outBuf = new Uint8Array(0);
  /** The request bytes copied at the start of {@linkcode #outBuf} by the last write there. */
  #outHolds: Uint8Array | undefined;
  #writing = false;
  /** The last write carried one request: a lone caller's (see `request`). */
  #lone = false;
  #reading = false;
  /** Reading by listening to the stream (one that can `listen`). */
  #listening = false;
  // Two: a Cancel takes one hook at a time, and a write and a read wait at once. Each with the
  // stream options that carry it, made when it is (not an object per read or write).
  #readCancel = new Cancel();
  #writeCancel = new Cancel();
  #readIo = { cancel: this.#readCancel };
  #writeIo = { cancel: this.#writeCancel };
  /** Arrivals of bytes so far (a counter, not a clock: no time read per request). */
  #heard = 0;
  /** Callers' signals, each with the requests it may abort. */
  readonly #watched = new Map<AbortSignal, Set<Flight>>();
  /** Answers that matched no request in flight (late answers of dropped requests, or foreign). */
  strays = 0;
  /** Backlog size when the fill was queued or last hopped. */
  #seen = -1;
  #hops = 0;
  readonly #fill = () => {
    // Callers woken by one read ask one after another, each a few promise reactions after the
    // last: hop along the microtask queue while the backlog still grows (and the window has
    // room), so they go out in one write, not one write each.
    const size = this.#backlog.length;
    if (size !== this.#seen && size < this.#window - this.#flight.length && this.#hops < 64) {
      this.#seen = size;
      this.#hops++;
      queueMicrotask(this.#fill);
      return;
    }
    this.#fillQueued = false;
    this.#hops = 0;
    this.#send();
  };

  /** A pipeline of at most `window` requests in flight on `host`. */
  constructor(host: PipelineHost, window: number) {
    this.#host = host;
    this.#window = window;
    this.#writeEnds = this.#endsOf(this.#writeCancel);
  }

  /** Requests in flight or queued. */
  get size(): number {
    return this.#flight.length + this.#backlog.length;
  }

  /**
   * Sends `bytes` once the window has room and resolves with the answer `parse` finds for `key`
   * (-1: the next answer in order), within `timeout` ms from now; decoded and its failures worded
   * by `outcome` when given.
   */
  request<V, T = V>(
    bytes: Uint8Array,
    key: number,
    parse: AnswerParser<V>,
    timeout: number,
    signal: AbortSignal | undefined,
    what: string | (() => string),
    outcome?: Outcome<V, T>,
  ): Promise<T> {
    if (signal?.aborted) {
      return Promise.reject(outcome ? outcome.failed(signal.reason, timeout) : signal.reason);
    }
    const f = new Flight(
      bytes,
      key,
      parse as AnswerParser<unknown>,
      what,
      timeout,
      outcome as Outcome<unknown, unknown> | undefined,
    );
    making = f;
    const promise = new Promise<unknown>(settleInto) as Promise<T>;
    making = undefined;
    // One deadline for the pipeline, at its earliest request, moved only when a request expires
    // earlier: not a deadline added and removed per request (each idle moment between a lone
    // caller's requests took the deadlines' timer's hold on the process and gave it back).
    const d = this.#deadline;
    if (d !== undefined && this.#clockReads >= CLOCK_READS && timeout >= this.#deadlineSpan) {
      // A busy line: the request is not timed here (a clock read was ~1.5k of a Modbus round
      // trip's ~35k instructions, callgrind); the deadline, armed at most `#deadlineSpan` ms
      // after the request, times it when it fires (see expireDue).
      f.at = UNTIMED;
    } else {
      const now = performance.now();
      f.at = now + timeout;
      // The line's CLOCK_READS-th timed request since the deadline last fired: the deadline
      // comes within a busy check, so that the requests not timed wait for it at most that long.
      let at = f.at;
      if (++this.#clockReads === CLOCK_READS) {
        this.#busyCheck = Math.max(1, timeout / BUSY_CHECKS);
        at = Math.min(at, now + this.#busyCheck);
      }
      if (d === undefined || at < d.at) {
        if (d !== undefined) deadlines.remove(d);
        this.#deadline = deadlines.add(at - now, checkDeadlines, this);
        this.#deadlineSpan = at - now;
      }
    }
    if (signal) this.#watch(signal, f);
    // One return, at the end: V8 weighs a call by where it returns when it decides to optimize
    // (an early return on the lone caller's path kept this interpreted for longer).
    if (
      this.#lone && this.#idle && this.#backlog.length === 0 && !this.#writing &&
      this.#host.waiters.length === 0
    ) {
      // A caller alone on the line (its last write carried one request, and nothing is in
      // flight or queued, no exchange waits): its request goes out now, not after a hop for
      // requests that would share its write — a lone caller's come one after another, never
      // together — and not through the backlog.
      this.#sendLone(f);
    } else if (!this.#fillQueued) {
      this.#backlog.push(f);
      // Requests made in the same turn (a Promise.all, or the callers woken by one read) go
      // out in one write.
      this.#fillQueued = true;
      // The backlog as it is now: the fill hops on only if more requests come before it runs
      // (a lone caller's request goes out at the first turn, not after a hop for nothing).
      this.#seen = this.#backlog.length;
      queueMicrotask(this.#fill);
    } else this.#backlog.push(f);
    return promise;
  }

  /**
   * The pipeline's deadline fired: requests past theirs expire, and it is set again for the
   * earliest left. A pipeline with nothing left keeps none (an idle one keeps its last until
   * then, or until it closes).
   */
  expireDue(): void {
    this.#deadline = undefined;
    const now = performance.now();
    // Requests not timed when made (see `request`) were made before now: timed from now, they
    // expire no earlier than their timeout, and at most the deadline's span later.
    const busy = this.#clockReads >= CLOCK_READS;
    this.#clockReads = 0;
    const due: Flight[] = [];
    for (const f of this.#backlog) {
      if (f.at === UNTIMED) f.at = now + f.timeout;
      if (f.at <= now) due.push(f);
    }
    for (const f of this.#flight) {
      if (f.at === UNTIMED) f.at = now + f.timeout;
      if (f.at <= now) due.push(f);
    }
    for (const f of due) this.#expire(f);
    let next = Infinity;
    for (const f of this.#backlog) if (f.at < next) next = f.at;
    for (const f of this.#flight) if (f.at < next) next = f.at;
    // A line still busy gets its next check now, not at its CLOCK_READS-th request: moving the
    // deadline then would leave this timer's wake-up to come for nothing (the runtime's timers
    // wake the process even when cleared; see timer.ts).
    if (busy && next < Infinity) next = Math.min(next, now + this.#busyCheck);
    if (next < Infinity && this.#deadline === undefined) {
      this.#deadline = deadlines.add(next - now, checkDeadlines, this);
      this.#deadlineSpan = next - now;
    }
  }

  /** Fails every request, queued or in flight (the line is closing). */
  close(reason: unknown): void {
    if (this.#deadline !== undefined) deadlines.remove(this.#deadline);
    this.#deadline = undefined;
    const backlog = this.#backlog;
    this.#backlog = [];
    for (const f of backlog) {
      this.#end(f);
      f.fail(reason);
    }
    this.#failAll(reason, reason);
  }

  /** Takes the lock if needed and sends what the window allows. */
  #send(): void {
    if (!this.#owns) {
      if (this.#asking || this.#backlog.length === 0) return;
      if (!this.#host.acquire(this.#owned)) {
        this.#asking = true;
        return;
      }
      this.#owned();
      return;
    }
    // An exchange waits for the line: nothing more goes out until the flight has landed. A
    // flight fuller than half the window is left to land first, so the requests that wait go
    // out several to a write (each write and read costs more than the request it carries).
    // (Asked once: sending queues no exchange.)
    const waiting = this.#host.waiters.length;
    if (waiting === 0 && this.#flight.length <= this.#window >> 1) {
      if (this.#idle && this.#backlog.length > 0) this.#wake();
      while (this.#flight.length < this.#window && this.#backlog.length > 0) {
        // The first: `pop` when it is the only one, as for a lone caller's every request —
        // `shift` to empty gave the list a new backing store at the next `push`.
        const backlog = this.#backlog;
        const f = (backlog.length === 1 ? backlog.pop() : backlog.shift())!;
        f.state = SENT;
        f.sentAfter = this.#heard;
        this.#flight.push(f);
        this.#out[this.#outCount++] = f;
      }
      if (this.#outCount > 0 && !this.#writing) this.#write();
    }
    // Requests in flight (every request's own send) end the function: V8 weighs a call by
    // where it returns when it decides to optimize.
    if (this.#flight.length === 0) this.#allLanded(waiting);
    else if (!this.#reading) this.#read();
  }

  /**
   * A lone caller's request on the line kept idle (see `request`): what {@linkcode #send} does
   * with a backlog of one, without the backlog (the lock is held, nothing is in flight or being
   * written, no exchange waits).
   */
  #sendLone(f: Flight): void {
    this.#wake();
    f.state = SENT;
    f.sentAfter = this.#heard;
    this.#flight.push(f);
    this.#out[this.#outCount++] = f;
    this.#write();
    if (!this.#reading) this.#read();
  }

  /**
   * The first request since the line was kept idle: what arrived meanwhile is stale (a stream
   * that is listened to queues nothing: only the framer may hold some).
   */
  #wake(): void {
    this.#idle = false;
    this.#host.framer.clear();
    if (!this.#listening) this.#host.stream.discard();
  }

  /** Nothing in flight after a send: the line is kept idle, or goes to the exchanges waiting. */
  #allLanded(waiting: number): void {
    // Nobody waiting: the pipeline keeps the line (still listening; what arrives meanwhile
    // answers nothing and is dropped), so a lone caller's next request goes out without taking
    // the lock and listening again; an exchange that asks for the line gets it at once (see
    // lineWanted).
    if (waiting === 0) {
      this.#idle = true;
      return;
    }
    this.#yieldLine();
    if (this.#backlog.length > 0) this.#send();
  }

  /**
   * An exchange asks for the line (the line's lock calls this when one queues): an idle
   * pipeline gives it up now; one with requests in flight or waiting does when they have landed.
   */
  lineWanted(): void {
    if (this.#owns && this.#flight.length === 0 && this.#backlog.length === 0) this.#yieldLine();
  }

  /** The line goes back to whoever waits, and its bytes to their reads. */
  #yieldLine(): void {
    if (this.#listening) this.#stopReading();
    this.#idle = false;
    this.#owns = false;
    this.#host.release();
  }

  /** The lock is ours: stale input out, then send. */
  readonly #owned = () => {
    this.#asking = false;
    this.#owns = true;
    this.#host.framer.clear();
    this.#host.stream.discard();
    this.#send();
  };

  #write(): void {
    const n = this.#outCount;
    const out = this.#out;
    const one = out[0]!;
    let bytes: Uint8Array;
    // The slots are emptied as they are copied (#dropOut, inline: every write comes here).
    if (n === 1 && one.outcome?.stamp === undefined) {
      bytes = one.bytes;
      out[0] = undefined;
    } else {
      let length = 0;
      for (let i = 0; i < n; i++) length += out[i]!.bytes.length;
      if (this.#outBuf.length < length) {
        this.#outBuf = new Uint8Array(Math.max(length, 2 * this.#outBuf.length));
        this.#outHolds = undefined;
      }
      bytes = this.#outBuf.length === length ? this.#outBuf : this.#outBuf.subarray(0, length);
      let at = 0;
      for (let i = 0; i < n; i++) {
        const f = out[i]!;
        const stamp = f.outcome?.stamp;
        // A template already at the buffer's start (a lone caller's every read) is only
        // stamped again, as a bare loop rewrites its request's transaction id.
        if (i !== 0 || f.bytes !== this.#outHolds || stamp === undefined) bytes.set(f.bytes, at);
        stamp?.(bytes, at, f.key);
        at += f.bytes.length;
        out[i] = undefined;
      }
      this.#outHolds = one.bytes;
    }
    this.#lone = n === 1;
    this.#outCount = 0;
    this.#writing = true;
    const stream = this.#host.stream;
    if (stream.writeThen) stream.writeThen(bytes, this.#writeIo, this.#writeEnds);
    else stream.write(bytes, this.#writeIo).then(this.#writeEnds.written, this.#writeEnds.failed);
  }

  /**
   * What a write's end does, made for each write cancel (at start and after every failure), not
   * for each write: a write of an earlier connection ending late finds another cancel and is
   * ignored.
   */
  #endsOf(cancel: Cancel): WriteEnds {
    return {
      written: () => {
        this.#writing = false;
        if (this.#outCount > 0 && cancel === this.#writeCancel) this.#write();
      },
      failed: (err) => {
        this.#writing = false;
        if (cancel !== this.#writeCancel) return;
        this.#dropOut();
        this.#failAll(err, err);
      },
    };
  }
  #writeEnds: WriteEnds;

  /**
   * Reads while requests are in flight: by listening to the stream where it can (its bytes
   * handed over as they arrive), else one stream read at a time; bytes are landed as they come,
   * then the line goes on (#send). A then-chain, not an async loop: an async frame per request
   * (each flight that lands ended the loop) was the pipeline's largest garbage.
   */
  #read(): void {
    this.#reading = true;
    const stream = this.#host.stream;
    if (stream.listen) {
      // The stream hands over its bytes as they arrive: no read call per answer.
      this.#listening = true;
      stream.listen(this.#listener);
      return;
    }
    const cancel = this.#readCancel;
    this.#host.stream.read(this.#readIo).then((chunk) => {
      if (cancel !== this.#readCancel) return;
      try {
        this.#received(chunk);
      } catch (err) {
        this.#readFailed(err);
        return;
      }
      if (cancel !== this.#readCancel) return;
      if (this.#flight.length > 0) this.#read();
      else {
        this.#reading = false;
        this.#send();
      }
    }, (err) => {
      if (cancel === this.#readCancel) this.#readFailed(err);
    });
  }

  /** Takes the stream's bytes while requests are in flight (streams that can `listen`). */
  readonly #listener: ByteListener = {
    data: (bytes, length) => {
      // Idle (the line kept between flights): nothing asked, nothing to answer.
      if (this.#flight.length === 0) return;
      try {
        this.#received(bytes, length);
      } catch (err) {
        this.#readFailed(err);
        return;
      }
      if (this.#flight.length > 0) return;
      // All landed, nothing queued or waiting: the line is kept idle as #send would keep it,
      // without the call (every lone caller's answer comes here).
      if (this.#backlog.length === 0 && this.#outCount === 0 && this.#host.waiters.length === 0) {
        this.#idle = true;
      } else this.#send();
    },
    end: (err) => {
      if (this.#listening) this.#readFailed(err);
    },
  };

  /** No more reads (or listening) for this flight. */
  #stopReading(): void {
    this.#reading = false;
    if (this.#listening) {
      this.#listening = false;
      this.#host.stream.unlisten!();
    }
  }

  /**
   * Lands what `chunk` completes — every whole answer held, decoded by its request's outcome —
   * sending what waits as the window makes room. One function for it all: it runs for every
   * answer, and cold (interpreted, a call costing more than the work) for the first hundreds.
   */
  #received(chunk: Uint8Array, length = chunk.length): void {
    const framer = this.#host.framer;
    // Parsed where they arrived (the stream's read buffer): only a part not whole yet is copied.
    framer.lend(chunk, length);
    this.#heard++;
    try {
      this.#land(framer);
    } finally {
      framer.keep();
    }
  }

  /** Lands every whole answer `framer` holds (see {@linkcode #received}). */
  #land(framer: Framer): void {
    for (;;) {
      for (;;) {
        const flight = this.#flight;
        const head = flight[0];
        if (head === undefined) break;
        const answer = head.parse(framer);
        if (answer === undefined) break;
        let i = 0;
        const key = answer.key;
        if (key >= 0) {
          // A loop, not findIndex: no closure per answer.
          while (i < flight.length && flight[i]!.key !== key) i++;
          if (i === flight.length) {
            this.strays++;
            continue;
          }
        }
        // The first as the backlog's is taken (see #send).
        const f = i !== 0
          ? flight.splice(i, 1)[0]!
          : (flight.length === 1 ? flight.pop() : flight.shift())!;
        f.state = DONE;
        if (f.signal) this.#unwatch(f);
        if (f.abandoned) continue;
        const outcome = f.outcome;
        if (outcome === undefined) {
          f.resolve(answer.value);
          continue;
        }
        let decoded: unknown;
        try {
          decoded = outcome.decode(answer.value);
        } catch (err) {
          f.reject(err);
          continue;
        }
        f.resolve(decoded);
      }
      // Room in the window for what waits; the bytes held may already answer it.
      const before = this.#flight.length;
      if (this.#backlog.length > 0) this.#send();
      if (this.#flight.length === before || framer.size === 0) return;
    }
  }

  /** The read failed (connection lost, bytes that are not an answer): the flight fails. */
  #readFailed(err: unknown): void {
    const host = this.#host;
    const e = err instanceof FramingError
      ? new DeviceError(`${host.label}: ${err.message}`, host.device, { cause: err })
      : err;
    this.#stopReading();
    this.#failAll(e, e);
    this.#send();
  }

  /** Forgets the bytes waiting to be written (their slots keep no request alive). */
  #dropOut(): void {
    // A loop, not fill(): most writes carry one request.
    const out = this.#out;
    for (let i = 0; i < this.#outCount; i++) out[i] = undefined;
    this.#outCount = 0;
  }

  /**
   * Fails `f` when `signal` aborts. A caller passes the same signal (Ctrl-C's, a task's) to
   * every request: one lasting listener per signal, not an add and a remove per request.
   */
  #watch(signal: AbortSignal, f: Flight): void {
    f.signal = signal;
    let flights = this.#watched.get(signal);
    if (!flights) {
      const set = flights = new Set<Flight>();
      this.#watched.set(signal, set);
      signal.addEventListener("abort", () => {
        this.#watched.delete(signal);
        for (const g of [...set]) this.#abort(g, signal.reason);
      }, { once: true });
    }
    flights.add(f);
  }

  #unwatch(f: Flight): void {
    const signal = f.signal!;
    f.signal = undefined;
    const flights = this.#watched.get(signal);
    flights?.delete(f);
    // A signal nobody uses any more is forgotten (its listener stays until it aborts or dies).
    if (flights?.size === 0 && this.#watched.size > 4) this.#watched.delete(signal);
  }

  #end(f: Flight): void {
    f.state = DONE;
    if (f.signal) this.#unwatch(f);
  }

  /** A request's deadline passed (see {@linkcode Pipeline.expireDue}). */
  #expire(f: Flight): void {
    if (f.state === DONE) return;
    const sent = f.state === SENT && this.#host.stream.connected;
    let err = this.#host.timeoutError(f.name(), f.timeout, f.state === SENT, sent, undefined);
    if (f.key < 0 && sent) {
      // In order, a command that got no answer makes every later one take the answer of the
      // command after it: the user must hear that the answers before this may be shifted.
      err = new TimeoutError(
        `${err.message}. With ${this.#window} queries in flight answers are matched in order: ` +
          `if an earlier command got no answer, the answers since then were each taken one ` +
          `command early — send only queries, or use a window of 1`,
        this.#host.device,
        { cause: err.cause },
      );
    }
    if (f.state === QUEUED) {
      this.#backlog.splice(this.#backlog.indexOf(f), 1);
      this.#end(f);
      f.fail(err);
      return;
    }
    if (f.key >= 0 && this.#heard > f.sentAfter) {
      // The device answers, just not this (lost, or dropped by a device that takes one request
      // at a time): drop it and keep the connection; a late answer is counted as a stray.
      this.#flight.splice(this.#flight.indexOf(f), 1);
      this.#end(f);
      f.fail(err);
      this.#send();
      return;
    }
    // Nothing heard since it went out (a dead connection), or answers in order (a late one
    // would be taken for the next request's): the connection is closed under the whole flight.
    // Not connected yet, nothing went out: every request fails for the connection, as this one.
    // The requests behind it fail with its timeout, not one of their own: whichever of them
    // reaches the user first (a read of several blocks awaits them all), the user hears the
    // first cause and what to check.
    const behind = !this.#host.stream.connected
      ? err
      : new UnansweredBefore(f.name(), f.timeout, err, this.#host.device);
    this.#failAll(err, behind, f);
  }

  /** The caller gave up on `f` (Ctrl-C, a stopped task). */
  #abort(f: Flight, reason: unknown): void {
    if (f.state === DONE) return;
    if (f.state === QUEUED) this.#backlog.splice(this.#backlog.indexOf(f), 1);
    else if (f.key >= 0) this.#flight.splice(this.#flight.indexOf(f), 1);
    else {
      // In order: its answer still comes and must be taken for it, not for the next request.
      f.abandoned = true;
      f.fail(reason);
      return;
    }
    this.#end(f);
    f.fail(reason);
    this.#send();
  }

  /**
   * The connection is suspect or gone: it is closed, `first` fails with `reason` and every other
   * request in flight with `others`; queued requests go out on the next connection.
   */
  #failAll(reason: unknown, others: unknown, first?: Flight): void {
    const flight = this.#flight;
    this.#flight = [];
    this.#dropOut();
    this.#readCancel.abort(reason);
    this.#writeCancel.abort(reason);
    this.#readCancel = new Cancel();
    this.#writeCancel = new Cancel();
    this.#readIo = { cancel: this.#readCancel };
    this.#writeIo = { cancel: this.#writeCancel };
    this.#writeEnds = this.#endsOf(this.#writeCancel);
    // The failed write may still hold the buffer: the next one gets its own.
    this.#outBuf = new Uint8Array(0);
    this.#outHolds = undefined;
    this.#stopReading();
    this.#writing = false;
    this.#host.framer.clear();
    if (!this.#host.stream.closed) this.#host.stream.reset();
    if (first) {
      this.#end(first);
      first.fail(reason);
    }
    for (const f of flight) {
      if (f === first) continue;
      this.#end(f);
      if (!f.abandoned) f.fail(others);
    }
    if (this.#owns) this.#send();
  }
}
