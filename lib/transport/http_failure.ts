/**
 * What a failed network call tells the user: the error of a refused, unresolved, dropped, timed
 * out or garbled connection turned into a {@linkcode DeviceError} naming what was tried, why it
 * failed and what to check (shared by the HTTP client and raw TCP streams).
 *
 * @module
 */
import { DeviceError, TimeoutError } from "../device/errors.ts";
import { formatMs } from "../device/device.ts";

/**
 * The {@linkcode TimeoutError} of a connection or request our own deadline ended with no answer:
 * what was tried, and that `where` may be off, elsewhere or overloaded (also the connect timeout
 * of a message line, `./line_errors.ts`: one message for both).
 */
export function unansweredError(
  tried: string,
  where: string,
  timeoutMs: number,
  device?: string,
  cause?: unknown,
): TimeoutError {
  return new TimeoutError(
    `${tried}: no answer within ${formatMs(timeoutMs)}; check that ${where} is powered, ` +
      `on this network and not overloaded, or allow more time with ?timeout=`,
    device,
    { cause },
  );
}

/**
 * Turns a network failure into a DeviceError naming what was tried, why it failed and what to
 * check; `timedOut` marks our own deadline; `service` is what should be listening.
 *
 * @example
 * ```ts
 * import { describeFailure } from "./http_failure.ts";
 * const e = describeFailure(new Deno.errors.ConnectionRefused("refused"), "POST http://h/x", "h", 1000);
 * e.message; // "POST http://h/x: connection refused; nothing listens on h; …"
 * ```
 */
export function describeFailure(
  err: unknown,
  tried: string,
  where: string,
  timeoutMs: number,
  device?: string,
  timedOut = false,
  service = "web server",
): DeviceError {
  if (timedOut) return unansweredError(tried, where, timeoutMs, device, err);
  const name = err instanceof Error ? err.name : "";
  const detail = err instanceof Error ? err.message : String(err);
  const lower = detail.toLowerCase();
  let why: string;
  let check: string;
  if (name === "ConnectionRefused" || lower.includes("refused")) {
    why = "connection refused";
    check = `nothing listens on ${where}; check the address and port, and that the device's ` +
      `${service} is on`;
  } else if (lower.includes("lookup") || lower.includes("dns") || lower.includes("resolve")) {
    why = "the host name does not resolve";
    check = `check the spelling of the host, or use the device's IP address`;
  } else if (
    name === "NothingReceived" || name === "ConnectionReset" || name === "BrokenPipe" ||
    name === "UnexpectedEof" || name === "ConnectionAborted" || lower.includes("reset")
  ) {
    why = "the connection was dropped before an answer";
    check = `${where} closed the connection; check it is the right device and not rebooting`;
  } else if (name === "BadAnswer") {
    why = `bad HTTP answer: ${detail}`;
    check = `check that ${where} is the device you meant`;
  } else if (lower.includes("unreachable") || lower.includes("no route")) {
    why = "the network is unreachable";
    check = `check cabling, VLAN and this computer's route to ${where}`;
  } else if (name === "TimedOut") {
    why = "the operating system gave up connecting";
    check = `check that ${where} is powered and on this network`;
  } else if (name === "NotCapable" || name === "PermissionDenied") {
    why = "network access is not permitted";
    check = "run with network permission (deno run -A, or the compiled labwire)";
  } else {
    why = detail || "request failed";
    check = `check that ${where} is reachable`;
  }
  return new DeviceError(`${tried}: ${why}; ${check}`, device, { cause: err });
}
