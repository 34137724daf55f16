/**
 * The baratron:// driver against its simulator over real HTTP on loopback (every field, every
 * failure mode), and the simulator against the protocol facts byte for byte — with a raw TCP
 * client and with curl, neither of which shares code with labwire's protocol module.
 */
import assert from "node:assert/strict";
import { FACTS_REQUEST, FACTS_UNITS } from "../fixtures/ebaratron_facts.ts";
import "../../lib/drivers/mod.ts";
import type { Device } from "../../lib/device/device.ts";
import { DeviceError, TimeoutError } from "../../lib/device/errors.ts";
import { parseFaults } from "../../lib/drivers/sim/faults.ts";
import {
  type GaugeOptions,
  startBaratronSimulators,
} from "../../lib/drivers/baratron/simulator.ts";
import { findProgram, peerTest } from "../peers.ts";
import { openAddress, readOnce } from "../fixtures/read_once.ts";

// The response shape of the facts: declaration, PollResponse root, V children with Name.
const RESPONSE_SHAPE =
  /^<\?xml version="1\.0" encoding="UTF-8"\?><PollResponse>((?:<V Name="EVID_\d+">[^<]*<\/V>)+)<\/PollResponse>$/;

type Faults = Parameters<typeof parseFaults>[0];

/** Starts one simulated gauge, opens it through the registry, runs `fn`, cleans up. */
async function withGauge(
  opts: { faults?: Faults; gauge?: GaugeOptions; query?: string },
  fn: (device: Device, address: string) => Promise<void>,
): Promise<void> {
  const sims = await startBaratronSimulators({
    count: 1,
    seed: 5,
    faults: parseFaults(opts.faults ?? {}),
    ...opts.gauge,
  });
  const address = sims.addresses[0]! + (opts.query ?? "");
  const device = await openAddress(address, "gauge");
  try {
    await fn(device, sims.addresses[0]!);
  } finally {
    await device.close();
    await sims.close();
  }
}

/** Asserts a rejection is a DeviceError (of `cls`) matching `re`, with no stack trace text. */
async function rejectsDevice(
  p: Promise<unknown>,
  re: RegExp,
  cls: typeof DeviceError = DeviceError,
): Promise<string> {
  let message = "";
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${err}`);
    message = err.message;
    assert.match(message, re);
    assert.doesNotMatch(message, /\n\s+at /, "no stack trace in the message");
    return true;
  });
  return message;
}

Deno.test("driver reads every field from the simulator, in declaration order", async () => {
  await withGauge({ gauge: { setpoint: 3.8, fullScale: 1000, warmupS: 0 } }, async (g) => {
    const v = await g.read();
    assert.deepEqual(Object.keys(v), [
      "pressure",
      "pressure_units",
      "full_scale_pressure",
      "led_color",
      "run_hours",
      "wait_hours",
      "drift",
      "system_status",
    ]);
    assert.ok(typeof v.pressure === "number" && v.pressure > 3.6 && v.pressure < 4.0);
    assert.equal(v.pressure_units, "torr");
    assert.equal(v.full_scale_pressure, 1000);
    assert.equal(v.led_color, "green");
    assert.ok(typeof v.run_hours === "number" && v.run_hours > 8000);
    assert.equal(v.wait_hours, 0);
    assert.ok(typeof v.drift === "number" && Math.abs(v.drift) < 0.01);
    assert.match(String(v.system_status), /^(ok|e-Baratron Zeroing Recommended)$/);
    assert.deepEqual(Object.keys(await g.read(["drift", "pressure"])), ["drift", "pressure"]);
  });
});

Deno.test("units come from the device: the reading carries them and attrs() reports them", async () => {
  await withGauge({ gauge: { units: "mbar", fullScale: 1333, setpoint: 100 } }, async (g) => {
    const v = await g.read(["pressure", "pressure_units", "full_scale_pressure"]);
    assert.equal(v.pressure_units, "mbar");
    assert.equal(v.full_scale_pressure, 1333);
    const attrs = await g.attrs();
    assert.equal(attrs.find((a) => a.name === "pressure")?.units, "mbar");
    assert.equal(attrs.find((a) => a.name === "run_hours")?.units, "h");
    assert.equal(attrs.find((a) => a.name === "wait_hours")?.units, "h");
    assert.ok(attrs.every((a) => !a.rw));
  });
});

Deno.test("a warming gauge reports its wait and a yellow blinking LED", async () => {
  await withGauge({ gauge: { warmupS: 1800 } }, async (g) => {
    const v = await g.read();
    assert.ok(typeof v.wait_hours === "number" && v.wait_hours > 0.49 && v.wait_hours <= 0.5);
    assert.equal(v.led_color, "yellow, blinking");
  });
});

Deno.test("refused: a closed port is a device error naming the address", async () => {
  const sims = await startBaratronSimulators({ count: 1 });
  const address = sims.addresses[0]!;
  await sims.close();
  const g = await openAddress(address);
  try {
    const port = address.split(":").at(-1);
    await rejectsDevice(
      g.read(),
      new RegExp(`^POST http://127\\.0\\.0\\.1:${port}/ToolWeb/Cmd: connection refused; `),
    );
    // The schema is still there for an unreachable gauge, only without the device's units.
    const attrs = await g.attrs();
    assert.equal(attrs.length, 8);
    assert.equal(attrs.find((x) => x.name === "pressure")?.units, undefined);
  } finally {
    await g.close();
  }
});

