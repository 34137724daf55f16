/**
 * A lab served over Channel Access on loopback, for the CA server's tests (unit, interop with
 * the reference EPICS tools, and derived attributes as PVs).
 *
 * @example
 * ```ts ignore
 * await withCaLab(SIM_TRIO, { prefix: "T:", ...LOOPBACK_CA }, async (ca, lab) => {
 *   console.log(ca.port);
 * });
 * ```
 *
 * @module
 */
import { parseConfig } from "../../config/load.ts";
import { Lab } from "../../lab/lab.ts";
import { type CaServer, type CaServerOptions, startCaServer } from "./server.ts";

/** A motor, a thermometer and a multimeter of `sim://`, as a config file has them. */
export const SIM_TRIO = `
[devices.motor]
address = "sim://motor"
[devices.thermo]
address = "sim://thermo"
[devices.dmm]
address = "sim://dmm"
`;

/** Loopback only: one interface, and beacons (if any) to 127.0.0.1 alone. */
export const LOOPBACK_CA: CaServerOptions = {
  interfaces: ["127.0.0.1"],
  beaconAddrs: ["127.0.0.1"],
};

/**
 * Opens a lab of `config` (the drivers must be registered), serves it over CA on any free port
 * without automatic beacons (then `options`), samples every device once when `sampleFirst`, runs
 * `fn`, and closes both.
 */
export async function withCaLab(
  config: string,
  options: CaServerOptions & { sampleFirst?: boolean },
  fn: (ca: CaServer, lab: Lab) => Promise<void>,
): Promise<void> {
  const { sampleFirst = false, ...caOptions } = options;
  const lab = await Lab.open(parseConfig(config));
  try {
    const ca = await startCaServer(lab, { port: 0, autoBeacon: false, ...caOptions });
    try {
      if (sampleFirst) { for (const m of lab.managers) await m.sample(); }
      await fn(ca, lab);
    } finally {
      await ca.close();
    }
  } finally {
    await lab.close();
  }
}
