/**
 * The recording engine shared by `monitor` and `serve`: a {@linkcode Sampler} over a Lab, a
 * {@linkcode Recorder} into a session file, and the alarm engine, wired so every alarm
 * transition is a session event. The CLI (tables, NDJSON) stays in `cmd/`; it attaches to the
 * same managers with `onReading`.
 *
 * @module
 */
import { AlarmEngine } from "../alarm/engine.ts";
import type { AlarmEvent } from "../alarm/event.ts";
import { type AlarmConfig, checkAlarmAttrs, parseAlarms } from "../alarm/rules.ts";
import { Notifier } from "../alarm/notifier.ts";
import { type NotifyConfig, parseNotify } from "../alarm/notify_config.ts";
import type { Lab } from "../lab/lab.ts";
import type { Task } from "../lab/task.ts";
import { Sampler } from "../lab/sampler.ts";
import { Recorder } from "./recorder.ts";
import { type SegmentMeta, SessionStore, type StoreOptions } from "./store.ts";

/** Options of {@linkcode startRecording}. */
export interface RecordingOptions extends StoreOptions {
  /** The session file, or a store already opened (e.g. to check it before opening devices). */
  session: string | SessionStore;
  /** Segment metadata (command line, config snapshot, version). */
  segment?: SegmentMeta;
  /** Interval for every device, ms (overrides the config). */
  interval?: number;
  /** Stop after this many ms. */
  duration?: number;
  /** Stops the recording (like {@linkcode Recording.stop}). */
  signal?: AbortSignal;
  /** Alarm rules; default: parsed from the Lab's config. Pass `false` for none. */
  alarms?: AlarmConfig | false;
  /** Notification sinks; default: parsed from the Lab's config (`[notify]`). `false` for none. */
  notify?: NotifyConfig | false;
  /** Receives each alarm transition line and notifier log line (default: stderr). */
  log?: (line: string) => void;
  /** Called with every alarm transition (for notifiers, the server's event stream). */
  onAlarm?: (event: AlarmEvent) => void;
  /** Called when the store fails mid-run (disk full); the recording then stops. */
  onStoreError?: (err: unknown) => void;
}

/** A running recording. */
export interface Recording {
  /** The session being written. */
  readonly store: SessionStore;
  /** The sampler (its stats: missed deadlines, lateness). */
  readonly sampler: Sampler;
  /** The recorder (its stats: readings, values, failures). */
  readonly recorder: Recorder;
  /** The alarm engine, when alarms are configured. */
  readonly alarms: AlarmEngine | undefined;
  /** The notifier, when `[notify]` configures sinks. */
  readonly notifier: Notifier | undefined;
  /** Resolves when sampling has ended and the session is closed, with the stop reason. */
  readonly done: Promise<string>;
  /** Stops sampling, flushes and closes the session with `reason`; resolves like `done`. */
  stop(reason?: string): Promise<string>;
  /** Adds a user note to the session. */
  note(text: string): void;
  /** Records a task's run (start, end state, counts) in the session's `tasks` table. */
  trackTask(task: Task): void;
}

/**
 * Starts recording every device of `lab` into a session: registers devices and attributes,
 * samples on schedule, writes readings, gap and error events, and alarm transitions.
 *
 * @example
 * ```ts ignore
 * const rec = await startRecording(lab, { session: "bench.session.sqlite", duration: 60_000 });
 * await rec.done;
 * ```
 */
