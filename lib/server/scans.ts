/**
 * Scans over HTTP (`POST /api/scans`, `GET`/`DELETE /api/scans/{id}`), on issue 5's runner. A
 * scan owns its positioners' devices while it runs, by the lab's one rule (`DeviceOwners`): a
 * scan whose positioner a writing task or another scan owns is a 409 naming
 * the owner, a plain write to a device a scan moves is a 409, and a task posted to it waits in
 * the device's queue until the scan ends. Points recorded in the session and sent on the event stream as
 * `scan_point` events, `DELETE` interrupting like Ctrl-C (finish the point, return relative
 * positioners, keep the data).
 *
 * Bounded: a plan has at most `[server] max_scan_points` points (a 422 names the limit), every
 * number is finite and in range, points stream to the session and the event stream as they come
 * and a scan keeps only its latest points in memory; `GET /api/scans/{id}` pages through the
 * points (`?since=INDEX&limit=N`) from the session. Daemon shutdown aborts running scans (state
 * `aborted`, data kept).
 *
 * @module
 */
import type { AlarmSource } from "../alarm/engine.ts";
import { suspendRules } from "../scan/suspender.ts";
import type { Lab } from "../lab/lab.ts";
import type { Owner } from "../lab/owners.ts";
import { applySafeState, type SafeStateResult } from "../lab/safe_state.ts";
import { parseRef, PlanTooLarge } from "../scan/plan.ts";
import { ScanRun } from "../scan/runner.ts";
import type { ScanResult } from "../scan/run_status.ts";
import type { ScanRequest } from "../scan/request.ts";
import type { ScanPoint, ScanStore } from "../session/scan_store.ts";
import { pointRecord } from "../session/scan_export.ts";
import { DEFAULT_MAX_SCAN_POINTS } from "./config.ts";
import type { ScanSource } from "./context.ts";
import { HttpError, issuesError } from "./http_error.ts";
import type { Logger } from "./log.ts";
import { type ScanBody, scanBodySchema, type ScanPage } from "./schemas.ts";
import type { StreamHub } from "./sse.ts";

/** Body of `POST /api/scans` with the default point limit (the OpenAPI document's). */
export const ScanBodySchema = scanBodySchema(DEFAULT_MAX_SCAN_POINTS);

/** Finished scans kept in memory (older ones are in the session only). */
const KEEP_FINISHED = 100;

/** Options of a {@linkcode ScanService}. */
export interface ScanServiceOptions {
  /** Most points of a plan (default 1,000,000: `[server] max_scan_points`). */
  maxPoints?: number;
  /**
   * Latest points a scan keeps in memory (default: with a store, which has the rest, only the
   * points not written yet; else 1000).
   */
  keepPoints?: number;
  /** Called with each safe state applied after a scan that did not finish (the session records it). */
  onSafeState?: (result: SafeStateResult) => void;
  /** The daemon's alarm engine, for scans that `suspend_on` alarms. */
  alarms?: Pick<AlarmSource, "active" | "history">;
}

/** Maps the API's snake_case body onto the runner's ScanRequest. */
function scanRequest(body: ScanBody): ScanRequest {
  return {
    plan: body.plan,
    detectors: body.detectors,
    triggers: body.triggers,
    settleMs: body.settle_ms,
    dwellMs: body.dwell_ms,
    tolerance: body.tolerance,
    moveTimeoutMs: body.move_timeout_ms,
    readbacks: body.readbacks,
    pollMs: body.poll_ms,
    goto: body.goto,
    settings: body.set,
    baseline: body.baseline,
    suspendOn: body.suspend_on,
    resumeAfterMs: body.resume_after_ms,
  };
}

/** The runner's request as the API writes it: the snake_case body it was posted as. */
function requestBody(r: ScanRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {
    plan: r.plan,
    detectors: r.detectors,
    triggers: r.triggers,
    settle_ms: r.settleMs,
    dwell_ms: r.dwellMs,
    tolerance: r.tolerance,
    move_timeout_ms: r.moveTimeoutMs,
    readbacks: r.readbacks,
    poll_ms: r.pollMs,
    goto: r.goto,
    set: r.settings,
    baseline: r.baseline,
    suspend_on: r.suspendOn,
    resume_after_ms: r.resumeAfterMs,
  };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return body;
}

