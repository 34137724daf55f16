/**
 * The sampler: takes a reading of every device of a {@linkcode Lab} at its interval, on
 * drift-free schedules (one per distinct interval, so 1,000 gauges at 500 ms share one timer),
 * all devices of a tick concurrently. Readings are published through each device's manager,
 * so recorders, alarm engines, SSE clients and tables all see the same readings. A device that
 * fails is retried with exponential backoff (its failed attempts are readings with `error`).
 * Used by `stream`, `monitor` and `serve`.
 *
 * @module
 */
import { nowSeconds, type Reading, type Subscription } from "../device/device.ts";
import { errorMessage } from "../device/errors.ts";
import { macrotask, starving } from "../schedule/fair.ts";
import { Schedule } from "../schedule/periodic.ts";
import { sleepOnNodeTimer } from "../schedule/timer.ts";
import { TimingHistogram } from "../schedule/histogram.ts";
import type { DeviceManager, ReadingTarget } from "./manager.ts";
import type { Lab } from "./lab.ts";

/** Options of a sampling run. */
export interface SamplerOptions {
  /** Stops sampling. */
  signal?: AbortSignal;
  /** Interval for every device in ms, overriding each device's configured interval. */
  interval?: number;
  /** Number of ticks per schedule, then stop. */
  count?: number;
  /** Stop after this many ms. */
  duration?: number;
  /** Attributes to read per device (default: the device's status attrs). */
  attrs?: Record<string, readonly string[] | undefined>;
  /** Called with each deadline missed because a tick overran (for session gap events). */
  onMissed?: (devices: string[], missed: number, intervalMs: number) => void;
  /**
   * Called once the schedule has ended (no read starts after it), before {@linkcode Sampler.run}
   * waits for the reads in flight: a hung device's read may hold the end for its timeout, and
   * nothing is sampled meanwhile.
   */
  onScheduleEnd?: () => void;
  /**
   * Per-read timeout, ms (a verb's `--timeout`); default: each device's own (a `ca://` PV's is
   * 5 s, so `stream --timeout 1s` waited 5 s for a PV nobody serves and missed its deadlines).
   */
  timeout?: number;
  /** Longest backoff between retries of a failing device, ms (default 30 s). */
  maxBackoffMs?: number;
  /** Sample only these devices (default: every device of the lab). */
  devices?: readonly string[];
  /**
   * Follow the devices that push every reading (`Device.pushes`, a `labwire://` device) through
   * their subscription instead of polling them, until the signal aborts or the duration ends
   * (`serve` and `monitor`; `stream` follows pushing devices itself).
   */
  follow?: boolean;
}

/** Figures a sampling run keeps; read them for benchmarks, metrics and `session info`. */
export interface SamplerStats {
  /** Device readings due so far (ticks × devices). */
  expected: number;
  /** Readings started on schedule. */
  started: number;
  /** Readings skipped while a failing device backs off. */
  backedOff: number;
  /** Deadlines missed (overruns), per device. */
  missed: number;
  /** Lateness of each tick's timer against its deadline, ms (the last 100,000 ticks). */
  lateness: number[];
  /**
   * Lateness of each sample's start against its own deadline (its slot's, see
   * {@linkcode spread}), ms (every sample, in fixed memory).
   */
  sampleLateness: TimingHistogram;
}

/**
 * Devices whose reads start together. Starting a poll costs the sampler's thread ~20-30 µs (most
 * of it the socket write), so a slot of 64 is on the wire within about two milliseconds. Each
 * slot is a wake-up of the process (its timer, then the answers coming back together), and on a
 * virtual machine a wake-up costs more than a dozen polls: 1,000 gauges at 2 Hz in slots of 32
 * woke labwire ~330 times a second, in slots of 64 ~170, for ~10 % less CPU (slots of 128 saved
 * nothing more, and made every slot's last request later).
 */
export const SLOT_DEVICES = 64;
/**
 * Reads started between two looks at whether the event loop is starving (`starving()`), when a
 * slot is larger than this or slots are overdue.
 */
const YIELD_EVERY = 64;
/** Shortest time between two slots of a group, ms. */
const MIN_SLOT_MS = 2;

/**
 * How a group of `n` devices at `interval` ms is spread: `per` devices a slot, slots `slotMs`
 * apart, evenly over the interval. Up to {@linkcode SLOT_DEVICES} devices start together; more
 * are spread so that the requests (and the answers, and the memory they hold in flight) are
 * not one burst, as a scraper spreads its targets over its interval.
 *
 * @example
 * ```ts
 * import { spread } from "./sampler.ts";
 * spread(1000, 500); // { per: 63, slotMs: 31.25 }: 16 slots over 500 ms
 * spread(10, 500); // { per: 10, slotMs: 500 }: one slot
 * ```
 */
export function spread(n: number, interval: number): { per: number; slotMs: number } {
  const slots = Math.max(
    1,
    Math.min(Math.ceil(n / SLOT_DEVICES), Math.floor(interval / MIN_SLOT_MS)),
  );
  return { per: Math.max(1, Math.ceil(n / slots)), slotMs: interval / slots };
}

