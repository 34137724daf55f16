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
    const size = this.size;
    const i = (this.#head + this.#count) % size;
    if (this.#count < size) this.#count++;
    else this.#head = (this.#head + 1) % size;
    const shapes = this.#shapesOf(reading.device);
    this.#tms[i] = Math.round(reading.t * 1000);
    this.#device[i] = shapes.device;
    this.#error[i] = reading.error;
    const values = reading.values;
    const shape = this.#shape(shapes, values);
    const keys = shape.length <= PACKED ? shape : undefined;
    this.#keys[i] = keys;
    const base = i * PACKED;
    if (keys === undefined) {
      this.#values[i] = values;
      for (let j = 0; j < PACKED; j++) this.#ref[base + j] = undefined;
      return;
    }
    this.#values[i] = NO_VALUES;
    for (let j = 0; j < PACKED; j++) {
      const v = j < keys.length ? values[keys[j]!] : undefined;
      if (typeof v === "number") {
        this.#num[base + j] = v;
        this.#ref[base + j] = IN_NUM;
      } else this.#ref[base + j] = v;
    }
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

  /** The shared names of `values`' keys, in order. */
  #shape(d: DeviceShapes, values: Values): readonly string[] {
    const shapes = d.shapes;
    for (let s = 0; s < shapes.length; s++) {
      if (sameKeys(shapes[s]!, values)) return shapes[s]!;
    }
    const keys = Object.keys(values);
    if (shapes.length >= SHAPES_PER_DEVICE) shapes.shift();
    shapes.push(keys);
    return keys;
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