/**
 * Points per store transaction of an API scan: small, so a point waits for its write for less
 * than the few hundred points between two young-generation collections and dies young.
 */
const BATCH = 20;

/** Points in a page when the client gives no `limit`. */
const DEFAULT_PAGE = 1000;

const LIMIT_NAME = "[server] max_scan_points";

interface Entry {
  id: string;
  run: ScanRun;
  devices: Set<string>;
  result?: ScanResult;
  done: Promise<ScanResult>;
}

/** Runs scans for the HTTP API. */
export class ScanService implements ScanSource {
  readonly #scans = new Map<string, Entry>();
  #next = 1;
  readonly #schema: ReturnType<typeof scanBodySchema>;
  readonly #maxPoints: number;
  #closing = false;

  /** Scans on `lab`, recorded in `store` when given, points published on `hub`. */
  constructor(
    readonly lab: Lab,
    readonly store: ScanStore | undefined,
    readonly hub: StreamHub,
    readonly log: Logger,
    readonly options: ScanServiceOptions = {},
  ) {
    this.#maxPoints = options.maxPoints ?? DEFAULT_MAX_SCAN_POINTS;
    this.#schema = this.#maxPoints === DEFAULT_MAX_SCAN_POINTS
      ? ScanBodySchema
      : scanBodySchema(this.#maxPoints);
  }

  /** Checks and starts a scan; answers once it has passed its limit checks and is moving. */
  async submit(body: unknown): Promise<Record<string, unknown>> {
    const parsed = this.#schema.safeParse(body);
    if (!parsed.success) throw issuesError(parsed.error.issues, LIMIT_NAME);
    const request = scanRequest(parsed.data);
    if (request.suspendOn) suspendRules(this.lab.config, request.suspendOn);
    let run: ScanRun;
    try {
      run = new ScanRun(this.lab, request, {
        store: this.store,
        command: "POST /api/scans",
        alarms: this.options.alarms,
        warn: (m) => this.log.log("warn", `scan: ${m}`),
        maxPoints: this.#maxPoints,
        limitHint: `${LIMIT_NAME}; split the scan or raise the limit`,
        // With a store, memory holds only the points not yet written (at most a batch): pages
        // come from the store. Without one, the latest points are all a client can page through.
        keepPoints: this.options.keepPoints ?? (this.store ? 0 : 1000),
        // small transactions: a store write never holds the event loop for long
        batch: BATCH,
      });
    } catch (err) {
      if (err instanceof PlanTooLarge) {
        throw new HttpError(422, `plan: ${err.message} (${LIMIT_NAME})`, "limit_exceeded", {
          cause: err,
        });
      }
      throw err;
    }
    const devices = new Set(run.plan.positioners.map((p) => parseRef(p).device));
    const id = `s${this.#next}`;
    const owner: Owner = { kind: "scan", id, what: "scan" };
    // a Conflict (409) naming the owner when a writing task or another scan has one of them
    this.lab.owners.claim(devices, owner);
    this.#next++;
    const positioners = run.plan.positioners;
    const detectors = request.detectors;
    run.onPoint((p: ScanPoint) => {
      if (this.hub.clientCount === 0) return; // nobody to send it to: build nothing
      // A point is the line `labwire scan` prints: {scan, point, t, POS, POS_target, DET…}.
      this.hub.publish("scan_point", "", pointRecord({ id, positioners, detectors }, p));
    });
    const entry: Entry = { id, run, devices, done: run.start() };
    this.#scans.set(id, entry);
    // A plan refused by its checks rejects start() as well as ready(): handled below.
    entry.done.then(async (r) => {
      // a scan that did not finish leaves its positioners in their safe states, still owning
      // them (nothing queued starts in between); a daemon stopping applies every device's itself
      if (r.state !== "done" && !this.#closing) {
        await this.#safeStates(devices, `scan ${id} ${r.state}`);
      }
      entry.result = r;
      this.hub.publish("scan", "", { scan: id, ...r });
      this.#forgetOld();
    }, () => {}).finally(() => this.lab.owners.release(owner));
    try {
      await run.ready();
    } catch (err) {
      // the failure reported is what ready() threw; the run's own end adds nothing
      await entry.done.catch(() => {});
      this.#scans.delete(id);
      throw err;
    }
    return this.#view(entry, false);
  }

  /** A scan's status and one page of its points (default: the first 1000). */
  get(id: string, page: ScanPage = {}): Record<string, unknown> | undefined {
    const e = this.#scans.get(id);
    return e ? this.#view(e, page) : undefined;
  }

  /** Every scan kept (running and the last finished ones), oldest first, without points. */
  list(): Record<string, unknown>[] {
    return [...this.#scans.values()].map((e) => this.#view(e, false));
  }

  /**
   * Interrupts a scan and answers its final status: after its current point, as a first Ctrl-C
   * does, or at once (`now`, or a second stop of a scan still finishing its point or returning)
   * as a second one does: positioners with a `stop` attribute stop, nothing moves back.
   */
  async stop(
    id: string,
    page: ScanPage = {},
    opts: { now?: boolean } = {},
  ): Promise<Record<string, unknown>> {
    const e = this.#scans.get(id);
    if (!e) throw new HttpError(404, `no scan "${id}"`);
    // A point's move may take its whole move timeout (60 s by default) to end; a client that
    // cannot wait for it asks again, as a user presses Ctrl-C again.
    if (opts.now || e.run.state === "stopping") e.run.abort("stopped at once through the API");
    else e.run.stop("stopped through the API");
    // a stopped scan's outcome is in its status, returned below
    await e.done.catch(() => {});
    return this.#view(e, page);
  }

  /** True while a scan moves `device`. */
  busy(device: string): boolean {
    return this.lab.owners.holder(device)?.kind === "scan";
  }

  /**
   * Aborts every running scan (daemon shutdown: nothing waits for a move to finish or a
   * positioner to return) and waits for them; they end `aborted` with their points kept.
   */
  async close(): Promise<void> {
    this.#closing = true;
    for (const e of this.#scans.values()) if (!e.result) e.run.abort("server stopping");
    await Promise.allSettled([...this.#scans.values()].map((e) => e.done));
  }

  async #safeStates(devices: Iterable<string>, reason: string): Promise<void> {
    await Promise.all([...devices].map(async (d) => {
      const m = this.lab.find(d);
      const r = m && await applySafeState(m, reason);
      if (r) this.options.onSafeState?.(r);
    }));
  }

  #forgetOld(): void {
    let finished = 0;
    for (const e of this.#scans.values()) if (e.result) finished++;
    for (const [id, e] of this.#scans) {
      if (finished <= KEEP_FINISHED) break;
      if (!e.result) continue;
      this.#scans.delete(id);
      finished--;
    }
  }

  /** Points from index `since` on: recorded ones from the session, the latest from memory. */
  #points(e: Entry, since: number, limit: number): ScanPoint[] {
    const sid = e.run.id;
    const out = this.store && sid !== undefined ? this.store.pointsPage(sid, since, limit) : [];
    let last = out.at(-1)?.index ?? since - 1;
    for (const p of e.run.points) {
      if (out.length >= limit) break;
      // only what continues the page: a client paging on next_since never skips a point
      if (p.index > last && p.index >= since && (out.length === 0 || p.index === last + 1)) {
        out.push(p);
        last = p.index;
      }
    }
    return out;
  }

  #view(e: Entry, page: ScanPage | false): Record<string, unknown> {
    const status = e.result ?? e.run.status();
    const view: Record<string, unknown> = {
      ...status,
      id: e.id,
      session_scan_id: status.id ?? null,
      positioners: e.run.plan.positioners,
      detectors: e.run.request.detectors,
      request: requestBody(e.run.request),
    };
    if (page !== false) {
      const since = page.since ?? 0;
      const points = this.#points(e, since, page.limit ?? DEFAULT_PAGE);
      const header = {
        id: e.id,
        positioners: e.run.plan.positioners,
        detectors: e.run.request.detectors,
      };
      view.points = points.map((p) => pointRecord(header, p));
      view.next_since = points.length > 0 ? points.at(-1)!.index + 1 : since;
    }
    return view;
  }
}
