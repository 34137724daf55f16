/**
 * The Modbus driver against the simulator of every built-in register map, over real TCP and over
 * a pseudo-terminal (RTU): default readings, every attribute read, every writable attribute
 * written and read back; coalescing; several unit ids on one line; then the bad cases (every
 * exception code, a wrong transaction id, garbage, CRC errors, truncated frames, a silent unit).
 */
import assert from "node:assert/strict";
import "../mod.ts";
import type { Value } from "../../device/attr.ts";
import { parseAddress } from "../../device/address.ts";
import type { Device } from "../../device/device.ts";
import { DeviceError, TimeoutError, UsageError } from "../../device/errors.ts";
import { findDriver } from "../../device/registry.ts";
import { findInstrument } from "../../instruments/loader.ts";
import { openPty } from "../../transport/pty.ts";
import { openModbusClient } from "./client.ts";
import { ModbusDevice } from "./driver.ts";
import { decodeMbap, encodeMbap, encodeRtu } from "./adu.ts";
import {
  encodeException,
  encodeResponse,
  EXCEPTION_NAMES,
  ModbusException,
  ModbusFrameError,
} from "./protocol.ts";
import { startModbusPtySimulator, startModbusTcpSimulator } from "./simulator.ts";

async function open(address: string, options: Record<string, unknown> = {}): Promise<Device> {
  const a = parseAddress(address);
  return await findDriver(a.scheme).open(a, { name: "dut", options, timeout: 1000 });
}

/** A valid value different from `current` for a writable attribute. */
function another(
  type: string,
  current: Value,
  options?: string[],
  min?: number,
  max?: number,
): Value {
  switch (type) {
    case "boolean":
      return !current;
    case "enum":
      return options!.find((o) => o !== current)!;
    default: {
      const mid = ((min ?? 0) + (max ?? 100)) / 2;
      const v = type === "integer" ? Math.round(mid) + 1 : Math.round(mid * 10) / 10 + 0.5;
      return v === current ? v + 1 : v;
    }
  }
}

/** A client of unit 1 on its own connection to `address`, giving up after 300 ms. */
function tcpClient(address: string) {
  return openModbusClient(parseAddress(address), { unit: 1, shared: false, timeout: 300 });
}

for (const name of ["omega-cn7500", "watlow-ez-zone-pm", "vacom-mg15"]) {
  Deno.test(`modbus ${name}: every attribute read, every writable one written and read back (TCP)`, async () => {
    const inst = await findInstrument(name);
    const sim = await startModbusTcpSimulator(inst, { port: 0 });
    const dev = await open(sim.address);
    try {
      const reading = await dev.read();
      const status = inst.attrs.filter((a) => a.attr.status).map((a) => a.attr.name);
      assert.deepEqual(Object.keys(reading), status);
      for (const v of Object.values(reading)) assert.notEqual(v, null);
      const all = await dev.read(inst.attrs.map((a) => a.attr.name));
      for (const a of inst.attrs) {
        const v = all[a.attr.name];
        if (a.attr.type === "enum") {
          assert.ok(a.attr.options!.includes(v as string), `${a.attr.name}=${v}`);
        }
        if (a.attr.type === "number" || a.attr.type === "integer") assert.equal(typeof v, "number");
        if (a.attr.type === "boolean") assert.equal(typeof v, "boolean");
      }
      for (const a of inst.attrs.filter((x) => x.attr.rw)) {
        const x = a.attr;
        const next = another(x.type, all[x.name]!, x.options, x.min, x.max);
        await dev.write(x.name, next);
        const back = (await dev.read([x.name]))[x.name];
        if (typeof next === "number") {
          assert.ok(Math.abs((back as number) - next) < 0.05, `${x.name}: ${back} vs ${next}`);
        } else assert.equal(back, next, x.name);
      }
    } finally {
      await dev.close();
      await sim.close();
    }
  });
}

Deno.test("modbus: a poll coalesces adjacent registers; the sim's process value approaches its set point", async () => {
  let now = 0;
  const inst = await findInstrument("omega-cn7500");
  const sim = await startModbusTcpSimulator(inst, { port: 0, now: () => now });
  const dev = await open(sim.address) as ModbusDevice;
  try {
    await dev.read();
    // process_value and set_value (4096, 4097) in one read, the run coil in another.
    assert.equal(dev.requests, 2);
    await dev.write("set_value", 100);
    now += 200_000; // ten time constants later
    const { process_value } = await dev.read(["process_value"]);
    assert.ok(Math.abs((process_value as number) - 100) < 0.5, String(process_value));
  } finally {
    await dev.close();
    await sim.close();
  }
  // A generic device with 20 adjacent registers reads them in one request.
  const registers = Object.fromEntries(
    Array.from(
      { length: 20 },
      (_, i) => [`r${i}`, { table: "holding", address: 100 + i, write: true }],
    ),
  );
  const gen = await startModbusTcpSimulator(
    (await import("./driver.ts")).genericInstrument(registers as never, "x"),
    { port: 0 },
  );
  const d = await open(gen.address.replace(/\?.*/, ""), { registers }) as ModbusDevice;
  try {
    const r = await d.read();
    assert.equal(Object.keys(r).length, 20);
    assert.equal(d.requests, 1);
  } finally {
    await d.close();
    await gen.close();
  }
});

