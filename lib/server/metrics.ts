/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4): the last value of every
 * numeric attribute as a gauge labelled with device, attr and units; device up/down; read, error
 * and write counters; the read latency histogram; missed sampling deadlines; session rows.
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import type { Lab } from "../lab/lab.ts";
import { LATENCY_BUCKETS_MS } from "../lab/manager.ts";
import type { ServerContext } from "./context.ts";

/** The content type Prometheus expects for the text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Escapes a label value (backslash, double quote, newline). */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(pairs: Record<string, string | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(pairs)) {
    if (v !== undefined) parts.push(`${k}="${escapeLabel(v)}"`);
  }
  return parts.length ? `{${parts.join(",")}}` : "";
}

function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/**
 * The latest good value of every attribute of every device, merged across readings (a write's
 * read-back carries one attribute; it must not hide the others from a scrape).
 */
export class LatestValues {
  readonly #values = new Map<string, Map<string, Value>>();
  readonly #detach: (() => void)[] = [];

  /** Follows every device of `lab`, starting from each one's last good reading. */
  attach(lab: Lab): void {
    for (const m of lab.managers) {
      if (m.lastGood) this.observe(m.lastGood.device, m.lastGood.values);
      this.#detach.push(m.onReading((r) => {
        if (r.error === undefined) this.observe(r.device, r.values);
      }));
    }
  }

  /** Merges values of a device. */
  observe(device: string, values: Record<string, Value>): void {
    let map = this.#values.get(device);
    if (!map) {
      map = new Map();
      this.#values.set(device, map);
    }
    for (const [k, v] of Object.entries(values)) map.set(k, v);
  }

  /** The latest values of a device. */
  of(device: string): ReadonlyMap<string, Value> | undefined {
    return this.#values.get(device);
  }

  /** Stops following the lab. */
  detach(): void {
    for (const d of this.#detach) d();
    this.#detach.length = 0;
  }
}

/** Extra figures from the server itself. */
export interface ServerFigures {
  /** Connected SSE clients. */
  sseClients: number;
  /** SSE clients dropped for lagging. */
  sseLagDisconnects: number;
}

/**
 * Renders the metrics page for a server context. Units come from cached attrs (never a device
 * call: a scrape must not queue behind a slow instrument).
 *
 * @example
 * ```ts ignore
 * const text = renderMetrics(ctx, unitsOf, { sseClients: 0, sseLagDisconnects: 0 });
 * ```
 */
export function renderMetrics(
  ctx: ServerContext,
  unitsOf: (device: string, attr: string) => string | undefined,
  figures: ServerFigures,
  latest?: LatestValues,
): string {
  const out: string[] = [];
  const help = (name: string, type: string, text: string) => {
    out.push(`# HELP ${name} ${text}`, `# TYPE ${name} ${type}`);
  };
  const managers = ctx.lab.managers;

  help("labwire_value", "gauge", "Last value of a numeric or boolean device attribute.");
  for (const m of managers) {
    const values = latest?.of(m.name) ?? new Map(Object.entries(m.lastGood?.values ?? {}));
    for (const [attr, v] of values) {
      const n = typeof v === "number" ? v : typeof v === "boolean" ? (v ? 1 : 0) : undefined;
      if (n === undefined) continue;
      out.push(
        `labwire_value${labels({ device: m.name, attr, units: unitsOf(m.name, attr) ?? "" })} ${
          num(n)
        }`,
      );
    }
  }
  help("labwire_value_timestamp_seconds", "gauge", "Time of the last good reading of a device.");
  for (const m of managers) {
    if (m.lastGood) {
      out.push(`labwire_value_timestamp_seconds${labels({ device: m.name })} ${m.lastGood.t}`);
    }
  }
  help("labwire_device_up", "gauge", "1 when the device's last call succeeded, 0 when it failed.");
  for (const m of managers) {
    out.push(
      `labwire_device_up${labels({ device: m.name, state: m.state })} ${m.state === "up" ? 1 : 0}`,
    );
  }
  help("labwire_reads_total", "counter", "Reads attempted.");
  for (const m of managers) {
    out.push(`labwire_reads_total${labels({ device: m.name })} ${m.stats.reads}`);
  }
  help("labwire_read_errors_total", "counter", "Reads that failed.");
  for (const m of managers) {
    out.push(`labwire_read_errors_total${labels({ device: m.name })} ${m.stats.errors}`);
  }
  help("labwire_writes_total", "counter", "Writes done.");
  for (const m of managers) {
    out.push(`labwire_writes_total${labels({ device: m.name })} ${m.stats.writes}`);
  }

  help("labwire_read_latency_seconds", "histogram", "Read latency through the device queue.");
  for (const m of managers) {
    const dev = m.name;
    LATENCY_BUCKETS_MS.forEach((le, i) => {
      out.push(
        `labwire_read_latency_seconds_bucket${labels({ device: dev, le: String(le / 1000) })} ${
          m.stats.latencyBuckets[i] ?? 0
        }`,
      );
    });
    out.push(
      `labwire_read_latency_seconds_bucket${labels({ device: dev, le: "+Inf" })} ${m.stats.reads}`,
    );
    out.push(
      `labwire_read_latency_seconds_sum${labels({ device: dev })} ${m.stats.latencySumMs / 1000}`,
    );
    out.push(`labwire_read_latency_seconds_count${labels({ device: dev })} ${m.stats.reads}`);
  }

  if (ctx.sampler) {
    help("labwire_missed_deadlines_total", "counter", "Sampling deadlines missed (overruns).");
    out.push(`labwire_missed_deadlines_total ${ctx.sampler.stats.missed}`);
    help("labwire_samples_due_total", "counter", "Device readings due on schedule.");
    out.push(`labwire_samples_due_total ${ctx.sampler.stats.expected}`);
  }
  if (ctx.session) {
    help("labwire_session_rows_written_total", "counter", "Sample rows written to the session.");
    out.push(`labwire_session_rows_written_total ${ctx.session.rowsWritten()}`);
    help("labwire_session_ok", "gauge", "1 while the session records.");
    out.push(`labwire_session_ok ${ctx.session.problem() === null ? 1 : 0}`);
  }
  if (ctx.alarms) {
    help("labwire_alarms_active", "gauge", "Alarms currently tripped.");
    out.push(`labwire_alarms_active ${ctx.alarms.active().length}`);
  }
  const mem = Deno.memoryUsage();
  help("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  out.push(`process_resident_memory_bytes ${mem.rss}`);
  help("labwire_heap_used_bytes", "gauge", "JavaScript heap in use, bytes.");
  out.push(`labwire_heap_used_bytes ${mem.heapUsed}`);
  help("labwire_sse_clients", "gauge", "Connected Server-Sent Events clients.");
  out.push(`labwire_sse_clients ${figures.sseClients}`);
  help("labwire_sse_lag_disconnects_total", "counter", "SSE clients dropped for falling behind.");
  out.push(`labwire_sse_lag_disconnects_total ${figures.sseLagDisconnects}`);
  return out.join("\n") + "\n";
}
