/**
 * Alarms and notifications (pyepics `Alarm`, pymanip `send_email`).
 *
 * - {@linkcode parseAlarms} validates `[[alarms]]` (threshold rules plus per-device error and
 *   stale-data alarms); {@linkcode checkAlarmAttrs} checks attribute names once devices are open.
 * - {@linkcode AlarmEngine} turns readings and time into {@linkcode AlarmEvent}s:
 *   `observe(reading)` for every sample (synchronous, cheap), `tick(nowMs)` a few times a second,
 *   `on(listener)`, `active()`, `history()`, `severityOf(device, attr)`, `lastReadings()`.
 * - {@linkcode parseNotify} validates `[notify]`; {@linkcode Notifier} delivers events to
 *   command / webhook / e-mail sinks by severity, each with a bounded retrying queue, so
 *   `notify(event)` never blocks; `startDigest(engine)` sends the periodic digest e-mail;
 *   `close(ms)` flushes within a bounded time.
 * - {@linkcode epicsAlarm} / {@linkcode epicsLimits} express alarm state as EPICS severity,
 *   status and limits for the Channel Access server.
 *
 * Wiring in `monitor` / `serve`:
 *
 * ```ts ignore
 * const alarms = parseAlarms(config);          // ConfigError → exit 2, before any I/O
 * const notify = parseNotify(config);
 * const notifier = Notifier.fromConfig(notify, { file: config.file }); // reads secrets now
 * const engine = new AlarmEngine(alarms);      // logs each transition as one stderr line
 * engine.on((e) => session.addEvent(e));       // every transition is a session event
 * engine.on((e) => notifier.notify(e));
 * for (const m of lab.managers) m.onReading((r) => engine.observe(r));
 * const ticker = setInterval(() => engine.tick(), 250);
 * notifier.startDigest(engine, (device, attr) => unitsOf(device, attr));
 * // shutdown:
 * clearInterval(ticker);
 * await notifier.close(5000);
 * ```
 *
 * @module
 */
export {
  type AlarmEvent,
  type AlarmKind,
  formatEvent,
  SEVERITIES,
  type Severity,
  SEVERITY_LEVEL,
} from "./event.ts";
export {
  type AlarmConfig,
  checkAlarmAttrs,
  type Compare,
  COMPARES,
  type HealthRule,
  parseAlarms,
  type ThresholdRule,
} from "./rules.ts";
export {
  type ActiveAlarm,
  AlarmEngine,
  type AlarmEngineOptions,
  type AlarmSource,
} from "./engine.ts";
export {
  type NotifyConfig,
  parseNotify,
  type SinkConfig,
  type SmtpConfig,
} from "./notify_config.ts";
export { Notifier, type NotifierOptions, type SinkSpec, type SinkStats } from "./notifier.ts";
export { type AlarmPayload, alarmPayload } from "./payload.ts";
export {
  EPICS_STATUS,
  type EpicsAlarm,
  epicsAlarm,
  type EpicsLimits,
  epicsLimits,
  epicsStatus,
} from "./epics.ts";
export { sendMail, SmtpError } from "./smtp_client.ts";