Deno.test("modbus: a poll decodes each register its way: int16 signed, uint16, scaled, mapped", async () => {
  const registers = {
    signed: { table: "holding", address: 0, type: "int16", write: true },
    unsigned: { table: "holding", address: 1, type: "uint16", write: true },
    scaled: { table: "holding", address: 2, type: "int16", scale: 0.1, write: true },
    mode: { table: "holding", address: 3, map: { "0": "off", "1": "on" }, write: true },
    count: { table: "holding", address: 4, write: true },
  };
  const sim = await startModbusTcpSimulator(
    (await import("./driver.ts")).genericInstrument(registers as never, "x"),
    { port: 0 },
  );
  const address = sim.address.replace(/\?.*/, "");
  const c = tcpClient(address);
  const d = await open(address, { registers });
  try {
    await c.writeRegisters(0, [0xfffe, 0xfffe, 0xff83, 1, 0x8000], 16);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await d.read(), {
        signed: -2,
        unsigned: 65534,
        scaled: -12.5,
        mode: "on",
        count: 32768,
      });
    }
    assert.deepEqual(await d.read(["count", "signed"]), { count: 32768, signed: -2 });
    // The values come in the caller's order, each an own, enumerable property.
    assert.deepEqual(Object.keys(await d.read(["mode", "count", "signed"])), [
      "mode",
      "count",
      "signed",
    ]);
  } finally {
    c.close();
    await d.close();
    await sim.close();
  }
});

Deno.test("modbus: exceptions name function, address and meaning; limits answered with 03", async () => {
  const inst = await findInstrument("omega-cn7500");
  const sim = await startModbusTcpSimulator(inst, { port: 0 });
  const plain = sim.address.replace(/\?.*/, "");
  const dev = await open(plain, { registers: { missing: { table: "holding", address: 4200 } } });
  const omega = await open(sim.address);
  try {
    await assert.rejects(
      dev.read(),
      (e: unknown) =>
        e instanceof ModbusException && e.code === 2 &&
        /unit 1: illegal data address at holding register 4200 \(read holding registers, exception 02\)/
          .test(e.message),
    );
    // The caller validates against the Attr first; past it, the device refuses the value.
    await assert.rejects(
      omega.write("set_value", 2000),
      /illegal data value at holding register 4097/,
    );
    await assert.rejects(omega.write("process_value", 1), /read-only/);
  } finally {
    await dev.close();
    await omega.close();
    await sim.close();
  }
});

Deno.test("modbus window 1: reads, writes and exception answers one exchange at a time, on one connection", async () => {
  const inst = await findInstrument("omega-cn7500");
  const sim = await startModbusTcpSimulator(inst, { port: 0 });
  const plain = sim.address.replace(/\?.*/, "?window=1");
  const dev = await open(plain, {
    registers: {
      sp: { table: "holding", address: 4097, write: 6 },
      missing: { table: "holding", address: 4200 },
    },
  }) as ModbusDevice;
  try {
    assert.equal(dev.client.line.window, 1);
    await dev.write("sp", 250);
    assert.deepEqual(await dev.read(["sp"]), { sp: 250 });
    await assert.rejects(dev.read(["missing"]), /illegal data address at holding register 4200/);
    // The exception was the caller's error: same connection, and the next reads are answered.
    for (let i = 0; i < 3; i++) assert.deepEqual(await dev.read(["sp"]), { sp: 250 });
    assert.equal((dev.client.line.stream as { opens?: number }).opens, 1);
  } finally {
    await dev.close();
    await sim.close();
  }
});

