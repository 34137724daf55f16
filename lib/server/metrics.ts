/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4): the last value of every
 * numeric attribute as a gauge labelled with device, attr and units; device up/down; read, error
 * and write counters; the read latency histogram; missed sampling deadlines; session rows.
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import type { Lab } from "../lab/lab.ts";
import { DeviceManager, LATENCY_BUCKETS_MS } from "../lab/manager.ts";
import type { ServerContext } from "./context.ts";
import type { StreamHub } from "./sse.ts";

/** The content type Prometheus expects for the text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Escapes a label value (backslash, double quote, newline). */
export function escapeLabel(value: string): string {
  if (!/[\\"\n]/.test(value)) return value;
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
  // Per device: its last good values object as the reading carried it (kept, not copied: every
  // reading of every device comes here, each `GET /read` too), and what older readings had that
  // the last one lacks (a write's read-back carries one attribute).
  readonly #values = new Map<string, DeviceLatest>();
  // The device of the last values observed (readings come in runs of one device: polls of it).
  #last: DeviceLatest | undefined;
  #lastName = "";
  readonly #detach: (() => void)[] = [];

  /**
   * Follows every device of `lab`, starting from each one's last good reading: those open now and
   * those added later (POST /api/devices, SIGHUP); a removed device's values are forgotten, so a
   * device added again under its name starts afresh. With a `hub` that publishes `lab`'s
   * readings, the hub hands it their values (see {@linkcode StreamHub.feed}) instead of a
   * listener per device of its own.
   */
  attach(lab: Lab, hub?: Pick<StreamHub, "feed">): void {
    const fed = hub?.feed(lab, this);
    const readers = new Set<() => void>();
    const stop = lab.eachDevice((m) => {
      if (m.lastGood) this.observe(m.lastGood.device, m.lastGood.values);
      const off = fed === undefined
        ? m.onReading((r) => {
          if (r.error === undefined) this.observe(r.device, r.values);
        })
        : undefined;
      if (off !== undefined) readers.add(off);
      return () => {
        if (off !== undefined) {
          off();
          readers.delete(off);
        }
        this.#values.delete(m.name);
        this.#last = undefined;
      };
    });
    this.#detach.push(() => {
      stop();
      fed?.();
      for (const off of readers) off();
      readers.clear();
    });
  }

  /** Merges values of a device (kept by reference: a reading's values are never changed). */
  observe(device: string, values: Record<string, Value>): void {
    const d = this.#device(device);
    const prev = d.values;
    d.values = values;
    d.named = undefined;
    this.#merge(d, prev, values);
  }

  /**
   * Merges values of a device whose names, in order, are `names`: one array per device and
   * shape of its values (see {@linkcode ReadingRing.push}), so the same array as the last
   * values' says that nothing of those is lost, with no enumeration of these.
   */
  keep(device: string, values: Record<string, Value>, names: readonly string[]): void {
    const d = this.#device(device);
    const prev = d.values;
    d.values = values;
    if (names === d.named) return;
    this.#merge(d, prev, values);
    d.named = names;
  }

  /** What is kept of `device` (the last device's at hand: readings come in runs of one device). */
  #device(device: string): DeviceLatest {
    let d = this.#last;
    if (d === undefined || this.#lastName !== device) {
      d = this.#values.get(device);
      if (d === undefined) {
        d = { values: undefined, keys: [], named: undefined, older: undefined };
        this.#values.set(device, d);
      }
      this.#last = d;
      this.#lastName = device;
    }
    return d;
  }

  /** Keeps what `prev` (the device's values before `values`) had that `values` lacks. */
  #merge(
    d: DeviceLatest,
    prev: Record<string, Value> | undefined,
    values: Record<string, Value>,
  ): void {
    if (prev === values) return;
    if (prev === undefined) {
      d.keys = Object.keys(values);
      return;
    }
    // The same keys in the same order as the last reading's (a device's readings mostly are):
    // nothing of it is lost. One for…in and a comparison of interned names per key; looking each
    // of the previous reading's keys up in this one cost ~100 instructions a key (`KeyedHasIC`).
    const keys = d.keys;
    let n = 0;
    for (const k in values) {
      if (keys[n] !== k) {
        n = -1;
        break;
      }
      n++;
    }
    if (n === keys.length) return;
    // What the previous reading had and this one lacks stays for the scrape (what this one has
    // wins over it there).
    for (const k in prev) {
      if (!(k in values)) (d.older ??= new Map()).set(k, prev[k]!);
    }
    d.keys = Object.keys(values);
  }

  /** The latest values of a device. */
  of(device: string): ReadonlyMap<string, Value> | undefined {
    const d = this.#values.get(device);
    if (d === undefined) return undefined;
    const merged = new Map(d.older);
    for (const k in d.values) merged.set(k, d.values[k]!);
    return merged;
  }

  /** Stops following the lab. */
  detach(): void {
    for (const d of this.#detach) d();
    this.#detach.length = 0;
  }
}