export async function startRecording(lab: Lab, options: RecordingOptions): Promise<Recording> {
  const store = typeof options.session === "string"
    ? SessionStore.open(options.session, options)
    : options.session;
  const controller = new AbortController();
  let reason = "";
  const stopWith = (why: string) => {
    if (!reason) reason = why;
    controller.abort(why);
  };
  const onOuterAbort = () => {
    const r = options.signal?.reason;
    stopWith(r instanceof Error ? r.message : typeof r === "string" ? r : "stopped");
  };
  options.signal?.addEventListener("abort", onOuterAbort, { once: true });
  let recorder: Recorder | undefined;
  let notifier: Notifier | undefined;
  let alarmTimer: ReturnType<typeof setInterval> | undefined;
  const offs: (() => void)[] = [];
  let closed = false;

  try {
    const alarmConfig = options.alarms === undefined ? parseAlarms(lab.config) : options.alarms;
    const notifyConfig = options.notify === undefined ? parseNotify(lab.config) : options.notify;
    const rec = new Recorder(lab, store);
    recorder = rec;
    await rec.start();
    let alarms: AlarmEngine | undefined;
    if (alarmConfig && (alarmConfig.rules.length > 0 || alarmConfig.health.length > 0)) {
      const attrs = new Map(
        await Promise.all(
          lab.managers.map(async (m) => [m.name, await m.attrs().catch(() => undefined)] as const),
        ),
      );
      checkAlarmAttrs(alarmConfig, (d) => attrs.get(d), lab.config.file);
      alarms = new AlarmEngine(alarmConfig, { log: options.log });
      const engine = alarms;
      engine.on((e) => {
        store.event({
          t: e.t,
          kind: "alarm",
          severity: e.severity,
          device: e.device,
          attr: e.attr,
          message: `${e.state} ${e.name}: ${e.message}`,
          data: e,
        });
        options.onAlarm?.(e);
      });
      if (notifyConfig && (notifyConfig.sinks.length > 0 || notifyConfig.digest)) {
        const n = Notifier.fromConfig(notifyConfig, { file: lab.config.file, log: options.log });
        notifier = n;
        engine.on((e) => n.notify(e));
        const units = new Map<string, string | undefined>();
        for (const [device, list] of attrs) {
          for (const a of list ?? []) units.set(`${device}.${a.name}`, a.units);
        }
        n.startDigest(engine, (device, attr) => units.get(`${device}.${attr}`));
      }
      for (const m of lab.managers) offs.push(m.onReading((r) => engine.observe(r)));
      alarmTimer = setInterval(() => engine.tick(), 250);
    }
    store.writer.options.onError = (err) => {
      options.onStoreError?.(err);
      stopWith("session store failed");
    };
    const sampler = new Sampler(lab, {
      signal: controller.signal,
      interval: options.interval,
      duration: options.duration,
      onMissed: (devices, missed, interval) => rec.missed(devices, missed, interval),
    });
    if (options.signal?.aborted) onOuterAbort();
    const done = (async () => {
      try {
        await sampler.run();
      } finally {
        if (alarmTimer !== undefined) clearInterval(alarmTimer);
        rec.stop();
        for (const off of offs) off();
        options.signal?.removeEventListener("abort", onOuterAbort);
        const why = reason || (controller.signal.aborted ? "stopped" : "duration reached");
        reason = why;
        closed = true;
        try {
          store.close(why);
        } finally {
          // Bounded: a hung mail server cannot keep the process from exiting.
          await notifier?.close(5000);
        }
      }
      return reason;
    })();
    return {
      store,
      sampler,
      recorder: rec,
      alarms,
      notifier,
      done,
      stop(why = "stopped") {
        stopWith(why);
        return done;
      },
      note(text: string) {
        store.event({ kind: "note", severity: "info", message: text });
      },
      trackTask(task: Task) {
        if (closed) return;
        const s = task.status();
        const id = store.startTask(s.device, s.technique, {
          task: s.id,
          params: s.params,
          sampling_interval: s.sampling_interval,
          max_duration: s.max_duration,
        });
        store.event({
          kind: "task",
          severity: "info",
          device: s.device,
          message: `task ${s.id} ${s.technique} submitted`,
        });
        task.done.then(() => {
          if (closed) return;
          const end = task.status();
          store.endTask(id, end.state, {
            samples: end.samples,
            errors: end.errors,
            last_error: end.last_error,
            started: end.started,
            ended: end.ended,
          });
          store.event({
            kind: "task",
            severity: end.state === "failed" ? "major" : "info",
            device: end.device,
            message: `task ${end.id} ${end.technique} ${end.state} after ${end.samples} samples${
              end.last_error ? ` (last error: ${end.last_error})` : ""
            }`,
          });
        });
      },
    };
  } catch (err) {
    options.signal?.removeEventListener("abort", onOuterAbort);
    recorder?.stop();
    for (const off of offs) off();
    if (alarmTimer !== undefined) clearInterval(alarmTimer);
    await notifier?.close(1000);
    store.close(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  }
}