Deno.test("timeout: a gauge that never answers fails within ?timeout=", async () => {
  await withGauge({ faults: { timeout_rate: "1" }, query: "?timeout=100ms" }, async (g) => {
    await rejectsDevice(g.read(), /no answer within 100 ms/, TimeoutError);
    // The per-call timeout overrides the address' one.
    await rejectsDevice(g.read(undefined, { timeout: 30 }), /no answer within 30 ms/, TimeoutError);
  });
});

Deno.test("HTTP 500 is a communication error", async () => {
  await withGauge({ faults: { error_rate: "1" } }, async (g) => {
    await rejectsDevice(
      g.read(),
      /: HTTP 500 \("Internal Server Error"\); the gauge did not accept/,
    );
  });
});

Deno.test("an empty body is a communication error", async () => {
  await withGauge({ faults: { garbage_rate: "1" }, gauge: { garbage: ["empty"] } }, async (g) => {
    await rejectsDevice(g.read(), /ToolWeb\/Cmd: the answer body is empty/);
  });
});

Deno.test("malformed XML is a device error, every time, for any kind of garbage", async () => {
  await withGauge({ faults: { garbage_rate: "1" } }, async (g) => {
    for (let i = 0; i < 10; i++) {
      await rejectsDevice(g.read(), /ToolWeb\/Cmd: the answer is not well-formed XML: /);
    }
  });
});

Deno.test("a units index outside the table is a device error, not a crash", async () => {
  await withGauge({ gauge: { overrides: { 105: "13" } } }, async (g) => {
    await rejectsDevice(g.read(), /pressure units index 13, outside the known table 0–12/);
  });
});

Deno.test("an unexpected EVID in the answer is reported by name", async () => {
  await withGauge({ gauge: { overrides: { 103: "0.5" } } }, async (g) => {
    // The simulator only answers what is asked, so this gauge still reads fine…
    assert.equal(typeof (await g.read()).pressure, "number");
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.text();
    return new Response(
      '<PollResponse><V Name="EVID_100">1</V><V Name="EVID_102">0</V><V Name="EVID_105">2</V>' +
        '<V Name="EVID_106">2</V><V Name="EVID_107">0</V><V Name="EVID_114">0</V>' +
        '<V Name="EVID_208">0</V><V Name="EVID_1103">10</V><V Name="EVID_555">7</V></PollResponse>',
    );
  });
  const g = await openAddress(`baratron://127.0.0.1:${server.addr.port}`);
  try {
    // …while a peer that adds a field is reported, naming the EVID and its value.
    await rejectsDevice(g.read(), /answered EVID_555="7", which the poll did not ask for/);
  } finally {
    await g.close();
    await server.shutdown();
  }
});

Deno.test("latency: a slow gauge still reads within the timeout", async () => {
  await withGauge({ faults: { latency: "40ms", jitter: "10ms" } }, async (g) => {
    const t0 = performance.now();
    const v = await g.read();
    assert.equal(typeof v.pressure, "number");
    assert.ok(performance.now() - t0 >= 39, "the answer was delayed");
  });
});

