/**
 * The `[server]` section of labwire.toml:
 *
 * ```toml
 * [server]
 * listen = "0.0.0.0:8600"          # default 127.0.0.1:8600
 * token_file = "/etc/labwire/token" # needed when listen is not loopback (or LABWIRE_TOKEN)
 * cors = ["https://lab.example.org"] # origins allowed to call the API from a browser; default none
 * max_body = 65536                  # largest request body, bytes
 * max_scan_points = 1000000         # most points of a POST /api/scans plan
 * max_task_duration = "7d"          # longest task (and the max_duration of one that gives none)
 * ```
 *
 * @module
 */
import { ConfigError } from "../device/errors.ts";
import { parseDuration } from "../config/duration.ts";
import { isTable } from "../config/load.ts";
import { didYouMean } from "../cli/suggest.ts";
import { UsageError } from "../device/errors.ts";
import { type ListenAddress, parseListen } from "./listen.ts";

/** Validated `[server]` settings. */
export interface ServerConfig {
  /** Listen address, when set. */
  listen?: ListenAddress;
  /** Token file, when set. */
  tokenFile?: string;
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

const KEYS = ["listen", "token_file", "cors", "max_body", "max_scan_points", "max_task_duration"];

/**
 * Validates the raw `[server]` table; errors name the file and the key.
 *
 * @example
 * ```ts
 * import { parseServerConfig } from "./config.ts";
 * parseServerConfig({ listen: "127.0.0.1:9000", cors: ["https://a.example"] }).cors; // ["https://a.example"]
 * ```
 */
export function parseServerConfig(raw: unknown, file?: string): ServerConfig {
  if (raw === undefined) return { cors: [] };
  if (!isTable(raw)) throw new ConfigError("expected a table: [server]", file, "server");
  for (const key of Object.keys(raw)) {
    if (!KEYS.includes(key)) {
      const hint = didYouMean(key, KEYS);
      throw new ConfigError(
        `unknown key; [server] takes: ${KEYS.join(", ")}${hint ? ` (${hint})` : ""}`,
        file,
        `server.${key}`,
      );
    }
  }
  const out: ServerConfig = { cors: [] };
  if (raw.listen !== undefined) {
    if (typeof raw.listen !== "string") {
      throw new ConfigError('expected "HOST:PORT", e.g. "127.0.0.1:8600"', file, "server.listen");
    }
    try {
      out.listen = parseListen(raw.listen);
    } catch (err) {
      const msg = err instanceof UsageError ? err.message.replace(/^--listen: /, "") : String(err);
      throw new ConfigError(msg, file, "server.listen", { cause: err });
    }
  }
  if (raw.token_file !== undefined) {
    if (typeof raw.token_file !== "string" || raw.token_file === "") {
      throw new ConfigError(
        "expected the path of a file holding the token",
        file,
        "server.token_file",
      );
    }
    out.tokenFile = raw.token_file;
  }
  if (raw.cors !== undefined) {
    const list = typeof raw.cors === "string" ? [raw.cors] : raw.cors;
    if (!Array.isArray(list) || !list.every((o) => typeof o === "string")) {
      throw new ConfigError(
        'expected a list of origins like ["https://lab.example.org"]',
        file,
        "server.cors",
      );
    }
    for (const origin of list as string[]) {
      let ok = false;
      try {
        const u = new URL(origin);
        ok = (u.protocol === "http:" || u.protocol === "https:") &&
          u.origin === origin.replace(/\/$/, "");
      } catch {
        ok = false;
      }
      if (!ok) {
        throw new ConfigError(
          `"${origin}" is not an origin like "https://lab.example.org" (scheme and host, no path)`,
          file,
          "server.cors",
        );
      }
    }
    out.cors = (list as string[]).map((o) => o.replace(/\/$/, ""));
  }
  if (raw.max_body !== undefined) {
    const n = raw.max_body;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1024 || n > 64 * 1024 * 1024) {
      throw new ConfigError(
        "expected a number of bytes from 1024 to 67108864",
        file,
        "server.max_body",
      );
    }
    out.maxBody = n;
  }
  if (raw.max_scan_points !== undefined) {
    const n = raw.max_scan_points;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 100_000_000) {
      throw new ConfigError(
        "expected a whole number of points from 1 to 100000000",
        file,
        "server.max_scan_points",
      );
    }
    out.maxScanPoints = n;
  }
  if (raw.max_task_duration !== undefined) {
    const v = raw.max_task_duration;
    let ms = NaN;
    if (typeof v === "string") {
      try {
        ms = parseDuration(v, "s", "");
      } catch { /* reported below */ }
    }
    if (!(ms >= 1000 && ms <= 366 * 86_400_000) || !/[a-z]\s*$/.test(String(v))) {
      throw new ConfigError(
        'expected a duration with a unit from "1s" to "366d", e.g. "7d" or "12h"',
        file,
        "server.max_task_duration",
      );
    }
    out.maxTaskDurationS = ms / 1000;
  }
  return out;
}
