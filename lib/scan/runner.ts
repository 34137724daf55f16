/**
 * The scan runner: for each point of a {@linkcode Plan} it writes every positioner at once
 * (through the lab's DeviceManagers, so writes are validated and queued), waits until they
 * are done (the device's `isMoving` signal, or the read-back within tolerance, with a timeout),
 * settles, reads every detector at once (averaged over the dwell time), and records the point.
 *
 * Limits are checked for the whole plan before the first move. {@linkcode ScanRun.stop} ends
 * after the current point (first Ctrl-C, `DELETE /api/scans/{id}`); {@linkcode ScanRun.abort}
 * stops at once (second Ctrl-C, `?now=1` or a second DELETE, daemon shutdown) and the scan ends
 * `aborted`. Relative
 * positioners return to where they started whenever the scan ends, except after an abort. A
 * device error stops the scan the same safe way, and every completed point is kept in the
 * session (batched transactions) and handed to {@linkcode ScanRun.onPoint} listeners as it
 * comes; the run itself holds only the last few ({@linkcode ScanRun.points}), so a scan of any
 * length runs in flat memory. A stored scan resumes from its first missing point.
 *
 * The scan's own device calls are quiet (see `SampleOptions.quiet`): its reads are recorded as
 * scan points, not also as samples and live readings of the devices (those keep coming from the
 * sampler at its interval), so thousands of points a second do not flood the recorder and SSE.
 *
 * Points of zero-latency devices come in microseconds without ever leaving the microtask
 * queue, so the loop takes a macrotask turn ({@linkcode fairTurn}) every few ms: the API,
 * other devices' sampling, SIGTERM and Ctrl-C are served during any scan.
 *
 * @module
 */
import { nowSeconds } from "../device/device.ts";
import { DeviceError, errorMessage, UsageError } from "../device/errors.ts";
import type { Lab } from "../lab/lab.ts";
import { fairTurn } from "../schedule/fair.ts";
import type { ScanPoint, ScanState } from "../session/scan_store.ts";
import { PeakCollector, type PeakStats } from "./peak.ts";
import { type AppliedSetting, applySettings, readBaseline, restoreSettings } from "./settings.ts";
import { Suspender } from "./suspender.ts";
import { makePlan, parseRef, type Plan } from "./plan.ts";
import {
  type DetectorGroup,
  detectorGroups,
  type DetectorTrigger,
  detectorTriggers,
} from "./detectors.ts";
import {
  checkLimits,
  checkTriggers,
  halt,
  type Positioner,
  resolvePositioners,
  type ScanDevices,
} from "./positioners.ts";
import type { ScanRequest } from "./request.ts";
import { endMoves } from "./end_moves.ts";
import { PointLog } from "./point_log.ts";
import { type PointDevices, takePoint } from "./point.ts";
import {
  KEEP_POINTS,
  type RunState,
  ScanInterrupted,
  type ScanResult,
  type ScanRunOptions,
  type ScanStatus,
} from "./run_status.ts";

/**
 * Most points a scan collects for its peak statistics (16 MB for one detector); longer scans end
 * without statistics (the session has every point).
 */
export const MAX_STATS_POINTS = 1_000_000;

/**
 * One scan, from its first move to its last point.
 *
 * @example
 * ```ts ignore
 * const run = new ScanRun(lab, { plan, detectors: ["det.counts"] }, { store });
 * run.onPoint((p) => console.log(p.index, p.values));
 * const result = await run.start(); // { state: "done", recorded: 21, … }
 * ```
 */
