/**
 * How a subscription of an `mqtt://` device says that its broker cannot be reached: once per
 * outage, a timeout after the link went down (or after subscribing to a link not yet up), then
 * again only with exponential back-off while the outage lasts, and not at all once the link is
 * up. It was an error every timeout before (`--timeout` may be 1 ms: a thousand identical error
 * readings a second, and as many wake-ups, for one broker that was down).
 *
 * @module
 */
import { Backoff } from "../../transport/backoff.ts";
import type { MqttLink } from "../../transport/mqtt.ts";

/** Longest time between two reports of the same outage, ms. */
export const MAX_REPORT_INTERVAL_MS = 60_000;

/**
 * Reports the outages of `link` through `report` (see the module doc) until stopped.
 *
 * @example
 * ```ts ignore
 * const outage = new BrokerOutage(link, 5000, () => console.error("broker unreachable"));
 * outage.stop();
 * ```
 */
export class BrokerOutage {
  readonly #backoff: Backoff;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #unwatch: () => void;

  /** Starts watching `link`; the first report comes `timeoutMs` into an outage. */
  constructor(
    readonly link: Pick<MqttLink, "connected" | "watch">,
    readonly timeoutMs: number,
    readonly report: () => void,
  ) {
    // Reminders start at a second at least, whatever the timeout, and double from there.
    this.#backoff = new Backoff(Math.max(1000, timeoutMs), MAX_REPORT_INTERVAL_MS);
    this.#unwatch = link.watch((up) => up ? this.#up() : this.#down());
    if (!link.connected) this.#down();
  }

  /** The link went down (or an attempt failed): the outage is reported a timeout from now. */
  #down(): void {
    // Within an outage the reports keep their back-off: a failed attempt does not move them.
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(this.#check, this.timeoutMs);
  }

  #up(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#backoff.succeed();
  }

  readonly #check = (): void => {
    this.#timer = undefined;
    if (this.link.connected) return this.#up();
    this.report();
    this.#timer = setTimeout(this.#check, this.#backoff.fail(performance.now()));
  };

  /** Stops reporting. */
  stop(): void {
    this.#unwatch();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
