/**
 * The scan runner: for each point of a {@linkcode Plan} it writes every positioner at once
 * (through the lab's DeviceManagers, so writes are validated and queued), waits until they
 * are done (the device's `isMoving` signal, or the read-back within tolerance, with a timeout),
 * settles, reads every detector at once (averaged over the dwell time), and records the point.
 *
 * Limits are checked for the whole plan before the first move. {@linkcode ScanRun.stop} ends
 * after the current point (first Ctrl-C, `DELETE /api/scans/{id}`); {@linkcode ScanRun.abort}
 * stops at once (second Ctrl-C, daemon shutdown) and the scan ends `aborted`. Relative
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
import type { Value } from "../device/attr.ts";
import { nowSeconds } from "../device/device.ts";
import { DeviceError, errorMessage, UsageError } from "../device/errors.ts";
import type { Lab } from "../lab/lab.ts";
import { fairTurn } from "../schedule/fair.ts";
import { sleep } from "../schedule/periodic.ts";
import type { ScanPoint, ScanState, ScanStore } from "../session/scan_store.ts";
import { gotoPosition, PeakCollector, type PeakStats } from "./peak.ts";
import {
  type AppliedSetting,
  applySettings,
  type BaselineReading,
  readBaseline,
  restoreSettings,
} from "./settings.ts";
import { Suspender } from "./suspender.ts";
import type { AlarmSource } from "../alarm/engine.ts";
import { absolute, makePlan, parseRef, type Plan } from "./plan.ts";
import {
  type DetectorGroup,
  detectorGroups,
  type DetectorTrigger,
  detectorTriggers,
  dwellDetectors,
  readDetectors,
  triggerDetectors,
} from "./detectors.ts";
import {
  checkLimits,
  checkTriggers,
  halt,
  moveTo,
  type Positioner,
  resolvePositioners,
  type ScanDevices,
} from "./positioners.ts";
import type { ScanRequest } from "./request.ts";

/** Points a run keeps in memory by default (the latest; all of them go to listeners and the store). */
export const KEEP_POINTS = 1000;

/**
 * Most points a scan collects for its peak statistics (16 MB for one detector); longer scans end
 * without statistics (the session has every point).
 */
export const MAX_STATS_POINTS = 1_000_000;

/** Where a run is; `pending` before start, `stopping` after {@linkcode ScanRun.stop}. */
export type RunState = "pending" | "running" | "stopping" | ScanState;

/** A snapshot of a run, for progress displays and `GET /api/scans/{id}`. */
export interface ScanStatus {
  /** Scan id in the session, when recorded. */
  id?: number;
  /** Current state. */
  state: RunState;
  /** Points in the plan. */
  total: number;
  /** Points recorded (including those of earlier runs of a resumed scan). */
  recorded: number;
  /** Points recorded by this run. */
  recorded_this_run: number;
  /** Points this run set out to do. */
  todo_this_run: number;
  /** When this run started, Unix epoch seconds. */
  started?: number;
  /** When it ended. */
  ended?: number;
  /** Why it failed or stopped. */
  error?: string;
  /** True when relative positioners were returned to their start. */
  returned?: boolean;
  /** Peak statistics per detector (`device.attr`), once the scan ended. */
  stats?: Record<string, PeakStats>;
  /** Where `goto` moved the first positioner, once it did. */
  moved_to?: { positioner: string; target: string; position: number };
  /** While suspended: since when (epoch seconds) and by which alarms. */
  suspended?: { since: number; alarms: string[] };
  /** How many times the scan was suspended. */
  suspensions?: number;
  /** Points taken again because a suspending alarm interrupted them. */
  retaken?: number;
  /** `settings` (`--set`) as applied: previous and new value per `device.attr`. */
  settings?: Record<string, { previous: Value; value: Value }>;
  /** True once the settings were restored (false when one could not be). */
  restored?: boolean;
  /** The baseline devices' readings at the `start` and `end` of the scan. */
  baseline?: { start?: Record<string, BaselineReading>; end?: Record<string, BaselineReading> };
}

