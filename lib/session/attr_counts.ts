/**
 * Per-attribute figures of the samples a writer holds but has not yet counted in `attr_stats`
 * (how many, first and last time), kept in plain arrays indexed by attribute id: the writer
 * counts every sample it is given, 20,000 a second, and this allocates nothing per sample.
 *
 * @module
 */
import type { StatementSync } from "node:sqlite";

/** Counts of not-yet-folded samples per attribute id, written to `attr_stats` in one go. */
export class AttrCounts {
  #touched: number[] = [];
  readonly #count: number[] = [];
  readonly #first: number[] = [];
  readonly #last: number[] = [];
  // A multi-row upsert's arguments, reused.
  #args: number[] = [];

  /** True when some attribute has a sample not yet written to `attr_stats`. */
  get any(): boolean {
    return this.#touched.length > 0;
  }

  /** Counts one sample at `t` (epoch seconds) of attribute `attrId`. */
  add(t: number, attrId: number): void {
    const n = this.#count[attrId];
    if (n === undefined || n === 0) {
      this.#touched.push(attrId);
      this.#count[attrId] = 1;
      this.#first[attrId] = t;
      this.#last[attrId] = t;
    } else {
      this.#count[attrId] = n + 1;
      if (t < this.#first[attrId]!) this.#first[attrId] = t;
      if (t > this.#last[attrId]!) this.#last[attrId] = t;
    }
  }

  /**
   * Runs `upsert` (attr_id, count, t_first, t_last) for every counted attribute, `multi.rows` of
   * them to a call of `multi.statement` (the same columns repeated) when given; the counts stay
   * until {@linkcode AttrCounts.clear} (the transaction may still fail). One call per attribute
   * was 2,000 node:sqlite calls every 10 s for `monitor` of 2,000 channels, each leaving garbage
   * in V8's old generation.
   */
  write(upsert: StatementSync, multi?: { rows: number; statement: StatementSync }): void {
    const touched = this.#touched;
    let i = 0;
    if (multi) {
      const args = this.#args.length === 4 * multi.rows
        ? this.#args
        : (this.#args = new Array<number>(4 * multi.rows).fill(0.5));
      for (; touched.length - i >= multi.rows; i += multi.rows) {
        for (let k = 0; k < multi.rows; k++) {
          const id = touched[i + k]!;
          args[4 * k] = id;
          args[4 * k + 1] = this.#count[id]!;
          args[4 * k + 2] = this.#first[id]!;
          args[4 * k + 3] = this.#last[id]!;
        }
        multi.statement.run(...args);
      }
    }
    for (; i < touched.length; i++) {
      const id = touched[i]!;
      upsert.run(id, this.#count[id]!, this.#first[id]!, this.#last[id]!);
    }
  }

  /** Forgets every count (they were written, or the file they belong to is gone). */
  clear(): void {
    for (const id of this.#touched) this.#count[id] = 0;
    this.#touched = [];
  }
}
