import assert from "node:assert/strict";
import { type CaCallOptions, CaDevice, caDriver } from "./driver.ts";
import { addShapes, FakeServer, pv } from "./fake_server.ts";
import { DBR } from "./dbr_types.ts";
import { parseAddress } from "../../device/address.ts";
import { TimeoutError, UsageError, WriteRejected } from "../../device/errors.ts";
import type { Values } from "../../device/attr.ts";

const WAIT: CaCallOptions = { wait: true };

async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function withFake(
  fn: (fake: FakeServer, open: (pv: string) => CaDevice) => Promise<void>,
): Promise<void> {
  const fake = new FakeServer();
  await fake.start();
  const ao = pv(DBR.DOUBLE, [1.25]);
  Object.assign(ao.data, {
    precision: 3,
    units: "mm",
    lowerCtrlLimit: -10,
    upperCtrlLimit: 10,
    secondsPastEpoch: 1_000_000_000,
    nanoseconds: 500_000_000,
  });
  fake.pvs.set("AO", ao);
  addShapes(fake);
  fake.pvs.set("RO", pv(DBR.DOUBLE, [7], false));
  const client = fake.client({ minSearchPeriodMs: 10 });
  const devices: CaDevice[] = [];
  const open = (name: string) => {
    const d = new CaDevice(name, `ca://${name}`, name, { client, timeout: 2000 });
    devices.push(d);
    return d;
  };
  try {
    await fn(fake, open);
  } finally {
    await Promise.all(devices.map((d) => d.close()));
    await client.close();
    await fake.close();
  }
}

Deno.test("attrs map the native type and DBR_CTRL metadata", async () => {
  await withFake(async (_fake, open) => {
    const [value, severity, status, timestamp] = await open("AO").attrs();
    assert.deepEqual(
      { ...value, description: undefined },
      {
        name: "value",
        type: "number",
        rw: true,
        status: true,
        units: "mm",
        precision: 3,
        min: -10,
        max: 10,
        description: undefined,
        limits: {
          display: { low: 0, high: 0 },
          warning: { low: 0, high: 0 },
          alarm: { low: 0, high: 0 },
          control: { low: -10, high: 10 },
        },
        elements: 1,
      },
    );
    assert.match(value!.description!, /DBF_DOUBLE on 127\.0\.0\.1:\d+, read\/write access/);
    assert.deepEqual(severity!.options, ["NO_ALARM", "MINOR", "MAJOR", "INVALID"]);
    assert.equal(status!.options![3], "HIHI");
    assert.equal(timestamp!.status, false);
    const [m] = await open("MBBO").attrs();
    assert.equal(m!.type, "enum");
    assert.deepEqual(m!.options, ["Idle", "Run", "Stop"]);
    assert.equal(m!.indexed, true, "an EPICS enum is writable by index");
    assert.equal(m!.min, undefined);
    assert.equal((await open("LONG").attrs())[0]!.type, "integer");
    assert.equal((await open("STR").attrs())[0]!.type, "string");
    const [w] = await open("WAVE").attrs();
    assert.equal(w!.type, "number[]");
    assert.match(w!.description!, /DBF_FLOAT\[3\]/);
    assert.equal((await open("DESC$").attrs())[0]!.type, "string");
    assert.equal((await open("RO").attrs())[0]!.rw, false);
  });
});

Deno.test("read gives value, severity and status; timestamp on request", async () => {
  await withFake(async (fake, open) => {
    const ao = open("AO");
    assert.deepEqual(await ao.read(), { value: 1.25, severity: "NO_ALARM", status: "NO_ALARM" });
    assert.deepEqual(await ao.read(["timestamp"]), { timestamp: 631152000 + 1e9 + 0.5 });
    await assert.rejects(ao.read(["nope"]), UsageError);
    assert.deepEqual(await open("MBBO").read(["value"]), { value: "Run" });
    assert.deepEqual(await open("WAVE").read(["value"]), { value: [1, 2, 3] });
    assert.deepEqual(await open("DESC$").read(["value"]), { value: "hi" });
    fake.pvs.get("AO")!.data.severity = 2;
    fake.pvs.get("AO")!.data.status = 3;
    assert.deepEqual(await ao.read(["severity", "status"]), { severity: "MAJOR", status: "HIHI" });
  });
});

