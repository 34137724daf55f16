/**
 * A bounded ring of sample rows in shared memory, from the thread that records to the session
 * writer's worker: rows are (t, attr id, value) float64 triples, a text row's value being the
 * length of its UTF-8 bytes in a second ring. One thread puts and publishes, the other drains;
 * nothing is allocated or posted per row or per flush (a posted page cost the thread answering
 * requests ~1.1 µs per recorded `GET /read`, and its arrays, freed only by the worker's rare
 * collections, grew `monitor`'s memory).
 *
 * The draining side drains on its own clock while rows come and sleeps on a doorbell when a
 * period brought none; the putting side rings the doorbell only for a sleeping reader. A ring
 * per timed flush (`Atomics.notify`, 40 a second) cost the thread answering requests ~0.1 ms
 * each, up to 12–27 ms when the woken thread held V8's wait list on a busy machine. The draining
 * side waits synchronously (`Atomics.wait`, between drains with a timeout): a Deno worker woken
 * from a 100 ms `Atomics.wait` is charged ~0.25 ms of CPU on this project's VMs, from its event
 * loop's timer ~0.65 ms. So whoever posts it a message knocks too ({@linkcode RingDoor}).
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import { textOf } from "./value_codec.ts";

// Control words (Int32): what the putting side published, what the draining side consumed,
// the doorbell the draining side waits on, whether it sleeps (1: it waits for the bell before it
// drains again; it starts so, until the putting side takes it as started), the messages posted
// to it (it leaves its wait to take them), whether it must stop waiting for good, and where
// the text bytes it consumed end.
const HEAD = 0;
const TAIL = 1;
const BELL = 2;
const SLEEP = 3;
const POSTED = 4;
const STOP = 5;
const BYTE_TAIL = 6;
const CONTROL_WORDS = 7;

/**
 * Writes the row at `i` of a number, a boolean or null (as a number: SQLite stores NaN as NULL
 * anyway); false for a value stored as text, left to the caller. Shared by `add` and
 * `putValues` (small enough for V8 to inline into both).
 */
function putScalar(rows: Float64Array, i: number, attrId: number, v: Value): boolean {
  if (typeof v === "number") {
    rows[i + 1] = attrId;
    rows[i + 2] = v;
    return true;
  }
  if (v === null || typeof v === "boolean") {
    rows[i + 1] = attrId;
    rows[i + 2] = v === null ? NaN : v ? 1 : 0;
    return true;
  }
  return false;
}

/** The shared memory of a ring (cloned to the worker; both sides view the same bytes). */
export interface RingMemory {
  /** Control words. */
  control: SharedArrayBuffer;
  /**
   * Rows: float64 (t, id, value) triples; a text row has id `-1 - attrId` and as value its
   * byte count, or -1 for the same text as that attribute's previous row in the ring.
   */
  rows: SharedArrayBuffer;
  /** Text rows' UTF-8 bytes, in row order. */
  bytes: SharedArrayBuffer;
}

/** Sizes of a ring. */
export interface RingSize {
  /** Rows it holds (default 65,536: 1.5 MB). */
  rows?: number;
  /** Bytes of text it holds (default 512 kB); a longer text does not go through the ring. */
  bytes?: number;
}

/**
 * Positions run modulo a multiple of the capacity below 2^30, so an Int32 holds them and
 * `(head - tail) mod span` tells a full ring from an empty one.
 */
function spanOf(capacity: number): number {
  return capacity * Math.floor(2 ** 30 / capacity);
}

/** Allocates the shared memory of a ring. */
export function ringMemory(size: RingSize = {}): RingMemory {
  const rows = Math.max(1, Math.floor(size.rows ?? 65_536));
  const bytes = Math.max(1, Math.floor(size.bytes ?? 512 * 1024));
  const control = new SharedArrayBuffer(4 * CONTROL_WORDS);
  new Int32Array(control)[SLEEP] = 1;
  return {
    control,
    rows: new SharedArrayBuffer(24 * rows),
    bytes: new SharedArrayBuffer(bytes),
  };
}

/** What both sides of a ring view: its control words, rows and text bytes, and their sizes. */
abstract class RingSide {
  protected readonly control: Int32Array;
  protected readonly rows: Float64Array;
  protected readonly bytes: Uint8Array;
  /** Rows the ring holds. */
  protected readonly cap: number;
  /** Positions of rows run modulo this (see spanOf). */
  protected readonly span: number;
  /** Text bytes the ring holds. */
  protected readonly byteCap: number;
  /** Positions of text bytes run modulo this. */
  protected readonly byteSpan: number;

