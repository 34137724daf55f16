/**
 * What an MQTT client keeps while its broker is away: a bounded buffer. Retained messages (the
 * last value of a topic) are kept once per topic, the newest replacing the older; the others
 * (readings, events) queue in order. Over the bound the oldest message goes and is counted, so
 * a broker down for a week costs a fixed amount of memory.
 *
 * @module
 */

/** One message waiting for the broker. */
export interface OutMessage {
  /** Topic. */
  topic: string;
  /** Payload text. */
  payload: string;
  /** QoS 0 or 1. */
  qos: 0 | 1;
  /** Retained on the broker. */
  retain: boolean;
}

/**
 * A bounded buffer of messages (see the module doc).
 *
 * @example
 * ```ts
 * import { Outbox } from "./mqtt_outbox.ts";
 * const box = new Outbox(2);
 * box.push({ topic: "a", payload: "1", qos: 0, retain: false });
 * box.push({ topic: "a", payload: "2", qos: 0, retain: false });
 * box.push({ topic: "a", payload: "3", qos: 0, retain: false });
 * box.dropped; // 1
 * box.take().map((m) => m.payload); // ["2", "3"]
 * ```
 */
export class Outbox {
  #queue: OutMessage[] = [];
  #head = 0;
  #retained = new Map<string, OutMessage>();
  /** Messages dropped because the buffer was full. */
  dropped = 0;

  /** A buffer holding at most `limit` messages (at least 1). */
  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`an outbox holds at least 1 message, got ${limit}`);
  }

  /** Messages waiting. */
  get size(): number {
    return this.#queue.length - this.#head + this.#retained.size;
  }

  /** Keeps a message, dropping the oldest one when full. */
  push(m: OutMessage): void {
    if (m.retain) {
      // The newest value of a retained topic replaces the older one (moved to the end): the
      // broker would keep only the newest anyway, so nothing is lost.
      this.#retained.delete(m.topic);
      this.#retained.set(m.topic, m);
    } else {
      this.#queue.push(m);
    }
    while (this.size > this.limit) this.#dropOldest();
  }

  #dropOldest(): void {
    this.dropped++;
    if (this.#head < this.#queue.length) {
      this.#head++;
      // Compact now and then, so the array does not keep what was dropped.
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      return;
    }
    const oldest = this.#retained.keys().next().value;
    if (oldest !== undefined) this.#retained.delete(oldest);
  }

  /** Takes everything out: the queued messages in order, then the retained ones. */
  take(): OutMessage[] {
    const out = this.#queue.slice(this.#head);
    for (const m of this.#retained.values()) out.push(m);
    this.#queue = [];
    this.#head = 0;
    this.#retained.clear();
    return out;
  }
}