/** How a run ended. */
export interface ScanResult extends ScanStatus {
  /** `done`, `stopped` (interrupted after a point), `aborted` (stopped at once) or `failed` (device error). */
  state: ScanState;
}

/** Options of a run. */
export interface ScanRunOptions {
  /** Records the scan and its points. */
  store?: ScanStore;
  /** The command line or API call, stored with the scan. */
  command?: string;
  /** Resume this stored scan (its request must match the one given). */
  resumeId?: number;
  /** Longest time a point waits in memory before it is written to the store, ms (default 250). */
  flushMs?: number;
  /** Points per store transaction at most (default 1000). */
  batch?: number;
  /** Warnings (e.g. a positioner that could not be returned) go here; default: stderr. */
  warn?: (message: string) => void;
  /** Most points the plan may have (default `MAX_SCAN_POINTS`, 1,000,000). */
  maxPoints?: number;
  /** How to raise `maxPoints`, said when a plan is over it. */
  limitHint?: string;
  /**
   * Latest points kept in {@linkcode ScanRun.points} (default {@linkcode KEEP_POINTS}). 0 with a
   * store keeps only the points not written yet: the store has the others, and a long fast scan
   * then holds no point long enough for the garbage collector to promote it.
   */
  keepPoints?: number;
  /**
   * The alarms the request's `suspendOn` names (the lab's alarm engine); a request with
   * `suspendOn` and no alarms is refused.
   */
  alarms?: Pick<AlarmSource, "active" | "history">;
}

