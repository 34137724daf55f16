/**
 * The message driver against the simulator of every built-in definition, over real TCP:
 * default readings, every attribute read, every writable attribute written and read back,
 * every action run; then the bad cases (wrong *IDN?, garbage, timeouts, refused commands,
 * instrument errors, a shared line).
 */
import assert from "node:assert/strict";
import "../mod.ts";
import type { Attr, Value } from "../../device/attr.ts";
import { validateWrite } from "../../device/attr.ts";
import { parseAddress } from "../../device/address.ts";
import type { Device } from "../../device/device.ts";
import { DeviceError, TimeoutError, UsageError } from "../../device/errors.ts";
import { findDriver } from "../../device/registry.ts";
import { NO_FAULTS } from "../sim/faults.ts";
import {
  addInstrumentSource,
  findInstrument,
  instrumentNames,
  resetInstrumentSources,
} from "../../instruments/loader.ts";
import { MessageDevice } from "./device.ts";
import {
  type MessageEvent,
  startPtySimulator,
  startTcpSimulator,
  type TcpSimOptions,
} from "./simulator.ts";

async function open(address: string, options: Record<string, unknown> = {}): Promise<Device> {
  const a = parseAddress(address);
  return await findDriver(a.scheme).open(a, { name: "dut", options });
}

async function withSim(
  name: string,
  opts: TcpSimOptions,
  fn: (address: string, sim: Awaited<ReturnType<typeof startTcpSimulator>>) => Promise<void>,
): Promise<void> {
  const sim = await startTcpSimulator(await findInstrument(name), { port: 0, ...opts });
  try {
    await fn(sim.address, sim);
  } finally {
    await sim.close();
  }
}

/** A valid value different from `current` for a writable attribute. */
function another(a: Attr, current: Value, allowed?: number[]): Value {
  switch (a.type) {
    case "boolean":
      return !current;
    case "enum":
      return a.options!.find((o) => o !== current)!;
    case "integer": {
      const v = Math.round(((a.min ?? 0) + (a.max ?? 10)) / 2);
      return v === current ? v + 1 : v;
    }
    default: {
      if (allowed) return allowed.find((x) => x !== current)!;
      const v = Math.round((((a.min ?? 0) + (a.max ?? 10)) / 2) * 10) / 10;
      return v === current ? v + 0.5 : v;
    }
  }
}

async function exercise(address: string): Promise<void> {
  const dev = await open(address);
  try {
    const attrs = await dev.attrs();
    const reading = await dev.read();
    const status = attrs.filter((a) => a.status).map((a) => a.name);
    assert.deepEqual(Object.keys(reading), status);
    for (const [k, v] of Object.entries(reading)) assert.notEqual(v, null, k);
    const inst = (dev as MessageDevice).inst;
    const plain = attrs.filter((a) => !a.description?.startsWith("action:"));
    const all = await dev.read(plain.map((a) => a.name));
    for (const a of plain) {
      const v = all[a.name];
      const ok = a.type === "number" || a.type === "integer"
        ? typeof v === "number"
        : a.type === "boolean"
        ? typeof v === "boolean"
        : a.type === "number[]"
        ? Array.isArray(v)
        : typeof v === "string";
      assert.ok(ok, `${a.name}: ${JSON.stringify(v)} is not a ${a.type}`);
      if (a.type === "enum") assert.ok(a.options!.includes(v as string), `${a.name}: ${v}`);
    }
    for (const a of plain.filter((x) => x.rw)) {
      const allowed = inst.attrs.find((x) => x.attr.name === a.name)!.values;
      const value = validateWrite(a, another(a, all[a.name] ?? null, allowed));
      await dev.write(a.name, value);
      assert.deepEqual((await dev.read([a.name]))[a.name], value, `${a.name} read back`);
    }
    for (const action of (dev as MessageDevice).actions()) {
      await dev.write(action, true);
      assert.equal((await dev.read([action]))[action], true, `${action} ran`);
    }
  } finally {
    await dev.close();
  }
}

/** The message-based definitions (register maps have their own driver and tests). */
async function messageInstrumentNames(): Promise<string[]> {
  const out: string[] = [];
  for (const n of await instrumentNames()) {
    if ((await findInstrument(n)).protocol !== "modbus") out.push(n);
  }
  return out;
}

for (const name of await messageInstrumentNames()) {
  Deno.test(`${name}: read, write and act on its simulator over TCP`, async () => {
    await withSim(name, {}, (address) => exercise(address));
  });
  Deno.test(`${name}: read, write and act on its simulator over a pseudo-terminal`, async () => {
    const sim = await startPtySimulator(await findInstrument(name));
    try {
      assert.match(sim.address, /^serial:\/\/\/dev\/pts\/\d+\?instrument=/);
      await exercise(sim.address);
    } finally {
      await sim.close();
    }
  });
}

