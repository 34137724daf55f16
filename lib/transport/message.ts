/**
 * The message layer over any {@linkcode ByteStream} (TCP, serial line, PTY): commands with a
 * write termination, answers split at a read termination, `query` with a deadline, SCPI binary
 * blocks, an optional minimum delay between commands, and exactly one exchange in flight per
 * line — concurrent callers queue in FIFO order and never interleave, which is what lets several
 * devices share one line (Alicat units A–Z on one RS-485 bus).
 *
 * How to use it:
 * ```ts ignore
 * import { MessageLine } from "./message.ts";
 * import { openTcp } from "./tcp.ts";
 * const line = new MessageLine(openTcp("10.0.0.7", 5025), { readTermination: "\n" });
 * await line.query("*IDN?", { timeout: 1000 });   // "Keysight Technologies,34465A,…"
 * await line.write("CONF:VOLT:DC 10");
 * const bytes = await line.queryBlock("CURV?");    // the data of "#<n><len><data>"
 * // Pfeiffer's ACK/ENQ: several steps with nobody else on the line in between.
 * const p = await line.exchange(async (io) => {
 *   if ((await io.query("PR1")) !== "\x06") throw new Error("NAK");
 *   return await io.query("\x05");
 * });
 * line.close();
 * ```
 * Devices that share a port get the same line through `sharedLine` (`shared_line.ts`, or `openLine`
 * in `open.ts`), keyed by port; `close()` is counted, the last user closes the stream.
 *
 * Stale input: anything that arrived before an exchange starts cannot be its answer and is
 * dropped. After a timeout the line is suspect: a stream that can re-open cheaply (TCP) is closed
 * so a late answer dies with the old connection; otherwise (serial) the OS input is flushed and
 * the next exchange first waits for `quiet` ms of silence, dropping what still trickles in.
 *
 * @module
 */
import { DeviceError, TimeoutError } from "../device/errors.ts";
import { decodeText, encodeText, type Encoding, Framer, FramingError } from "./framing.ts";
import type { ByteListener, ByteStream, IoOptions } from "./byte_stream.ts";
import { ReopeningStream } from "./stream.ts";
import { sleep } from "./abortable.ts";
import { deadlines } from "./deadline.ts";
import { type AnswerParser, type Keyed, type Outcome, Pipeline } from "./pipeline.ts";
import { FifoLock, Turn } from "./line_turn.ts";
import { SignalWatch } from "./signal_watch.ts";
import { lineTimeoutError, quoteCommand } from "./line_errors.ts";

/** How a line talks: terminations, encoding, default deadline, pacing. */
export interface LineOptions {
  /** Appended to every command (default `"\n"`). */
  writeTermination?: string;
  /** Ends every answer (default `"\n"`); a trailing `"\r"` before a `"\n"` is always stripped. */
  readTermination?: string;
  /** Text encoding (default `"ascii"`). */
  encoding?: Encoding;
  /** Default deadline of an exchange, ms (default 2000). */
  timeout?: number;
  /** Least time between the end of one command and the start of the next, ms (default 0). */
  minDelay?: number;
  /** Silence that ends the flush after a timeout, ms (default 20). */
  quiet?: number;
  /** After a timeout, close the stream (true: TCP) or flush it (false: serial). Default true. */
  resetOnTimeout?: boolean;
  /** Device name carried by errors. */
  device?: string;
  /**
   * Requests sent ahead of their answers (default 1: one exchange at a time). Above 1, queries
   * and keyed requests made while others are in flight go out at once, several in one write,
   * and their answers are matched in order (or by key): see `pipeline.ts`. Only where a
   * timeout closes the stream (TCP) and without `minDelay`; otherwise 1.
   */
  window?: number;
}

/** Options of one query. */
export interface QueryOptions extends IoOptions {
  /** Answers for which this returns false are skipped (another unit's answer on a shared bus). */
  expect?: (answer: string) => boolean;
}

