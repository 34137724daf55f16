/**
 * Devices at run time, after instserver's `add_device` and tomato's `dev_register`: a device is
 * added from a table validated exactly like a `[devices.NAME]` table of the config, or removed
 * (its tasks stopped, refused while a writing task or a scan owns it), and a reloaded config
 * (SIGHUP) is applied as the devices it adds, removes and changes — all without restarting the
 * daemon or its session. The sampler, the recorder and the event stream follow the lab's changes;
 * each change is a `device` event in the session.
 *
 * @module
 */
import type { DeviceConfig, LabConfig } from "../config/load.ts";
import { parseDeviceTable } from "../config/load.ts";
import { relativeFileOption } from "../config/beside_config.ts";
import { isConfigFile } from "../config/file_name.ts";
import { errorMessage } from "../device/errors.ts";
import type { Lab } from "../lab/lab.ts";
import type { TaskBoard } from "../lab/task.ts";
import type { EventRow } from "../session/writer.ts";
import { HttpError } from "./http_error.ts";
import type { Logger } from "./log.ts";

/** Most devices a daemon holds once the API adds some (a request cannot grow it without end). */
export const MAX_DEVICES = 10_000;

/** What a config reload did. */
export interface ReloadResult {
  /** Devices opened. */
  added: string[];
  /** Devices closed. */
  removed: string[];
  /** Devices closed and opened again with their new table. */
  changed: string[];
  /** Devices left as they were, and why (e.g. a task owns them). */
  skipped: { device: string; reason: string }[];
}

/** The parts of a device table that make two of them the same device. */
function sameDevice(a: DeviceConfig, b: DeviceConfig): boolean {
  const key = (d: DeviceConfig) =>
    JSON.stringify([
      d.address.text,
      d.interval,
      d.timeout ?? null,
      d.safeState ?? null,
      d.safeStateTimeout ?? null,
      d.trigger ?? null,
      d.options,
    ]);
  return key(a) === key(b);
}

/** Adds and removes a running daemon's devices. */
export class DeviceAdmin {
  /** The config as last applied (what a reload is compared with). */
  #config: LabConfig;

  /** Manages `lab`'s devices; `event` records a session event (absent without a session). */
  constructor(
    readonly lab: Lab,
    readonly tasks: TaskBoard | undefined,
    config: LabConfig,
    readonly log: Logger,
    readonly event?: (e: EventRow) => void,
  ) {
    this.#config = config;
  }

  /**
   * Validates `table` as `[devices.NAME]` of the config and opens the device; a 409 when the
   * name is taken, a 400 (code `invalid_device`) naming the key for a table the config would
   * refuse. The files it names (`token_file`, …) are beside the daemon's config file, as that
   * table's would be in the config; a daemon without a config file refuses a relative one (422).
   */
  async add(name: string, table: unknown, why: string): Promise<DeviceConfig> {
    if (this.lab.find(name)) {
      throw new HttpError(409, `device "${name}" exists; DELETE /api/devices/${name} first`);
    }
    if (this.lab.names.length >= MAX_DEVICES) {
      throw new HttpError(
        422,
        `this daemon already has ${MAX_DEVICES} devices, the most it takes; remove some first`,
        "limit_exceeded",
      );
    }
    let cfg: DeviceConfig;
    try {
      cfg = parseDeviceTable(name, table, "request");
    } catch (err) {
      throw new HttpError(400, errorMessage(err), "invalid_device", { cause: err });
    }
    const file = this.#config.file;
    if (isConfigFile(file)) cfg = { ...cfg, file };
    else {
      // Beside nothing the client knows: the daemon's working folder is / under systemd.
      const relative = relativeFileOption(cfg.address, cfg.options);
      if (relative) {
        throw new HttpError(
          422,
          `${name}: ${relative.key} "${relative.path}" is a relative path and this daemon has ` +
            `no config file for it to be beside; give an absolute path`,
          "invalid_device",
        );
      }
    }
    await this.#open(cfg, why);
    return cfg;
  }

  /** Closes and forgets a device: its tasks are stopped; a 409 while a writing task or scan owns it. */
  async remove(name: string, why: string): Promise<void> {
    const m = this.lab.get(name);
    // the one ownership rule: a device someone drives is not pulled from under them
    this.lab.owners.check(name);
    await this.tasks?.stopDevice(name);
    await this.lab.remove(name);
    this.#record(name, `device ${name} removed (${why}): ${m.config.address.text}`, {
      address: m.config.address.text,
    });
  }

  /**
   * Applies a re-read config: devices only in the new one are added, those gone are removed,
   * those whose table changed are closed and opened again; devices added through the API are
   * left alone. A device owned by a task or scan is skipped (and said so), never pulled away.
   */
  async reload(config: LabConfig): Promise<ReloadResult> {
    const before = new Map(this.#config.devices.map((d) => [d.name, d]));
    const after = new Map(config.devices.map((d) => [d.name, d]));
    const result: ReloadResult = { added: [], removed: [], changed: [], skipped: [] };
    const why = "config reloaded";
    const attempt = async (device: string, fn: () => Promise<void>, list: string[]) => {
      try {
        await fn();
        list.push(device);
      } catch (err) {
        result.skipped.push({ device, reason: errorMessage(err) });
      }
    };
    for (const [name] of before) {
      if (!after.has(name) && this.lab.find(name)) {
        await attempt(name, () => this.remove(name, why), result.removed);
      }
    }
    for (const [name, cfg] of after) {
      const old = before.get(name);
      if (old && this.lab.find(name)) {
        if (sameDevice(old, cfg)) continue;
        await attempt(name, async () => {
          await this.remove(name, why);
          await this.#open(cfg, why);
        }, result.changed);
      } else if (!this.lab.find(name)) {
        await attempt(name, () => this.#open(cfg, why), result.added);
      } else {
        result.skipped.push({
          device: name,
          reason: "a device of that name was added at run time",
        });
      }
    }
    this.#config = config;
    return result;
  }

  async #open(cfg: DeviceConfig, why: string): Promise<void> {
    await this.lab.add(cfg);
    this.#record(cfg.name, `device ${cfg.name} added (${why}): ${cfg.address.text}`, {
      address: cfg.address.text,
      interval_s: cfg.interval / 1000,
    });
  }

  #record(device: string, message: string, data: unknown): void {
    this.log.log("notice", message);
    this.event?.({ kind: "device", severity: "info", device, message, data });
  }
}
