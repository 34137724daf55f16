/**
 * The `[server]` section of labwire.toml:
 *
 * ```toml
 * [server]
 * listen = "0.0.0.0:8600"          # default 127.0.0.1:8600
 * token_file = "/etc/labwire/token" # needed when listen is not loopback (or LABWIRE_TOKEN)
 * tls_cert = "/etc/labwire/cert.pem" # HTTPS: the certificate (chain), PEM; with tls_key
 * tls_key = "/etc/labwire/key.pem"   # its private key, PEM
 * cors = ["https://lab.example.org"] # origins allowed to call the API from a browser; default none
 * max_body = 65536                  # largest request body, bytes
 * max_scan_points = 1000000         # most points of a POST /api/scans plan
 * max_task_duration = "7d"          # longest task (and the max_duration of one that gives none)
 * ```
 *
 * @module
 */
import { parseWith } from "../config/fields.ts";
import { SERVER_SCHEMA } from "../config/schema.ts";
import { besideConfig } from "../config/beside_config.ts";
import type { ListenAddress } from "../device/host_port.ts";

/** Validated `[server]` settings. */
export interface ServerConfig {
  /** Listen address, when set. */
  listen?: ListenAddress;
  /** Token file, when set. */
  tokenFile?: string;
  /** TLS certificate file (PEM), when set. */
  tlsCert?: string;
  /** TLS private key file (PEM), when set. */
  tlsKey?: string;
  /** CORS origins (empty: CORS off). */
  cors: string[];
  /** Largest request body, bytes. */
  maxBody?: number;
  /** Most points of a scan plan sent to the API (default 1,000,000). */
  maxScanPoints?: number;
  /** Longest task, seconds (default 7 days). */
  maxTaskDurationS?: number;
}

/** Most points of a scan plan the API takes when `[server] max_scan_points` is not set. */
export const DEFAULT_MAX_SCAN_POINTS = 1_000_000;
/** Longest task the API takes when `[server] max_task_duration` is not set, seconds (7 days). */
export const DEFAULT_MAX_TASK_DURATION_S = 7 * 86_400;

/**
 * Validates the raw `[server]` table with {@linkcode SERVER_SCHEMA}; errors name the file and
 * the key. Its file paths are relative to the config `file` (see `besideConfig`).
 *
 * @example
 * ```ts
 * import { parseServerConfig } from "./config.ts";
 * parseServerConfig({ listen: "127.0.0.1:9000", cors: ["https://a.example"] }).cors; // ["https://a.example"]
 * ```
 */
export function parseServerConfig(raw: unknown, file?: string): ServerConfig {
  if (raw === undefined) return { cors: [] };
  const s = parseWith(SERVER_SCHEMA, raw, file, ["server"]);
  const out: ServerConfig = { cors: s.cors ?? [] };
  if (s.listen !== undefined) out.listen = s.listen;
  if (s.token_file !== undefined) out.tokenFile = besideConfig(s.token_file, file);
  if (s.tls_cert !== undefined) out.tlsCert = besideConfig(s.tls_cert, file);
  if (s.tls_key !== undefined) out.tlsKey = besideConfig(s.tls_key, file);
  if (s.max_body !== undefined) out.maxBody = s.max_body;
  if (s.max_scan_points !== undefined) out.maxScanPoints = s.max_scan_points;
  if (s.max_task_duration !== undefined) out.maxTaskDurationS = s.max_task_duration / 1000;
  return out;
}
