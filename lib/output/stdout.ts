/**
 * Writing data to stdout under the output contract: a closed pipe (`labwire stream | head -3`)
 * becomes a {@linkcode PipeClosed} error that `main.ts` turns into a quiet exit 0.
 *
 * @module
 */
import { onWakeWithin } from "../schedule/timer.ts";

/** Thrown when the reader of stdout has gone away; not a failure of labwire. */
export class PipeClosed extends Error {
  /** Creates the error. */
  constructor(options?: ErrorOptions) {
    super("stdout closed", options);
    this.name = "PipeClosed";
  }
}

const encoder = new TextEncoder();

/** The sink data is written to: stdout normally, an array in tests. */
export interface TextSink {
  /** Writes text; throws {@linkcode PipeClosed} when the reader is gone. */
  write(text: string): void;
}

/** Writes all of `text` to stdout synchronously, mapping a broken pipe to {@linkcode PipeClosed}. */
export function writeStdout(text: string): void {
  writeStdoutBytes(encoder.encode(text));
}

/** Writes all of `bytes` to stdout synchronously, mapping a broken pipe to {@linkcode PipeClosed}. */
export function writeStdoutBytes(bytes: Uint8Array): void {
  try {
    while (bytes.length > 0) {
      const n = Deno.stdout.writeSync(bytes);
      bytes = bytes.subarray(n);
    }
  } catch (err) {
    if (err instanceof Deno.errors.BrokenPipe || err instanceof Deno.errors.ConnectionReset) {
      throw new PipeClosed({ cause: err });
    }
    throw err;
  }
}

/** The process' stdout as a {@linkcode TextSink}. */
export const stdoutSink: TextSink = { write: writeStdout };

/** A sink that collects text in memory, for tests. */
export class MemorySink implements TextSink {
  /** Everything written so far. */
  text = "";
  /** Appends text. */
  write(text: string): void {
    this.text += text;
  }
}

/**
 * A sink that gathers what is written during one turn of the event loop and hands it to
 * `target` in one piece: `stream` of 10,000 devices wrote one line per system call, 10,000 calls
 * a second. Text reaches `target` at the latest a timer turn later — or `delayMs` after the
 * first write of a batch, for a writer whose lines come one per event-loop turn (`query`'s
 * answers, one per round trip) — or at once past `limit` characters, and on
 * {@linkcode BatchedSink.flush}. A runtime timer wakes the process when it expires even once
 * nobody listens to it, and a wake-up costs more than writing a batch, so a batch waits for the
 * last timer already armed that expires within its delay (`onWakeWithin`: the sampler's next
 * slot, an earlier batch's timer) and arms one of its own only when there is none (`stream` of
 * 1,000 gauges armed ~26 timers a second for batches that writes had already flushed, each a
 * wake-up). A write does not look at the clock: writing a batch early, when it is half its
 * delay old, saved no wake-up once batches ride on armed timers (the timer fires all the same),
 * and cost a clock read per line and a third more pipe writes, each waking the reader (`stream`
 * of 1,000 gauges: 2,000 clock reads and ~16 writes a second). A write that fails in the background
 * (a closed pipe) is thrown by the next `write` or `flush`. Without a `target` a batch is
 * one string grown by concatenation and encoded once into a reused byte buffer for stdout (an
 * `encodeInto` per line allocated more than the line: its result object and a view).
 *
 * @example
 * ```ts
 * import { BatchedSink } from "./stdout.ts";
 * const lines: string[] = [];
 * const sink = new BatchedSink((text) => lines.push(text));
 * sink.write("a\n");
 * sink.write("b\n");
 * sink.flush(); // lines: ["a\nb\n"]
 * ```
 */
export class BatchedSink implements TextSink {
  readonly #target: ((text: string) => void) | undefined;
  #parts: string[] = [];
  #text = "";
  #bytes: Uint8Array = new Uint8Array();
  #size = 0;
  /**
   * Cancels the background write of the batch waiting (see `onWakeWithin`, on the runtime's own
   * timers, not Node's `setTimeout`: `lib/schedule/timer.ts`); undefined while none waits. Until
   * the batch is written the process stays alive.
   */
  #timer: (() => void) | undefined;
  #error: unknown;

  /**
   * Writes batches to `target` (stdout by default), at once when `limit` characters wait, else
   * at the latest `delayMs` after a batch starts (0: the next timer turn).
   */
  constructor(
    target?: (text: string) => void,
    readonly limit = 64 * 1024,
    readonly delayMs = 0,
  ) {
    this.#target = target;
  }

  /** Queues text; throws the error of an earlier background write, if any. */
  write(text: string): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#target) this.#parts.push(text);
    else this.#text += text;
    this.#size += text.length;
    if (this.#size >= this.limit) this.flush();
    else if (this.#timer === undefined) this.#timer = onWakeWithin(this.delayMs, this.#background);
  }

  /** Writes everything queued now. */
  flush(): void {
    this.#timer?.();
    this.#timer = undefined;
    if (this.#error !== undefined) throw this.#error;
    try {
      if (this.#target) {
        if (this.#parts.length === 0) return;
        const text = this.#parts.length === 1 ? this.#parts[0]! : this.#parts.join("");
        this.#parts = [];
        this.#size = 0;
        this.#target(text);
      } else {
        if (this.#text === "") return;
        const text = this.#text;
        this.#text = "";
        this.#size = 0;
        // UTF-8 takes at most 3 bytes per UTF-16 unit.
        if (this.#bytes.length < text.length * 3) {
          this.#bytes = new Uint8Array(Math.max(text.length * 3, this.limit * 3 + 4096));
        }
        const { written } = encoder.encodeInto(text, this.#bytes);
        writeStdoutBytes(this.#bytes.subarray(0, written));
      }
    } catch (err) {
      this.#error = err;
      throw err;
    }
  }

  readonly #background = (): void => {
    this.#timer = undefined;
    try {
      this.flush();
    } catch {
      // Kept in #error: the next write or flush throws it where the caller can act on it.
    }
  };
}
