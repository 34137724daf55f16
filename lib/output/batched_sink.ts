/**
 * Writing output in batches, one write per event-loop turn or timer (`stream`, `query`, `monitor`
 * through `./readings.ts`), under the output contract of `./stdout.ts`.
 *
 * @module
 */
import { onWakeWithin } from "../schedule/timer.ts";
import { type TextSink, writeStdoutBytes } from "./stdout.ts";

const encoder = new TextEncoder();

/**
 * Texts of at least this many UTF-16 units are copied into a batch's bytes by one `encodeInto`
 * (its call, result and view cost about what the character loop spends on ~40 units); shorter
 * ones character by character.
 */
const ENCODE_WHOLE = 48;

/**
 * A sink that gathers what is written during one turn of the event loop and hands it to
 * `target` in one piece: `stream` of 10,000 devices wrote one line per system call, 10,000 calls
 * a second. Text reaches `target` at the latest a timer turn later - or `delayMs` after the
 * first write of a batch, for a writer whose lines come one per event-loop turn (`query`'s
 * answers, one per round trip) - or at once past `limit` characters, and on
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
 * UTF-8 in a reused byte buffer for stdout, each text copied in as it is written: a short ASCII
 * text character by character, a long one or anything else through one `encodeInto` (its result
 * object and view cost a short text more than the loop, a reading's values less). A batch used
 * to be one string grown by concatenation and encoded at the end, which flattened it first: a
 * copy of every line, the largest share of what `stream` allocated per reading for its output.
 * Text written in {@linkcode BatchedSink.part}s (a reading's line as the pieces it is made of) is
 * copied from those pieces, so no line is made at all.
 *
 * @example
 * ```ts
 * import { BatchedSink } from "./batched_sink.ts";
 * const lines: string[] = [];
 * const sink = new BatchedSink((text) => lines.push(text));
 * sink.write("a\n");
 * sink.write("b\n");
 * sink.flush(); // lines: ["a\nb\n"]
 * ```
 */
export class BatchedSink implements TextSink {
  readonly #target: ((text: string) => void) | undefined;
  readonly #out: (bytes: Uint8Array) => void;
  #parts: string[] = [];
  /** The batch as UTF-8 (without a target): bytes [0, #used). */
  #bytes: Uint8Array = new Uint8Array();
  #used = 0;
  /** UTF-16 units queued (what `limit` counts). */
  #size = 0;
  /**
   * Cancels the background write of the batch waiting (see `onWakeWithin`, on the runtime's own
   * timers, not Node's `setTimeout`: `lib/schedule/timer.ts`); undefined while none waits. Until
   * the batch is written the process stays alive.
   */
  #timer: (() => void) | undefined;
  #error: unknown;
  /** A high surrogate that ended the text queued last, held for its low half ({@linkcode part}). */
  #high = "";

  /**
   * Writes batches to `target` (stdout by default), at once when `limit` characters wait, else
   * at the latest `delayMs` after a batch starts (0: the next timer turn). Without a `target`,
   * `out` takes the batch's bytes (stdout's synchronous write by default; tests collect them).
   */
  constructor(
    target?: (text: string) => void,
    readonly limit = 64 * 1024,
    readonly delayMs = 0,
    out: (bytes: Uint8Array) => void = writeStdoutBytes,
  ) {
    this.#target = target;
    this.#out = out;
  }

  /** Queues text; throws the error of an earlier background write, if any. */
  write(text: string): void {
    this.part(text);
    if (this.#size >= this.limit) this.flush();
    else if (this.#timer === undefined) this.#timer = onWakeWithin(this.delayMs, this.#background);
  }

  /**
   * Queues `text`'s units [from, to) as the start of a write that a {@linkcode write} ends (and
   * only then may the batch go out): one line written as its pieces, without making the line.
   * Throws the error of an earlier background write, if any.
   */
  part(text: string, from = 0, to: number = text.length): void {
    if (this.#error !== undefined) throw this.#error;
    // A character outside the BMP (an emoji in a device's string) is two UTF-16 units; text cut
    // between them and encoded in two pieces would be two U+FFFD. A high surrogate that ends a
    // text waits for the low one the next text starts with, also across a flush.
    if (this.#high !== "") {
      if (from === to) return;
      const high = this.#high;
      this.#high = "";
      const c = text.charCodeAt(from);
      if (c >= 0xdc00 && c <= 0xdfff) {
        this.#queue(high + text[from], 0, 2);
        from++;
      } else {
        this.#queue(high, 0, 1); // a lone surrogate: U+FFFD, as the encoder makes it
      }
    }
    if (to > from) {
      const last = text.charCodeAt(to - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        this.#high = text[to - 1]!;
        to--;
      }
    }
    this.#queue(text, from, to);
  }

  /** Queues `text`'s units [from, to), which start and end on whole characters. */
  #queue(text: string, from: number, to: number): void {
    this.#size += to - from;
    if (this.#target) {
      this.#parts.push(from === 0 && to === text.length ? text : text.slice(from, to));
      return;
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (this.#bytes.length - this.#used < (to - from) * 3) this.#grow((to - from) * 3);
    const bytes = this.#bytes;
    let used = this.#used;
    if (to - from >= ENCODE_WHOLE) {
      // One native copy: a reading's values (~200 units a line) cost ~4.6k instructions more
      // through the loop below (~45 a unit) than through one `encodeInto` and its view.
      const piece = from === 0 && to === text.length ? text : text.slice(from, to);
      this.#used = used + encoder.encodeInto(piece, bytes.subarray(used)).written;
      return;
    }
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x80) {
        bytes[used++] = c;
        continue;
      }
      used += encoder.encodeInto(text.slice(i, to), bytes.subarray(used)).written;
      break;
    }
    this.#used = used;
  }

  /** Makes room for `more` bytes past those queued. */
  #grow(more: number): void {
    const size = Math.max(this.#used + more, this.limit * 3 + 4096, this.#bytes.length * 2);
    const bytes = new Uint8Array(size);
    bytes.set(this.#bytes.subarray(0, this.#used));
    this.#bytes = bytes;
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
        if (this.#used === 0) return;
        const used = this.#used;
        this.#used = 0;
        this.#size = 0;
        this.#out(this.#bytes.subarray(0, used));
      }
    } catch (err) {
      this.#error = err;
      throw err;
    }
  }

  /**
   * Writes everything queued, as the last write: a high surrogate held for its low half goes out
   * alone (U+FFFD in bytes, as `TextEncoder` makes it), since no text will follow to complete it.
   */
  end(): void {
    if (this.#error === undefined && this.#high !== "") {
      const high = this.#high;
      this.#high = "";
      this.#queue(high, 0, 1);
    }
    this.flush();
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