Deno.test("the definition's serial settings reach the line (stty): Lake Shore 336 asks 57600 7O1", async () => {
  const sim = await startPtySimulator(await findInstrument("lakeshore-336"));
  const dev = await open(sim.address);
  try {
    await dev.read(["setpoint_1"]);
    const out = await new Deno.Command("stty", { args: ["-F", sim.path, "-a"] }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.match(text, /speed 57600 baud/);
    // Linux's pty driver forces CS8 and clears PARENB on a pseudo-terminal whatever is asked;
    // the odd-parity flag itself is kept, so it shows that 7O1 was asked for.
    assert.match(text, /(^|\s)parodd(\s|$)/);
    assert.match(text, /(^|\s)-cstopb(\s|$)/);
  } finally {
    await dev.close();
    await sim.close();
  }
});

Deno.test("address forms: definition port, scpi:// default, config instrument, VISA with ?instrument=", async () => {
  await withSim("keysight-34461a", {}, async (address, sim) => {
    for (
      const a of [
        `scpi://127.0.0.1:${sim.port}`,
        `TCPIP0::127.0.0.1::${sim.port}::SOCKET?instrument=keysight-34461a`,
      ]
    ) {
      const dev = await open(a);
      try {
        const r = await dev.read();
        assert.ok(Object.keys(r).length > 0, a);
      } finally {
        await dev.close();
      }
    }
    const scpi = await open(`scpi://127.0.0.1:${sim.port}`);
    assert.match(String((await scpi.read()).idn), /^Keysight Technologies,34461A,/);
    assert.equal((await scpi.read(["system_error"])).system_error, '+0,"No error"');
    await scpi.close();
    const cfg = await open(`tcp://127.0.0.1:${sim.port}`, { instrument: "keysight-34461a" });
    assert.equal(typeof (await cfg.read()).voltage_dc, "number");
    await cfg.close();
    assert.ok(address.endsWith("?instrument=keysight-34461a"));
  });
  const bad = [
    ["tcp://127.0.0.1:1", /which instrument\? add \?instrument=NAME/],
    ["tcp://127.0.0.1:1?instrument=keysight-34416a", /unknown instrument "keysight-34416a"/],
    ["tcp://127.0.0.1:1?instrument=scpi&bogus=1", /unknown option "bogus"/],
    ["tcp://127.0.0.1?instrument=alicat", /no default port/],
    ["tcp://127.0.0.1:1?instrument=alicat&unit=AB", /unit must be one letter/],
  ] as const;
  for (const [a, re] of bad) {
    await assert.rejects(open(a), (err: unknown) => {
      assert.ok(err instanceof UsageError, `${a}: ${err}`);
      assert.match(`${err.message} ${err.hint ?? ""}`, re);
      return true;
    });
  }
});

Deno.test("*IDN? that does not match: warn (and go on) or refuse, as the definition says", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/odd-dmm.toml`,
      'extends = "keysight-34461a"\n[sim]\nidn = "ACME,X1,1,1"\n',
    );
    await Deno.writeTextFile(
      `${dir}/odd-ls.toml`,
      'extends = "lakeshore-336"\n[sim]\nidn = "LSCI,MODEL335,1,1"\n',
    );
    addInstrumentSource(dir);
    await withSim("odd-dmm", {}, async (address) => {
      const dev = await open(address) as MessageDevice;
      const warnings: string[] = [];
      dev.warn = (m) => warnings.push(m);
      assert.equal(typeof (await dev.read()).voltage_dc, "number");
      await dev.read();
      assert.equal(warnings.length, 1, "warned once");
      assert.match(
        warnings[0]!,
        /\*IDN\? answered "ACME,X1,1,1", which does not match the odd-dmm definition/,
      );
      await dev.close();
    });
    await withSim("odd-ls", {}, async (address) => {
      const dev = await open(address);
      await assert.rejects(
        dev.read(),
        /answered "LSCI,MODEL335,1,1".*check the address or \?instrument=/,
      );
      await dev.close();
    });
  } finally {
    resetInstrumentSources();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("instrument errors: SYST:ERR? after a write, ;*ESR? suffix, Alicat ?, Pfeiffer NAK", async () => {
  await withSim("keysight-34461a", {}, async (address) => {
    const dev = await open(address);
    // The driver trusts its caller's validation; the instrument still says no.
    await assert.rejects(
      dev.write("trigger_count", 0),
      /"TRIG:COUN 0": the instrument reported -222,"Data out of range"/,
    );
    await dev.write("trigger_count", 2);
    await dev.close();
  });
  await withSim("lakeshore-336", {}, async (address) => {
    const dev = await open(address);
    await assert.rejects(
      dev.write("setpoint_1", 5000),
      /"SETP 1,5000.000": the instrument reported: execution error \(ESR \d+\)/,
    );
    assert.equal((await dev.read(["setpoint_1"])).setpoint_1, 77);
    await dev.close();
  });
  await withSim("alicat", { faults: { ...NO_FAULTS, errorRate: 1 } }, async (address) => {
    const dev = await open(address);
    await assert.rejects(dev.read(), /the instrument refused the command \(\?\)/);
    await dev.close();
  });
  await withSim("pfeiffer-tpg36x", { faults: { ...NO_FAULTS, errorRate: 1 } }, async (address) => {
    const dev = await open(address);
    await assert.rejects(dev.read(), /"PR1": the controller answered NAK/);
    await dev.close();
  });
  await withSim("keysight-34461a", { faults: { ...NO_FAULTS, errorRate: 1 } }, async (address) => {
    const dev = await open(address);
    // Identification fails first: the answer is SCPI's not-a-number.
    await assert.rejects(dev.read(), DeviceError);
    await dev.close();
  });
});

Deno.test("one-attribute polls of a ready device give values; an unknown attribute rejects", async () => {
  await withSim("keysight-34461a", {}, async (address) => {
    const dev = await open(address);
    try {
      // The first read identifies and initialises; later ones take the short way.
      for (let i = 0; i < 3; i++) {
        const v = await dev.read(["voltage_dc"]);
        assert.deepEqual(Object.keys(v), ["voltage_dc"]);
        assert.equal(typeof v.voltage_dc, "number");
      }
      const p = dev.read(["voltage_dcc"]);
      assert.ok(p instanceof Promise, "a mistake rejects, it does not throw");
      await assert.rejects(p, (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.match(`${err.message} ${err.hint}`, /voltage_dc\b/);
        return true;
      });
    } finally {
      await dev.close();
    }
  });
});

Deno.test("garbage answers and silence are device errors naming the command", async () => {
  await withSim("lakeshore-336", { faults: { ...NO_FAULTS, garbageRate: 1 } }, async (address) => {
    const dev = await open(address);
    await assert.rejects(dev.read(), (err: unknown) => {
      assert.ok(err instanceof DeviceError);
      assert.match(err.message, /status byte|does not match|expected a number/);
      return true;
    });
    await dev.close();
  });
  await withSim(
    "keysight-34461a",
    { faults: { ...NO_FAULTS, timeoutRate: 1 } },
    async (address) => {
      const dev = await open(address + "&timeout=200ms");
      await assert.rejects(dev.read(undefined, { timeout: 200 }), (err: unknown) => {
        assert.ok(err instanceof TimeoutError, String(err));
        assert.match(err.message, /no answer to "\*IDN\?" within 200 ms/);
        return true;
      });
      await dev.close();
    },
  );
});

Deno.test("Alicat units A and B share one line without mixing their answers", async () => {
  await withSim("alicat", { units: ["A", "B"] }, async (address) => {
    const a = await open(address + "&unit=A");
    const b = await open(address + "&unit=B");
    try {
      await a.write("setpoint", 5);
      await b.write("setpoint", 12.5);
      await b.write("gas", "Ar");
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).read(["setpoint", "gas"])),
      );
      results.forEach((r, i) => {
        assert.deepEqual(r, i % 2 ? { setpoint: 5, gas: "N2" } : { setpoint: 12.5, gas: "Ar" });
      });
      assert.equal((await a.read(["control_point"])).control_point, "mass_flow");
    } finally {
      await a.close();
      await b.close();
    }
  });
});

Deno.test("init commands reach the instrument again after the connection drops (simulator restart)", async () => {
  const inst = await findInstrument("keysight-34461a");
  const seen: string[] = [];
  const onMessage = (e: MessageEvent) => seen.push(e.message);
  let sim = await startTcpSimulator(inst, { port: 0, onMessage });
  const dev = await open(sim.address);
  try {
    await dev.read(["voltage_dc"]);
    await dev.read(["voltage_dc"]);
    // *IDN? and *CLS (with its SYST:ERR? check) once, then only the measurements.
    assert.deepEqual(seen.filter((m) => m === "*CLS"), ["*CLS"]);
    assert.equal(seen.filter((m) => m === "*IDN?").length, 1);
    const measure = seen.at(-1)!;
    assert.ok(seen.indexOf("*CLS") < seen.indexOf(measure), seen.join(" | "));

    // The instrument restarts: its connection is gone and it has forgotten its settings.
    await sim.close();
    seen.length = 0;
    const port = sim.port;
    for (let i = 0;; i++) {
      try {
        sim = await startTcpSimulator(inst, { port, onMessage });
        break;
      } catch (err) {
        // The old listener's port is released once its pending accept has returned.
        if (i === 50) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    // The read that finds the connection dead fails (a gap, not a crash); a later one succeeds.
    let value: unknown;
    for (let i = 0; i < 20 && value === undefined; i++) {
      try {
        value = (await dev.read(["voltage_dc"])).voltage_dc;
      } catch (err) {
        assert.ok(err instanceof DeviceError, String(err));
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.equal(typeof value, "number");
    const cls = seen.indexOf("*CLS");
    assert.ok(cls >= 0, `init not re-sent after the reconnect: ${seen.join(" | ")}`);
    assert.ok(seen.indexOf("*IDN?") < cls, seen.join(" | "));
    assert.ok(cls < seen.lastIndexOf(measure), seen.join(" | "));
  } finally {
    await dev.close();
    await sim.close();
  }
});