  /** Views the shared memory of a ring. */
  constructor(memory: RingMemory) {
    this.control = new Int32Array(memory.control);
    this.rows = new Float64Array(memory.rows);
    this.bytes = new Uint8Array(memory.bytes);
    this.cap = this.rows.length / 3;
    this.span = spanOf(this.cap);
    this.byteCap = this.bytes.length;
    this.byteSpan = spanOf(this.byteCap);
  }
}

/** The recording thread's side: puts rows, publishes them and rings the doorbell. */
export class RingWriter extends RingSide {
  // The slot the next row goes to; room known to be free (the other side's tail is read only
  // when it runs out); the rows put when the head was last published. The head as a position is
  // `put` modulo the span, worked out when published, not per row. No division per row.
  #slot = 0;
  #free: number;
  #published = 0;
  #byteHead = 0;
  #byteSlot = 0;
  #freeBytes: number;
  readonly #encoder = new TextEncoder();
  // Each attribute's last text put (by attribute id): a units string repeated with every
  // reading is copied once, then referred to.
  #lastText: (string | undefined)[] = [];
  // Once the draining side runs, the rows are published by each commit (one store per batch of
  // rows, a reading's: the reader drains on its own timer, so no flush has to publish).
  #live = false;
  /** Rows put so far (monotonic, published or not). */
  put = 0;
  /** Times the doorbell was rung (the draining side slept). */
  bells = 0;

  /** Views the shared memory of a ring. */
  constructor(memory: RingMemory) {
    super(memory);
    this.#free = this.cap;
    this.#freeBytes = this.byteCap;
  }

  /**
   * Rows put and not yet drained, at most (the drained ones are seen when the room runs out,
   * or by {@linkcode RingWriter.heldNow}).
   */
  get held(): number {
    return this.cap - this.#free;
  }

  /** Rows put and not yet drained, reading where the draining side is now. */
  heldNow(): number {
    return this.cap - this.#refresh();
  }

  /**
   * The draining side runs: what was put is published, and from now on by each
   * {@linkcode RingWriter.commit}.
   */
  live(): void {
    this.#live = true;
    this.publish();
  }