/**
 * One device's place in a schedule, and where its readings go (bound once, not per tick: the
 * manager hands each reading to it, {@linkcode DeviceManager.sampleFor}).
 */
class DeviceLoop implements ReadingTarget {
  failures = 0;
  retryAt = 0;
  inFlight = false;

  constructor(
    readonly manager: DeviceManager,
    readonly interval: number,
    readonly maxBackoff: number,
    readonly ended: () => void,
  ) {}

  /** A reading came (good or with `error`): backoff is reset or grows. */
  readonly done = (reading: Reading): void => {
    this.inFlight = false;
    if (reading.error === undefined) {
      this.failures = 0;
      this.retryAt = 0;
    } else {
      this.failures++;
      const backoff = Math.min(this.maxBackoff, this.interval * 2 ** (this.failures - 1));
      this.retryAt = performance.now() + backoff - this.interval;
    }
    this.ended();
  };

  /** The sampling was stopped under the read. */
  readonly lost = (): void => {
    this.inFlight = false;
    this.ended();
  };
}

/** Samples a lab's devices on schedule until stopped. */
export class Sampler {
  /** Running figures. */
  readonly stats: SamplerStats = {
    expected: 0,
    started: 0,
    backedOff: 0,
    missed: 0,
    lateness: [],
    sampleLateness: new TimingHistogram(),
  };
  /** Reads in flight, and who waits for them to end. */
  #inFlight = 0;
  #drained: (() => void) | undefined;
  readonly #ended = () => {
    if (--this.#inFlight === 0) this.#drained?.();
  };

  readonly #groups = new Map<number, DeviceLoop[]>();
  readonly #running = new Set<Promise<void>>();
  /** The followed devices' subscriptions (undefined when one failed to start). */
  readonly #followed = new Map<DeviceManager, Promise<Subscription | undefined>>();
  #following: Promise<void> | undefined;

  /** Prepares a sampler over `lab` (nothing runs until {@linkcode Sampler.run}). */
  constructor(readonly lab: Lab, readonly options: SamplerOptions = {}) {}

  /**
   * Samples until the signal aborts, the count or duration is reached; waits for reads in flight.
   * Without a `devices` list it follows the lab: a device added while it runs is sampled from its
   * next deadline on, a device removed is no longer sampled.
   */
  async run(): Promise<void> {
    const only = this.options.devices ? new Set(this.options.devices) : undefined;
    const start = performance.now();
    for (const manager of this.lab.managers) {
      if (only && !only.has(manager.name)) continue;
      this.#add(manager, start);
    }
    const off = only ? undefined : this.lab.onChange((c) => {
      if (c.added && !this.options.signal?.aborted) this.#add(c.added, performance.now());
      if (c.removed) this.#remove(c.removed);
    });
    try {
      // a device added at run time may start a group: wait until every group has ended
      while (this.#running.size > 0) await Promise.all([...this.#running]);
    } finally {
      off?.();
    }
    this.options.onScheduleEnd?.();
    if (this.#inFlight > 0) await new Promise<void>((resolve) => this.#drained = resolve);
  }

  #add(manager: DeviceManager, start: number): void {
    if (this.options.follow && manager.device.pushes && manager.device.subscribe) {
      this.#follow(manager);
      return;
    }
    const interval = this.options.interval ?? manager.config.interval;
    const loop = new DeviceLoop(
      manager,
      interval,
      this.options.maxBackoffMs ?? 30_000,
      this.#ended,
    );
    const loops = this.#groups.get(interval);
    if (loops) {
      loops.push(loop);
      return;
    }
    const group = [loop];
    this.#groups.set(interval, group);
    const p: Promise<void> = this.#runGroup(interval, group, start).finally(() => {
      this.#running.delete(p);
      if (this.#groups.get(interval) === group) this.#groups.delete(interval);
    });
    this.#running.add(p);
  }

