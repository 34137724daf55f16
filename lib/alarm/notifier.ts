/**
 * The notifier: takes every {@linkcode AlarmEvent} (from `AlarmEngine.on`) and hands it to the
 * sinks whose `min_severity` it reaches. Each sink has its own bounded {@linkcode RetryQueue},
 * so `notify` returns at once even while an SMTP server hangs; failures are retried with
 * exponential backoff and logged. Optionally sends a periodic digest e-mail.
 *
 * ```ts ignore
 * const notifier = Notifier.fromConfig(parseNotify(config), { file: config.file });
 * engine.on((event) => notifier.notify(event));
 * notifier.startDigest(engine);        // when [notify.digest] is configured
 * // … on shutdown:
 * await notifier.close(5000);          // flushes, bounded in time
 * ```
 *
 * @module
 */
import { besideConfig } from "../config/beside_config.ts";
import { ConfigError } from "../device/errors.ts";
import type { AlarmSource } from "./engine.ts";
import { type AlarmEvent, atLeast, type Severity } from "./event.ts";
import { buildDigest } from "./digest.ts";
import { type AlarmMail, emailSink } from "./email_sink.ts";
import { commandSink } from "./command_sink.ts";
import { webhookSink } from "./webhook_sink.ts";
import { buildMessage } from "./mail_message.ts";
import { DEFAULT_SINK_TIMEOUT, type NotifyConfig, type SmtpConfig } from "./notify_config.ts";
import { hostName } from "./payload.ts";
import { RetryQueue, type RetryQueueOptions, type RetryQueueStats } from "./retry_queue.ts";
import { readSecret } from "./secret.ts";
import { sendMail, type SmtpOptions } from "./smtp_client.ts";

/** One sink as the notifier runs it. */
export interface SinkSpec {
  /** Name in logs and stats. */
  name: string;
  /** Least severity delivered. */
  minSeverity: Severity;
  /** Whether cleared transitions are delivered. */
  cleared: boolean;
  /** Delivers a batch of events; must honour `signal`. */
  deliver: (events: AlarmEvent[], signal: AbortSignal) => Promise<void>;
  /** Queue options (capacity, retries, timeout, batch size). */
  queue?: RetryQueueOptions;
}

/** Options of a {@linkcode Notifier}. */
export interface NotifierOptions {
  /** Log lines (delivery failures, drops); default stderr. */
  log?: (line: string) => void;
  /** Overrides for every queue, e.g. short backoff or a recording `sleep` in tests. */
  queue?: RetryQueueOptions;
  /** Config file name, for errors about secrets. */
  file?: string;
}

/** Delivery counters of one sink. */
export interface SinkStats extends RetryQueueStats {
  /** Sink name. */
  name: string;
}

interface Digest {
  every: number;
  queue: RetryQueue<AlarmMail>;
  timer?: ReturnType<typeof setInterval>;
  since: number;
  source?: AlarmSource;
  units?: (device: string, attr: string) => string | undefined;
}

/**
 * Dispatches alarm events to sinks by severity without ever blocking the caller.
 *
 * @example
 * ```ts
 * import { Notifier } from "./notifier.ts";
 * const got: string[] = [];
 * const notifier = new Notifier([{
 *   name: "memory", minSeverity: "major", cleared: true,
 *   deliver: (events) => { got.push(...events.map((e) => e.name)); return Promise.resolve(); },
 * }], { log: () => {} });
 * notifier.notify({
 *   t: 0, name: "hot", kind: "threshold", device: "oven", attr: "temp", severity: "major",
 *   state: "active", value: 301, message: "oven.temp > 300",
 * });
 * await notifier.close();
 * got; // ["hot"]
 * ```
 */
export class Notifier {
  #sinks: { spec: SinkSpec; queue: RetryQueue<AlarmEvent> }[];
  #digest: Digest | undefined;
  #log: (line: string) => void;