  /**
   * Publishes the rows put since the last commit once the draining side runs (before, they wait
   * for {@linkcode RingWriter.live}): called after each batch of rows (a reading's), one atomic
   * store per batch rather than per row (~130 instructions each, the `AtomicsStore` builtin).
   */
  commit(): void {
    if (this.#live) this.publish();
  }

  /**
   * Puts one sample (`t` epoch seconds) of attribute id `attrId`; false when the ring has no
   * room for it (or its text is longer than the text ring), and then nothing was put.
   */
  add(t: number, attrId: number, v: Value): boolean {
    if (this.#free === 0 && this.#refresh() === 0) return false;
    const slot = this.#slot;
    const i = 3 * slot;
    const rows = this.rows;
    if (!putScalar(rows, i, attrId, v)) {
      const text = typeof v === "string" ? v : textOf(v)!;
      const last = this.#lastText;
      let n = -1;
      if (last[attrId] !== text) {
        n = this.#putText(text);
        if (n < 0) {
          // This row goes another way: the next text of each attribute is sent in full.
          this.#lastText = [];
          return false;
        }
        last[attrId] = text;
      }
      rows[i + 1] = -1 - attrId;
      rows[i + 2] = n;
    }
    rows[i] = t;
    this.#free--;
    this.#slot = slot + 1 === this.cap ? 0 : slot + 1;
    this.put++;
    return true;
  }

  /**
   * Puts the values of one reading taken at `t` (`t` epoch seconds) in their order while their
   * names are `names`' (the rows as {@linkcode RingWriter.add} puts them, with the ids `ids`).
   * Returns how many values it put when it put them all; `-1 - k` when it stopped before the
   * `k`-th value (a name other than `names[k]`, no room, a text the ring cannot take), which is
   * then the caller's with the values after it. The ring's position is kept in locals over the
   * values and stored once, where `add` loads and stores it per value.
   */
  putValues(
    t: number,
    values: Record<string, Value>,
    names: readonly string[],
    ids: readonly number[],
  ): number {
    const rows = this.rows;
    const cap = this.cap;
    const put = this.put;
    let slot = this.#slot;
    let free = this.#free;
    let k = 0;
    let stop = false;
    for (const name in values) {
      if (k === names.length || names[k] !== name) {
        stop = true;
        break;
      }
      if (free === 0) {
        this.put = put + k;
        free = this.#refresh();
        if (free === 0) {
          stop = true;
          break;
        }
      }
      const v = values[name]!;
      const attrId = ids[k]!;
      const i = 3 * slot;
      if (!putScalar(rows, i, attrId, v)) {
        const text = typeof v === "string" ? v : textOf(v)!;
        let n = -1;
        if (this.#lastText[attrId] !== text) {
          // #putText may read the room again (#refresh): it needs the rows put so far.
          this.put = put + k;
          this.#free = free;
          n = this.#putText(text);
          free = this.#free;
          if (n < 0) {
            // As in add(): this row goes another way, and every attribute's next text in full.
            this.#lastText = [];
            stop = true;
            break;
          }
          this.#lastText[attrId] = text;
        }
        rows[i + 1] = -1 - attrId;
        rows[i + 2] = n;
      }
      rows[i] = t;
      free--;
      slot = slot + 1 === cap ? 0 : slot + 1;
      k++;
    }
    this.#slot = slot;
    this.#free = free;
    this.put = put + k;
    return stop ? -1 - k : k;
  }

  /** Room (rows) after reading where the other side's tail is; frees the drained rows' bytes. */
  #refresh(): number {
    const tail = Atomics.load(this.control, TAIL);
    const used = (this.put % this.span - tail + this.span) % this.span;
    this.#free = this.cap - used;
    // The draining side says where the bytes of the texts it took end (no start kept per row).
    const byteTail = Atomics.load(this.control, BYTE_TAIL);
    this.#freeBytes = this.byteCap -
      (this.#byteHead - byteTail + this.byteSpan) % this.byteSpan;
    return this.#free;
  }

  /** Writes a text's UTF-8 bytes after those held; its byte count, or -1 without room. */
  #putText(s: string): number {
    const len = s.length;
    if (this.#freeBytes < len && (this.#refresh(), this.#freeBytes < len)) return -1;
    // Most texts (units, states) are short ASCII: copied by hand, no encoder call.
    const bytes = this.bytes;
    const cap = this.byteCap;
    let at = this.#byteSlot;
    for (let k = 0; k < len; k++) {
      const c = s.charCodeAt(k);
      if (c >= 0x80) return this.#putEncoded(s);
      bytes[at] = c;
      if (++at === cap) at = 0;
    }
    this.#bytesPut(len);
    return len;
  }

  #putEncoded(s: string): number {
    const encoded = this.#encoder.encode(s);
    const len = encoded.length;
    if (this.#freeBytes < len && (this.#refresh(), this.#freeBytes < len)) return -1;
    const at = this.#byteSlot;
    const first = Math.min(len, this.byteCap - at);
    this.bytes.set(encoded.subarray(0, first), at);
    this.bytes.set(encoded.subarray(first), 0);
    this.#bytesPut(len);
    return len;
  }

  #bytesPut(len: number): void {
    this.#freeBytes -= len;
    this.#byteHead = (this.#byteHead + len) % this.byteSpan;
    this.#byteSlot = (this.#byteSlot + len) % this.byteCap;
  }

  /** Makes the rows put so far visible to the draining side. */
  publish(): void {
    const put = this.put;
    if (put === this.#published) return;
    Atomics.store(this.control, HEAD, put % this.span);
    this.#published = put;
  }

  /** Whether the draining side sleeps (waits for the doorbell, drains nothing until it rings). */
  get drainerSleeps(): boolean {
    return Atomics.load(this.control, SLEEP) === 1;
  }

  /**
   * Rings the doorbell if the draining side sleeps (else it drains on its own timer and nothing
   * wakes it); returns whether it rang. Only after {@linkcode RingWriter.live}, which publishes.
   */
  wake(): boolean {
    if (Atomics.load(this.control, SLEEP) === 0) return false;
    if (Atomics.compareExchange(this.control, SLEEP, 1, 0) !== 1) return false;
    Atomics.add(this.control, BELL, 1);
    Atomics.notify(this.control, BELL);
    this.bells++;
    return true;
  }
}

/**
 * What posts messages to the draining side's thread (the writer's worker client): since that
 * side blocks in `Atomics.wait` between drains, its event loop takes a message only once a knock
 * woke it.
 */
export class RingDoor {
  readonly #control: Int32Array;

  /** Views the control words of a ring. */
  constructor(memory: RingMemory) {
    this.#control = new Int32Array(memory.control);
  }

  /** Counts a message just posted to the draining side and wakes it to take it. */
  posted(): void {
    Atomics.add(this.#control, POSTED, 1);
    this.#ring();
  }

  /** Tells the draining side to stop waiting for good (before its thread is terminated). */
  stop(): void {
    Atomics.store(this.#control, STOP, 1);
    this.#ring();
  }

  #ring(): void {
    Atomics.add(this.#control, BELL, 1);
    Atomics.notify(this.#control, BELL);
  }
}

/** Where drained rows go (a session flusher). */
export interface RowSink {
  /** Holds one sample. */
  add(t: number, attrId: number, v: Value): void;
}

/** The draining side: takes the published rows in order and frees their room. */
export class RingReader extends RingSide {
  #tail = 0;
  #byteTail = 0;
  readonly #decoder = new TextDecoder();
  // The last text of each attribute, for rows that repeat it.
  readonly #lastText = new Map<number, string>();

  /** Rows published and not yet drained. */
  get held(): number {
    return (Atomics.load(this.control, HEAD) - this.#tail + this.span) % this.span;
  }

  /** Whether the published rows not yet drained fill a quarter of the ring or more. */
  get filling(): boolean {
    return this.held * 4 >= this.cap;
  }

  /**
   * The doorbell's count: read before looking at what to do, and given to
   * {@linkcode RingReader.sleep} or {@linkcode RingReader.wait}, so that a ring after the look
   * ends the wait.
   */
  bell(): number {
    return Atomics.load(this.control, BELL);
  }

  /** Whether the putting side rang for this side once at least (it then takes it as started). */
  get rung(): boolean {
    return Atomics.load(this.control, SLEEP) === 0;
  }

  /** Messages posted to this side so far (see {@linkcode RingDoor.posted}). */
  get posted(): number {
    return Atomics.load(this.control, POSTED);
  }

  /** Whether this side must stop waiting for good (its thread is being stopped). */
  get stopped(): boolean {
    return Atomics.load(this.control, STOP) === 1;
  }

  /**
   * Blocks until the doorbell rings after `bell` (the putting side's next timed flush, a message
   * or the stop; with no `timeoutMs`, for as long as that takes), saying meanwhile that this side
   * sleeps: returns at once when rows were published meanwhile. Still asleep when it returns at
   * its timeout (nobody rang).
   */
  sleep(bell: number, timeoutMs = Infinity): void {
    Atomics.store(this.control, SLEEP, 1);
    // After saying so: a row published before that store is seen here, one after it rings.
    if (this.held > 0 || Atomics.wait(this.control, BELL, bell, timeoutMs) !== "timed-out") {
      // Awake again (for rows, or a message): whoever puts rows now needs no doorbell.
      Atomics.store(this.control, SLEEP, 0);
    }
  }

  /**
   * Blocks until the doorbell rings after `bell` or `timeoutMs` passed (the wait between two
   * drains, which a message or the stop ends early).
   */
  wait(bell: number, timeoutMs: number): void {
    Atomics.wait(this.control, BELL, bell, timeoutMs);
  }

  /** Moves the published rows (at most `max`) into `sink`, oldest first; returns how many. */
  drain(sink: RowSink, max = Infinity): number {
    const n = Math.min(this.held, max);
    const rows = this.rows;
    let tail = this.#tail;
    for (let k = 0; k < n; k++) {
      const i = 3 * (tail % this.cap);
      const id = rows[i + 1]!;
      if (id >= 0) sink.add(rows[i]!, id, rows[i + 2]!);
      else sink.add(rows[i]!, -1 - id, this.#text(-1 - id, rows[i + 2]!));
      tail = (tail + 1) % this.span;
    }
    this.#tail = tail;
    // Their room (rows and bytes) is the putting side's again; the bytes once copied out.
    Atomics.store(this.control, BYTE_TAIL, this.#byteTail);
    Atomics.store(this.control, TAIL, tail);
    return n;
  }

  /** Reads the next `len` bytes of text of attribute `attrId` (-1: its last text again). */
  #text(attrId: number, len: number): string {
    if (len < 0) return this.#lastText.get(attrId)!;
    const cap = this.byteCap;
    const at = this.#byteTail % cap;
    this.#byteTail = (this.#byteTail + len) % this.byteSpan;
    let bytes: Uint8Array;
    if (at + len <= cap) bytes = this.bytes.subarray(at, at + len);
    else {
      bytes = new Uint8Array(len);
      bytes.set(this.bytes.subarray(at));
      bytes.set(this.bytes.subarray(0, len - (cap - at)), cap - at);
    }
    const text = this.#decoder.decode(bytes);
    this.#lastText.set(attrId, text);
    return text;
  }
}
