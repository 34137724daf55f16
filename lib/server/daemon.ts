/**
 * The `serve` daemon: opens the session, the devices, the recording (sampler, recorder, alarms),
 * the task board and the HTTP server, and takes them down in order on stop: stop accepting, end
 * event streams, stop tasks and add-ons, flush and close the session, close the devices. A device
 * that is down is a device shown as down, never a reason to stop.
 *
 * @module
 */
import type { LabConfig } from "../config/load.ts";
import { errorMessage, UsageError } from "../device/errors.ts";
import { Lab } from "../lab/lab.ts";
import { Sampler } from "../lab/sampler.ts";
import { TaskBoard } from "../lab/task.ts";
import { applySafeState, safeStateMessage, type SafeStateResult } from "../lab/safe_state.ts";
import { type AlarmWatch, startAlarms } from "../alarm/watch.ts";
import { type Recording, startRecording } from "../session/recording.ts";
import { ScanStore } from "../session/scan_store.ts";
import { SessionStore } from "../session/store.ts";
import { sessionParameters } from "../session/path.ts";
import { PositionStore } from "../session/positions.ts";
import { ScanService } from "./scans.ts";
import { DeviceAdmin, type ReloadResult } from "./device_admin.ts";
import type { ParsedFlags } from "../cli/flags.ts";
import type { RunningAddon, ServeAddon } from "./addon.ts";
import { createApp, type LabwireApp } from "./app.ts";
import type { ListenAddress } from "../device/host_port.ts";
import { isLoopback, listenUrl } from "./listen.ts";
import type { Logger } from "./log.ts";
import { SessionFileSource } from "./session_source.ts";
import { StreamHub } from "./sse.ts";
import { humanDateTime } from "../output/time.ts";
import { plainHttpWarning, type TlsPem } from "./tls.ts";

/** Everything the daemon is started with. */
export interface DaemonOptions {
  /** The bench. */
  config: LabConfig;
  /** The named positions file (default: positions.sqlite in labwire's state directory). */
  positions?: string;
  /** Where to listen. */
  listen: ListenAddress;
  /** Bearer token for mutating requests; required beyond loopback. */
  token?: string;
  /** HTTPS: the certificate and key (PEM); plain HTTP without. */
  tls?: TlsPem;
  /** CORS origins. */
  cors?: string[];
  /** Largest request body, bytes. */
  maxBody?: number;
  /** Most points of a scan plan (`[server] max_scan_points`, default 1,000,000). */
  maxScanPoints?: number;
  /** Longest task, seconds (`[server] max_task_duration`, default 7 days). */
  maxTaskDurationS?: number;
  /** Session file; false records nothing (tests, benchmarks of the bare API). */
  session: string | false;
  /** Sampling interval for every device, ms (overrides the config). */
  interval?: number;
  /** The command line, stored with the session segment. */
  argv: string[];
  /** labwire's version. */
  version: string;
  /** The log. */
  log: Logger;
  /** Add-ons to start, with the flags they were asked with. */
  addons?: { addon: ServeAddon; flags: ParsedFlags }[];
}

/** A running daemon. */
export interface Daemon {
  /** The URL it serves, e.g. `http://127.0.0.1:8600`. */
  url: string;
  /** The bound address (port resolved when 0 was asked). */
  addr: ListenAddress;
  /** The app (for in-process requests). */
  app: LabwireApp;
  /** The devices. */
  lab: Lab;
  /** The SSE hub. */
  hub: StreamHub;
  /** The recording, unless disabled. */
  recording?: Recording;
  /** Resolves when the daemon has stopped (after {@linkcode Daemon.stop} or a fatal error). */
  done: Promise<void>;
  /** Stops everything in order; resolves within `graceMs` (default 4.5 s) whatever hangs. */
  stop(why?: string, graceMs?: number): Promise<void>;
  /** Applies a re-read config's device and alarm changes (SIGHUP) without a restart. */
  reload(config: LabConfig): Promise<ReloadResult>;
}

/** Refuses a listen address beyond loopback without a token: the message says what to do. */
export function checkExposure(
  listen: ListenAddress,
  token: string | undefined,
): string | undefined {
  if (isLoopback(listen.hostname) || token !== undefined) return undefined;
  return `refusing to listen on ${listen.hostname}:${listen.port} without a token: beyond loopback every ` +
    "PUT/POST/DELETE needs Authorization: Bearer <token>. Give --token-file FILE (first line, at " +
    "least 16 characters) or set LABWIRE_TOKEN, or listen on 127.0.0.1";
}

