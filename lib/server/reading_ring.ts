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

/**
 * What a slot holds, shared by every slot of that device and shape: the device's name, the
 * attribute names and where each value is. One store per reading says all of it.
 */
interface Shape {
  device: string;
  keys: readonly string[];
  /**
   * PACKED: the values are in the slot's columns, bit n of `nums` set when value n is a number
   * (in `#num`; else in `#ref`). WIDE: more values than a slot packs, the values object kept in
   * `#kept`. FAILED: a failed reading with no values, its error in the slot's first `#ref`.
   */
  kind: typeof PACKED_KIND | typeof WIDE_KIND | typeof FAILED_KIND;
  nums: number;
}

const PACKED_KIND = 0;
const WIDE_KIND = 1;
const FAILED_KIND = 2;

/** A device's name as first seen (one string, however its readings spell it) and its shapes. */
interface DeviceShapes {
  device: string;
  shapes: Shape[];
  /** The shape of its failed readings with no values. */
  failed: Shape;
}

/** A bounded ring of readings in arrival order, as columns. */
export class ReadingRing {
  readonly #tms: Float64Array;
  // Per slot: its device and shape (see Shape).
  readonly #shape: Shape[];
  // Per slot: the reading itself when its shape is WIDE, or when it failed with values (its
  // error and values kept whole), else undefined.
  readonly #kept: (Reading | undefined)[];
  // PACKED values per slot: numbers in `#num`, any other value in `#ref` (the shape says which).
  readonly #num: Float64Array;
  readonly #ref: (Value | undefined)[];
  readonly #shapes = new Map<string, DeviceShapes>();
  // The device of the last reading kept (readings come in runs of one device: polls of it).
  #last: DeviceShapes | undefined;
  // The slot the next reading goes to.
  #next = 0;
  #count = 0;

  /** A ring keeping the last `size` readings. */
  constructor(readonly size: number) {
    this.#tms = new Float64Array(size);
    const empty: Shape = { device: "", keys: [], kind: PACKED_KIND, nums: 0 };
    this.#shape = new Array<Shape>(size).fill(empty);
    this.#kept = new Array<Reading | undefined>(size).fill(undefined);
    this.#num = new Float64Array(size * PACKED);
    this.#ref = new Array<Value | undefined>(size * PACKED).fill(undefined);
  }

  /** Readings kept. */
  get count(): number {
    return this.#count;
  }

  /**
   * Keeps `reading` (its time to the millisecond, as its event id and text show it). Returns the
   * names of a good reading's values in their order, as one array per device and shape (the same
   * array for every reading of that device with the same names in the same order, and the same
   * kinds of value: found without a second enumeration of the values), or undefined for a failed
   * reading.
   */
  push(reading: Reading): readonly string[] | undefined {
    // Every reading of the daemon comes here (each `GET /read` too): no division, no lookup by
    // name when the device is the last one's, the values' keys enumerated once, checked against
    // the shape and packed in the same pass, and per slot a time, a shape and the values stored.
    const i = this.#next;
    this.#next = i + 1 === this.size ? 0 : i + 1;
    if (this.#count < this.size) this.#count++;
    let shapes = this.#last;
    if (shapes === undefined || shapes.device !== reading.device) {
      shapes = this.#last = this.#shapesOf(reading.device);
    }
    this.#tms[i] = Math.round(reading.t * 1000);
    if (this.#kept[i] !== undefined) this.#kept[i] = undefined;
    const values = reading.values;
    const base = i * PACKED;
    if (reading.error !== undefined) {
      this.#shape[i] = shapes.failed;
      if (sameKeys(NO_KEYS, values)) this.#ref[base] = reading.error;
      else this.#kept[i] = reading;
      return undefined;
    }
    const list = shapes.shapes;
    for (let s = 0; s < list.length; s++) {
      const shape = list[s]!;
      if (
        shape.kind === PACKED_KIND ? this.#pack(base, shape, values) : sameKeys(shape.keys, values)
      ) {
        this.#shape[i] = shape;
        if (shape.kind === WIDE_KIND) this.#kept[i] = reading;
        return shape.keys;
      }
    }
    const shape = shapeOf(shapes.device, values);
    if (list.length >= SHAPES_PER_DEVICE) list.shift();
    list.push(shape);
    this.#shape[i] = shape;
    if (shape.kind === PACKED_KIND) this.#pack(base, shape, values);
    else this.#kept[i] = reading;
    return shape.keys;
  }

  /**
   * Packs `values` into slot `base`'s columns if it has exactly the keys of `shape`, in that
   * order, with numbers where it has them (one enumeration of its keys); false (and the columns
   * left to be written again) otherwise.
   */
  #pack(base: number, shape: Shape, values: Values): boolean {
    const keys = shape.keys;
    const num = this.#num;
    const ref = this.#ref;
    let n = 0;
    let nums = 0;
    for (const k in values) {
      if (n >= keys.length || keys[n] !== k) return false;
      const v = values[k];
      if (typeof v === "number") {
        num[base + n] = v;
        nums |= 1 << n;
      } else ref[base + n] = v;
      n++;
    }
    return n === keys.length && nums === shape.nums;
  }

  /** Time (epoch ms) of the `i`-th oldest reading kept. */
  tms(i: number): number {
    return this.#tms[this.#slot(i)]!;
  }

  /** Device of the `i`-th oldest reading kept. */
  device(i: number): string {
    return this.#shape[this.#slot(i)]!.device;
  }

  /** The `i`-th oldest reading kept (its time to the millisecond). */
  reading(i: number): Reading {
    const k = this.#slot(i);
    const shape = this.#shape[k]!;
    const t = this.#tms[k]! / 1000;
    const kept = this.#kept[k];
    if (kept !== undefined) {
      const whole: Reading = { t, device: shape.device, values: kept.values };
      if (kept.error !== undefined) whole.error = kept.error;
      return whole;
    }
    const base = k * PACKED;
    if (shape.kind === FAILED_KIND) {
      return { t, device: shape.device, values: {}, error: this.#ref[base] as string };
    }
    const values: Values = {};
    const keys = shape.keys;
    for (let j = 0; j < keys.length; j++) {
      values[keys[j]!] =
        (shape.nums & (1 << j) ? this.#num[base + j]! : this.#ref[base + j]) as Value;
    }
    return { t, device: shape.device, values };
  }

  #slot(i: number): number {
    return (this.#next - this.#count + i + this.size) % this.size;
  }

  #shapesOf(device: string): DeviceShapes {
    let d = this.#shapes.get(device);
    if (d === undefined) {
      if (this.#shapes.size >= MAX_DEVICES) this.#shapes.clear();
      d = { device, shapes: [], failed: { device, keys: NO_KEYS, kind: FAILED_KIND, nums: 0 } };
      this.#shapes.set(device, d);
    }
    return d;
  }
}

/** No attribute names. */
const NO_KEYS: readonly string[] = [];

/** The shape of `values` of `device`: packed when it has few enough. */
function shapeOf(device: string, values: Values): Shape {
  const keys = Object.keys(values);
  if (keys.length > PACKED) return { device, keys, kind: WIDE_KIND, nums: 0 };
  let nums = 0;
  for (let n = 0; n < keys.length; n++) if (typeof values[keys[n]!] === "number") nums |= 1 << n;
  return { device, keys, kind: PACKED_KIND, nums };
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
