/**
 * labwire's scripting API: the small, stable set of functions and types a script needs to talk
 * to instruments, record sessions and run scans — the same code the CLI and the daemon run.
 * Every driver (`sim://`, `baratron://`, `ca://`, `modbus://`, `mqtt://`, SCPI instruments…) is
 * registered on import.
 *
 * @example Read a simulated gauge
 * ```ts
 * import { openLab } from "./mod.ts";
 * const lab = await openLab({ targets: ["sim://gauge?seed=1"] });
 * const { pressure } = await lab.get("gauge").read(["pressure"]);
 * if (typeof pressure !== "number") throw new Error("no pressure");
 * await lab.close();
 * ```
 *
 * @module
 */
import "./lib/drivers/mod.ts";

// ---- config ----

/**
 * Parses the text of a labwire config file (TOML) into a {@linkcode LabConfig}.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./mod.ts";
 * const config = parseConfig('[devices.gauge]\naddress = "sim://gauge?seed=1"\n');
 * if (config.devices[0]?.name !== "gauge") throw new Error("not parsed");
 * ```
 */
export { parseConfig } from "./lib/config/load.ts";

/** Loads a config file: `path`, else `$LABWIRE_CONFIG`, else `./labwire.toml` (empty if absent). */
export { loadConfig } from "./lib/config/file.ts";

/** A parsed config: its devices, and the other sections (alarms, notify, session…). */
export type { DeviceConfig, LabConfig } from "./lib/config/load.ts";

/**
 * Turns device names of a config, or addresses, into device configs (what `labwire read` does).
 *
 * @example
 * ```ts
 * import { parseConfig, resolveTargets } from "./mod.ts";
 * const [cfg] = resolveTargets(["sim://thermo?seed=2"], parseConfig(""));
 * if (cfg?.name !== "thermo") throw new Error(cfg?.name);
 * ```
 */
export { resolveTargets } from "./lib/config/targets.ts";

// ---- devices ----

/**
 * Opens one device from its config entry (see {@linkcode resolveTargets} for an address).
 *
 * @example Read, write and subscribe to a device opened from an address
 * ```ts
 * import { openDevice, parseConfig, resolveTargets } from "./mod.ts";
 * const [cfg] = resolveTargets(["sim://motor"], parseConfig(""));
 * const motor = await openDevice(cfg!);
 * await motor.write("position", 2);
 * const { position } = await motor.read(["position"]);
 * if (typeof position !== "number") throw new Error("no position");
 * await motor.close();
 * ```
 */
export { openDevice } from "./lib/lab/open.ts";

/** Parses a device address (`sim://gauge?seed=1`, `baratron://10.0.0.5`) into its parts. */
export { parseAddress } from "./lib/device/address.ts";

/** An open instrument; a reading; a device's declared attribute and its values. */
export type { Device, Reading, Subscription } from "./lib/device/device.ts";

/** An attribute a device declares, and the values it reads and writes. */
export type { Attr, Value, Values } from "./lib/device/attr.ts";

/** Errors a script may catch: a usage or config mistake, a device that failed, a timeout. */
export { ConfigError, DeviceError, TimeoutError, UsageError } from "./lib/device/errors.ts";

// ---- lab ----

/**
 * Opens a Lab: the devices of a config (`config` file, or `demo: true`), or of `targets`.
 *
 * @example Subscribe to a device's readings
 * ```ts
 * import { openLab } from "./mod.ts";
 * const lab = await openLab({ targets: ["sim://thermo?seed=2"] });
 * const thermo = lab.get("thermo");
 * const seen: number[] = [];
 * const off = thermo.onReading((r) => seen.push(r.t));
 * await thermo.sample();
 * off();
 * if (seen.length !== 1) throw new Error(`${seen.length} readings`);
 * await lab.close();
 * ```
 */
export { openLab } from "./lib/lab/setup.ts";

/** Where a Lab's devices come from (config file, demo bench, targets). */
export type { LabSource } from "./lib/lab/setup.ts";

/**
 * Named devices behind their managers; `Lab.open(config)` opens a parsed config's devices.
 *
 * @example
 * ```ts
 * import { Lab, parseConfig } from "./mod.ts";
 * const lab = await Lab.open(parseConfig('[devices.g]\naddress = "sim://gauge?seed=1"\n'));
 * if (lab.names.join() !== "g") throw new Error(lab.names.join());
 * await lab.close();
 * ```
 */
export { Lab } from "./lib/lab/lab.ts";

/**
 * One device of a Lab: queued reads and writes, `onReading` listeners, a `subscribe` feed.
 *
 * @example Write, then follow readings through a feed
 * ```ts
 * import { openLab } from "./mod.ts";
 * const lab = await openLab({ targets: ["sim://motor"] });
 * const motor = lab.get("motor");
 * await motor.write("position", 1.5);
 * const feed = motor.subscribe();
 * await motor.sample(["position"]);
 * for await (const { item } of feed) {
 *   if (typeof item.values.position !== "number") throw new Error("no position");
 *   break;
 * }
 * await lab.close();
 * ```
 */
