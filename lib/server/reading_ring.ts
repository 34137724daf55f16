/**
 * The ring of recent readings an SSE client resumes from, kept as columns with no object per
 * reading. Every reading the daemon takes passes through it (each `GET /read` too), and it keeps
 * them for seconds: a reading's values object kept here outlived the young generation, so every
 * scavenge copied the last few thousand of them and promoted them to the old space — at 20,000
 * `/read`s a second, 200-250 KB survived each scavenge and the pauses grew from ~0.1 to 2-5 ms,
 * which is where that route's p99 went (profiled with `--trace-gc-nvp`). Numbers are copied
 * into a typed array; the attribute names are one shared array per device and shape of reading;
 * other values (constant strings such as units, booleans, null) are kept by reference.
 *
 * @example
 * ```ts
 * import { ReadingRing } from "./reading_ring.ts";
 * const ring = new ReadingRing(2);
 * ring.push({ t: 1.5, device: "g", values: { p: 2 } });
 * ring.reading(0); // { t: 1.5, device: "g", values: { p: 2 } }
 * ```
 *
 * @module
 */
import type { Value, Values } from "../device/attr.ts";
import type { Reading } from "../device/device.ts";

/** Values kept per slot without an object; a reading with more keeps its values object. */
const PACKED = 4;

/** Shapes (lists of attribute names) remembered per device: a few `?attrs=` variants. */
const SHAPES_PER_DEVICE = 8;

/** Devices whose shapes are remembered (devices come and go at run time). */
const MAX_DEVICES = 10_000;

/** An empty slot's values. */
const NO_VALUES: Values = {};

/** In `#ref`: this value is the number in `#num`. */
const IN_NUM: unique symbol = Symbol("number");

/** A device's name as first seen (one string, however its readings spell it) and its shapes. */
interface DeviceShapes {
  device: string;
  shapes: string[][];
}

/** A bounded ring of readings in arrival order, as columns. */
export class ReadingRing {
  readonly #tms: Float64Array;
  readonly #device: string[];
  readonly #error: (string | undefined)[];
  // Per slot: its attribute names (a shared array), or undefined when `#values` holds the object.
  readonly #keys: (readonly string[] | undefined)[];
  readonly #values: Values[];
  // PACKED values per slot: numbers in `#num` (`#ref` says IN_NUM), any other value in `#ref`.
  readonly #num: Float64Array;
  readonly #ref: (Value | undefined | typeof IN_NUM)[];
  readonly #shapes = new Map<string, DeviceShapes>();
  // The device of the last reading kept (readings come in runs of one device: polls of it).
  #last: DeviceShapes | undefined;
  #head = 0;
  #count = 0;

  /** A ring keeping the last `size` readings. */
  constructor(readonly size: number) {
    this.#tms = new Float64Array(size);
    this.#device = new Array<string>(size).fill("");
    this.#error = new Array<string | undefined>(size).fill(undefined);
    this.#keys = new Array<readonly string[] | undefined>(size).fill(undefined);
    this.#values = new Array<Values>(size).fill(NO_VALUES);
    this.#num = new Float64Array(size * PACKED);
    this.#ref = new Array<Value | undefined | typeof IN_NUM>(size * PACKED).fill(undefined);
  }

  /** Readings kept. */
  get count(): number {
    return this.#count;
  }

  /** Keeps `reading` (its time to the millisecond, as its event id and text show it). */
  push(reading: Reading): void {
    // Every reading of the daemon comes here (each `GET /read` too): no division, no lookup by
    // name when the device is the last one's, and the values' keys enumerated once, checked
    // against the shape and packed in the same pass.
    const size = this.size;
    let i = this.#head + this.#count;
    if (i >= size) i -= size;
    if (this.#count < size) this.#count++;
    else if (++this.#head === size) this.#head = 0;
    let shapes = this.#last;
    if (shapes === undefined || shapes.device !== reading.device) {
      shapes = this.#last = this.#shapesOf(reading.device);
    }
    this.#tms[i] = Math.round(reading.t * 1000);
    this.#device[i] = shapes.device;
    this.#error[i] = reading.error;
    const values = reading.values;
    const base = i * PACKED;
    const list = shapes.shapes;
    for (let s = 0; s < list.length; s++) {
      const keys = list[s]!;
      if (keys.length <= PACKED ? this.#pack(base, keys, values) : sameKeys(keys, values)) {
        this.#keep(i, base, keys, values);
        return;
      }
    }
    const keys = Object.keys(values);
    if (list.length >= SHAPES_PER_DEVICE) list.shift();
    list.push(keys);
    if (keys.length <= PACKED) this.#pack(base, keys, values);
    this.#keep(i, base, keys, values);
  }

  /**
   * Packs `values` into slot `base`'s columns if it has exactly `keys`, in that order (one
   * enumeration of its keys); false (and the columns left to be written again) otherwise.
   */
  #pack(base: number, keys: readonly string[], values: Values): boolean {
    const num = this.#num;
    const ref = this.#ref;
    let n = 0;
    for (const k in values) {
      if (n >= keys.length || keys[n] !== k) return false;
      const v = values[k];
      if (typeof v === "number") {
        num[base + n] = v;
        ref[base + n] = IN_NUM;
      } else ref[base + n] = v;
      n++;
    }
    if (n !== keys.length) return false;
    for (; n < PACKED; n++) ref[base + n] = undefined;
    return true;
  }

  /** Slot `i` keeps `values` of shape `keys`: packed (done) when it has few enough, else as is. */
  #keep(i: number, base: number, keys: readonly string[], values: Values): void {
    if (keys.length <= PACKED) {
      this.#keys[i] = keys;
      this.#values[i] = NO_VALUES;
      return;
    }
    this.#keys[i] = undefined;
    this.#values[i] = values;
    for (let j = 0; j < PACKED; j++) this.#ref[base + j] = undefined;
  }

  /** Time (epoch ms) of the `i`-th oldest reading kept. */
  tms(i: number): number {
    return this.#tms[this.#slot(i)]!;
  }

  /** Device of the `i`-th oldest reading kept. */
  device(i: number): string {
    return this.#device[this.#slot(i)]!;
  }

  /** The `i`-th oldest reading kept (its time to the millisecond). */
  reading(i: number): Reading {
    const k = this.#slot(i);
    const keys = this.#keys[k];
    let values = this.#values[k]!;
    if (keys !== undefined) {
      values = {};
      const base = k * PACKED;
      for (let j = 0; j < keys.length; j++) {
        const ref = this.#ref[base + j];
        values[keys[j]!] = (ref === IN_NUM ? this.#num[base + j]! : ref) as Value;
      }
    }
    const reading: Reading = { t: this.#tms[k]! / 1000, device: this.#device[k]!, values };
    const error = this.#error[k];
    if (error !== undefined) reading.error = error;
    return reading;
  }

  #slot(i: number): number {
    return (this.#head + i) % this.size;
  }

  #shapesOf(device: string): DeviceShapes {
    let d = this.#shapes.get(device);
    if (d === undefined) {
      if (this.#shapes.size >= MAX_DEVICES) this.#shapes.clear();
      d = { device, shapes: [] };
      this.#shapes.set(device, d);
    }
    return d;
  }
}

/** Whether `values` has exactly `keys`, in that order (no array built to compare). */
function sameKeys(keys: readonly string[], values: Values): boolean {
  let n = 0;
  for (const k in values) {
    if (n >= keys.length || keys[n] !== k) return false;
    n++;
  }
  return n === keys.length;
}
