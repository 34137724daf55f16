/**
 * Errors of the HTTP API: every failure is `{"error": {"code", "message"}}` with a status that
 * says whose fault it is. Errors thrown by the lab layers map onto statuses here, once.
 *
 * @module
 */
import { DeviceError, NotFound, UsageError, WriteRejected } from "../device/errors.ts";
import { Conflict } from "../lab/owners.ts";
import { QueueFull } from "../lab/task.ts";
import { didYouMean } from "../device/suggest.ts";

/** HTTP statuses the API answers errors with. */
export type ErrorStatus = 400 | 401 | 404 | 405 | 409 | 413 | 422 | 503;

/** Stable machine-readable error codes, one per status. */
export const ERROR_CODES: Record<ErrorStatus, string> = {
  400: "bad_request",
  401: "unauthorized",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "payload_too_large",
  422: "write_rejected",
  503: "unavailable",
};

/** The JSON body of every error answer. */
export interface ErrorBody {
  /** What went wrong. */
  error: { code: string; message: string };
}

/** An error that becomes an HTTP answer with `status`. */
export class HttpError extends Error {
  /** Creates an error answered with `status`; `code` defaults to the status' code. */
  constructor(
    readonly status: ErrorStatus,
    message: string,
    readonly code: string = ERROR_CODES[status],
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "HttpError";
  }

  /** The response body. */
  body(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** One validation problem of a request (a zod issue). */
export interface RequestIssue {
  /** Where in the request. */
  path: PropertyKey[];
  /** zod's issue code (`too_big` when a value is over a limit). */
  code: string;
  /** What is wrong. */
  message: string;
  /** The limit, for `too_big`. */
  maximum?: unknown;
  /** The keys nobody declared, for `unrecognized_keys`. */
  keys?: readonly string[];
}

/**
 * The answer to a request that failed validation: 422 (`limit_exceeded`) when a value is over
 * a declared limit, which the message names; 400 for anything malformed. Given `queryKeys` (the
 * query parameters of the route), an unknown one is named with those and the closest of them;
 * given `bodyKeys` (the keys of a JSON body), so is an unknown key of the body.
 *
 * @example
 * ```ts
 * import { issuesError } from "./http_error.ts";
 * issuesError([{ path: ["plan", "num"], code: "too_big", message: "Too big", maximum: 10 }]).status; // 422
 * ```
 */
export function issuesError(
  issues: readonly RequestIssue[],
  limitName?: string,
  queryKeys?: readonly string[],
  bodyKeys?: readonly string[],
): HttpError {
  const over = issues.filter((i) => i.code === "too_big");
  const where = (i: RequestIssue) => i.path.length ? i.path.map(String).join(".") : "request";
  if (over.length > 0) {
    return new HttpError(
      422,
      over.map((i) =>
        `${where(i)}: over the limit of ${
          typeof i.maximum === "number" || typeof i.maximum === "bigint"
            ? i.maximum.toLocaleString("en-US")
            : String(i.maximum)
        }${/(^|\.)(num|points)$/.test(where(i)) && limitName ? ` (${limitName})` : ""}`
      ).join("; "),
      "limit_exceeded",
    );
  }
  return new HttpError(
    400,
    // an unknown key first: a typo (`adress`) is why the key it meant is missing
    [...issues].sort((a, b) =>
      Number(b.code === "unrecognized_keys") - Number(a.code === "unrecognized_keys")
    ).map((i) => {
      const known = queryKeys ?? bodyKeys;
      if (known && i.code === "unrecognized_keys" && i.path.length === 0) {
        return unknownKeysText(queryKeys ? "query parameter" : "key", i.keys ?? [], known);
      }
      if (i.code === "invalid_type" && /received undefined$/.test(i.message)) {
        return `${where(i)}: required`;
      }
      return `${where(i)}: ${i.message}`;
    }).join("; "),
  );
}

/** What an unknown query parameter or body key gets: its name, those taken, the closest one. */
function unknownKeysText(
  noun: string,
  unknown: readonly string[],
  known: readonly string[],
): string {
  const names = unknown.map((k) => `"${k}"`).join(", ");
  const takes = known.length ? `it takes ${known.join(", ")}` : "it takes none";
  const hint = unknown.length === 1 ? didYouMean(unknown[0]!, known) : "";
  return `unknown ${noun}${unknown.length > 1 ? "s" : ""} ${names}; ${takes}${
    hint ? ` (${hint})` : ""
  }`;
}

/**
 * Maps any thrown value onto an {@linkcode HttpError}: a refused write is 422, a request naming
 * something that does not exist is 404 or 400, a device owned by a task or scan is 409, a device that fails is 503 `device_error`, the
 * session store failing is 503 `store_error`; anything else (a bug) is 503 `internal`.
 *
 * @example
 * ```ts
 * import { toHttpError } from "./http_error.ts";
 * import { DeviceError } from "../device/errors.ts";
 * toHttpError(new DeviceError("no answer")).status; // 503
 * ```
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof QueueFull) {
    return new HttpError(422, err.message, "limit_exceeded", { cause: err });
  }
  if (err instanceof WriteRejected) {
    return new HttpError(422, err.message, undefined, { cause: err });
  }
  if (err instanceof UsageError) {
    const msg = err.hint ? `${err.message} (${err.hint})` : err.message;
    // the thing asked for is absent (findAttr, Lab.get), or the request is wrong
    const status = err instanceof NotFound ? 404 : 400;
    return new HttpError(status, msg, undefined, { cause: err });
  }
  if (err instanceof Conflict) return new HttpError(409, err.message, undefined, { cause: err });
  if (err instanceof DeviceError) {
    const who = err.device && !err.message.includes(err.device) ? `${err.device}: ` : "";
    return new HttpError(503, who + err.message, "device_error", { cause: err });
  }
  // node:sqlite failures (disk full, file removed, database closed): the session store failed
  const code = (err as { code?: unknown } | null)?.code;
  if (
    err instanceof Error &&
    (code === "ERR_SQLITE_ERROR" || (code === "ERR_INVALID_STATE" && /database/.test(err.message)))
  ) {
    return new HttpError(503, `session store failed: ${err.message}`, "store_error", {
      cause: err,
    });
  }
  if (err instanceof DOMException && err.name === "AbortError") {
    return new HttpError(503, "the request was aborted", undefined, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new HttpError(503, `internal error: ${message}`, "internal", { cause: err });
}
