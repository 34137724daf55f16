/**
 * What the HTTP app is built from: the lab, and the optional parts `serve` wires in (the session
 * recorder, the alarm engine, tasks, scans). Each part is described here by the little the server
 * needs from it, so the app can be tested with any of them absent or faked.
 *
 * @module
 */
import type { PositionStore } from "../session/positions.ts";
import type { Reading } from "../device/device.ts";
import type { Lab } from "../lab/lab.ts";
import type { TaskBoard } from "../lab/task.ts";
import type { DeviceAdmin } from "./device_admin.ts";
import type { StreamHub } from "./sse.ts";
import type { Logger } from "./log.ts";

/** A request for recorded data of one attribute over a time range (epoch seconds). */
export interface SeriesQuery {
  /** Device name. */
  device: string;
  /** Attribute name. */
  attr: string;
  /** Start of the range, epoch seconds. */
  from: number;
  /** End of the range, epoch seconds. */
  to: number;
  /** Most points to return; more rows are reduced to min/max per time bucket. */
  maxPoints: number;
}

/** Recorded data, column-wise (what uPlot plots): one entry per point or per bucket. */
export interface SampleSeries {
  /** Times, epoch seconds (bucket starts when downsampled). */
  t: number[];
  /** Lowest value in each bucket (the value itself when not downsampled). */
  min: number[];
  /** Highest value in each bucket (the value itself when not downsampled). */
  max: number[];
  /** Rows the range held before downsampling. */
  rows: number;
  /** Bucket width in seconds, or null when every row is returned. */
  bucket: number | null;
}

/** What the server needs from the session recorder. */
export interface SessionSource {
  /** Recorded values of one attribute, downsampled to at most `maxPoints`. */
  samples(query: SeriesQuery): SampleSeries | Promise<SampleSeries>;
  /** Readings recorded at or after `tMs` (epoch ms), oldest first, at most `limit`. */
  readingsSince(
    tMs: number,
    devices: ReadonlySet<string> | undefined,
    limit: number,
  ): Reading[] | Promise<Reading[]>;
  /** Sample rows written so far. */
  rowsWritten(): number;
  /** Null when recording works, else why it does not. */
  problem(): string | null;
  /** Failed write attempts so far (each retry counts). */
  writeErrors?(): number;
  /** Samples dropped because writes failed for longer than the buffer holds. */
  dropped?(): number;
  /** The session file, for /healthz. */
  readonly path?: string;
}

/** What the server needs from the alarm engine. */
export interface AlarmView {
  /** Alarms active now. */
  active(): unknown[];
  /** Recent transitions, oldest first. */
  history?(): unknown[];
  /** Acknowledges the active alarm named `name`; undefined when none is active by that name. */
  acknowledge?(name: string): unknown | undefined;
}

/** What the server needs from the scan runner (issue 5's HTTP part). */
export interface ScanSource {
  /** Queues a plan; throws a conflict when its positioners are busy. */
  submit(plan: unknown): unknown | Promise<unknown>;
  /** Every scan kept (running and recently finished), oldest first, without points. */
  list?(): unknown[];
  /** A scan's status and a page of its points, or undefined. */
  get(id: string, page?: { since?: number; limit?: number }): unknown | undefined;
  /**
   * Interrupts a scan as Ctrl-C does (`now`, or a second stop: as a second Ctrl-C does);
   * resolves to its final status and a page of points.
   */
  stop(
    id: string,
    page?: { since?: number; limit?: number },
    opts?: { now?: boolean },
  ): Promise<unknown>;
  /** True while a scan moves `device` (a plain write then gets 409). */
  busy?(device: string): boolean;
  /** Calls `fn` with each recorded point; returns an unsubscribe function. */
  onPoint?(fn: (point: { scan: string; [key: string]: unknown }) => void): () => void;
}

/** Everything `createApp` builds the API from. */
export interface ServerContext {
  /** The devices. */
  lab: Lab;
  /** The stream hub (SSE fan-out); one is created when absent. */
  hub?: StreamHub;
  /** Sampler figures for /metrics and /healthz. */
  sampler?: { stats: { missed: number; expected: number; started: number } };
  /** The recording session. */
  session?: SessionSource;
  /** The alarm engine. */
  alarms?: AlarmView;
  /** The task board (tomato-style tasks). */
  tasks?: TaskBoard;
  /** The scan runner. */
  scans?: ScanSource;
  /** Adds and removes devices at run time (`serve` only). */
  devices?: DeviceAdmin;
  /** The named positions file, opened on first use. */
  positions?: () => PositionStore;
  /** When set, PUT/POST/DELETE need `Authorization: Bearer <token>`. */
  token?: string;
  /** Origins allowed by CORS; CORS is off when empty. */
  cors?: string[];
  /** Largest request body in bytes (default 64 KiB). */
  maxBodyBytes?: number;
  /** Most points of a scan plan (default 1,000,000: `[server] max_scan_points`). */
  maxScanPoints?: number;
  /** Longest task, seconds (default 7 days: `[server] max_task_duration`). */
  maxTaskDurationS?: number;
  /** Timeout of device calls made for a request, ms (default 5000). */
  requestTimeoutMs?: number;
  /** Where request failures are logged. */
  log?: Logger;
  /** labwire's version, for /healthz and the OpenAPI document. */
  version?: string;
  /**
   * More `/metrics` lines (Prometheus text, HELP and TYPE included), e.g. from add-ons started
   * after the app: read on every scrape, so sources may be added later.
   */
  extraMetrics?: readonly (() => string)[];
}