/** A device's latest values: the last good reading's, and older ones it lacks. */
interface DeviceLatest {
  values: Record<string, Value> | undefined;
  // The last reading's keys, in order.
  keys: string[];
  // The names array the hub handed with the last values (equal to `keys`), undefined when they
  // came otherwise.
  named: readonly string[] | undefined;
  older: Map<string, Value> | undefined;
}

/** The per-device metric families, in page order: name, type, help. */
const DEVICE_FAMILIES: [string, string, string][] = [
  ["labwire_value", "gauge", "Last value of a numeric or boolean device attribute."],
  ["labwire_value_timestamp_seconds", "gauge", "Time of the last good reading of a device."],
  ["labwire_device_up", "gauge", "1 when the device's last call succeeded, 0 when it failed."],
  [
    "labwire_device_state",
    "gauge",
    "1 for the device's current state (unknown, up, down), 0 for the others.",
  ],
  ["labwire_reads_total", "counter", "Reads attempted."],
  ["labwire_read_errors_total", "counter", "Reads that failed."],
  ["labwire_writes_total", "counter", "Writes done."],
  [
    "labwire_read_latency_seconds",
    "histogram",
    "Read latency through the device queue (a pushed reading: its age on arrival).",
  ],
];

/** Every state a device can be in, each its own `labwire_device_state` series. */
const DEVICE_STATES = ["unknown", "up", "down"] as const;

/** The HELP and TYPE lines of each per-device family. */
const FAMILY_HEADS = DEVICE_FAMILIES.map(([name, type, text]) =>
  `# HELP ${name} ${text}\n# TYPE ${name} ${type}\n`
);

interface DeviceBlock {
  last: unknown;
  state: string;
  reads: number;
  writes: number;
  errors: number;
  units: unknown;
  /** Per family of DEVICE_FAMILIES, its lines of this device, each ending "\n" ("" for none). */
  lines: string[];
  series: DeviceSeries;
}

/**
 * The lines of each device on the metrics page, rendered again only when the device has a new
 * reading, state or counts (or new units): a scrape of a 100-device bench joins cached strings
 * instead of formatting and escaping ~2,500 lines.
 */
export class DeviceLines {
  readonly #blocks = new WeakMap<DeviceManager, DeviceBlock>();
  #changed = false;
  #page: { managers: DeviceManager[]; text: string } | undefined;

  /** `unitsKey(device)` changes (by identity) whenever the units of a device's attrs may have. */
  constructor(readonly unitsKey: (device: string) => unknown = () => undefined) {}

  /** The current lines of `m` per family. */
  of(
    m: DeviceManager,
    unitsOf: (device: string, attr: string) => string | undefined,
    latest?: LatestValues,
  ): string[] {
    const units = this.unitsKey(m.name);
    const stats = m.stats;
    let hit = this.#blocks.get(m);
    if (
      hit && hit.last === m.last && hit.state === m.state && hit.reads === stats.reads &&
      hit.writes === stats.writes && hit.errors === stats.errors && hit.units === units
    ) return hit.lines;
    this.#changed = true;
    if (hit === undefined) {
      const series = new DeviceSeries(m.name);
      hit = { last: 0, state: "", reads: 0, writes: 0, errors: 0, units, lines: [], series };
      this.#blocks.set(m, hit);
    }
    hit.last = m.last;
    hit.state = m.state;
    hit.reads = stats.reads;
    hit.writes = stats.writes;
    hit.errors = stats.errors;
    hit.units = units;
    hit.lines = hit.series.lines(m, unitsOf, latest);
    return hit.lines;
  }