  /** Creates a notifier over explicit sinks (see {@linkcode Notifier.fromConfig}). */
  constructor(sinks: SinkSpec[], opts: NotifierOptions = {}) {
    this.#log = opts.log ?? ((line) => console.error(line));
    this.#sinks = sinks.map((spec) => ({
      spec,
      queue: new RetryQueue(spec.name, spec.deliver, {
        log: this.#log,
        ...spec.queue,
        ...opts.queue,
      }),
    }));
  }

  /**
   * Builds the sinks of `[notify]`, reading the SMTP password and CA file now so a missing
   * secret fails at start (a {@linkcode ConfigError}).
   */
  static fromConfig(config: NotifyConfig, opts: NotifierOptions = {}): Notifier {
    const smtp = config.smtp ? smtpOptions(config.smtp, opts.file) : undefined;
    const specs: SinkSpec[] = config.sinks.map((s) => {
      const queue: RetryQueueOptions = {
        capacity: s.queue,
        retries: s.retries,
        timeout: s.timeout ?? DEFAULT_SINK_TIMEOUT,
      };
      const base = { name: s.name, minSeverity: s.minSeverity, cleared: s.cleared };
      switch (s.type) {
        case "email":
          return {
            ...base,
            deliver: emailSink(smtp!.options, smtp!.from, s.to),
            queue: { ...queue, maxBatch: 50, timeout: s.timeout ?? smtp!.timeout },
          };
        case "webhook": {
          const url = s.url ?? readSecret({ env: s.urlEnv! }, opts.file, `${s.key}.url_env`);
          const headers = { ...s.headers };
          for (const [h, env] of Object.entries(s.headersEnv)) {
            headers[h] = readSecret({ env }, opts.file, `${s.key}.headers_env.${h}`);
          }
          return { ...base, deliver: webhookSink(url, headers), queue };
        }
        case "command":
          return { ...base, deliver: commandSink(s.command), queue };
      }
    });
    const notifier = new Notifier(specs, opts);
    if (config.digest && smtp) {
      const { every, to } = config.digest;
      const send = async (mails: AlarmMail[], signal: AbortSignal) => {
        for (const { subject, text } of mails) {
          await sendMail({ ...smtp.options, signal }, {
            from: smtp.from,
            to,
            message: buildMessage({ from: smtp.from, to, subject, text }),
          });
        }
      };
      notifier.#digest = {
        every,
        since: Date.now() / 1000,
        queue: new RetryQueue<AlarmMail>("digest", send, {
          log: notifier.#log,
          capacity: 3,
          timeout: smtp.timeout,
          ...opts.queue,
        }),
      };
    }
    return notifier;
  }

  /** Queues an event for every sink it concerns; returns at once, never throws. */
  notify(event: AlarmEvent): void {
    for (const { spec, queue } of this.#sinks) {
      if (!atLeast(event.severity, spec.minSeverity)) continue;
      if (event.state === "cleared" && !spec.cleared) continue;
      queue.push(event);
    }
  }

  /** True when `[notify.digest]` is configured. */
  get hasDigest(): boolean {
    return this.#digest !== undefined;
  }

  /**
   * Starts the periodic digest with data from `source` (e.g. the `AlarmEngine`); `units` adds
   * units to the last values. Does nothing without `[notify.digest]`.
   */
  startDigest(
    source: AlarmSource,
    units?: (device: string, attr: string) => string | undefined,
  ): void {
    const d = this.#digest;
    if (!d) return;
    d.source = source;
    d.units = units;
    if (d.timer !== undefined) clearInterval(d.timer);
    d.timer = setInterval(() => this.sendDigest(), d.every);
  }

  /** Queues a digest now (the timer calls this; also handy for a "send digest" command). */
  sendDigest(now: number = Date.now()): void {
    const d = this.#digest;
    if (!d?.source) return;
    const t = now / 1000;
    try {
      d.queue.push(buildDigest({
        host: hostName(),
        since: d.since,
        now: t,
        active: d.source.active(),
        readings: d.source.lastReadings(),
        history: d.source.history().filter((e) => e.t >= d.since && e.t < t),
        units: d.units,
      }));
      d.since = t;
    } catch (err) {
      this.#log(`notify digest: cannot build the digest: ${(err as Error).message}`);
    }
  }

  /** Resolves once everything queued so far was delivered or given up (tests, `--once` runs). */
  async drained(): Promise<void> {
    const queues: { drained(): Promise<void> }[] = this.#sinks.map((s) => s.queue);
    if (this.#digest) queues.push(this.#digest.queue);
    await Promise.all(queues.map((q) => q.drained()));
  }

  /** Delivery counters per sink (the digest, when configured, last). */
  stats(): SinkStats[] {
    const out = this.#sinks.map(({ spec, queue }) => ({ name: spec.name, ...queue.stats() }));
    if (this.#digest) out.push({ name: "digest", ...this.#digest.queue.stats() });
    return out;
  }

  /** Stops the digest and flushes every queue, giving up after `timeoutMs` in total. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.#digest?.timer !== undefined) clearInterval(this.#digest.timer);
    const queues: { close(ms: number): Promise<void> }[] = this.#sinks.map((s) => s.queue);
    if (this.#digest) queues.push(this.#digest.queue);
    await Promise.all(queues.map((q) => q.close(timeoutMs)));
  }
}

function smtpOptions(
  smtp: SmtpConfig,
  file?: string,
): { options: Omit<SmtpOptions, "signal">; from: string; timeout: number } {
  const options: Omit<SmtpOptions, "signal"> = {
    host: smtp.host,
    port: smtp.port,
    security: smtp.security,
  };
  if (smtp.user !== undefined) {
    options.user = smtp.user;
    const source = smtp.password && "file" in smtp.password
      ? { file: besideConfig(smtp.password.file, file) }
      : smtp.password;
    options.password = source
      ? readSecret(
        source,
        file,
        "env" in source ? "notify.smtp.password_env" : "notify.smtp.password_file",
      )
      : "";
  }
  if (smtp.caFile !== undefined) {
    try {
      options.caCerts = [Deno.readTextFileSync(besideConfig(smtp.caFile, file))];
    } catch (err) {
      throw new ConfigError(
        `cannot read the CA file ${smtp.caFile}: ${(err as Error).message}`,
        file,
        "notify.smtp.ca_file",
        { cause: err },
      );
    }
  }
  return { options, from: smtp.from, timeout: smtp.timeout };
}
