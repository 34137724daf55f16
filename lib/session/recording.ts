/**
 * The recording engine shared by `monitor` and `serve`: a {@linkcode Sampler} over a Lab, a
 * {@linkcode Recorder} into a session file, and the alarms ({@linkcode startAlarms}), wired so
 * every alarm transition is a session event. The CLI (tables, NDJSON) stays in `cmd/`; it
 * attaches to the same managers with `onReading`.
 *
 * The store never stops the rest: when writes fail (disk full, permissions), sampling, alarms and
 * everything listening to the managers go on; the writer keeps a bounded buffer and retries with
 * backoff, and the outage (how long, failed attempts, dropped samples) is a session event once it
 * can be written again.
 *
 * @module
 */
import type { AlarmEvent } from "../alarm/event.ts";
import type { AlarmConfig } from "../alarm/rules.ts";
import type { Notifier } from "../alarm/notifier.ts";
import type { NotifyConfig } from "../alarm/notify_config.ts";
import { type AlarmWatch, startAlarms } from "../alarm/watch.ts";
import type { AlarmEngine } from "../alarm/engine.ts";
import { errorMessage } from "../device/errors.ts";
import type { Lab } from "../lab/lab.ts";
import type { Task } from "../lab/task.ts";
import { Sampler } from "../lab/sampler.ts";
import { Recorder } from "./recorder.ts";
import { type SegmentMeta, SessionStore, type StoreOptions } from "./store.ts";
import type { WriterOutage } from "./outage.ts";

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
  /**
   * Called when the store starts failing mid-run (disk full, permissions): once per outage.
   * Sampling and alarms go on; the writer buffers and retries.
   */
  onStoreError?: (err: unknown) => void;
  /** Called when the store writes again after a failure, with what the outage cost. */
  onStoreRecover?: (outage: WriterOutage) => void;
  /**
   * Alarms started by the caller (e.g. `serve`, whose alarms run with or without a recording):
   * their transitions are recorded, and the recording does not close them. By default the
   * recording starts (and closes) its own from the config.
   */
  watch?: AlarmWatch;
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
  let watch: AlarmWatch | undefined;
  let recorder: Recorder | undefined;
  let done: Promise<string> | undefined;
  const offs: (() => void)[] = [];
  let closed = false;

  try {
    const own = options.watch === undefined;
    watch = options.watch ??
      startAlarms(lab, { alarms: options.alarms, notify: options.notify, log: options.log });
    const rec = new Recorder(lab, store);
    recorder = rec;
    rec.start();
    const engine = watch?.engine;
    if (engine) {
      offs.push(engine.on((e) => {
        store.event({
          t: e.t,
          kind: "alarm",
          severity: e.severity,
          device: e.device,
          attr: e.attr,
          message: `${e.state} ${e.name}: ${e.message}`,
          data: e,
        });
      }));
      const onAlarm = options.onAlarm;
      if (onAlarm) offs.push(engine.on((e) => onAlarm(e)));
    }
    store.writer.options.onError = (err) => {
      options.onStoreError?.(err);
    };
    store.writer.options.onRecover = (outage) => {
      store.event({
        kind: "store",
        severity: outage.dropped + outage.droppedEvents > 0 ? "major" : "minor",
        message: `session writes failed for ${
          (outage.durationMs / 1000).toFixed(1)
        } s (${outage.errors} failed attempts${
          outage.dropped + outage.droppedEvents > 0
            ? `; ${outage.dropped} samples and ${outage.droppedEvents} events dropped: the buffer was full`
            : "; nothing lost"
        })`,
        data: outage,
      });
      options.onStoreRecover?.(outage);
    };
    // Sampling starts now, whatever the devices' attribute lists are doing: a hung instrument
    // delays only its own readings (its missed deadlines are recorded as gaps).
    const sampler = new Sampler(lab, {
      signal: controller.signal,
      interval: options.interval,
      duration: options.duration,
      onMissed: (devices, missed, interval) => rec.missed(devices, missed, interval),
      follow: true,
      // Sampling has ended while a hung device's read runs out its timeout: the devices that
      // are no longer sampled are not stale (their alarms would be recorded as if they were).
      onScheduleEnd: own ? () => watch?.stopTicking() : undefined,
    });
    if (options.signal?.aborted) onOuterAbort();
    const sampled = sampler.run();
    const ownWatch = own ? watch : undefined;
    done = (async () => {
      try {
        await sampled;
      } finally {
        rec.stop();
        for (const off of offs) off();
        options.signal?.removeEventListener("abort", onOuterAbort);
        const why = reason || (controller.signal.aborted ? "stopped" : "duration reached");
        reason = why;
        closed = true;
        try {
          store.close(why);
        } finally {
          await ownWatch?.close(5000);
        }
      }
      return reason;
    })();
    // A rule naming a missing attribute is a config error at start (devices that answer late
    // are checked when they answer).
    await watch?.checked;
    const finished = done;
    return {
      store,
      sampler,
      recorder: rec,
      alarms: engine,
      notifier: watch?.notifier,
      done: finished,
      stop(why = "stopped") {
        stopWith(why);
        return finished;
      },
      note(text: string) {
        if (!closed) store.event({ kind: "note", severity: "info", message: text });
      },
      trackTask(task: Task) {
        if (closed) return;
        const s = task.status();
        let id: number | undefined;
        try {
          id = store.startTask(s.device, s.technique, {
            task: s.id,
            params: s.params,
            sampling_interval: s.sampling_interval,
            max_duration: s.max_duration,
          });
        } catch (err) {
          store.writer.reportFailure(err);
        }
        store.event({
          kind: "task",
          severity: "info",
          device: s.device,
          message: `task ${s.id} ${s.technique} submitted`,
        });
        task.done.then(() => {
          if (closed) return;
          const end = task.status();
          try {
            if (id !== undefined) {
              store.endTask(id, end.state, {
                samples: end.samples,
                errors: end.errors,
                last_error: end.last_error,
                started: end.started,
                ended: end.ended,
              });
            }
          } catch (err) {
            store.writer.reportFailure(err);
          }
          store.event({
            kind: "task",
            severity: end.state === "failed" ? "major" : "info",
            device: end.device,
            message: `task ${end.id} ${end.technique} ${end.state} after ${end.samples} samples${
              end.last_error ? ` (last error: ${end.last_error})` : ""
            }`,
          });
        }).catch((err) => options.log?.(`recording task ${s.id}: ${errorMessage(err)}`));
      },
    };
  } catch (err) {
    options.signal?.removeEventListener("abort", onOuterAbort);
    stopWith(`failed to start: ${errorMessage(err)}`);
    // the start failure is what is reported; how the half-started run ended adds nothing
    if (done) await done.catch(() => {});
    else {
      recorder?.stop();
      for (const off of offs) off();
      if (options.watch === undefined) await watch?.close(1000);
      closed = true;
      try {
        store.close(`failed to start: ${errorMessage(err)}`);
      } catch { /* the first error says more */ }
    }
    throw err;
  }
}
