/**
 * Scans over HTTP (`POST /api/scans`, `GET`/`DELETE /api/scans/{id}`), on issue 5's runner: one
 * scan at a time per positioner device (an overlapping scan is a 409, and so is a plain write to
 * a device a scan is moving), points recorded in the session and sent on the event stream as
 * `scan_point` events, `DELETE` interrupting like Ctrl-C (finish the point, return relative
 * positioners, keep the data).
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import type { Lab } from "../lab/lab.ts";
import { parseRef } from "../scan/plan.ts";
import { type ScanRequest, type ScanResult, ScanRun } from "../scan/runner.ts";
import type { ScanPoint, ScanStore } from "../session/scan_store.ts";
import type { ScanSource } from "./context.ts";
import { HttpError } from "./http_error.ts";
import type { Logger } from "./log.ts";
import type { StreamHub } from "./sse.ts";

/** Body of `POST /api/scans`: issue 5's ScanRequest, unknown fields refused. */
export const ScanBodySchema = z.object({
  plan: z.record(z.string(), z.unknown()).openapi({
    example: {
      kind: "line",
      relative: false,
      axes: [{ positioner: "motor.position", start: 0, stop: 10 }],
      num: 11,
      spacing: "linear",
    },
  }),
  detectors: z.array(z.string()).openapi({ example: ["det.counts"] }),
  settle_ms: z.number().min(0).optional(),
  dwell_ms: z.number().min(0).optional(),
  tolerance: z.number().positive().optional(),
  move_timeout_ms: z.number().positive().optional(),
  readbacks: z.record(z.string(), z.string()).optional(),
  poll_ms: z.number().positive().optional(),
}).strict().openapi("ScanRequest");

/** Maps the API's snake_case body onto the runner's ScanRequest. */
function scanRequest(body: z.infer<typeof ScanBodySchema>): ScanRequest {
  return {
    plan: body.plan,
    detectors: body.detectors,
    settleMs: body.settle_ms,
    dwellMs: body.dwell_ms,
    tolerance: body.tolerance,
    moveTimeoutMs: body.move_timeout_ms,
    readbacks: body.readbacks,
    pollMs: body.poll_ms,
  } as unknown as ScanRequest;
}

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

  /** Scans on `lab`, recorded in `store` when given, points published on `hub`. */
  constructor(
    readonly lab: Lab,
    readonly store: ScanStore | undefined,
    readonly hub: StreamHub,
    readonly log: Logger,
  ) {}

  /** Checks and starts a scan; answers once it has passed its limit checks and is moving. */
  async submit(body: unknown): Promise<Record<string, unknown>> {
    const parsed = ScanBodySchema.safeParse(body);
    if (!parsed.success) {
      throw new HttpError(
        400,
        parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "),
      );
    }
    const request = scanRequest(parsed.data);
    const run = new ScanRun(this.lab, request, {
      store: this.store,
      command: "POST /api/scans",
      warn: (m) => this.log.log("warn", `scan: ${m}`),
    });
    const devices = new Set(run.plan.positioners.map((p) => parseRef(p).device));
    for (const e of this.#scans.values()) {
      if (e.result) continue;
      const shared = [...devices].filter((d) => e.devices.has(d));
      if (shared.length > 0) {
        throw new HttpError(409, `scan ${e.id} is moving ${shared.join(", ")}; stop it first`);
      }
    }
    const id = `s${this.#next++}`;
    const positioners = run.plan.positioners;
    const detectors = request.detectors;
    run.onPoint((p: ScanPoint) => {
      this.hub.publish("scan_point", "", {
        scan: id,
        index: p.index,
        total: run.plan.length,
        t: p.t,
        positions: Object.fromEntries(positioners.map((r, i) => [r, p.positions[i] ?? null])),
        readbacks: Object.fromEntries(positioners.map((r, i) => [r, p.readbacks[i] ?? null])),
        detectors: Object.fromEntries(detectors.map((r, i) => [r, p.values[i] ?? null])),
      });
    });
    const entry: Entry = { id, run, devices, done: run.start() };
    this.#scans.set(id, entry);
    // A plan refused by its checks rejects start() as well as ready(): handled below.
    entry.done.then((r) => {
      entry.result = r;
      this.hub.publish("scan", "", { scan: id, ...r });
    }, () => {});
    try {
      await run.ready();
    } catch (err) {
      await entry.done.catch(() => {});
      this.#scans.delete(id);
      throw err;
    }
    return this.#view(entry, false);
  }

  /** A scan's status and points. */
  get(id: string): Record<string, unknown> | undefined {
    const e = this.#scans.get(id);
    return e ? this.#view(e, true) : undefined;
  }

  /** Interrupts a scan (after its current point) and answers its final status. */
  async stop(id: string): Promise<Record<string, unknown>> {
    const e = this.#scans.get(id);
    if (!e) throw new HttpError(404, `no scan "${id}"`);
    e.run.stop("stopped through the API");
    await e.done.catch(() => {});
    return this.#view(e, true);
  }

  /** True while a scan moves `device`. */
  busy(device: string): boolean {
    for (const e of this.#scans.values()) if (!e.result && e.devices.has(device)) return true;
    return false;
  }

  /** Stops every running scan (daemon shutdown) and waits for them. */
  async close(): Promise<void> {
    for (const e of this.#scans.values()) e.run.stop("server stopping");
    await Promise.allSettled([...this.#scans.values()].map((e) => e.done));
  }

  #view(e: Entry, withPoints: boolean): Record<string, unknown> {
    const status = e.result ?? e.run.status();
    return {
      ...status,
      id: e.id,
      session_scan_id: status.id ?? null,
      positioners: e.run.plan.positioners,
      detectors: e.run.request.detectors,
      request: e.run.request,
      ...(withPoints ? { points: e.run.points } : {}),
    };
  }
}
