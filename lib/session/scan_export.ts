/**
 * The shapes of scan points on the way out: one flat record per point (NDJSON on stdout, SSE,
 * the HTTP API) and the `#`-headed column file of `scan --out FILE.csv` and
 * `session export --scan N`. Columns: `point`, `t`, each positioner's read-back (named
 * `device.attr`) and target (`device.attr_target`), then each detector.
 *
 * @module
 */
import { csvLine } from "../output/csv.ts";
import type { DatabaseSync } from "node:sqlite";
import { readScan, readScanPoints, type ScanPoint } from "./scan_store.ts";
import { humanDateTime, machineTime, type TimeOptions } from "../output/time.ts";

/** What the header of a column file needs to know about a scan. */
export interface ScanHeader {
  /** Scan id in the session, when recorded. */
  id?: number;
  /** The command that started it. */
  command: string;
  /** Start time, Unix epoch seconds. */
  started: number;
  /** Positioners (`device.attr`). */
  positioners: readonly string[];
  /** Detectors (`device.attr`). */
  detectors: readonly string[];
  /** Units keyed by `device.attr`. */
  units: Record<string, string>;
  /** Number of points in the plan. */
  total?: number;
}

/** The column names of a scan's points, in order. */
export function scanColumns(h: Pick<ScanHeader, "positioners" | "detectors">): string[] {
  return [
    "point",
    "t",
    ...h.positioners.flatMap((p) => [p, `${p}_target`]),
    ...h.detectors,
  ];
}

/**
 * Flattens a point into the object printed as one NDJSON line.
 *
 * @example
 * ```ts
 * import { pointRecord } from "./scan_export.ts";
 * pointRecord({ positioners: ["m.x"], detectors: ["d.c"], id: 2 },
 *   { index: 0, t: 1.5, positions: [1], readbacks: [1.01], values: [7] });
 * // { scan: 2, point: 0, t: 1.5, "m.x": 1.01, "m.x_target": 1, "d.c": 7 }
 * ```
 */
export function pointRecord(
  h: Pick<ScanHeader, "positioners" | "detectors"> & { id?: number | string },
  p: ScanPoint,
  time?: TimeOptions,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (h.id !== undefined) out.scan = h.id;
  out.point = p.index;
  out.t = machineTime(p.t, time);
  for (let k = 0; k < h.positioners.length; k++) {
    const name = h.positioners[k]!;
    out[name] = p.readbacks[k] ?? null;
    out[`${name}_target`] = p.positions[k] ?? null;
  }
  for (let k = 0; k < h.detectors.length; k++) out[h.detectors[k]!] = p.values[k] ?? null;
  return out;
}

/** The `#` header lines and the column row of a scan's column file (start time for people). */
export function csvHeader(h: ScanHeader, time?: TimeOptions): string {
  const units = [...h.positioners, ...h.detectors]
    .map((r) => `${r}=${h.units[r] ?? ""}`)
    .join(" ");
  return [
    `# labwire scan${h.id !== undefined ? ` ${h.id}` : ""}`,
    `# command: ${h.command.replaceAll("\n", " ")}`,
    `# started: ${humanDateTime(h.started, { utc: time?.utc })}`,
    `# positioners: ${h.positioners.join(" ")}`,
    `# detectors: ${h.detectors.join(" ")}`,
    `# units: ${units}`,
    ...(h.total !== undefined ? [`# points: ${h.total}`] : []),
  ].join("\n") + "\n" + csvLine(scanColumns(h));
}

/** One data row of the column file. */
export function csvRow(p: ScanPoint, time?: TimeOptions): string {
  const fields: unknown[] = [p.index, machineTime(p.t, time)];
  for (let k = 0; k < p.positions.length; k++) fields.push(p.readbacks[k], p.positions[k]);
  for (const v of p.values) fields.push(v);
  return csvLine(fields);
}

/** A whole scan as a column file. */
export function scanCsv(h: ScanHeader, points: readonly ScanPoint[], time?: TimeOptions): string {
  return csvHeader(h, time) + points.map((p) => csvRow(p, time)).join("");
}

/** A whole scan as NDJSON, one point per line. */
export function scanNdjson(
  h: ScanHeader,
  points: readonly ScanPoint[],
  time?: TimeOptions,
): string {
  return points.map((p) => JSON.stringify(pointRecord(h, p, time)) + "\n").join("");
}

/**
 * Exports one scan as text: `csv` is the `#`-headed column file of `scan --out`, `ndjson` one
 * point per line as `scan` prints it. For `labwire session export --scan N [--format …]`.
 */
export function exportScan(
  db: DatabaseSync,
  id: number,
  format: "csv" | "ndjson" = "csv",
  time?: TimeOptions,
): string {
  const scan = readScan(db, id);
  const points = readScanPoints(db, id);
  return format === "csv" ? scanCsv(scan, points, time) : scanNdjson(scan, points, time);
}