  /**
   * Every per-device family of `managers`, in page order. Devices are sampled in ticks, so
   * between two ticks nothing changes and the text of the last call is returned as it is.
   */
  families(
    managers: readonly DeviceManager[],
    unitsOf: (device: string, attr: string) => string | undefined,
    latest?: LatestValues,
  ): string {
    this.#changed = false;
    const blocks = managers.map((m) => this.of(m, unitsOf, latest));
    const page = this.#page;
    if (
      !this.#changed && page && page.managers.length === managers.length &&
      page.managers.every((m, i) => m === managers[i])
    ) return page.text;
    const parts: string[] = [];
    FAMILY_HEADS.forEach((head, i) => {
      parts.push(head);
      for (const b of blocks) parts.push(b[i]!);
    });
    const text = parts.join("");
    this.#page = { managers: [...managers], text };
    return text;
  }
}

/**
 * What a device's lines have that only its name (and an attribute's units) decide: each
 * series' name and labels up to its value, made once, so that rendering a device formats its
 * figures and little else (a tick renders every device of the bench again).
 */
class DeviceSeries {
  readonly timestamp: string;
  /** The up line for 0 and 1. */
  readonly up: [string, string];
  /** The state lines for each state the device was seen in. */
  readonly #states = new Map<string, string>();
  readonly reads: string;
  readonly errors: string;
  readonly writes: string;
  /** Each latency bucket's series up to its value, +Inf last. */
  readonly buckets: string[];
  readonly sum: string;
  readonly count: string;
  /** Per attribute, its value series up to the value, with the units it was made for. */
  readonly #values = new Map<string, { units: string; prefix: string }>();

  /** The series of the device named `name`. */
  constructor(readonly name: string) {
    const device = labels({ device: name });
    this.timestamp = `labwire_value_timestamp_seconds${device} `;
    this.up = [`labwire_device_up${device} 0\n`, `labwire_device_up${device} 1\n`];
    this.reads = `labwire_reads_total${device} `;
    this.errors = `labwire_read_errors_total${device} `;
    this.writes = `labwire_writes_total${device} `;
    this.buckets = [...LATENCY_BUCKETS_MS.map((le) => String(le / 1000)), "+Inf"].map((le) =>
      `labwire_read_latency_seconds_bucket${labels({ device: name, le })} `
    );
    this.sum = `labwire_read_latency_seconds_sum${device} `;
    this.count = `labwire_read_latency_seconds_count${device} `;
  }

  /** The state lines of a device in `state`. */
  states(state: string): string {
    let text = this.#states.get(state);
    if (text === undefined) {
      text = DEVICE_STATES.map((s) =>
        `labwire_device_state${labels({ device: this.name, state: s })} ${state === s ? 1 : 0}\n`
      ).join("");
      this.#states.set(state, text);
    }
    return text;
  }

  /** The value series of `attr` in `units`, up to its value. */
  value(attr: string, units: string): string {
    const hit = this.#values.get(attr);
    if (hit !== undefined && hit.units === units) return hit.prefix;
    const prefix = `labwire_value${labels({ device: this.name, attr, units })} `;
    this.#values.set(attr, { units, prefix });
    return prefix;
  }

  /** The lines of `m` now, per family of DEVICE_FAMILIES, each ending "\n" ("" for none). */
  lines(
    m: DeviceManager,
    unitsOf: (device: string, attr: string) => string | undefined,
    latest?: LatestValues,
  ): string[] {
    const name = m.name;
    let values = "";
    for (const [attr, v] of latest?.of(name) ?? Object.entries(m.lastGood?.values ?? {})) {
      const n = typeof v === "number" ? v : typeof v === "boolean" ? (v ? 1 : 0) : undefined;
      if (n === undefined) continue;
      values += this.value(attr, unitsOf(name, attr) ?? "") + num(n) + "\n";
    }
    const stats = m.stats;
    // The manager counts each read in one bucket; Prometheus buckets are cumulative.
    let latency = "";
    let below = 0;
    const buckets = this.buckets;
    for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) {
      below += stats.latencyBuckets[i] ?? 0;
      latency += buckets[i]! + below + "\n";
    }
    latency += buckets[LATENCY_BUCKETS_MS.length]! + stats.reads + "\n" +
      this.sum + stats.latencySumMs / 1000 + "\n" + this.count + stats.reads + "\n";
    const good = m.lastGood;
    return [
      values,
      good ? this.timestamp + good.t + "\n" : "",
      // No label that changes: a device going down keeps its series (one per state, as
      // Prometheus enums are written), so rate() and alert rules see one continuous line.
      this.up[m.state === "up" ? 1 : 0],
      this.states(m.state),
      this.reads + stats.reads + "\n",
      this.errors + stats.errors + "\n",
      this.writes + stats.writes + "\n",
      latency,
    ];
  }
}

