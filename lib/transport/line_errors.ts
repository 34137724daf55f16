/**
 * What a message line's failures tell the user: a timeout says whether the command waited for a
 * busy line, could not be sent, or got no (whole) answer — and what to check in each case.
 *
 * @module
 */
import { TimeoutError } from "../device/errors.ts";
import { formatMs } from "../device/device.ts";
import { decodeText, type Framer } from "./framing.ts";
import { unansweredError } from "./http_failure.ts";

/** A command as shown in errors: quoted, control characters escaped, cut at 60 characters. */
export function quoteCommand(cmd: string): string {
  return JSON.stringify(cmd.length > 60 ? cmd.slice(0, 60) + "…" : cmd);
}

/** How far an exchange got before its deadline. */
export interface TimedOutExchange {
  /** The line (its stream's label). */
  label: string;
  /** Where the line connects (its stream's address), for what to check. */
  address?: string;
  /** The command or request, as named in errors. */
  what: string;
  /** Its deadline, ms. */
  timeout: number;
  /** It got the line (false: it was still queued behind others). */
  acquired: boolean;
  /** Exchanges ahead of it when it asked for the line. */
  ahead: number;
  /** The command went out. */
  sent: boolean;
  /** What arrived of the answer so far (its unread bytes are taken for the message). */
  framer: Framer;
  /** The line's read termination. */
  readTermination: string;
  /** Device name carried by the error. */
  device?: string;
  /** Whether the line's connection was open when the deadline fired (default true). */
  connected?: boolean;
}

/**
 * The {@linkcode TimeoutError} of a call whose deadline fired while the connection was still
 * being opened: a host that drops the connection request (off, another network, a firewall)
 * looks like this, and the message says so rather than blaming a command that never went out.
 *
 * @example
 * ```ts
 * import { connectTimeoutError } from "./line_errors.ts";
 * connectTimeoutError("tcp://10.0.0.5:5025", 2000).message;
 * // "connect to tcp://10.0.0.5:5025: no answer within 2 s; check that 10.0.0.5:5025 is powered, …"
 * ```
 */
export function connectTimeoutError(
  label: string,
  timeoutMs: number,
  device?: string,
  cause?: unknown,
  address?: string,
): TimeoutError {
  // tcp.ts's own connect timeout says the same: the host and port the stream connects to, not
  // its label (the label of a stream without an address, less its scheme, is the best guess)
  const where = address ?? label.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  return unansweredError(`connect to ${label}`, where, timeoutMs, device, cause);
}

/** The {@linkcode TimeoutError} of an exchange whose deadline fired, with what to check. */
export function lineTimeoutError(x: TimedOutExchange, cause: unknown): TimeoutError {
  // Never connected: the command is not the news (it never went out), the host is.
  if (x.connected === false) {
    return connectTimeoutError(x.label, x.timeout, x.device, cause, x.address);
  }
  const within = formatMs(x.timeout);
  const what = quoteCommand(x.what);
  if (!x.acquired) {
    return new TimeoutError(
      `${x.label}: ${what} was not sent: the line stayed busy for ${within} ` +
        `(${x.ahead} exchange${x.ahead === 1 ? "" : "s"} ahead, from devices sharing it); ` +
        `poll less often or allow more time with ?timeout=`,
      x.device,
      { cause },
    );
  }
  if (!x.sent) {
    return new TimeoutError(
      `${x.label}: ${what} could not be sent within ${within}; check the connection`,
      x.device,
      { cause },
    );
  }
  const partial = x.framer.size > 0
    ? `; received ${JSON.stringify(decodeText(x.framer.takeAll().slice(0, 80), "latin1"))} ` +
      `but no read termination ${JSON.stringify(x.readTermination)} — check the ` +
      `termination setting (--term)`
    : `; check the address, that the command is a query (SCPI answers only commands ending ` +
      `in "?"), and the line settings`;
  return new TimeoutError(
    `${x.label}: no answer to ${what} within ${within}${partial}`,
    x.device,
    { cause },
  );
}
