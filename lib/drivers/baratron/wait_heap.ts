/**
 * The waits of simulated gauges (answer latency, held polls) on one timer: a binary heap of
 * promises resolved by due time, or all at once when their owner closes.
 *
 * @module
 */

/** One gauge's wait: a delayed answer or a held poll. */
interface Wait {
  at: number;
  resolve: () => void;
  owner: object;
}

/**
 * The waits of every simulated gauge in the process (answer latency, held polls) on one timer,
 * kept in a binary heap by due time: a timer, a closure and a set entry per answered poll cost
 * the simulator more than building the answer.
 */
export class Waits {
  #heap: Wait[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  /** Resolves after `ms`, or when `owner` releases its waits. */
  wait(owner: object, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const w: Wait = { at: performance.now() + ms, resolve, owner };
      const heap = this.#heap;
      let i = heap.push(w) - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (heap[parent]!.at <= w.at) break;
        heap[i] = heap[parent]!;
        i = parent;
      }
      heap[i] = w;
      if (w.at < this.#timerAt) this.#arm(w.at);
    });
  }

  /** Ends every wait of `owner` now (its gauge closes). */
  release(owner: object): void {
    const mine = this.#heap.filter((w) => w.owner === owner);
    if (mine.length === 0) return;
    const rest = this.#heap.filter((w) => w.owner !== owner).sort((a, b) => a.at - b.at);
    this.#heap = rest; // a sorted array is a heap
    for (const w of mine) w.resolve();
    if (rest.length === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Infinity;
    }
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#due, Math.max(0, at - performance.now()));
  }

  readonly #due = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = performance.now();
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.at <= now) this.#pop().resolve();
    if (heap.length > 0) this.#arm(heap[0]!.at);
  };

  #pop(): Wait {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const c = r < heap.length && heap[r]!.at < heap[l]!.at ? r : l;
        if (heap[c]!.at >= last.at) break;
        heap[i] = heap[c]!;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
}