Deno.test("writes: only value, refused on read-only PVs, waiting or tracked by isMoving", async () => {
  await withFake(async (fake, open) => {
    const ao = open("AO");
    await assert.rejects(ao.write("severity", "MAJOR"), UsageError);
    const ro = open("RO");
    await ro.attrs();
    await assert.rejects(ro.write("value", 1), WriteRejected);
    assert.equal(fake.received.filter((m) => m.kind.startsWith("write")).length, 0);

    fake.notifyDelayMs = 150;
    await ao.write("value", 2.5, WAIT);
    assert.equal(await ao.isMoving(), false, "waited for completion");
    assert.deepEqual((await ao.read(["value"])).value, 2.5);

    await ao.write("value", 3.5);
    assert.equal(await ao.isMoving(), true, "completion still pending");
    await until(() => fake.received.some((m) => m.kind === "write_notify"), "the write");
    while (await ao.isMoving()) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual((await ao.read(["value"])).value, 3.5);

    // sendOnly (labwire write without --wait): a plain WRITE, as caput without -c.
    const before = fake.received.filter((m) => m.kind === "write_notify").length;
    await ao.write("value", 4.5, { sendOnly: true });
    assert.equal(await ao.isMoving(), false, "nothing to track");
    await until(() => fake.received.some((m) => m.kind === "write"), "the plain write");
    assert.equal(fake.received.filter((m) => m.kind === "write_notify").length, before);
    assert.deepEqual((await ao.read(["value"])).value, 4.5);

    const mbbo = open("MBBO");
    await mbbo.write("value", "Stop", WAIT);
    assert.equal((await mbbo.read(["value"])).value, "Stop");
    const desc = open("DESC$");
    await desc.write("value", "yo", WAIT);
    assert.equal((await desc.read(["value"])).value, "yo");
  });
});

Deno.test("subscribe pushes changes, a disconnection, and the value after reconnection", async () => {
  await withFake(async (fake, open) => {
    const ao = open("AO");
    const pushed: [Values, number][] = [];
    const sub = await ao.subscribe(undefined, (v, t) => pushed.push([v, t]));
    try {
      await until(() => pushed.length === 1, "first push");
      assert.deepEqual(pushed[0], [
        { value: 1.25, severity: "NO_ALARM", status: "NO_ALARM" },
        631152000 + 1e9 + 0.5,
      ]);
      await ao.write("value", 4, WAIT);
      await until(() => pushed.length === 2, "second push");
      assert.deepEqual(pushed[1]![0].value, 4);
      fake.dropAll();
      await until(() => pushed.length >= 3, "disconnection push");
      assert.deepEqual(pushed[2]![0], { value: null, severity: "INVALID", status: "COMM" });
      await until(() => pushed.length >= 4, "push after reconnection");
      assert.deepEqual(pushed[3]![0], { value: 4, severity: "NO_ALARM", status: "NO_ALARM" });
    } finally {
      await sub.close();
    }
    const only: Values[] = [];
    const sub2 = await open("MBBO").subscribe(["value"], (v) => only.push(v));
    await until(() => only.length === 1, "enum push");
    await sub2.close();
    assert.deepEqual(only, [{ value: "Run" }]);
  });
});

Deno.test("a PV nobody serves times out with a message naming the search list", async () => {
  await withFake(async (_fake, open) => {
    const d = open("MISSING");
    await assert.rejects(
      d.read(undefined, { timeout: 100 }),
      (e: Error) =>
        e instanceof TimeoutError && /PV MISSING not found.*127\.0\.0\.1/.test(e.message),
    );
  });
});

Deno.test("the ca:// driver: default name, options, bad names", async () => {
  assert.equal(caDriver.defaultName!(parseAddress("ca://XXX:m1.VAL")), "XXX:m1.VAL");
  await assert.rejects(
    caDriver.open(parseAddress("ca://A%20B"), { name: "x", options: {} }),
    UsageError,
  );
  await assert.rejects(
    caDriver.open(parseAddress("ca://A?wait=maybe"), { name: "x", options: {} }),
    UsageError,
  );
});