export class ScanRun {
  /** The plan being run. */
  readonly plan: Plan;
  /** Units of positioners and detectors by `device.attr`, known once started. */
  units: Record<string, string> = {};
  /** Decimal digits worth showing by `device.attr` (from the attrs' `precision`), once started. */
  precision: Record<string, number> = {};
  /** Start positions of the positioners (the origin of relative plans), known once started. */
  origin: number[] = [];
  readonly #lab: Lab;
  readonly #request: ScanRequest;
  readonly #opts: ScanRunOptions;
  readonly #abort = new AbortController();
  readonly #pointListeners = new Set<(p: ScanPoint) => void>();
  readonly #stateListeners = new Set<(s: ScanStatus) => void>();
  #state: RunState = "pending";
  #id: number | undefined;
  #recordedBefore = 0;
  #todo = 0;
  #started: number | undefined;
  #ended: number | undefined;
  #error: string | undefined;
  #returned: boolean | undefined;
  #stats: Record<string, PeakStats> | undefined;
  #movedTo: ScanStatus["moved_to"];
  #suspended: ScanStatus["suspended"];
  #suspensions = 0;
  #retaken = 0;
  #applied: AppliedSetting[] = [];
  #restored: boolean | undefined;
  #baseline: NonNullable<ScanStatus["baseline"]> | undefined;
  #suspender: Suspender | undefined;
  #detTriggers: DetectorTrigger[] = [];
  readonly #log: PointLog;
  #count = 0;
  #running: Promise<ScanResult> | undefined;
  readonly #ready = Promise.withResolvers<void>();