/** What an {@linkcode MessageLine.exchange} step can do while it owns the line. */
export interface LineIO {
  /** The exchange's deadline and cancellation; pass it on to anything else awaited. */
  readonly signal: AbortSignal;
  /** Sends `cmd` + write termination. */
  write(cmd: string): Promise<void>;
  /** Sends raw bytes (no termination). */
  writeBytes(bytes: Uint8Array): Promise<void>;
  /** Reads one answer line (without its termination). */
  readLine(expect?: (answer: string) => boolean): Promise<string>;
  /** Reads one binary block (`#<n><len><data>` or `#0…`), returning its data. */
  readBlock(): Promise<Uint8Array>;
  /** Reads exactly `n` bytes (a binary answer of known size, no termination). */
  readBytes(n: number): Promise<Uint8Array>;
  /** Sends `cmd` and reads one line. */
  query(cmd: string, expect?: (answer: string) => boolean): Promise<string>;
}

/** A query waiting for its answer line while the line listens to its stream. */
interface AwaitedLine {
  turn: Turn;
  expect: ((answer: string) => boolean) | undefined;
  resolve: (text: string) => void;
  reject: (err: unknown) => void;
}

/** A deadline's call: one function for every exchange, the turn as `this` (no closure each). */
function expireTurn(this: Turn): void {
  this.expire();
}

/** One message-based line: FIFO-locked exchanges over a byte stream. */
export class MessageLine {
  readonly stream: ByteStream;
  readonly writeTermination: string;
  readonly readTermination: string;
  readonly encoding: Encoding;
  readonly timeout: number;
  readonly minDelay: number;
  readonly #quiet: number;
  readonly #resetOnTimeout: boolean;
  readonly #device?: string;
  readonly #term: Uint8Array;
  readonly #framer = new Framer();
  /** One exchange at a time, the others queued in order. */
  readonly #lock = new FifoLock();
  #dirty = false;
  #lastWrite = 0;
  #users = 1;
  #onClose: (() => void) | undefined;
  #lastCmd: string | undefined;
  #lastBytes: Uint8Array = new Uint8Array();
  #strays = 0;
  /** The stream takes `{ cancel }` (no AbortSignal per exchange; see `cancel.ts`). */
  readonly #takesCancel: boolean;
  /** Requests in flight ahead of their answers, when `window` > 1. */
  readonly #pipeline: Pipeline | undefined;
  /** Callers' signals watched by one lasting listener each, with their exchanges running now. */
  readonly #outers = new SignalWatch();

  /** Wraps a stream; the line owns it and closes it on the last `close()`. */
  constructor(stream: ByteStream, opts: LineOptions = {}) {
    this.stream = stream;
    this.writeTermination = opts.writeTermination ?? "\n";
    this.readTermination = opts.readTermination ?? "\n";
    this.encoding = opts.encoding ?? "ascii";
    this.timeout = opts.timeout ?? 2000;
    this.minDelay = opts.minDelay ?? 0;
    this.#quiet = opts.quiet ?? 20;
    this.#resetOnTimeout = opts.resetOnTimeout ?? true;
    this.#device = opts.device;
    this.#term = encodeText(this.readTermination, "latin1");
    this.#takesCancel = stream instanceof ReopeningStream;
    const window = this.#resetOnTimeout && this.minDelay === 0
      ? Math.max(1, Math.floor(opts.window ?? 1))
      : 1;
    this.window = window;
    if (window > 1) {
      const pipeline = new Pipeline(this.#pipelineHost(), window);
      this.#pipeline = pipeline;
      this.#lock.onQueue = () => pipeline.lineWanted();
    }
  }

  /** Requests sent ahead of their answers (1: one exchange at a time). */
  readonly window: number;

  /** Answers that matched no request in flight (late answers of requests that timed out). */
  get strays(): number {
    return this.#strays + (this.#pipeline?.strays ?? 0);
  }

  /** What the pipeline uses of this line: its stream, framer, lock and wording. */
  #pipelineHost() {
    const lock = this.#lock;
    return {
      stream: this.stream,
      framer: this.#framer,
      label: this.stream.label,
      device: this.#device,
      acquire: (owned: () => void): boolean => lock.acquire(owned),
      release: () => lock.release(),
      waiters: lock.waiters,
      timeoutError: (
        what: string,
        timeout: number,
        acquired: boolean,
        sent: boolean,
        cause: unknown,
      ) => this.#timeoutError(what, timeout, acquired, 0, sent, cause),
    };
  }

