/**
 * The `email` sink: one e-mail per batch of alarm events (an alarm storm becomes a few
 * e-mails, not hundreds), subject naming severity, state and device.
 *
 * @module
 */
import { type AlarmEvent, formatEvent } from "./event.ts";
import { buildMessage } from "./mail_message.ts";
import { hostName } from "./payload.ts";
import { sendMail, type SmtpOptions } from "./smtp_client.ts";

/** The subject and text of an alarm e-mail. */
export interface AlarmMail {
  /** Subject line. */
  subject: string;
  /** Plain text body. */
  text: string;
}

/**
 * Formats events as one e-mail.
 *
 * @example
 * ```ts
 * import { alarmMail } from "./email_sink.ts";
 * alarmMail([{
 *   t: 0, name: "gauge error", kind: "error", device: "gauge", severity: "invalid",
 *   state: "active", value: null, message: "gauge: 3 failed reads in a row",
 * }], "lab-pc").subject; // "[labwire lab-pc] INVALID active: gauge error (gauge)"
 * ```
 */
export function alarmMail(events: AlarmEvent[], host = hostName()): AlarmMail {
  const first = events[0];
  if (!first) throw new TypeError("alarmMail: no events");
  const one = (e: AlarmEvent) => `${e.severity.toUpperCase()} ${e.state}: ${e.name} (${e.device})`;
  const subject = events.length === 1
    ? `[labwire ${host}] ${one(first)}`
    : `[labwire ${host}] ${events.length} alarm transitions, first ${one(first)}`;
  const blocks = events.map((e) =>
    [
      formatEvent(e),
      `  device: ${e.device}${e.attr === undefined ? "" : `, attr: ${e.attr}`}`,
      `  value: ${JSON.stringify(e.value)}`,
    ].join("\n")
  );
  const text = `${blocks.join("\n\n")}\n\n-- \nlabwire on ${host}\n`;
  return { subject, text };
}

/**
 * Returns a deliver function e-mailing each batch of events to `to` through the server `smtp`.
 *
 * @example
 * ```ts ignore
 * import { emailSink } from "./email_sink.ts";
 * const deliver = emailSink({ host: "127.0.0.1", port: 25, security: "plain" }, "lab@x.org", ["me@x.org"]);
 * ```
 */
export function emailSink(
  smtp: Omit<SmtpOptions, "signal">,
  from: string,
  to: string[],
): (events: AlarmEvent[], signal: AbortSignal) => Promise<void> {
  return async (events, signal) => {
    const { subject, text } = alarmMail(events);
    await sendMail({ ...smtp, signal }, {
      from,
      to,
      message: buildMessage({ from, to, subject, text }),
    });
  };
}