  /** Prepares a run of `request` on `lab`; nothing moves until {@linkcode ScanRun.start}. */
  constructor(lab: Lab, request: ScanRequest, opts: ScanRunOptions = {}) {
    this.#lab = lab;
    this.#request = request;
    this.#opts = opts;
    this.#log = new PointLog({
      store: opts.store,
      keep: opts.keepPoints ?? KEEP_POINTS,
      batch: opts.batch,
      flushMs: opts.flushMs,
    });
    this.plan = makePlan(request.plan, { maxPoints: opts.maxPoints, limitHint: opts.limitHint });
    for (const d of request.detectors) parseRef(d);
    for (const t of request.triggers ?? []) parseRef(t);
    if (this.plan.positioners.length === 0 && request.detectors.length === 0) {
      throw new UsageError("a count scan needs detectors", "add --detectors det.counts,…");
    }
    if (request.suspendOn?.length) {
      if (!opts.alarms) {
        throw new UsageError(
          "--suspend-on needs the alarms of a config ([[alarms]]); none are running here",
        );
      }
      this.#suspender = new Suspender(opts.alarms, request.suspendOn, request.resumeAfterMs);
    }
    for (const ref of Object.keys(request.settings ?? {})) parseRef(ref);
    if (request.goto !== undefined) {
      if (this.plan.positioners.length === 0 || request.detectors.length === 0) {
        throw new UsageError(`--goto ${request.goto} needs a positioner and a detector`);
      }
      if (request.plan.kind === "mesh") {
        throw new UsageError(`--goto ${request.goto} applies to line and list scans, not meshes`);
      }
    }
    this.#id = opts.resumeId;
    // a caller that only awaits start() must not see an unhandled rejection of ready()
    this.#ready.promise.catch(() => {});
  }

  /** The request this run executes. */
  get request(): ScanRequest {
    return this.#request;
  }

  /**
   * The latest points recorded by this run (at most `keepPoints`), in order. Every point goes
   * to {@linkcode ScanRun.onPoint} listeners and the store; this is only the tail.
   */
  get points(): ScanPoint[] {
    return this.#log.points;
  }

  /** Scan id in the session (once started with a store). */
  get id(): number | undefined {
    return this.#id;
  }

  /** Calls `fn` with every recorded point; returns an unsubscribe function. */
  onPoint(fn: (p: ScanPoint) => void): () => void {
    this.#pointListeners.add(fn);
    return () => this.#pointListeners.delete(fn);
  }

  /** Calls `fn` on every state change; returns an unsubscribe function. */
  onState(fn: (s: ScanStatus) => void): () => void {
    this.#stateListeners.add(fn);
    return () => this.#stateListeners.delete(fn);
  }

  /** The run's current status. */
  status(): ScanStatus {
    return {
      id: this.#id,
      state: this.#state,
      total: this.plan.length,
      recorded: this.#recordedBefore + this.#count,
      recorded_this_run: this.#count,
      todo_this_run: this.#todo,
      started: this.#started,
      ended: this.#ended,
      error: this.#error,
      returned: this.#returned,
      ...(this.#stats ? { stats: this.#stats } : {}),
      ...(this.#movedTo ? { moved_to: this.#movedTo } : {}),
      ...(this.#suspended ? { suspended: this.#suspended } : {}),
      ...(this.#suspender ? { suspensions: this.#suspensions, retaken: this.#retaken } : {}),
      ...(this.#applied.length
        ? {
          settings: Object.fromEntries(
            this.#applied.map((s) => [s.ref, { previous: s.previous, value: s.value }]),
          ),
          restored: this.#restored,
        }
        : {}),
      ...(this.#baseline ? { baseline: this.#baseline } : {}),
    };
  }

  /** Stops after the current point (first Ctrl-C): relative positioners return, data is kept. */
  stop(reason = "interrupted"): void {
    if (this.#state === "pending" || this.#state === "running") {
      this.#error ??= reason;
      this.#setState("stopping");
    }
  }

  /** Stops at once (second Ctrl-C): in-flight device calls are abandoned, nothing moves back. */
  abort(reason = "interrupted at once"): void {
    this.#error ??= reason;
    this.stop(reason);
    this.#abort.abort(new ScanInterrupted(reason));
  }

  /** Where the run is: pending, running, stopping (after a stop) or how it ended. */
  get state(): RunState {
    return this.#state;
  }

  /** True once {@linkcode ScanRun.abort} was called. */
  get aborted(): boolean {
    return this.#abort.signal.aborted;
  }

  /**
   * Resolves when the scan has passed its checks (devices, attributes, limits) and is about to
   * move; rejects with the refusal otherwise. Lets `POST /api/scans` answer 400 or 202.
   */
  ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** Runs the scan (once; later calls return the same promise). Resolves however it ends. */
  start(): Promise<ScanResult> {
    this.#running ??= this.#run();
    return this.#running;
  }

  async #run(): Promise<ScanResult> {
    try {
      return await this.#runPrepared(await this.#prepare());
    } catch (err) {
      // refused before anything moved (unknown attr, limits, unreachable device), or
      // stopped at once while getting ready
      this.#error = errorMessage(err);
      this.#ended = nowSeconds();
      this.#ready.reject(err);
      // A scan recorded as started and then ended by a throw (a listener of its start that threw,
      // an --out file that could not be opened) is not left "running" in its session for good.
      const store = this.#opts.store;
      if (store && this.#id !== undefined) {
        const state = this.#abort.signal.aborted ? "aborted" : "failed";
        try {
          store.finish(this.#id, state, this.#error, this.#ended, this.#stats);
        } catch {
          // the store's own failure is reported by the store; the scan's error is the one thrown
        }
      }
      if (this.#abort.signal.aborted) {
        this.#setState("aborted");
        return this.status() as ScanResult;
      }
      this.#setState("failed");
      throw err;
    }
  }

  async #prepare() {
    const signal = this.#abort.signal;
    const positioners = await resolvePositioners(this.#devices());
    const groups = await detectorGroups(this.#devices());
    await checkTriggers(this.#lab, this.#request);
    this.#detTriggers = await detectorTriggers(groups);
    for (const d of this.#request.baseline ?? []) this.#lab.get(d);
    const store = this.#opts.store;
    let done = new Set<number>();
    if (this.#opts.resumeId !== undefined) {
      if (!store) throw new UsageError("resuming a scan needs its session");
      const rec = store.get(this.#opts.resumeId);
      this.origin = rec.origin;
      done = new Set(store.recordedIndices(rec.id));
      this.#recordedBefore = done.size;
    } else {
      // where the positioners actually are (their read-backs) is where relative scans return
      this.origin = await Promise.all(positioners.map(async (p) => {
        const v = (await p.readbackManager.read([p.readback], { signal }))[p.readback];
        if (typeof v !== "number") {
          throw new DeviceError(`${p.ref} read back ${JSON.stringify(v)}, not a number`);
        }
        return v;
      }));
    }
    // the points still to do, in order, without materialising them (a plan may be long)
    const length = this.plan.length;
    const todo = function* () {
      for (let i = 0; i < length; i++) if (!done.has(i)) yield i;
    };
    this.#todo = length - done.size;
    await checkLimits(this.plan, this.origin, positioners, todo(), signal);
    if (this.#request.settings) {
      this.#applied = await applySettings(this.#lab, this.#request.settings, signal);
    }
    if (this.#request.baseline?.length) {
      this.#baseline = { start: await readBaseline(this.#lab, this.#request.baseline, signal) };
    }

    this.#started = nowSeconds();
    if (store) {
      if (this.#id === undefined) {
        this.#id = store.create({
          plan: this.#request,
          command: this.#opts.command ?? "",
          positioners: [...this.plan.positioners],
          detectors: [...this.#request.detectors],
          units: this.units,
          origin: this.origin,
          total: this.plan.length,
          started: this.#started,
        });
      } else store.reopen(this.#id);
      if (this.#baseline) store.setBaseline(this.#id, this.#baseline);
      this.#log.id = this.#id;
    }
    return { positioners, groups, todo };
  }

  async #runPrepared(
    { positioners, groups, todo }: {
      positioners: Positioner[];
      groups: DetectorGroup[];
      todo: () => Iterable<number>;
    },
  ): Promise<ScanResult> {
    const signal = this.#abort.signal;
    const store = this.#opts.store;
    if (this.#state === "pending") this.#setState("running");
    this.#ready.resolve();

    const scan: PointDevices = {
      lab: this.#lab,
      request: this.#request,
      plan: this.plan,
      origin: this.origin,
      positioners,
      groups,
      detTriggers: this.#detTriggers,
    };
    let outcome: ScanState = "done";
    const peaks = this.#peakCollector();
    try {
      for (const i of todo()) {
        if (this.#state === "stopping") break;
        const point = this.#suspender
          ? await this.#suspendable(scan, i, signal)
          : await takePoint(scan, i, signal);
        if (point === undefined) break; // stopped while suspended
        this.#count++;
        peaks?.add(point);
        this.#log.add(point);
        for (const fn of this.#pointListeners) fn(point);
        await fairTurn();
      }
      if (signal.aborted) outcome = "aborted";
      else if (this.#state === "stopping") outcome = "stopped";
    } catch (err) {
      if (signal.aborted) outcome = "aborted";
      else if (this.#state === "stopping") {
        // Stopped while its last point was in flight: the scan ends as stopped (Ctrl-C exits 130
        // however that point went); the point is not kept, and a resume takes it again.
        outcome = "stopped";
        this.#warn(`the point in flight when the scan was stopped failed: ${errorMessage(err)}`);
      } else {
        outcome = "failed";
        this.#error = errorMessage(err);
      }
    }
    this.#log.flush();
    this.#stats = this.#peakStats(peaks);
    this.#suspended = undefined;
    const halted = signal.aborted;
    if (halted) await halt(positioners, (m) => this.#warn(m));
    await this.#endConditions(signal.aborted);
    const ends = await endMoves({
      request: this.#request,
      plan: this.plan,
      origin: this.origin,
      positioners,
      stats: this.#stats,
      outcome,
      signal,
      warn: (m) => this.#warn(m),
    });
    // Stopped at once while returning (or going to --goto): that move is stopped where it is.
    if (signal.aborted && !halted) await halt(positioners, (m) => this.#warn(m));
    this.#movedTo = ends.moved_to;
    this.#returned = ends.returned;
    if (outcome === "done") this.#error = undefined;
    this.#ended = nowSeconds();
    if (store && this.#id !== undefined) {
      store.finish(this.#id, outcome, this.#error, this.#ended, this.#stats);
    }
    this.#setState(outcome);
    return this.status() as ScanResult;
  }

  /**
   * Takes point `i` once no suspending alarm is active; takes it again when one became active
   * while it was taken. Undefined when the scan was stopped while suspended.
   */
  async #suspendable(
    scan: PointDevices,
    i: number,
    signal: AbortSignal,
  ): Promise<ScanPoint | undefined> {
    const s = this.#suspender!;
    for (;;) {
      const waited = await s.waitClear(signal, () => this.#state === "stopping", (alarms) => {
        this.#suspensions++;
        const names = alarms.map((a) => a.name);
        this.#suspended = { since: nowSeconds(), alarms: names };
        this.#warn(
          `suspended before point ${i} by ${names.join(", ")}: ${
            alarms.map((a) => a.message).join("; ")
          }; resuming ${s.resumeAfterMs / 1000} s after ${
            names.length === 1 ? "it clears" : "they clear"
          }`,
        );
        this.#emitState();
      });
      if (this.#state === "stopping") return undefined;
      if (waited) {
        this.#warn(`resumed at point ${i}`);
        this.#suspended = undefined;
        this.#emitState();
      }
      const mark = s.mark();
      const point = await takePoint(scan, i, signal);
      if (!s.trippedSince(mark)) return point;
      this.#retaken++;
      this.#warn(`point ${i} was interrupted by an alarm: taking it again once it clears`);
    }
  }

  /**
   * The end of a scan around its points: the baseline read again and the settings restored
   * (neither after a stop at once, which says so).
   */
  async #endConditions(aborted: boolean): Promise<void> {
    if (this.#baseline && this.#request.baseline?.length && !aborted) {
      this.#baseline.end = await readBaseline(this.#lab, this.#request.baseline);
    }
    if (this.#applied.length > 0) {
      if (aborted) {
        this.#restored = false;
        this.#warn(
          `stopped at once: ${this.#applied.map((s) => s.ref).join(", ")} not restored`,
        );
      } else this.#restored = await restoreSettings(this.#lab, this.#applied, (m) => this.#warn(m));
    }
    const store = this.#opts.store;
    if (store && this.#id !== undefined && this.#baseline) {
      store.setBaseline(this.#id, this.#baseline);
    }
  }

  /** Columns for the peak statistics, or none (a mesh, or a plan too long to hold). */
  #peakCollector(): PeakCollector | undefined {
    if (this.#request.plan.kind === "mesh" || this.#request.detectors.length === 0) return;
    if (this.plan.length > MAX_STATS_POINTS) return;
    return new PeakCollector(this.plan.positioners[0], this.#request.detectors, this.plan.length);
  }

  /** Statistics of every recorded point: a resumed scan's earlier points come from the store. */
  #peakStats(peaks: PeakCollector | undefined): Record<string, PeakStats> | undefined {
    if (!peaks) return undefined;
    const store = this.#opts.store;
    if (this.#recordedBefore > 0 && store && this.#id !== undefined) {
      const all = new PeakCollector(peaks.positioner, peaks.detectors);
      for (const p of store.points(this.#id)) all.add(p);
      return all.stats();
    }
    return peaks.length > 0 ? peaks.stats() : undefined;
  }

  #devices(): ScanDevices {
    return {
      lab: this.#lab,
      request: this.#request,
      plan: this.plan,
      units: this.units,
      precision: this.precision,
    };
  }

  #setState(state: RunState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#emitState();
  }

  /** Tells the state listeners the status changed (a state, or suspended/resumed). */
  #emitState(): void {
    const s = this.status();
    for (const fn of this.#stateListeners) fn(s);
  }

  #warn(message: string): void {
    (this.#opts.warn ?? ((m: string) => console.error(`labwire scan: ${m}`)))(message);
  }
}
