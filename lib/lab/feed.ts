/**
 * A bounded subscriber queue: the producer never waits and memory never grows; when the consumer
 * is slow the oldest items are dropped and the consumer is told how many.
 *
 * @module
 */

/** One delivered item with the number of items dropped just before it. */
export interface FeedItem<T> {
  /** The item. */
  item: T;
  /** How many older items were dropped since the previous delivery. */
  dropped: number;
}

/**
 * A bounded, drop-oldest async queue with one consumer.
 *
 * @example
 * ```ts
 * import { Feed } from "./feed.ts";
 * const feed = new Feed<number>(2);
 * feed.push(1); feed.push(2); feed.push(3);
 * feed.close();
 * for await (const { item, dropped } of feed) console.log(item, dropped); // 2 1, then 3 0
 * ```
 */
export class Feed<T> implements AsyncIterable<FeedItem<T>> {
  #items: T[] = [];
  #head = 0;
  #dropped = 0;
  #totalDropped = 0;
  #closed = false;
  #wake: (() => void) | undefined;

  /** Creates a feed holding at most `capacity` undelivered items. */
  constructor(readonly capacity = 1024, readonly onClose?: () => void) {}

  /** Items dropped over the feed's life. */
  get totalDropped(): number {
    return this.#totalDropped;
  }

  /** Number of items waiting. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Adds an item without ever blocking; drops the oldest when full. */
  push(item: T): void {
    if (this.#closed) return;
    if (this.size >= this.capacity) {
      this.#head++;
      this.#dropped++;
      this.#totalDropped++;
    }
    this.#items.push(item);
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    this.#wake?.();
  }

  /** Ends the feed: the consumer gets what is queued, then the iteration ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    this.onClose?.();
  }

  /** Waits for the next item; undefined when closed and drained, or when `signal` aborts. */
  async next(signal?: AbortSignal): Promise<FeedItem<T> | undefined> {
    while (this.size === 0) {
      if (this.#closed || signal?.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined as T;
    this.#head++;
    const dropped = this.#dropped;
    this.#dropped = 0;
    return { item, dropped };
  }

  /** Takes everything queued now without waiting. */
  drain(): T[] {
    const out = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    this.#dropped = 0;
    return out;
  }

  /** Iterates until the feed is closed; breaking out of the loop closes it. */
  async *[Symbol.asyncIterator](): AsyncIterator<FeedItem<T>> {
    try {
      while (true) {
        const next = await this.next();
        if (!next) return;
        yield next;
      }
    } finally {
      this.close();
    }
  }
}
