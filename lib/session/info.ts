/**
 * The summary `labwire session info` prints: devices and attributes with units and sample
 * counts, time range, segments, gaps, errors and alarms, scans. One plain object (the `--json`
 * document), plus its text rendering.
 *
 * @module
 */
import { alignColumns } from "../output/columns.ts";
import { listScans } from "./scan_store.ts";
import type { EventInfo, SegmentInfo, SessionReader, TaskInfo } from "./reader.ts";
import { formatBytes } from "./file.ts";
import { humanDateTime, machineTime, type TimeOptions } from "../output/time.ts";

/** The summary of a session file. */
export interface SessionSummary {
  /** File path. */
  path: string;
  /** File size in bytes (database plus write-ahead log). */
  bytes: number;
  /** When the session was created, epoch seconds. */
  created?: number;
  /** First and last sample, epoch seconds. */
  first?: number;
  /** Last sample, epoch seconds. */
  last?: number;
  /** Samples stored. */
  samples: number;
  /** Devices with their attributes. */
  devices: {
    name: string;
    address?: string;
    attrs: {
      name: string;
      type: string;
      units?: string;
      samples: number;
      first?: number;
      last?: number;
    }[];
  }[];
  /** Runs, oldest first. */
  segments: SegmentInfo[];
  /** Event counts per kind. */
  events: Record<string, number>;
  /** Sum of missed sampling deadlines. */
  missed_deadlines: number;
  /** Alarm transitions (the last 100). */
  alarms: EventInfo[];
  /** Device error events (the last 20). */
  errors: EventInfo[];
  /** Task runs recorded in the session. */
  tasks: TaskInfo[];
  /** Scans recorded in the session. */
  scans: { id: number; state: string; command: string; points: number; total: number }[];
  /** `[session.parameters]` of the runs (the latest value of each key). */
  parameters: Record<string, unknown>;
  /** Notes (`session note`, `monitor --note`), the last 100. */
  notes: EventInfo[];
  /** Manual values (`session add`), the last 100; `data` holds the values. */
  entries: EventInfo[];
}

/** Builds the summary of an open session. */
export function summarize(reader: SessionReader): SessionSummary {
  reader.reloadAttrs();
  const devices = new Map<string, SessionSummary["devices"][number]>();
  const addresses = new Map(
    (reader.db.prepare("SELECT name, address FROM devices ORDER BY id").all() as {
      name: string;
      address: string | null;
    }[]).map((r) => [r.name, r.address ?? undefined]),
  );
  for (const [name, address] of addresses) devices.set(name, { name, address, attrs: [] });
  let samples = 0;
  for (const a of reader.attrs()) {
    samples += a.count;
    devices.get(a.device)?.attrs.push({
      name: a.attr,
      type: a.type,
      units: a.units,
      samples: a.count,
      first: a.first,
      last: a.last,
    });
  }
  const range = reader.timeRange();
  const last = (kind: string, n: number) => {
    const all = reader.events({ kinds: [kind] });
    return all.slice(Math.max(0, all.length - n));
  };
  let bytes = 0;
  for (const suffix of ["", "-wal"]) {
    try {
      bytes += Deno.statSync(reader.path + suffix).size;
    } catch { /* no WAL once closed cleanly */ }
  }
  const meta = reader.meta();
  return {
    path: reader.path,
    bytes,
    created: epochOf(meta.created),
    first: range.first,
    last: range.last,
    samples,
    devices: [...devices.values()],
    segments: reader.segments(),
    events: reader.eventCounts(),
    missed_deadlines: reader.missedDeadlines(),
    alarms: last("alarm", 100),
    errors: last("error", 20),
    tasks: reader.tasks(),
    scans: listScans(reader.db).map((s) => ({
      id: s.id,
      state: s.state,
      command: s.command,
      points: s.recorded,
      total: s.total,
    })),
    parameters: meta.parameters ? JSON.parse(meta.parameters) : {},
    notes: last("note", 100),
    entries: last("entry", 100),
  };
}