Deno.test("disconnect: the port refuses connections for disconnect_for, then listens again", async () => {
  await withGauge(
    { faults: { disconnect_rate: "1", disconnect_for: "300ms" }, query: "?timeout=150ms" },
    async (g) => {
      // The poll that triggers the disconnect is never answered…
      await rejectsDevice(g.read(), /no answer within 150 ms/, TimeoutError);
      // …then the gauge is off the network…
      await rejectsDevice(g.read(), /connection refused/);
      await new Promise((r) => setTimeout(r, 400));
      // …and back: listening again (with rate 1 it drops off again, so this poll times out).
      await rejectsDevice(g.read(), /no answer within 150 ms/, TimeoutError);
    },
  );
});

Deno.test("the driver recovers after failures: a read after a timeout succeeds", async () => {
  const sims = await startBaratronSimulators({ count: 1 });
  const g = await openAddress(`${sims.addresses[0]}?timeout=500ms`);
  try {
    assert.equal(typeof (await g.read()).pressure, "number");
    await sims.close();
    await rejectsDevice(g.read(), /connection refused/);
  } finally {
    await g.close();
  }
});

const ipv6 = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "IPv6: baratron://[::1]:PORT reads a simulator listening on ::1",
  ignore: !ipv6,
  fn: async () => {
    const sims = await startBaratronSimulators({ hostname: "::1", count: 1 });
    try {
      assert.match(sims.addresses[0]!, /^baratron:\/\/\[::1\]:\d+$/);
      assert.equal(typeof (await readOnce(sims.addresses[0]!)).pressure, "number");
    } finally {
      await sims.close();
    }
  },
});

/** POSTs raw bytes over TCP and returns the raw HTTP answer (no labwire code involved). */
async function rawPost(port: number, body: string, contentType: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const bytes = new TextEncoder().encode(body);
    await conn.write(new TextEncoder().encode(
      `POST /ToolWeb/Cmd HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: ${contentType}\r\n` +
        `Content-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`,
    ));
    await conn.write(bytes);
    return await new Response(conn.readable).text();
  } catch (err) {
    conn.close();
    throw err;
  }
}

/** Checks an answer body against the facts and returns EVID → text. */
function checkFactsShape(body: string): Map<number, string> {
  const m = RESPONSE_SHAPE.exec(body);
  assert.ok(m, `response shape: ${body}`);
  const values = new Map<number, string>();
  for (const v of m[1]!.matchAll(/<V Name="EVID_(\d+)">([^<]*)<\/V>/g)) {
    values.set(Number(v[1]), v[2]!);
  }
  return values;
}

/** Checks each field's text against the facts' conversions, independently of protocol.ts. */
function checkFactsValues(values: Map<number, string>): void {
  assert.deepEqual([...values.keys()], [100, 102, 105, 106, 107, 114, 208, 1103]);
  const num = (e: number) => Number(values.get(e));
  for (const e of [100, 102, 107, 114, 1103]) assert.ok(Number.isFinite(num(e)), `EVID_${e}`);
  assert.ok(Number.isInteger(num(105)) && FACTS_UNITS[num(105)] !== undefined, "units index");
  assert.ok([1, 2, 4, 16].some((b) => (num(106) & b) !== 0), "a known LED bit is set");
  assert.ok(Number.isInteger(num(208)) && num(208) >= 0, "status bitmask");
  assert.ok(num(102) > 0 && num(107) >= 0, "seconds");
  assert.ok(num(100) >= 0 && num(100) <= 1.1 * num(1103), "pressure within full scale");
}

Deno.test("simulator vs the facts, byte for byte, with a raw TCP client and the old content type", async () => {
  const sims = await startBaratronSimulators({ count: 1, seed: 2 });
  try {
    for (const type of ["text/xml", "application/x-www-form-urlencoded"]) {
      const raw = await rawPost(sims.gauges[0]!.port, FACTS_REQUEST, type);
      const [head, body] = [
        raw.slice(0, raw.indexOf("\r\n\r\n")),
        raw.slice(raw.indexOf("\r\n\r\n") + 4),
      ];
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(body.length > 0, "non-empty body");
      checkFactsValues(checkFactsShape(body));
    }
  } finally {
    await sims.close();
  }
});