/**
 * Renders the metrics page for a server context. Units come from cached attrs (never a device
 * call: a scrape must not queue behind a slow instrument). Pass the same `cache` to every call
 * to re-render only the devices that changed since the last scrape.
 *
 * @example
 * ```ts ignore
 * const text = renderMetrics(ctx, unitsOf, { clientCount: 0, lagDisconnects: 0 });
 * ```
 */
export function renderMetrics(
  ctx: ServerContext,
  unitsOf: (device: string, attr: string) => string | undefined,
  figures: FigureSource,
  latest?: LatestValues,
  cache: DeviceLines = new DeviceLines(),
): string {
  const now = new Float64Array(FIGURE_COUNT);
  readFigures(ctx, figures, now);
  return cache.families(ctx.lab.managers, unitsOf, latest) + serverLines(ctx, now) +
    extraText((ctx.extraMetrics ?? []).map((more) => more()));
}

/** Where the server's figures of a scrape come from, besides the context. */
export interface FigureSource {
  /** Connected SSE clients. */
  readonly clientCount: number;
  /** SSE clients dropped for lagging. */
  readonly lagDisconnects: number;
}

/**
 * The metrics page of a server, answered as it was while nothing it shows moved: no reading,
 * state, counter or attrs of any device ({@linkcode DeviceManager.changes}), no device added or
 * removed, no server-wide figure changed. Each figure is read on every scrape, so the page is
 * exact when it is asked for; only its text is kept. Units come from the devices' cached attrs.
 *
 * @example
 * ```ts ignore
 * const page = new MetricsPage(ctx, hub, latest);
 * app.get("/metrics", (c) => c.body(page.text(), 200));
 * ```
 */
export class MetricsPage {
  readonly #lines = new DeviceLines((device) => this.ctx.lab.find(device)?.cachedAttrs());
  readonly #unitsOf = (device: string, attr: string) =>
    this.ctx.lab.find(device)?.cachedAttrs()?.find((a) => a.name === attr)?.units;
  #members = 0;
  readonly #stop: () => void;
  // What the page was rendered at: the managers' change count, the lab's membership count.
  #changes = -1;
  #membersShown = -1;
  // Devices whose attrs can go stale on their own (the device's `attrsEpoch` moves, e.g. a
  // labwire:// device whose daemon came back): their units are looked at on every scrape.
  #epochs: { m: DeviceManager; epoch: number | undefined }[] = [];
  #families = "";
  readonly #now = new Float64Array(FIGURE_COUNT);
  readonly #shown = new Float64Array(FIGURE_COUNT).fill(NaN);
  #server = "";
  #page: string | undefined;
  // The add-ons' lines the page was last answered with, the page they were added to, and both.
  #extras: string[] = [];
  #extendedFrom: string | undefined;
  #withExtras = "";

  /** The page of `ctx`'s lab and server; `figures` gives the SSE figures, `latest` the values. */
  constructor(
    readonly ctx: ServerContext,
    readonly figures: FigureSource,
    readonly latest?: LatestValues,
  ) {
    this.#stop = ctx.lab.onChange(() => this.#members++);
  }

  /** The page as it is now. */
  text(): string {
    let stale = DeviceManager.changes !== this.#changes || this.#members !== this.#membersShown;
    for (const { m, epoch } of this.#epochs) {
      if (m.device.attrsEpoch !== epoch) stale = true;
    }
    if (stale) {
      this.#changes = DeviceManager.changes;
      this.#membersShown = this.#members;
      const managers = this.ctx.lab.managers;
      this.#epochs = managers.filter((m) => m.device.attrsEpoch !== undefined).map((m) => ({
        m,
        epoch: m.device.attrsEpoch,
      }));
      this.#families = this.#lines.families(managers, this.#unitsOf, this.latest);
      this.#page = undefined;
    }
    const now = this.#now;
    const shown = this.#shown;
    readFigures(this.ctx, this.figures, now);
    for (let i = 0; i < FIGURE_COUNT; i++) {
      if (now[i] !== shown[i]) {
        shown.set(now);
        this.#server = serverLines(this.ctx, now);
        this.#page = undefined;
        break;
      }
    }
    const page = this.#page ??= this.#families + this.#server;
    const more = this.ctx.extraMetrics;
    if (more === undefined || more.length === 0) return page;
    return this.#extended(page, more);
  }

  /** The page with the add-ons' lines (read on every scrape: their figures are their own). */
  #extended(page: string, more: readonly (() => string)[]): string {
    const extras = more.map((f) => f());
    // The page by identity (a page is made again only when something moved), not by its text.
    let same = page === this.#extendedFrom && extras.length === this.#extras.length;
    for (let i = 0; same && i < extras.length; i++) same = extras[i] === this.#extras[i];
    if (same) return this.#withExtras;
    this.#extras = extras;
    this.#extendedFrom = page;
    this.#withExtras = page + extraText(extras);
    return this.#withExtras;
  }

  /** Stops following the lab's devices. */
  close(): void {
    this.#stop();
  }
}

