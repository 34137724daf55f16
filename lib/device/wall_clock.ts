/**
 * Epoch time from the monotonic clock: a reading's time is the wall clock at the moment its read
 * started, and that moment is already read as `performance.now()` for the read's latency.
 * Reading the wall clock as well (`Date.now()`) was a third clock read per reading (~85 ns on
 * this project's VMs, where `performance.now()` costs ~165 ns: a `GET /read` read the clocks
 * three times where the bare server reads once). Here the wall clock is read again (re-synced)
 * at most once per `resyncMs` of the monotonic clock, on use: between two syncs the two clocks
 * move together (NTP slews both alike), and a step of the system clock is picked up by the
 * first reading a second after the last sync.
 *
 * @example
 * ```ts
 * import { wallSecondsAt } from "./wall_clock.ts";
 * const t = wallSecondsAt(performance.now()); // like Date.now() / 1000, to the millisecond
 * Math.abs(t * 1000 - Date.now()) <= 2; // true
 * ```
 *
 * @module
 */

/** A wall clock kept from the monotonic clock, re-synced with the system clock on use. */
export class WallClock {
  /** Epoch ms minus monotonic ms, as of the last sync. */
  #offset = 0;
  /** Monotonic ms of the last sync (none yet: the first use syncs). */
  #syncedAt = -Infinity;
  /** The wall clock's reading (epoch ms) at the last sync. */
  #wallSyncedAt = -Infinity;

  /**
   * A wall clock from `wallMs` (epoch ms, default `Date.now`) and `monoMs` (default
   * `performance.now`), read again together once `resyncMs` have passed since the last sync.
   */
  constructor(
    readonly wallMs: () => number = Date.now,
    readonly monoMs: () => number = () => performance.now(),
    readonly resyncMs = 1000,
  ) {}

  /**
   * Epoch seconds at monotonic time `mono` (ms, as `monoMs` gives it), to the millisecond like
   * `Date.now() / 1000`: at most 1 ms behind the wall clock between two steps of it.
   */
  secondsAt(mono: number): number {
    // Also when the monotonic reading is older than the sync by more than a period (a caller's
    // stale reading): the offset of now is the best guess for any time near now.
    if (!(Math.abs(mono - this.#syncedAt) < this.resyncMs)) this.#sync();
    return Math.floor(mono + this.#offset) / 1000;
  }

  /**
   * The monotonic time (ms, as `monoMs` gives it) that `wall`, a reading of the wall clock just
   * taken (epoch ms, as `wallMs` gives it), stands for: within a millisecond of the monotonic
   * clock read at the same moment. For a caller that read only the wall clock (`Date.now()`, a
   * fifth of `performance.now()`'s cost) and hands a time on to what runs on the monotonic one.
   * Re-synced like {@linkcode secondsAt}, once `wall` is `resyncMs` from the last sync's.
   */
  monoAt(wall: number): number {
    if (!(Math.abs(wall - this.#wallSyncedAt) < this.resyncMs)) this.#sync();
    return wall - this.#offset;
  }

  #sync(): void {
    // The monotonic clock first: the wall clock's whole milliseconds (read after it) then put
    // the estimate ahead of the wall clock by no more than the time between the two reads.
    const mono = this.monoMs();
    const wall = this.wallMs();
    this.#offset = wall - mono;
    this.#syncedAt = mono;
    this.#wallSyncedAt = wall;
  }
}

/** The process's wall clock kept from `performance.now()` (see {@linkcode WallClock}). */
const PROCESS_CLOCK = new WallClock();

/** Epoch seconds (to the millisecond) at `mono`, a `performance.now()` reading of the process. */
export function wallSecondsAt(mono: number): number {
  return PROCESS_CLOCK.secondsAt(mono);
}

/** The process's `performance.now()` that `wall`, a `Date.now()` just read, stands for (±1 ms). */
export function monoAtWall(wall: number): number {
  return PROCESS_CLOCK.monoAt(wall);
}
