/**
 * The rows a session writer holds before they are written: numbers as (t, attr id, value)
 * triples in one reused typed buffer, text values as columns, and events. A buffer hands its
 * content over as a {@linkcode RowPage} (to the thread that writes) and takes pages in.
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import { textOf } from "./value_codec.ts";

/** An event row (alarm, device error, gap, note, start/stop). */
export interface EventRow {
  /** Epoch seconds; now if absent. */
  t?: number;
  /** `start`, `stop`, `error`, `recovered`, `gap`, `alarm`, `note`, `task`, … */
  kind: string;
  /** `info`, `minor`, `major`, … */
  severity?: string;
  /** Device concerned, if any. */
  device?: string;
  /** Attribute concerned, if any. */
  attr?: string;
  /** One human line. */
  message: string;
  /** Extra structured data (stored as JSON). */
  data?: unknown;
}

/**
 * The content of a {@linkcode RowBuffer} handed over in one message: plain arrays and one typed
 * array whose buffer can be transferred, so a page costs one structured clone, not one per row.
 */
export interface RowPage {
  /**
   * Every number of the page in one transferable array: the numeric rows' (t, attr id, value)
   * triples (NaN for null), then the text rows' (t, attr id) pairs. Arrays of numbers are
   * cloned element by element; this is one copy-free transfer.
   */
  num: Float64Array<ArrayBuffer>;
  /** Numeric rows in `num`. */
  numRows: number;
  /** Text rows' values (their times and ids follow the triples in `num`). */
  textV: string[];
  /** Events. */
  events: EventRow[];
}

/** Rows and events waiting to be written. */
export class RowBuffer {
  // Numeric rows as (t, id, value) triples in one reused typed buffer (NaN = null): a recorder
  // adding 20,000 samples/s then allocates no JS objects per sample.
  /** Numeric rows (t, attr id, value) triples; the first `numRows` are used. */
  num = new Float64Array(3 * 4096);
  /** Numeric rows held. */
  numRows = 0;
  // Text rows as columns, kept between flushes (`textRows` says how much is used): new arrays
  // grown row by row each flush were young objects alive at every scavenge under load.
  /** Text rows' times. */
  textT: number[] = [];
  /** Text rows' attribute ids. */
  textId: number[] = [];
  /** Text rows' values. */
  textV: string[] = [];
  /** Text rows held. */
  textRows = 0;
  /** Events held. */
  events: EventRow[] = [];
  /** Earliest sample time held (Infinity when none). */
  tMin = Infinity;
  /** Latest sample time held (-Infinity when none). */
  tMax = -Infinity;

  /** Samples held (numbers and texts). */
  get rows(): number {
    return this.numRows + this.textRows;
  }

  /** Appends one sample (`t` epoch seconds) of attribute id `attrId`. */
  add(t: number, attrId: number, v: Value): void {
    if (typeof v === "number" || v === null) this.#addNumber(t, attrId, v);
    else if (typeof v === "boolean") this.#addNumber(t, attrId, v ? 1 : 0);
    else {
      const n = this.textRows++;
      this.textT[n] = t;
      this.textId[n] = attrId;
      this.textV[n] = textOf(v)!;
    }
    if (t < this.tMin) this.tMin = t;
    if (t > this.tMax) this.tMax = t;
  }

  #addNumber(t: number, attrId: number, v: number | null): void {
    let num = this.num;
    const i = this.numRows * 3;
    if (i + 3 > num.length) num = this.#grow(this.numRows + 1);
    num[i] = t;
    num[i + 1] = attrId;
    // SQLite stores NaN as NULL anyway, so NaN can mean null here.
    num[i + 2] = v === null ? NaN : v;
    this.numRows++;
  }

  /** Doubles the numbers' buffer until it holds `rows` rows, keeping those held; returns it. */
  #grow(rows: number): Float64Array<ArrayBuffer> {
    let size = this.num.length;
    while (3 * rows > size) size *= 2;
    const bigger = new Float64Array(size);
    bigger.set(this.num.subarray(0, 3 * this.numRows));
    return this.num = bigger;
  }

  /** Hands everything held over as a page (its own arrays) and starts empty again. */
  takePage(): RowPage {
    const rows = this.numRows;
    const n = this.textRows;
    const num = new Float64Array(3 * rows + 2 * n);
    num.set(this.num.subarray(0, 3 * rows));
    for (let i = 0, j = 3 * rows; i < n; i++, j += 2) {
      num[j] = this.textT[i]!;
      num[j + 1] = this.textId[i]!;
    }
    const page: RowPage = {
      num,
      numRows: rows,
      textV: this.textV.slice(0, n),
      events: this.events,
    };
    this.reset();
    return page;
  }

  /** Appends a page's rows and events after those held. */
  absorb(page: RowPage): void {
    const rows = page.numRows;
    if (3 * (this.numRows + rows) > this.num.length) this.#grow(this.numRows + rows);
    this.num.set(page.num.subarray(0, 3 * rows), 3 * this.numRows);
    this.numRows += rows;
    for (let i = 0; i < rows; i++) {
      const t = page.num[3 * i]!;
      if (t < this.tMin) this.tMin = t;
      if (t > this.tMax) this.tMax = t;
    }
    const { num, textV } = page;
    for (let i = 0, j = 3 * rows; i < textV.length; i++, j += 2) {
      const n = this.textRows++;
      const t = num[j]!;
      this.textT[n] = t;
      this.textId[n] = num[j + 1]!;
      this.textV[n] = textV[i]!;
      if (t < this.tMin) this.tMin = t;
      if (t > this.tMax) this.tMax = t;
    }
    for (const e of page.events) this.events.push(e);
  }

  /** Drops the first `numRows` numeric and `textRows` text rows and every event (written). */
  consume(numRows: number, textRows: number): void {
    this.num.copyWithin(0, 3 * numRows, 3 * this.numRows);
    this.numRows -= numRows;
    // A loop, not Array.prototype.copyWithin: on plain arrays that is a generic per-element
    // property walk (~0.1 µs an element; profiled at ~0.4 µs per `GET /read` recorded at
    // 20,000 a second, where each timed flush leaves a slice's remainder of text rows).
    const left = this.textRows - textRows;
    const textT = this.textT;
    const textId = this.textId;
    const textV = this.textV;
    for (let i = 0; i < left; i++) {
      textT[i] = textT[textRows + i]!;
      textId[i] = textId[textRows + i]!;
      textV[i] = textV[textRows + i]!;
    }
    textV.fill("", left, this.textRows);
    this.textRows = left;
    this.events = [];
  }

  /** Forgets everything held (written or handed over). */
  reset(): void {
    this.numRows = 0;
    // A burst may have grown the buffer; give the memory back once it is written.
    if (this.num.length > 3 * 65536) this.num = new Float64Array(3 * 4096);
    if (this.textT.length > 65536) {
      this.textT = [];
      this.textId = [];
      this.textV = [];
    } else this.textV.fill("", 0, this.textRows); // no string outlives its flush
    this.textRows = 0;
    this.events = [];
    this.tMin = Infinity;
    this.tMax = -Infinity;
  }
}