  /** The stream's label, e.g. `tcp://10.0.0.7:5025`. */
  get label(): string {
    return this.stream.label;
  }

  /** Exchanges waiting for the line (not counting the one in flight). */
  get waiting(): number {
    return this.#lock.waiters.length;
  }

  /** Sends `cmd` and returns the answer line (termination and a trailing CR removed). */
  query(cmd: string, opts: QueryOptions = {}): Promise<string> {
    if (this.#pipeline && !opts.expect) {
      let bytes: Uint8Array;
      try {
        bytes = this.#encode(cmd);
      } catch (err) {
        // What the exchange path says of a command that cannot be encoded.
        return Promise.reject(
          new DeviceError(
            `${this.label}: ${quoteCommand(cmd)}: ${(err as Error).message}`,
            this.#device,
            {
              cause: err,
            },
          ),
        );
      }
      return this.#pipeline.request(
        bytes,
        -1,
        this.#nextLine,
        opts.timeout ?? this.timeout,
        opts.signal,
        cmd,
      );
    }
    // The hot path of every poll: no LineIO object, the command's bytes cached, thens instead
    // of async frames (each frame and await is ~0.3 KB of garbage per query).
    const expect = opts.expect;
    return this.#run(cmd, opts, (turn) => {
      const bytes = this.#encode(cmd);
      if (this.minDelay > 0) {
        return this.#send(bytes, turn).then(() => this.#answerLine(turn, expect));
      }
      return this.stream.write(bytes, turn.io).then(() => {
        turn.sent = true;
        return this.#answerLine(turn, expect);
      });
    });
  }

  /**
   * The next answer line that `expect` accepts, as it arrives: a stream that can `listen` hands
   * its bytes over as the pump reads them (no read call, copy or promise per arrival: one
   * promise per answer); another is read.
   */
  #answerLine(turn: Turn, expect?: (answer: string) => boolean): string | Promise<string> {
    const text = this.#takeLine(expect);
    if (text !== undefined) return text;
    const stream = this.stream;
    if (!stream.listen) {
      return stream.read(turn.io).then((chunk) => {
        this.#framer.push(chunk);
        return this.#answerLine(turn, expect);
      });
    }
    // Aborted since the write went out (a hook set now would never be called).
    if (turn.cancel.aborted) return Promise.reject(turn.cancel.reason);
    return new Promise<string>((resolve, reject) => {
      this.#awaited = { turn, expect, resolve, reject };
      turn.cancel.hook(this.#stopAwaiting);
      stream.listen!(this.#answers);
    });
  }

  /** The query waiting for its answer line while the line listens (see #answerLine). */
  #awaited: AwaitedLine | undefined;

  /** Takes the stream's bytes while a query waits for its answer line. */
  readonly #answers: ByteListener = {
    data: (bytes, length) => {
      const awaited = this.#awaited;
      if (awaited === undefined) return;
      let text: string | undefined;
      try {
        this.#framer.push(bytes, length);
        text = this.#takeLine(awaited.expect);
      } catch (err) {
        this.#stopAwaiting(err);
        return;
      }
      if (text === undefined) return;
      this.#unlisten(awaited);
      awaited.resolve(text);
    },
    end: (err) => this.#stopAwaiting(err),
  };

  /** The wait for an answer line ends with `reason` (deadline, abort, connection lost). */
  readonly #stopAwaiting = (reason: unknown): void => {
    const awaited = this.#awaited;
    if (awaited === undefined) return;
    this.#unlisten(awaited);
    awaited.reject(reason);
  };

  #unlisten(awaited: AwaitedLine): void {
    this.#awaited = undefined;
    awaited.turn.cancel.unhook(this.#stopAwaiting);
    this.stream.unlisten!();
  }

  /** The next answer line, in order (the pipeline's parser of text answers). */
  readonly #nextLine: AnswerParser<string> = () => {
    const text = this.#takeLine();
    if (text === undefined) return undefined;
    // One object for every answer: the pipeline reads it at once (no garbage per answer).
    this.#inOrder.value = text;
    return this.#inOrder;
  };
  readonly #inOrder: Keyed<string> = { key: -1, value: "" };

  /**
   * Sends raw `bytes` and returns the answer `parse` finds for `key` (a binary protocol whose
   * answers carry their request's key, e.g. Modbus TCP's transaction id). With `window` > 1 it
   * goes out without waiting for the answers in flight; otherwise as {@linkcode request}, where
   * answers with another key are dropped (counted in {@linkcode strays}). With `outcome`, the
   * answer is decoded as it is found (it may be a view into the receive buffer) and failures
   * are worded by it; a decoding error is the caller's, not the line's (the line is kept).
   */
  send<V, T = V>(
    bytes: Uint8Array,
    key: number,
    parse: AnswerParser<V>,
    opts: IoOptions = {},
    what: string | (() => string) = "request",
    outcome?: Outcome<V, T>,
  ): Promise<T> {
    const timeout = opts.timeout ?? this.timeout;
    // The pipelined send returns last: V8 weighs a call by where it returns when it decides to
    // optimize, and a poll's every read comes here.
    const pipeline = this.#pipeline;
    if (pipeline === undefined) {
      return this.#sendAlone(bytes, key, parse, opts, what, timeout, outcome);
    }
    return pipeline.request(bytes, key, parse, timeout, opts.signal, what, outcome);
  }

  /** {@linkcode send} on a line of one exchange at a time. */
  #sendAlone<V, T>(
    bytes: Uint8Array,
    key: number,
    parse: AnswerParser<V>,
    opts: IoOptions,
    what: string | (() => string),
    timeout: number,
    outcome: Outcome<V, T> | undefined,
  ): Promise<T> {
    if (outcome === undefined) {
      return this.request(
        bytes,
        (framer) => this.#keyedAnswer(framer, parse, key),
        opts,
        what,
      ) as Promise<unknown> as Promise<T>;
    }
    if (outcome.stamp) {
      // A template: this request's copy, with its own fields.
      bytes = bytes.slice();
      outcome.stamp(bytes, 0, key);
    }
    // Decoded while the answer is in the buffer, thrown after the exchange: an exception
    // answer is the caller's error, no reason to reset the line.
    let decoded: { value: T } | { err: unknown } | undefined;
    return this.request(
      bytes,
      (framer) => {
        const a = this.#keyedAnswer(framer, parse, key);
        if (a === undefined) return undefined;
        try {
          decoded = { value: outcome.decode(a) };
        } catch (err) {
          decoded = { err };
        }
        return true;
      },
      opts,
      what,
    ).then(() => {
      if ("err" in decoded!) throw decoded.err;
      return decoded!.value;
    }, (err) => {
      throw outcome.failed(err, timeout);
    });
  }

  /** The next answer `parse` finds for `key` (others are counted as strays and dropped). */
  #keyedAnswer<V>(framer: Framer, parse: AnswerParser<V>, key: number): V | undefined {
    for (;;) {
      const a = parse(framer);
      if (a === undefined) return undefined;
      if (a.key === key) return a.value;
      this.#strays++;
    }
  }

  /** Sends `cmd` and returns the data of the binary block it answers with. */
  queryBlock(cmd: string, opts: IoOptions = {}): Promise<Uint8Array> {
    return this.exchange(
      async (io) => {
        await io.write(cmd);
        return await io.readBlock();
      },
      opts,
      cmd,
    );
  }

  /** Sends `cmd` (no answer expected). */
  write(cmd: string, opts: IoOptions = {}): Promise<void> {
    return this.#run(cmd, opts, (turn) => this.#send(this.#encode(cmd), turn));
  }

  /**
   * Sends raw `bytes` and returns the answer `take` finds in what arrives: it is called with the
   * line's framer after every arrival and returns undefined until a whole answer is there
   * (a binary protocol's framing, e.g. Modbus TCP's MBAP header and length). The hot path of
   * binary polls, like {@linkcode MessageLine.query}'s for text: one async frame, no
   * {@linkcode LineIO}. `what` names the request in errors; a function is called only then.
   */
  request<T>(
    bytes: Uint8Array,
    take: (framer: Framer) => T | undefined,
    opts: IoOptions = {},
    what: string | (() => string) = "request",
  ): Promise<T> {
    return this.#run(what, opts, async (turn) => {
      if (this.minDelay > 0) await this.#send(bytes, turn);
      else {
        await this.stream.write(bytes, turn.io);
        turn.sent = true;
      }
      for (;;) {
        const answer = take(this.#framer);
        if (answer !== undefined) return answer;
        this.#framer.push(await this.stream.read(turn.io));
      }
    });
  }

  /**
   * Runs `fn` with the line to itself, within one deadline: nobody else's command can come in
   * between its steps. `what` names the exchange in errors (a function is called only then).
   */
  exchange<T>(
    fn: (io: LineIO) => Promise<T>,
    opts: IoOptions = {},
    what: string | (() => string) = "exchange",
  ): Promise<T> {
    return this.#run(what, opts, (turn) => {
      const io: LineIO = {
        get signal() {
          return turn.cancel.signal;
        },
        write: (cmd) => this.#send(this.#encode(cmd), turn),
        writeBytes: (bytes) => this.#send(bytes, turn),
        readLine: (expect) => this.#readUntil(() => this.#takeLine(expect), turn),
        readBlock: () => this.#readUntil(() => this.#framer.block(this.#term), turn),
        readBytes: (n) => this.#readUntil(() => this.#framer.bytes(n), turn),
        query: async (cmd, expect) => {
          await this.#send(this.#encode(cmd), turn);
          return await this.#readUntil(() => this.#takeLine(expect), turn);
        },
      };
      return fn(io);
    });
  }

  /** The bytes of `cmd` + write termination (the last one cached: polls repeat themselves). */
  #encode(cmd: string): Uint8Array {
    if (cmd !== this.#lastCmd) {
      this.#lastBytes = encodeText(cmd + this.writeTermination, this.encoding);
      this.#lastCmd = cmd;
    }
    return this.#lastBytes;
  }

  /**
   * Runs `body` with the line locked, within one deadline. A free, clean line (every poll's
   * case) runs it at once and ends it in one `then`: no async frame per exchange (~1 KB of
   * garbage per query); a line that is busy or must settle first waits in {@linkcode #runQueued}.
   */
  #run<T>(
    name: string | (() => string),
    opts: IoOptions,
    body: (turn: Turn) => Promise<T>,
  ): Promise<T> {
    const turn = new Turn(this.#takesCancel, name, opts.timeout ?? this.timeout, opts.signal);
    turn.deadline = deadlines.add(turn.timeout, expireTurn, turn);
    if (turn.outer) this.#outers.watch(turn.outer, turn.cancel);
    const lock = this.#lock;
    turn.ahead = lock.waiters.length + (lock.busy ? 1 : 0);
    if (turn.cancel.aborted || (this.#dirty && this.stream.connected) || !lock.take()) {
      return this.#runQueued(turn, body);
    }
    turn.acquired = true;
    this.#start();
    let running: Promise<T>;
    try {
      running = body(turn);
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.then((value) => {
      this.#end(turn);
      return value;
    }, (err) => {
      throw this.#failed(turn, err);
    });
  }

  /** {@linkcode #run} when the line is busy, must settle first, or the call is already aborted. */
  async #runQueued<T>(turn: Turn, body: (turn: Turn) => Promise<T>): Promise<T> {
    let value: T;
    try {
      if (turn.cancel.aborted) throw turn.cancel.reason;
      if (!this.#lock.take()) await this.#lock.queue(turn.cancel);
      turn.acquired = true;
      if (this.#dirty && this.stream.connected) await this.#settle(turn);
      this.#start();
      value = await body(turn);
    } catch (err) {
      throw this.#failed(turn, err);
    }
    this.#end(turn);
    return value;
  }

  /** The line is ours: anything that arrived before now cannot be this exchange's answer. */
  #start(): void {
    this.#dirty = false;
    this.#framer.clear();
    this.stream.discard();
  }

  /** The exchange is over: its deadline, its caller's signal and the lock are let go. */
  #end(turn: Turn): void {
    deadlines.remove(turn.deadline!);
    if (turn.outer) this.#outers.unwatch(turn.outer, turn.cancel);
    if (turn.acquired) this.#lock.release();
  }

  /** The exchange failed with `err`: ends it and returns what its caller is told. */
  #failed(turn: Turn, err: unknown): unknown {
    const outer = turn.outer;
    let out = err;
    if (outer?.aborted && !turn.timedOut) out = outer.reason ?? err;
    else if (turn.timedOut) {
      out = this.#timeoutError(
        turn.what(),
        turn.timeout,
        turn.acquired,
        turn.ahead,
        turn.sent,
        err,
      );
    } else if (err instanceof FramingError) {
      out = new DeviceError(
        `${this.label}: ${quoteCommand(turn.what())}: ${err.message}`,
        this.#device,
        { cause: err },
      );
    }
    if (turn.acquired) this.#suspect();
    this.#end(turn);
    return out;
  }

  /** Gives up one use; the last one closes the stream. */
  close(): void {
    if (this.#users <= 0) return;
    this.#users--;
    if (this.#users > 0) return;
    this.#outers.clear();
    this.#onClose?.();
    this.#pipeline?.close(new DeviceError(`${this.label}: closed`, this.#device));
    this.stream.close();
  }

  /** One more user of a shared line (see `sharedLine` in `shared_line.ts`). */
  retain(onLastClose?: () => void): this {
    this.#users++;
    if (onLastClose) this.#onClose = onLastClose;
    return this;
  }

  /** True once every user closed it. */
  get closed(): boolean {
    return this.#users <= 0;
  }

  /** The error of an exchange whose deadline fired (see `line_errors.ts`). */
  #timeoutError(
    what: string,
    timeout: number,
    acquired: boolean,
    ahead: number,
    sent: boolean,
    cause: unknown,
  ): TimeoutError {
    return lineTimeoutError({
      label: this.label,
      address: this.stream.address,
      what,
      timeout,
      acquired,
      ahead,
      sent,
      framer: this.#framer,
      readTermination: this.readTermination,
      device: this.#device,
      connected: this.stream.connected,
    }, cause);
  }

  /** After a timeout on a line that was not closed: waits for quiet, dropping what trickles in. */
  async #settle(turn: Turn): Promise<void> {
    this.#dirty = false;
    for (;;) {
      try {
        await this.stream.read({ ...turn.io, timeout: this.#quiet });
      } catch (err) {
        if (err instanceof TimeoutError && !turn.cancel.aborted) break;
        throw err;
      }
    }
  }

  #suspect(): void {
    this.#framer.clear();
    if (this.#resetOnTimeout) this.stream.reset();
    else {
      this.stream.discard();
      this.#dirty = true;
    }
  }

  async #send(bytes: Uint8Array, turn: Turn): Promise<void> {
    if (this.minDelay > 0) {
      const wait = this.#lastWrite + this.minDelay - performance.now();
      if (wait > 0) await sleep(wait, turn.cancel.signal);
      await this.stream.write(bytes, turn.io);
      this.#lastWrite = performance.now();
    } else await this.stream.write(bytes, turn.io);
    turn.sent = true;
  }

  /** Reads until `take` finds a whole answer in what arrived (an exchange's reads). */
  async #readUntil<T>(take: () => T | undefined, turn: Turn): Promise<T> {
    for (;;) {
      const answer = take();
      if (answer !== undefined) return answer;
      this.#framer.push(await this.stream.read(turn.io));
    }
  }

  /** The next complete answer line received that `expect` accepts, if any. */
  #takeLine(expect?: (answer: string) => boolean): string | undefined {
    for (;;) {
      // A view, decoded before anything else is pushed.
      const raw = this.#framer.lineView(this.#term);
      if (raw === undefined) return undefined;
      let text = decodeText(raw, this.encoding);
      if (text.endsWith("\r") && this.readTermination.endsWith("\n")) text = text.slice(0, -1);
      if (!expect || expect(text)) return text;
    }
  }
}