/** The error a run's in-flight calls are aborted with on {@linkcode ScanRun.abort}. */
export class ScanInterrupted extends Error {
  /** Creates the error. */
  constructor(message = "scan interrupted") {
    super(message);
    this.name = "ScanInterrupted";
  }
}

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
  #buffer: ScanPoint[] = [];
  #recent: ScanPoint[] = [];
  #count = 0;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<ScanResult> | undefined;
  readonly #ready = Promise.withResolvers<void>();

  /** Prepares a run of `request` on `lab`; nothing moves until {@linkcode ScanRun.start}. */
  constructor(lab: Lab, request: ScanRequest, opts: ScanRunOptions = {}) {
    this.#lab = lab;
    this.#request = request;
    this.#opts = opts;
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
    const keep = this.#opts.keepPoints ?? KEEP_POINTS;
    if (keep === 0) return this.#buffer.slice();
    return this.#recent.length > keep ? this.#recent.slice(-keep) : this.#recent.slice();
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

    let outcome: ScanState = "done";
    const peaks = this.#peakCollector();
    try {
      const keep = this.#opts.keepPoints ?? KEEP_POINTS;
      for (const i of todo()) {
        if (this.#state === "stopping") break;
        const point = this.#suspender
          ? await this.#suspendable(i, positioners, groups, signal)
          : await this.#point(i, positioners, groups, signal);
        if (point === undefined) break; // stopped while suspended
        this.#count++;
        peaks?.add(point);
        if (keep > 0) {
          this.#recent.push(point);
          if (this.#recent.length >= 2 * keep) this.#recent = this.#recent.slice(-keep);
        }
        this.#record(point);
        for (const fn of this.#pointListeners) fn(point);
        await fairTurn();
      }
      if (signal.aborted) outcome = "aborted";
      else if (this.#state === "stopping") outcome = "stopped";
    } catch (err) {
      if (signal.aborted) outcome = "aborted";
      else {
        outcome = "failed";
        this.#error = errorMessage(err);
      }
    }
    this.#flush();
    this.#stats = this.#peakStats(peaks);
    this.#suspended = undefined;
    if (signal.aborted) await halt(positioners, (m) => this.#warn(m));
    await this.#endConditions(signal.aborted);
    // --goto: a completed scan leaves its first positioner at the statistic (relative or not)
    const ends = [...this.origin];
    let gone = false;
    if (this.#request.goto !== undefined && outcome === "done" && positioners.length > 0) {
      const what = this.#request.goto;
      const detector = this.#request.detectors[0]!;
      try {
        const s = this.#stats?.[detector];
        if (!s) throw new UsageError(`--goto ${what}: no statistics of ${detector}`);
        const position = gotoPosition(s, what, detector);
        await moveTo(positioners[0]!, position, this.#request, signal);
        this.#movedTo = { positioner: positioners[0]!.ref, target: what, position };
        ends[0] = position;
        gone = true;
      } catch (err) {
        this.#warn(errorMessage(err));
      }
    }
    if (this.plan.relative && positioners.length > 0 && !(gone && positioners.length === 1)) {
      if (signal.aborted) {
        this.#returned = false;
        this.#warn(
          `stopped at once: ${positioners.map((p) => p.ref).join(", ")} not returned to ${
            this.origin.join(", ")
          }`,
        );
      } else {
        try {
          await Promise.all(
            positioners.map((p, k) => moveTo(p, ends[k]!, this.#request, signal)),
          );
          this.#returned = true;
        } catch (err) {
          this.#returned = false;
          this.#warn(
            `could not return ${positioners.map((p) => p.ref).join(", ")} to start: ${
              errorMessage(err)
            }`,
          );
        }
      }
    }
    if (outcome === "done") this.#error = undefined;
    this.#ended = nowSeconds();
    if (store && this.#id !== undefined) {
      store.finish(this.#id, outcome, this.#error, this.#ended, this.#stats);
    }
    this.#setState(outcome);
    return this.status() as ScanResult;
  }

  async #point(
    i: number,
    positioners: Positioner[],
    groups: DetectorGroup[],
    signal: AbortSignal,
  ): Promise<ScanPoint> {
    const targets = absolute(this.plan, i, this.origin);
    let readbacks: Value[];
    if (positioners.length === 1) {
      readbacks = [await moveTo(positioners[0]!, targets[0]!, this.#request, signal)];
    } else {
      readbacks = await Promise.all(
        positioners.map((p, k) => moveTo(p, targets[k]!, this.#request, signal)),
      );
    }
    const settle = this.#request.settleMs ?? 0;
    if (settle > 0) {
      await sleep(settle, signal);
      signal.throwIfAborted();
    }
    for (const ref of this.#request.triggers ?? []) {
      const { device, attr } = parseRef(ref);
      await this.#lab.get(device).write(attr, true, { signal });
    }
    if (this.#detTriggers.length > 0) {
      await triggerDetectors(
        this.#detTriggers,
        signal,
        this.#request.moveTimeoutMs,
        this.#request.pollMs,
      );
    }
    const values = new Array<Value>(this.#request.detectors.length);
    const dwell = this.#request.dwellMs ?? 0;
    const t = dwell > 0
      ? await dwellDetectors(groups, values, dwell, signal)
      : await readDetectors(groups, values, signal);
    return { index: i, t, positions: targets, readbacks, values };
  }

  /**
   * Takes point `i` once no suspending alarm is active; takes it again when one became active
   * while it was taken. Undefined when the scan was stopped while suspended.
   */
  async #suspendable(
    i: number,
    positioners: Positioner[],
    groups: DetectorGroup[],
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
      const point = await this.#point(i, positioners, groups, signal);
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
    return new PeakCollector(this.plan.positioners[0], this.#request.detectors);
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

  #record(point: ScanPoint): void {
    const store = this.#opts.store;
    if (!store || this.#id === undefined) return;
    this.#buffer.push(point);
    if (this.#buffer.length >= (this.#opts.batch ?? 1000)) this.#flush();
    else if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => this.#flush(), this.#opts.flushMs ?? 250);
    }
  }

  #flush(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#buffer.length === 0 || this.#id === undefined) return;
    const batch = this.#buffer;
    this.#buffer = [];
    this.#opts.store!.addPoints(this.#id, batch);
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
