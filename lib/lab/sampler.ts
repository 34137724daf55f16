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
import type { Reading } from "../device/device.ts";
import { Schedule } from "../schedule/periodic.ts";
import { TimingHistogram } from "../schedule/histogram.ts";
import type { DeviceManager } from "./manager.ts";
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
  /** Longest backoff between retries of a failing device, ms (default 30 s). */
  maxBackoffMs?: number;
  /** Sample only these devices (default: every device of the lab). */
  devices?: readonly string[];
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
  /** Lateness of each sample's start against its deadline, ms (every sample, in fixed memory). */
  sampleLateness: TimingHistogram;
}

interface DeviceLoop {
  manager: DeviceManager;
  failures: number;
  retryAt: number;
  inFlight: boolean;
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
  readonly #pending = new Set<Promise<Reading>>();

  /** Prepares a sampler over `lab` (nothing runs until {@linkcode Sampler.run}). */
  constructor(readonly lab: Lab, readonly options: SamplerOptions = {}) {}

  /** Samples until the signal aborts, the count or duration is reached; waits for reads in flight. */
  async run(): Promise<void> {
    const groups = new Map<number, DeviceLoop[]>();
    const only = this.options.devices;
    for (const manager of this.lab.managers) {
      if (only && !only.includes(manager.name)) continue;
      const interval = this.options.interval ?? manager.config.interval;
      const loops = groups.get(interval) ?? [];
      loops.push({ manager, failures: 0, retryAt: 0, inFlight: false });
      groups.set(interval, loops);
    }
    const start = performance.now();
    await Promise.all(
      [...groups].map(([interval, loops]) => this.#runGroup(interval, loops, start)),
    );
    await Promise.allSettled([...this.#pending]);
  }

  async #runGroup(interval: number, loops: DeviceLoop[], start: number): Promise<void> {
    const { signal, count, duration } = this.options;
    const schedule = new Schedule(interval, { signal, count, duration, start });
    const maxBackoff = this.options.maxBackoffMs ?? 30_000;
    for await (const tick of schedule) {
      if (tick.missed > 0) {
        this.stats.missed += tick.missed * loops.length;
        this.stats.expected += tick.missed * loops.length;
        this.options.onMissed?.(loops.map((l) => l.manager.name), tick.missed, interval);
      }
      if (this.stats.lateness.length >= 100_000) this.stats.lateness.splice(0, 50_000);
      this.stats.lateness.push(tick.lateness);
      const now = performance.now();
      for (const loop of loops) {
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
        this.stats.sampleLateness.add(performance.now() - tick.deadline);
        loop.inFlight = true;
        const names = this.options.attrs?.[loop.manager.name];
        const p = loop.manager.sample(names, { signal });
        this.#pending.add(p);
        p.then((reading) => {
          loop.inFlight = false;
          this.#pending.delete(p);
          if (reading.error === undefined) {
            loop.failures = 0;
            loop.retryAt = 0;
          } else {
            loop.failures++;
            const backoff = Math.min(maxBackoff, interval * 2 ** (loop.failures - 1));
            loop.retryAt = performance.now() + backoff - interval;
          }
        }, () => {
          loop.inFlight = false;
          this.#pending.delete(p);
        });
      }
    }
  }
}