function epochOf(text: string | undefined): number | undefined {
  const ms = text === undefined ? NaN : Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/**
 * The summary as the `--json` document: every time in it (`created`, `first`, `last`, segment,
 * event and task times) written as `time` says — epoch seconds, or ISO 8601 under `--time iso`.
 */
export function summaryDocument(s: SessionSummary, time: TimeOptions = {}): unknown {
  const at = (t: number | undefined) => t === undefined ? undefined : machineTime(t, time);
  return {
    ...s,
    created: at(s.created),
    first: at(s.first),
    last: at(s.last),
    devices: s.devices.map((d) => ({
      ...d,
      attrs: d.attrs.map((a) => ({ ...a, first: at(a.first), last: at(a.last) })),
    })),
    segments: s.segments.map((g) => ({
      ...g,
      start: at(g.start),
      stop: at(g.stop),
      last: at(g.last),
    })),
    alarms: s.alarms.map((e) => ({ ...e, t: at(e.t) })),
    errors: s.errors.map((e) => ({ ...e, t: at(e.t) })),
    notes: s.notes.map((e) => ({ ...e, t: at(e.t) })),
    entries: s.entries.map((e) => ({ ...e, t: at(e.t) })),
    tasks: s.tasks.map((k) => ({ ...k, start: at(k.start), stop: at(k.stop) })),
  };
}

/** Renders the summary as text for a terminal: local times with their zone (UTC under `utc`). */
export function renderSummary(s: SessionSummary, opts: { utc?: boolean } = {}): string {
  const iso = (t: number | undefined) => t === undefined ? "—" : humanDateTime(t, opts);
  const lines: string[] = [];
  const span = s.first !== undefined && s.last !== undefined ? ` (${human(s.last - s.first)})` : "";
  lines.push(`session ${s.path}  ${formatBytes(s.bytes)}`);
  lines.push(`  time     ${iso(s.first)} → ${iso(s.last)}${span}`);
  lines.push(`  samples  ${s.samples}`);
  lines.push(
    `  events   ${
      Object.entries(s.events).map(([k, n]) => `${k} ${n}`).join(", ") || "none"
    }; missed deadlines ${s.missed_deadlines}`,
  );
  const params = Object.entries(s.parameters);
  if (params.length) {
    lines.push("parameters");
    for (const [k, v] of params) lines.push(`  ${k.padEnd(22)} ${JSON.stringify(v)}`);
  }
  lines.push("devices");
  for (const d of s.devices) {
    lines.push(`  ${d.name}${d.address ? `  ${d.address}` : ""}`);
    for (const a of d.attrs) {
      lines.push(
        `    ${a.name.padEnd(22)} ${(a.units ?? "").padEnd(8)} ${a.type.padEnd(8)} ${
          String(a.samples).padStart(10)
        } samples`,
      );
    }
  }
  lines.push("segments");
  for (const g of s.segments) {
    lines.push(
      `  ${String(g.id).padStart(3)}  ${iso(g.start)} → ${
        g.state === "stopped" ? iso(g.stop) : `${g.state} (last sample ${iso(g.last)})`
      }  ${g.reason ?? ""}${g.hostname ? `  on ${g.hostname}` : ""}`,
    );
  }
  if (s.alarms.length) {
    lines.push("alarms");
    for (const e of s.alarms) lines.push(`  ${iso(e.t)}  ${e.severity ?? ""}  ${e.message}`);
  }
  if (s.errors.length) {
    lines.push("device errors (latest)");
    for (const e of s.errors) lines.push(`  ${iso(e.t)}  ${e.device ?? ""}: ${e.message}`);
  }
  if (s.tasks.length) {
    lines.push("tasks");
    for (const t of s.tasks) {
      lines.push(`  ${iso(t.start)}  ${t.device} ${t.technique}  ${t.status ?? ""}`);
    }
  }
  if (s.notes.length || s.entries.length) {
    lines.push("notes and entries");
    const both = [...s.notes, ...s.entries].sort((a, b) => a.t - b.t || a.id - b.id);
    for (const e of both) {
      lines.push(`  ${iso(e.t)}  ${e.kind === "entry" ? "entry" : "note "}  ${e.message}`);
    }
  }
  if (s.scans.length) {
    lines.push("scans");
    const rows = s.scans.map((sc) => [
      String(sc.id).padStart(3),
      sc.state,
      `${sc.points}/${sc.total} points`,
      sc.command,
    ]);
    lines.push(...alignColumns(rows, { right: [0], indent: "  " }));
  }
  return lines.join("\n") + "\n";
}

function human(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}