  /** Follows a pushing device until sampling ends; a subscription that fails is an error reading. */
  #follow(manager: DeviceManager): void {
    const names = this.options.attrs?.[manager.name];
    this.#followed.set(
      manager,
      manager.followPushed(names && [...names], () => {}).catch((err) => {
        manager.publish({
          t: nowSeconds(),
          device: manager.name,
          values: {},
          error: errorMessage(err),
        });
        return undefined;
      }),
    );
    if (this.#following) return;
    const { signal, duration } = this.options;
    const p: Promise<void> = new Promise<void>((resolve) => {
      const timer = duration === undefined ? undefined : setTimeout(resolve, duration);
      const end = () => {
        clearTimeout(timer);
        resolve();
      };
      if (signal?.aborted) return end();
      signal?.addEventListener("abort", end, { once: true });
    }).then(async () => {
      const subs = [...this.#followed.values()];
      this.#followed.clear();
      await Promise.allSettled(subs.map(async (s) => await (await s)?.close()));
    }).finally(() => {
      this.#running.delete(p);
      this.#following = undefined;
    });
    this.#following = p;
    this.#running.add(p);
  }

  #remove(manager: DeviceManager): void {
    const sub = this.#followed.get(manager);
    if (sub) {
      this.#followed.delete(manager);
      sub.then((s) => s?.close()).catch(() => {});
    }
    for (const loops of this.#groups.values()) {
      const i = loops.findIndex((l) => l.manager === manager);
      if (i >= 0) loops.splice(i, 1);
    }
  }

  /**
   * Starts the reads of `loops[from..to)`, due at `due` (`now` read at the slot's start), or
   * counts why one does not start. The sampler's hot path, kept out of {@linkcode #runGroup}:
   * that loop is one async call for the whole run, so V8 compiles it by on-stack replacement
   * and drops that code whenever a branch taken for the first time (a yield, a missed deadline)
   * lacks type feedback; a run of `stream` spent its measured window in that loop's slower
   * tiers. A plain method called for every slot is compiled on its own calls and stays compiled.
   */
  #startReads(
    loops: readonly DeviceLoop[],
    from: number,
    to: number,
    due: number,
    now: number,
    interval: number,
    sampleOptions: { signal?: AbortSignal; timeout?: number },
  ): void {
    for (let i = from; i < to; i++) {
      const loop = loops[i]!;
      this.stats.expected++;
      // A read still running from an earlier tick owns the device: this deadline is missed.
      if (loop.inFlight) {
        this.stats.missed++;
        this.options.onMissed?.([loop.manager.name], 1, interval);
        continue;
      }
      if (now < loop.retryAt) {
        this.stats.backedOff++;
        continue;
      }
      this.stats.started++;
      // One clock read for the lateness and the read's latency: both time this start.
      const at = performance.now();
      this.stats.sampleLateness.add(at - due);
      loop.inFlight = true;
      const names = this.options.attrs?.[loop.manager.name];
      this.#inFlight++;
      loop.manager.sampleFor(names, sampleOptions, at, loop);
    }
  }

  async #runGroup(interval: number, loops: DeviceLoop[], start: number): Promise<void> {
    const { signal, count, duration, timeout } = this.options;
    const schedule = new Schedule(interval, { signal, count, duration, start });
    // One options object for every reading (not one per device per tick).
    const sampleOptions = { signal, timeout };
    let reported = 0;
    const reportMissed = (missed: number) => {
      reported += missed;
      this.stats.missed += missed * loops.length;
      this.stats.expected += missed * loops.length;
      this.options.onMissed?.(loops.map((l) => l.manager.name), missed, interval);
    };
    for await (const tick of schedule) {
      if (tick.missed > 0) reportMissed(tick.missed);
      if (this.stats.lateness.length >= 100_000) this.stats.lateness.splice(0, 50_000);
      this.stats.lateness.push(tick.lateness);
      let now = performance.now();
      // A large group is spread over the interval in slots of SLOT_DEVICES (see spread()):
      // slot j is due `j × slotMs` after the tick's deadline, every interval, so each device
      // keeps its own drift-free schedule and no tick is one burst of thousands of requests.
      const { per, slotMs } = spread(loops.length, interval);
      let due = tick.deadline;
      // Devices gone through since this loop last slept (overdue slots do not sleep).
      let started = 0;
      let i = 0;
      while (i < loops.length) {
        if (i > 0 && i % per === 0) {
          due = tick.deadline + (i / per) * slotMs;
          // Deadlines at or past the end of the duration were never due (offsets from the
          // start, not `due - start`: see Schedule, a difference of large floats falls short).
          if (duration !== undefined && tick.index * interval + (i / per) * slotMs >= duration) {
            break;
          }
          if (due > performance.now()) {
            // Node's setTimeout: a cheaper wake-up than the runtime's AbortSignal.timeout (see
            // sleepOnNodeTimer); the verbs that sample have loaded Node's timers opening devices.
            await sleepOnNodeTimer(due - performance.now(), signal);
            if (signal?.aborted) break;
            started = 0;
          }
          now = performance.now();
        }
        if (started >= YIELD_EVERY) {
          // Starting a slot of thousands of reads (or slots overdue after a stall) takes long
          // enough that the first answers come back meanwhile: they are read (and their
          // deadlines stopped) between starts. Slots of SLOT_DEVICES that sleep between them
          // never get here (asking starving() arms its heartbeat timer: ~30 a second for
          // nothing at 1,000 gauges).
          started = 0;
          if (starving()) {
            await macrotask();
            if (signal?.aborted) break;
          }
        }
        // Up to the end of this slot, at most YIELD_EVERY devices before looking up again.
        const end = Math.min(loops.length, i - (i % per) + per, i + YIELD_EVERY - started);
        this.#startReads(loops, i, end, due, now, interval, sampleOptions);
        started += end - i;
        i = end;
      }
    }
    // An overrun that reaches the count or the duration ends the schedule with no tick left to
    // report it on: those deadlines are missed all the same.
    if (schedule.stats.missed > reported) reportMissed(schedule.stats.missed - reported);
  }
}