peerTest(
  "simulator answers curl posting the facts' exact request",
  () => findProgram("curl") ? [] : ["curl"],
  async () => {
    const sims = await startBaratronSimulators({ count: 1, seed: 4 });
    try {
      const url = `${sims.addresses[0]!.replace("baratron://", "http://")}/ToolWeb/Cmd`;
      const out = await new Deno.Command("curl", {
        args: [
          "-sS",
          "-w",
          "\n%{http_code}",
          "-H",
          "Content-Type: text/xml",
          "--data-binary",
          FACTS_REQUEST,
          url,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const text = new TextDecoder().decode(out.stdout);
      const body = text.slice(0, text.lastIndexOf("\n"));
      assert.equal(text.slice(text.lastIndexOf("\n") + 1), "200");
      checkFactsValues(checkFactsShape(body));
    } finally {
      await sims.close();
    }
  },
);

peerTest(
  "simulator keeps the connection alive: curl polls twice on one connection",
  () => findProgram("curl") ? [] : ["curl"],
  async () => {
    const sims = await startBaratronSimulators({ count: 1, seed: 4 });
    try {
      const url = `${sims.addresses[0]!.replace("baratron://", "http://")}/ToolWeb/Cmd`;
      const poll = ["-H", "Content-Type: text/xml", "--data-binary", FACTS_REQUEST, url];
      const out = await new Deno.Command("curl", {
        // %{num_connects}: new connections the transfer made (0 when it reused one).
        args: [
          "-sS",
          "-w",
          "\n%{http_code} %{num_connects}\n",
          ...poll,
          "--next",
          "-sS",
          "-w",
          "\n%{http_code} %{num_connects}\n",
          ...poll,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
      assert.equal(lines.length, 4);
      checkFactsValues(checkFactsShape(lines[0]!));
      checkFactsValues(checkFactsShape(lines[2]!));
      assert.deepEqual([lines[1], lines[3]], ["200 1", "200 0"]);
      assert.equal(sims.gauges[0]!.counts.ok, 2);
    } finally {
      await sims.close();
    }
  },
);

// A stand-in for the reference Python client: urllib + the standard library's expat-based XML
// parser, which is strict, so it also proves that the simulator's garbage really is malformed.
const PY_CLIENT = `
import json, sys, urllib.request, xml.etree.ElementTree as ET
url, body, ctype = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": ctype}, method="POST")
text = urllib.request.urlopen(req, timeout=5).read().decode()
try:
    root = ET.fromstring(text)
except ET.ParseError as e:
    print(json.dumps({"malformed": str(e)}))
    sys.exit(0)
print(json.dumps({"root": root.tag, "items": [[v.get("Name"), v.text] for v in root.findall("V")]}))
`;

async function pyPoll(url: string, contentType: string): Promise<Record<string, unknown>> {
  const out = await new Deno.Command("python3", {
    args: ["-c", PY_CLIENT, url, FACTS_REQUEST, contentType],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

peerTest(
  "simulator answers a Python urllib client; expat parses the answer and rejects the garbage",
  () => findProgram("python3") ? [] : ["python3"],
  async () => {
    const good = await startBaratronSimulators({ count: 1, seed: 6 });
    const bad = await startBaratronSimulators({
      count: 1,
      faults: parseFaults({ garbage_rate: "1" }),
    });
    try {
      const url = (a: string) => `${a.replace("baratron://", "http://")}/ToolWeb/Cmd`;
      const answer = await pyPoll(url(good.addresses[0]!), "application/x-www-form-urlencoded");
      assert.equal(answer.root, "PollResponse");
      const items = answer.items as [string, string][];
      assert.deepEqual(items.map(([n]) => n), [
        "EVID_100",
        "EVID_102",
        "EVID_105",
        "EVID_106",
        "EVID_107",
        "EVID_114",
        "EVID_208",
        "EVID_1103",
      ]);
      checkFactsValues(new Map(items.map(([n, v]) => [Number(n.slice(5)), v])));
      for (let i = 0; i < 4; i++) {
        const garbage = await pyPoll(url(bad.addresses[0]!), "text/xml");
        assert.equal(typeof garbage.malformed, "string", JSON.stringify(garbage));
      }
    } finally {
      await good.close();
      await bad.close();
    }
  },
);
