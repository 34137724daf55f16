/**
 * The built-in simulated bench behind `--demo`, so a new user sees every verb work before owning
 * an instrument. Its device names are relied on by the docs, the tests and later features:
 *
 * | name | what | attrs |
 * |---|---|---|
 * | `gauge` | an MKS eBaratron simulator started in-process, read through the real HTTP driver | `pressure`, `pressure_units`, … |
 * | `thermo` | thermometer | `temperature`, `setpoint` |
 * | `motor` | motor, a move takes real time | `position` (rw), `readback`, `moving` |
 * | `dmm` | digital multimeter | `voltage`, `range`, `mode` |
 * | `det` | counter whose counts peak at motor position 5 | `counts` |
 *
 * @module
 */
import { type LabConfig, parseConfig } from "../config/load.ts";
import { startBaratronSimulators } from "./baratron/simulator.ts";

/** A running demo bench: its config and a function stopping its simulators. */
export interface DemoBench {
  /** A config naming the demo devices. */
  config: LabConfig;
  /** Stops the in-process gauge simulator. */
  close(): Promise<void>;
}

/** Returns the demo bench's config text for a gauge simulator at `gaugeAddress`. */
export function demoConfigText(gaugeAddress: string): string {
  return `# labwire's built-in demo bench
[devices.gauge]
address = "${gaugeAddress}"

[devices.thermo]
address = "sim://thermo?seed=2"

[devices.motor]
address = "sim://motor?seed=3"

[devices.dmm]
address = "sim://dmm?seed=4"

[devices.det]
address = "sim://det?seed=5&motor=motor"
`;
}

/** Starts the demo bench (a baratron simulator on a free loopback port plus sim:// devices). */
export async function startDemoBench(): Promise<DemoBench> {
  const sims = await startBaratronSimulators({ hostname: "127.0.0.1", port: 0, count: 1, seed: 1 });
  const config = parseConfig(demoConfigText(sims.addresses[0]!), "<demo bench>");
  return { config, close: () => sims.close() };
}
