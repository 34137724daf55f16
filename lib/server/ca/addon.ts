/**
 * `labwire serve --ca [--ca-prefix LAB:]` (or a `[ca]` section): the CA server as a `serve`
 * add-on. Importing this module registers it (a static import from `main.ts`, so `deno compile` carries it). Settings:
 * EPICS_CAS_* variables, then `[ca]`, then the flags (see `options.ts`). Alarm severities
 * follow labwire's alarm engine when `serve` runs one, and its threshold rules are the PVs'
 * HIHI/HIGH/LOW/LOLO limits (`epicsLimits`).
 *
 * @module
 */
import type { ActiveAlarm } from "../../alarm/engine.ts";
import { epicsLimits } from "../../alarm/epics.ts";
import type { AlarmEvent } from "../../alarm/event.ts";
import type { AlarmConfig, ThresholdRule } from "../../alarm/rules.ts";
import { type AddonContext, registerServeAddon, type ServeAddon } from "../addon.ts";
import { startCaServer } from "./server.ts";
import { CA_FLAGS, CA_HELP, caServeOptions, caWanted } from "./options.ts";

/** What the add-on uses of the alarm engine, when it has it (`AlarmEngine` does). */
interface AlarmFeed {
  on?(listener: (event: AlarmEvent) => void): () => void;
  active(): unknown[];
  /** The rules, so that a low-side threshold shows as LOLO/LOW. */
  config?: { rules: readonly ThresholdRule[] };
}

/** The `serve --ca` add-on. */
export const caServeAddon: ServeAddon = {
  name: "ca",
  flags: CA_FLAGS,
  help: CA_HELP,
  wanted: caWanted,
  async start(ctx: AddonContext) {
    const options = caServeOptions(ctx.flags, ctx.config)!;
    const alarms = ctx.alarms as AlarmFeed | undefined;
    // The rules in force (devices added at run time and reloaded configs change them): the limit
    // table and the rules by name are built again only when they did.
    let built: {
      from: readonly ThresholdRule[];
      table: AlarmConfig;
      byName: Map<string, ThresholdRule>;
    } | undefined;
    const rules = () => {
      const from = alarms?.config?.rules ?? [];
      if (built?.from !== from) {
        built = {
          from,
          table: { rules: [...from], health: [] },
          byName: new Map(from.map((r) => [r.name, r])),
        };
      }
      return built;
    };
    const server = await startCaServer(ctx.lab, {
      ...options,
      log: (level, message) => ctx.log.log(level, message),
      // The threshold rules are the PVs' HIHI/HIGH/LOW/LOLO, as `caget -d DBR_CTRL_DOUBLE` shows.
      alarmLimits: (device, attr) => epicsLimits(rules().table, device, attr),
    });
    let detach = () => {};
    if (alarms && typeof alarms.on === "function") {
      const rule = (name: string) => rules().byName.get(name);
      // Alarms already active when the server starts, then every transition.
      for (const a of alarms.active() as ActiveAlarm[]) {
        server.alarmEvent({ ...a, t: a.since, state: "active" }, rule(a.name));
      }
      detach = alarms.on((e) => server.alarmEvent(e, rule(e.name)));
    }
    return {
      async close() {
        detach();
        await server.close();
      },
    };
  },
};

registerServeAddon(caServeAddon);