export { DeviceManager } from "./lib/lab/manager.ts";

/** A bounded subscriber queue (what {@linkcode DeviceManager.subscribe} returns). */
export type { Feed, FeedItem } from "./lib/lab/feed.ts";

// ---- sessions ----

/**
 * Records every device of a Lab into a session file on schedule (what `monitor` does).
 *
 * @example Record, add a computed entry, read the session back
 * ```ts
 * import { addEntry, openLab, SessionReader, startRecording } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const session = `${dir}/doc.session.sqlite`;
 * const lab = await openLab({ targets: ["sim://gauge?seed=1"] });
 * const rec = await startRecording(lab, { session, interval: 100, log: () => {} });
 * const { pressure } = await lab.get("gauge").read(["pressure"]);
 * addEntry(session, { pressure_pa: Number(pressure) * 133.322 });
 * await rec.stop();
 * await lab.close();
 * const reader = SessionReader.open(session);
 * if (reader.events({ kinds: ["entry"] }).length !== 1) throw new Error("no entry");
 * if (![...reader.samples()].length) throw new Error("no samples");
 * reader.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export { startRecording } from "./lib/session/recording.ts";

/** A running recording, and what {@linkcode startRecording} takes. */
export type { Recording, RecordingOptions } from "./lib/session/recording.ts";

/** A session file open for writing (devices, attributes, samples, events). */
export { SessionStore } from "./lib/session/store.ts";

/** Writes a Lab's readings into a {@linkcode SessionStore}; `record()` takes computed readings. */
export { Recorder } from "./lib/session/recorder.ts";

/** Reads a session file: attributes, samples (time-ordered), events, segments, metadata. */
export { SessionReader } from "./lib/session/reader.ts";

/** What a {@linkcode SessionReader} returns. */
export type { AttrInfo, EventInfo, Sample, SampleQuery } from "./lib/session/reader.ts";

/** Appends a timestamped `entry` (KEY=VALUE values) or `note` to a session, even while recording. */
export { addEntry, addNote } from "./lib/session/entries.ts";

// ---- scans ----

/**
 * Runs one scan (moves, triggers, reads detectors, peak statistics) on a Lab.
 *
 * @example A line scan of the simulated motor, reading the simulated detector
 * ```ts
 * import { openLab, ScanRun } from "./mod.ts";
 * const lab = await openLab({ targets: ["sim://motor", "sim://det?motor=motor"] });
 * const run = new ScanRun(lab, {
 *   plan: {
 *     kind: "line",
 *     relative: false,
 *     axes: [{ positioner: "motor.position", start: -1, stop: 1 }],
 *     num: 5,
 *     spacing: "linear",
 *   },
 *   detectors: ["det.counts"],
 * });
 * const result = await run.start();
 * if (result.state !== "done" || result.recorded !== 5) throw new Error(result.state);
 * await lab.close();
 * ```
 */
export { ScanRun } from "./lib/scan/runner.ts";

/** What defines a scan, what a run reports, and the options of a run. */
export type { ScanResult, ScanRunOptions, ScanStatus } from "./lib/scan/run_status.ts";

/** A scan as plain JSON: the plan, its detectors, settle/dwell times, settings, baseline. */
export type { ScanRequest } from "./lib/scan/request.ts";

/** The points of a scan: line, mesh, list or count. */
export type { PlanSpec } from "./lib/scan/plan.ts";

/** Stores scans and their points in a session file (pass as `store` to {@linkcode ScanRun}). */
export { ScanStore } from "./lib/session/scan_store.ts";

// ---- mail ----

/**
 * Sends one e-mail through an SMTP server (plain, STARTTLS or TLS; AUTH PLAIN/LOGIN).
 *
 * @example
 * ```ts ignore
 * import { buildMessage, sendMail } from "./mod.ts";
 * const mail = { from: "lab@example.org", to: ["me@example.org"], subject: "hi", text: "x" };
 * await sendMail(
 *   { host: "127.0.0.1", port: 25, security: "plain" },
 *   { from: mail.from, to: mail.to, message: buildMessage(mail) },
 * );
 * ```
 */
export { sendMail } from "./lib/alarm/smtp_client.ts";

/** Where and how {@linkcode sendMail} connects, and the envelope it sends. */
export type { SmtpEnvelope, SmtpOptions } from "./lib/alarm/smtp_client.ts";

/**
 * Formats an RFC 5322 e-mail (UTF-8 subject and body) for {@linkcode sendMail}.
 *
 * @example
 * ```ts
 * import { buildMessage } from "./mod.ts";
 * const msg = buildMessage({ from: "lab@example.org", to: ["me@example.org"], subject: "hi", text: "x" });
 * if (!msg.includes("Subject: hi\r\n")) throw new Error(msg);
 * ```
 */
export { buildMessage } from "./lib/alarm/mail_message.ts";