let memory: { at: number; usage: Deno.MemoryUsage } | undefined;

/** Process memory, read at most once a second (reading it costs as much as a scrape's text). */
function memoryUsage(): Deno.MemoryUsage {
  const now = performance.now();
  if (!memory || now - memory.at >= 1000) memory = { at: now, usage: Deno.memoryUsage() };
  return memory.usage;
}

/**
 * The server-wide figures, in page order: name, type, help, and what of the context the figure
 * needs ("" for none: the process's own), so a server without a sampler, session or alarms shows
 * none of their lines.
 */
const SERVER_FIGURES: [string, string, string, "sampler" | "session" | "alarms" | ""][] = [
  ["labwire_missed_deadlines_total", "counter", "Sampling deadlines missed (overruns).", "sampler"],
  ["labwire_samples_due_total", "counter", "Device readings due on schedule.", "sampler"],
  [
    "labwire_session_rows_written_total",
    "counter",
    "Sample rows written to the session.",
    "session",
  ],
  [
    "labwire_session_ok",
    "gauge",
    "1 while the session records, 0 while its writes fail.",
    "session",
  ],
  [
    "labwire_session_write_errors_total",
    "counter",
    "Failed session write attempts (disk full, permissions; retried with backoff).",
    "session",
  ],
  [
    "labwire_session_dropped_samples_total",
    "counter",
    "Samples dropped because session writes failed for longer than the buffer holds.",
    "session",
  ],
  ["labwire_alarms_active", "gauge", "Alarms currently tripped.", "alarms"],
  ["process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", ""],
  ["labwire_heap_used_bytes", "gauge", "JavaScript heap in use, bytes.", ""],
  ["labwire_sse_clients", "gauge", "Connected Server-Sent Events clients.", ""],
  ["labwire_sse_lag_disconnects_total", "counter", "SSE clients dropped for falling behind.", ""],
];

const FIGURE_COUNT = SERVER_FIGURES.length;

/** Each server-wide figure's HELP and TYPE lines and its name, up to its value. */
const SERVER_HEADS = SERVER_FIGURES.map(([name, type, text]) =>
  `# HELP ${name} ${text}\n# TYPE ${name} ${type}\n${name} `
);

/**
 * Reads the server-wide figures into `out`, in {@linkcode SERVER_FIGURES}' order; a figure the
 * server does not have (no sampler, session or alarms) reads -1 (never NaN: a scrape compares
 * the figures with those of the last page, and NaN equals nothing).
 */
function readFigures(
  ctx: ServerContext,
  sse: FigureSource,
  out: Float64Array,
): void {
  const sampler = ctx.sampler;
  out[0] = sampler ? sampler.stats.missed : -1;
  out[1] = sampler ? sampler.stats.expected : -1;
  const session = ctx.session;
  out[2] = session ? session.rowsWritten() : -1;
  out[3] = session ? (session.problem() === null ? 1 : 0) : -1;
  out[4] = session ? session.writeErrors?.() ?? 0 : -1;
  out[5] = session ? session.dropped?.() ?? 0 : -1;
  out[6] = ctx.alarms ? ctx.alarms.active().length : -1;
  const mem = memoryUsage();
  out[7] = mem.rss;
  out[8] = mem.heapUsed;
  out[9] = sse.clientCount;
  out[10] = sse.lagDisconnects;
}

/** The lines of the server-wide figures `ctx` has, read by {@linkcode readFigures}. */
function serverLines(ctx: ServerContext, figures: Float64Array): string {
  let out = "";
  for (let i = 0; i < FIGURE_COUNT; i++) {
    const needs = SERVER_FIGURES[i]![3];
    if (needs === "" || ctx[needs] !== undefined) out += `${SERVER_HEADS[i]}${figures[i]}\n`;
  }
  return out;
}

/** The add-ons' texts as the page's lines: each text ending in one newline. */
function extraText(texts: readonly string[]): string {
  let out = "";
  for (const text of texts) out += text.replace(/\n$/, "") + "\n";
  return out;
}
