/**
 * A definition checked against its own simulator through the real driver, over a real TCP
 * socket on loopback: every attribute read and typed as declared, every writable attribute
 * written with a valid value and read back, every action run. `labwire instruments check FILE
 * --sim` and the tests of the built-in definitions use it, for both families (message-based
 * instruments and Modbus register maps). It catches a definition whose parse
 * rules, formats and templates do not fit together; whether they fit the real instrument is for
 * the manual and independent peers to say.
 *
 * @example
 * ```ts ignore
 * const results = await selfCheck(await findInstrument("lakeshore-336"));
 * results.filter((r) => !r.ok); // []
 * ```
 *
 * @module
 */
import type { Attr, Value } from "../device/attr.ts";
import { validateWrite } from "../device/attr.ts";
import { parseAddress } from "../device/address.ts";
import { errorMessage } from "../device/errors.ts";
import type { Instrument } from "../instruments/definition.ts";
import { MessageDevice } from "./message/device.ts";
import { openInstrument } from "./message/driver.ts";
import type { Device } from "../device/device.ts";
import { openRegisterMap } from "./modbus/driver.ts";
import { startModbusTcpSimulator } from "./modbus/simulator.ts";
import { startTcpSimulator } from "./message/simulator.ts";

/** The outcome of one step of a self-check. */
export interface CheckStep {
  /** What was checked: `read`, `read ATTR`, `write ATTR`, `action NAME`. */
  step: string;
  /** True when it worked. */
  ok: boolean;
  /** The value read or written, or what went wrong. */
  detail: string;
}

/** A valid value different from `current` for a writable attribute (for a write and read-back). */
export function anotherValue(a: Attr, current: Value, allowed?: number[]): Value {
  switch (a.type) {
    case "boolean":
      return !current;
    case "enum":
      return a.options?.find((o) => o !== current) ?? a.options?.[0] ?? "";
    case "string":
      return current === "labwire" ? "check" : "labwire";
    case "integer": {
      const v = Math.round(((a.min ?? 0) + (a.max ?? 10)) / 2);
      return v === current ? v + 1 : v;
    }
    case "number[]":
      return [1, 2, 3];
    default: {
      if (allowed?.length) return allowed.find((x) => x !== current) ?? allowed[0]!;
      const v = Math.round((((a.min ?? 0) + (a.max ?? 10)) / 2) * 10) / 10;
      return v === current ? v + 0.5 : v;
    }
  }
}

function fits(a: Attr, v: Value): boolean {
  switch (a.type) {
    case "number":
    case "integer":
      return typeof v === "number";
    case "boolean":
      return typeof v === "boolean";
    case "number[]":
      return Array.isArray(v);
    case "enum":
      return typeof v === "string" && (a.options ?? []).includes(v);
    default:
      return typeof v === "string";
  }
}

/** The definition's simulator on loopback and a device of its family on it. */
async function simulated(
  inst: Instrument,
): Promise<{ sim: { close(): Promise<void> }; dev: Device }> {
  const ctx = { name: inst.name, options: {} };
  if (inst.protocol === "modbus") {
    const sim = await startModbusTcpSimulator(inst, { port: 0 });
    return { sim, dev: openRegisterMap(parseAddress(sim.address), inst, ctx) };
  }
  const sim = await startTcpSimulator(inst, { port: 0 });
  return { sim, dev: openInstrument(parseAddress(sim.address), inst, ctx) };
}

/** Runs the definition's simulator on loopback and checks every attribute and action through the driver. */
export async function selfCheck(inst: Instrument): Promise<CheckStep[]> {
  const { sim, dev } = await simulated(inst);
  const steps: CheckStep[] = [];
  const step = async (name: string, fn: () => Promise<string>) => {
    try {
      steps.push({ step: name, ok: true, detail: await fn() });
    } catch (err) {
      steps.push({ step: name, ok: false, detail: errorMessage(err) });
    }
  };
  try {
    const attrs = await dev.attrs();
    const actions = new Set(dev instanceof MessageDevice ? dev.actions() : []);
    await step("read", async () => JSON.stringify(await dev.read()));
    const current: Record<string, Value> = {};
    for (const a of attrs.filter((x) => !actions.has(x.name))) {
      await step(`read ${a.name}`, async () => {
        const v = (await dev.read([a.name]))[a.name] ?? null;
        current[a.name] = v;
        if (!fits(a, v)) throw new Error(`read ${JSON.stringify(v)}, which is not a ${a.type}`);
        return JSON.stringify(v);
      });
    }
    for (const a of attrs.filter((x) => x.rw && !actions.has(x.name))) {
      await step(`write ${a.name}`, async () => {
        const allowed = inst.attrs.find((x) => x.attr.name === a.name)?.values;
        const value = validateWrite(a, anotherValue(a, current[a.name] ?? null, allowed));
        await dev.write(a.name, value);
        const back = (await dev.read([a.name]))[a.name] ?? null;
        if (JSON.stringify(back) !== JSON.stringify(value)) {
          throw new Error(`wrote ${JSON.stringify(value)}, read back ${JSON.stringify(back)}`);
        }
        return JSON.stringify(value);
      });
    }
    for (const name of actions) {
      await step(`action ${name}`, async () => {
        await dev.write(name, true);
        return "ran";
      });
    }
  } finally {
    await dev.close();
    await sim.close();
  }
  return steps;
}