/** A raw Modbus TCP server that answers each request through `answer` (bytes to send back). */
function fakeTcp(answer: (tid: number, unit: number, pdu: Uint8Array, n: number) => Uint8Array[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buf = new Uint8Array(1024);
        let n = 0;
        for (;;) {
          const got = await conn.read(buf).catch(() => null);
          if (got === null) break;
          const h = decodeMbap(buf.subarray(0, 7));
          for (const out of answer(h.transaction, h.unit, buf.slice(7, 6 + h.length), n++)) {
            await conn.write(out);
          }
        }
      })();
    }
  })().catch(() => {}); // the fake peer stops when the test closes its connection
  return {
    address: `modbus://127.0.0.1:${listener.addr.port}`,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

Deno.test("modbus: every exception code from the wire", async () => {
  let code = 1;
  const srv = fakeTcp((tid, unit, pdu) => [encodeMbap(tid, unit, encodeException(pdu[0]!, code))]);
  const client = openModbusClient(parseAddress(srv.address), { unit: 1, shared: false });
  try {
    for (const [c, meaning] of Object.entries(EXCEPTION_NAMES)) {
      code = Number(c);
      await assert.rejects(
        client.read("input", 7, 1),
        (e: unknown) =>
          e instanceof ModbusException && e.code === code &&
          e.message.startsWith(`modbus://127.0.0.1:`) &&
          e.message.includes(`${meaning} at input register 7 (read input registers, exception 0`),
      );
    }
  } finally {
    client.close();
    srv.close();
  }
});

Deno.test("modbus TCP: a stale answer (wrong transaction id) or another unit's is dropped", async () => {
  const srv = fakeTcp((tid, unit) => {
    const good = encodeMbap(tid, unit, encodeResponse({ fc: 3, registers: [42] }));
    const stale = encodeMbap(
      (tid + 0xffff) & 0xffff,
      unit,
      encodeResponse({ fc: 3, registers: [7] }),
    );
    const foreign = encodeMbap(tid, unit + 1, encodeResponse({ fc: 3, registers: [8] }));
    return [stale, foreign, good];
  });
  const client = openModbusClient(parseAddress(srv.address), { unit: 1, shared: false });
  try {
    assert.deepEqual(await client.read("holding", 0, 1), [42]);
    assert.equal(client.dropped, 2);
  } finally {
    client.close();
    srv.close();
  }
  // Only wrong transaction ids: no answer is taken, the request times out.
  const wrong = fakeTcp((
    tid,
    unit,
  ) => [encodeMbap(tid ^ 0x55, unit, encodeResponse({ fc: 3, registers: [7] }))]);
  const c2 = tcpClient(wrong.address);
  try {
    await assert.rejects(
      c2.read("holding", 0, 1),
      (e: unknown) =>
        e instanceof TimeoutError &&
        /no answer to read holding registers 0 of unit 1/.test(e.message),
    );
  } finally {
    c2.close();
    wrong.close();
  }
});

Deno.test("modbus TCP: garbage, a wrong answer, a truncated answer", async () => {
  let mode = "garbage";
  const srv = fakeTcp((tid, unit) => {
    if (mode === "garbage") return [new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\n\r\n")];
    if (mode === "short") return [encodeMbap(tid, unit, new Uint8Array([3, 4, 0, 1]))];
    return [encodeMbap(tid, unit, encodeResponse({ fc: 4, registers: [1] }))];
  });
  const client = tcpClient(srv.address);
  try {
    await assert.rejects(
      client.read("holding", 0, 1),
      (e: unknown) => e instanceof ModbusFrameError && /not Modbus TCP/.test(e.message),
    );
    mode = "short";
    await assert.rejects(
      client.read("holding", 0, 2),
      /malformed answer to read holding registers: expected 4 data bytes/,
    );
    mode = "other";
    await assert.rejects(client.read("holding", 0, 1), /function code 4, expected 3/);
  } finally {
    client.close();
    srv.close();
  }
});

Deno.test("modbus RTU over a pty: several units on one line, concurrent polls never interleave", async () => {
  const inst = await findInstrument("omega-cn7500");
  const sim = await startModbusPtySimulator(inst, { units: [1, 2, 3] });
  const devs = await Promise.all(
    [1, 2, 3].map((u) => open(`modbus+rtu://${sim.path}?instrument=omega-cn7500&unit=${u}`)),
  );
  try {
    await devs[1]!.write("set_value", 42.5);
    const readings = await Promise.all(devs.flatMap((d) => [d.read(), d.read(["set_value"])]));
    assert.equal(readings[2]!.set_value, 42.5);
    assert.equal(readings[0]!.set_value, 25);
    assert.equal(readings[4]!.set_value, 25);
    assert.equal(sim.sim.counts.bad_frames, 0);
    // Unit 0 broadcasts: every unit carries out the write, nobody answers, nobody can be read.
    const all = await open(`modbus+rtu://${sim.path}?instrument=omega-cn7500&unit=0`);
    await all.write("set_value", 50);
    await assert.rejects(all.read(), /unit 0 is the RTU broadcast address/);
    await all.close();
    assert.equal((await devs[0]!.read(["set_value"])).set_value, 50);
    assert.equal((await devs[1]!.read(["set_value"])).set_value, 50);
    await devs[1]!.write("set_value", 42.5);
    // A silent unit: nobody answers on the bus.
    const ghost = await open(`modbus+rtu://${sim.path}?instrument=omega-cn7500&unit=9`);
    await assert.rejects(
      ghost.read(["set_value"], { timeout: 300 }),
      (e: unknown) =>
        e instanceof TimeoutError &&
        /unit 9 within 300 ms; check the unit id, baud rate and parity/.test(e.message),
    );
    await ghost.close();
    // The line still works after the timeout.
    assert.equal((await devs[1]!.read(["set_value"])).set_value, 42.5);
  } finally {
    for (const d of devs) await d.close();
    await sim.close();
  }
});

Deno.test("modbus RTU: CRC errors and truncated frames from the device", async () => {
  const pty = openPty();
  let mode = "crc";
  const served = (async () => {
    for (;;) {
      let req: Uint8Array;
      try {
        req = await pty.stream.read();
      } catch {
        return;
      }
      const good = encodeRtu(req[0]!, encodeResponse({ fc: 3, registers: [1] }));
      if (mode === "crc") good[good.length - 1]! ^= 0xff;
      await pty.stream.write(mode === "short" ? good.subarray(0, 4) : good);
    }
  })();
  const client = openModbusClient(parseAddress(`modbus+rtu://${pty.path}?baud=19200`), {
    unit: 1,
    shared: false,
    timeout: 300,
  });
  try {
    await assert.rejects(
      client.read("holding", 0, 1),
      (e: unknown) => e instanceof ModbusFrameError && /CRC error/.test(e.message),
    );
    mode = "short";
    await assert.rejects(client.read("holding", 0, 1), TimeoutError);
    mode = "ok";
    assert.deepEqual(await client.read("holding", 0, 1), [1]);
  } finally {
    client.close();
    pty.close();
    await served;
  }
});

Deno.test("modbus: the simulator's faults (error answers exception 04, timeouts)", async () => {
  const inst = await findInstrument("omega-cn7500");
  const sim = await startModbusTcpSimulator(inst, {
    port: 0,
    faults: { ...(await import("../sim/faults.ts")).NO_FAULTS, errorRate: 1 },
  });
  const dev = await open(sim.address);
  try {
    await assert.rejects(dev.read(), /server device failure at .* \(read .*, exception 04\)/);
  } finally {
    await dev.close();
    await sim.close();
  }
});

Deno.test("modbus addresses: bad options, units and maps are usage errors", async () => {
  await assert.rejects(
    open("modbus://127.0.0.1:1?unti=1&instrument=omega-cn7500"),
    (e: unknown) =>
      e instanceof UsageError && /did you mean "unit"/.test((e as UsageError).hint ?? ""),
  );
  await assert.rejects(open("modbus://127.0.0.1:1"), /which registers\?/);
  // The config table the hint names must be valid TOML for a name made from an address.
  const a = parseAddress("modbus://127.0.0.1:1");
  await assert.rejects(
    findDriver(a.scheme).open(a, { name: "127.0.0.1:1-1", options: {}, timeout: 1000 }),
    /declare \[devices\."127\.0\.0\.1:1-1"\.registers\]/,
  );
  await assert.rejects(
    open("modbus://127.0.0.1:1?instrument=keysight-34461a"),
    /is a scpi instrument, not a Modbus register map/,
  );
  await assert.rejects(
    open("modbus+rtu:///dev/x?instrument=omega-cn7500&unit=300"),
    /unit 300 is not a unit id/,
  );
  await assert.rejects(
    open("modbus+rtu://dev/ttyUSB0?instrument=omega-cn7500"),
    /must be an absolute device path/,
  );
  await assert.rejects(
    open("modbus://127.0.0.1:1", {
      registers: { a: { table: "holding", address: 1, type: "float32" }, b: { register: 40003 } },
    }),
    /devices\.dut\.registers\.b: b \(holding register 2\) overlaps a/,
  );
  void DeviceError;
});

Deno.test("modbus: a refused connection names the modbus:// address and a Modbus TCP server", async () => {
  // A port that was listening a moment ago is free now: nothing answers there.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const dev = await open(`modbus://127.0.0.1:${port}?instrument=omega-cn7500&timeout=1s`);
  try {
    await assert.rejects(dev.read(), (e: unknown) => {
      const text = (e as Error).message;
      assert.match(
        text,
        new RegExp(`connect to modbus://127\\.0\\.0\\.1:${port}: connection refused`),
      );
      assert.match(text, /Modbus TCP server/);
      assert.doesNotMatch(text, /SCPI/);
      return true;
    });
  } finally {
    await dev.close();
  }
});