/** Starts the daemon. Throws (nothing left running) when the session or the socket cannot open. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { log } = opts;
  const exposure = checkExposure(opts.listen, opts.token);
  if (exposure) throw new UsageError(exposure);
  const plain = plainHttpWarning(opts.listen, opts.tls !== undefined);
  if (plain) log.log("warn", plain);
  const store = opts.session === false ? undefined : SessionStore.open(opts.session, {
    // Requests are answered on this thread: recording's SQLite time goes to a worker.
    writeInWorker: true,
    segment: {
      command: opts.argv,
      configFile: opts.config.file,
      configText: opts.config.text,
      version: opts.version,
      parameters: sessionParameters(opts.config),
    },
  });
  let lab: Lab;
  try {
    lab = await Lab.open(opts.config);
  } catch (err) {
    store?.close(`failed to open devices: ${errorMessage(err)}`);
    throw err;
  }
  const hub = new StreamHub();
  hub.attach(lab);
  // Alarms and notifications belong to the bench, not to the recording: `--no-record` and a
  // failing store keep them (and the Channel Access severities that come from them).
  let watch: AlarmWatch | undefined;
  let recording: Recording | undefined;
  try {
    watch = startAlarms(lab, { log: (line) => log.log("warn", line), always: true });
    watch?.engine.on((e) => hub.publish("alarm", e.device, e));
    // An acknowledgement (POST /api/alarms/ID/ack) is part of the session's story.
    watch?.engine.onAcknowledge((a) =>
      store?.event({
        kind: "alarm",
        severity: a.severity,
        device: a.device,
        attr: a.attr,
        message: `acknowledged ${a.name}`,
        data: a,
      })
    );
    if (store) {
      recording = await startRecording(lab, {
        session: store,
        interval: opts.interval,
        watch,
        log: (line) => log.log("warn", line),
        onStoreError: (err) => {
          log.log(
            "error",
            `writing the session ${store.path} failed: ${errorMessage(err)}; serving live ` +
              "data and alarms on, retrying the session with backoff (see /healthz)",
          );
        },
        onStoreRecover: (o) => {
          log.log(
            "notice",
            `the session ${store.path} is written again after ${
              (o.durationMs / 1000).toFixed(1)
            } s (${o.errors} failed attempts, ${o.dropped} samples dropped)`,
          );
        },
      });
      recording.done.catch((err) => log.log("error", `closing the session: ${errorMessage(err)}`));
    }
  } catch (err) {
    hub.close();
    await watch?.close(1000);
    await lab.close();
    throw err;
  }
  // Without a session, the daemon still samples so live data flows (and alarms see it).
  const sampling = new AbortController();
  const sampler = recording?.sampler ??
    new Sampler(lab, { signal: sampling.signal, interval: opts.interval, follow: true });
  // read failures are readings with an error; shutdown only waits for the loop's end
  const sampled = recording ? Promise.resolve() : sampler.run().catch(() => {});
  if (!recording) {
    try {
      await watch?.checked;
    } catch (err) {
      sampling.abort();
      await sampled;
      hub.close();
      await watch?.close(1000);
      await lab.close();
      throw err;
    }
  }
  const session = store
    ? new SessionFileSource(store.path, {
      rowsWritten: () => store.writer.stats.samples,
      problem: () => {
        const failure = store.writer.failure;
        if (failure === undefined) return null;
        return `session writes failing since ${humanDateTime(store.writer.failingSince!)}: ${
          errorMessage(failure)
        }; retrying, ${store.writer.pending} rows buffered`;
      },
      writeErrors: () => store.writer.stats.errors,
      dropped: () => store.writer.stats.dropped,
    })
    : undefined;
  hub.session = session;
  // Each safe state applied is a session event (and a line in the log, a failed one a warning).
  const onSafeState = (r: SafeStateResult) => {
    log.log(r.ok ? "info" : "warn", safeStateMessage(r));
    store?.event({
      kind: "safe_state",
      severity: r.ok ? "info" : "major",
      device: r.device,
      message: safeStateMessage(r),
      data: r,
    });
  };
  const tasks = new TaskBoard(lab, {
    maxDurationS: opts.maxTaskDurationS,
    // each task is a row of the session's tasks table, and its start and end are events
    onSubmit: recording ? (t) => recording!.trackTask(t) : undefined,
    onSafeState,
    // event-stream clients see a task start and end (the dashboard's task forms follow them)
    onStart: (t) => hub.publish("task", t.manager.name, t.status()),
    onEnd: (t) => hub.publish("task", t.manager.name, t.status()),
  });
  const scans = new ScanService(lab, store ? new ScanStore(() => store.db) : undefined, hub, log, {
    maxPoints: opts.maxScanPoints,
    onSafeState,
    alarms: watch?.engine,
  });
  const extraMetrics: (() => string)[] = [];
  const devices = new DeviceAdmin(
    lab,
    tasks,
    opts.config,
    log,
    store ? (e) => store.event(e) : undefined,
  );
  // opened on first use: a daemon nobody asks for positions touches no state directory
  let positionStore: PositionStore | undefined;
  const app = createApp({
    lab,
    devices,
    extraMetrics,
    hub,
    sampler,
    session,
    alarms: watch?.engine,
    tasks,
    scans,
    positions: () => (positionStore ??= PositionStore.open(opts.positions)),
    token: opts.token,
    cors: opts.cors,
    maxBodyBytes: opts.maxBody,
    maxScanPoints: opts.maxScanPoints,
    maxTaskDurationS: opts.maxTaskDurationS,
    log,
    version: opts.version,
  });

  const addons: { name: string; running: RunningAddon }[] = [];
  const teardown = async (why: string) => {
    hub.close();
    await Promise.allSettled(addons.map((a) => a.running.close()));
    // shutting down: one part failing to close must not keep the others open
    await scans.close().catch(() => {});
    await tasks.close().catch(() => {});
    positionStore?.close();
    // every device with a safe_state is left in it (each within its timeout), recorded before
    // the session closes
    await Promise.all(lab.managers.map(async (m) => {
      const r = await applySafeState(m, `server stopping: ${why}`);
      if (r) onSafeState(r);
    }));
    // the server may already have exited; this only makes sure
    if (recording) await recording.stop(why).catch(() => {});
    sampling.abort();
    await sampled;
    await watch?.close(1500);
    session?.close();
    await lab.close();
  };

  let server: Deno.HttpServer<Deno.NetAddr>;
  let bound: ListenAddress;
  try {
    bound = await new Promise<ListenAddress>((resolve, reject) => {
      try {
        server = Deno.serve({
          hostname: opts.listen.hostname,
          port: opts.listen.port,
          ...(opts.tls ? { cert: opts.tls.cert, key: opts.tls.key } : {}),
          onListen: (a) => resolve({ hostname: a.hostname, port: a.port }),
          onError: (err) => {
            log.log("error", `request failed: ${errorMessage(err)}`);
            return new Response(
              JSON.stringify({ error: { code: "internal", message: "internal error" } }),
              {
                status: 500,
                headers: { "content-type": "application/json" },
              },
            );
          },
        }, app.fetch);
      } catch (err) {
        reject(err);
      }
    });
  } catch (err) {
    await teardown("failed to listen");
    const msg = err instanceof Deno.errors.AddrInUse
      ? `${opts.listen.hostname}:${opts.listen.port} is already in use; stop the other server or pick --listen HOST:PORT`
      : `cannot listen on ${opts.listen.hostname}:${opts.listen.port}: ${errorMessage(err)}`;
    throw new UsageError(msg, undefined, { cause: err });
  }
  // Listening: now the devices' attributes may be fetched (units for /metrics, instant details).
  app.warmAttrs();

  for (const { addon, flags } of opts.addons ?? []) {
    try {
      addons.push({
        name: addon.name,
        running: await addon.start({
          lab,
          config: opts.config,
          flags,
          alarms: watch?.engine,
          log,
          addMetrics: (lines) => extraMetrics.push(lines),
        }),
      });
    } catch (err) {
      await server!.shutdown();
      await teardown(`add-on ${addon.name} failed`);
      throw err;
    }
  }

  const url = listenUrl(bound, opts.tls !== undefined);
  let stopping: Promise<void> | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const stop = (why = "stopped", graceMs = 4500): Promise<void> => {
    stopping ??= (async () => {
      log.log("notice", `stopping (${why}): closing streams, flushing the session`);
      const deadline = new Promise<"late">((r) => {
        const t = setTimeout(() => r("late"), graceMs);
        Deno.unrefTimer(t);
      });
      const work = (async () => {
        hub.close();
        // shutdown() stops accepting and waits for requests in flight (SSE streams are ended).
        // A client that stopped reading keeps its response in flight for ever (its socket is
        // full): after a bounded wait the session is closed anyway, and exiting drops it.
        const shut = server.shutdown();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const ended = await Promise.race([
          shut.then(() => true),
          new Promise<false>((
            r,
          ) => (timer = setTimeout(() => r(false), Math.min(500, graceMs / 4)))),
        ]);
        clearTimeout(timer);
        if (!ended) {
          log.log("notice", "dropping connections whose clients stopped reading");
        }
        await teardown(why);
      })();
      const result = await Promise.race([work.then(() => "ok" as const), deadline]);
      if (result === "late") {
        log.log("warn", `shutdown took longer than ${graceMs} ms; exiting anyway`);
      } else log.log("notice", "stopped");
      resolveDone();
    })();
    return stopping;
  };
  return {
    url,
    addr: bound,
    app,
    lab,
    hub,
    recording,
    done,
    stop,
    reload: async (config) => {
      // The new [[alarms]] first: a mistake there refuses the whole file, before any device moves.
      watch?.reconfigure(config);
      return await devices.reload(config);
    },
  };
}
