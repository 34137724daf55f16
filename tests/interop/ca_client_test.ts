/**
 * Our Channel Access client and `ca://` driver against the reference server: softIoc from the
 * reference EPICS build serving tests/interop/fixtures/ca_test.db on a free loopback port.
 */
import assert from "node:assert/strict";
import { peerTest } from "../peers.ts";
import { caClientFor, missingSoftIoc, startSoftIoc } from "./ca_softioc.ts";
import type { Channel } from "../../lib/drivers/epics/client_channel.ts";
import type { GetResult } from "../../lib/drivers/epics/client_circuit.ts";
import { DBR, dbrFamily, dbrOf, epicsToUnix } from "../../lib/drivers/epics/dbr_types.ts";
import { DBE } from "../../lib/drivers/epics/messages.ts";
import { type CaCallOptions, CaDevice, caDriver } from "../../lib/drivers/epics/driver.ts";
import { parseAddress } from "../../lib/device/address.ts";
import { DeviceError, WriteRejected } from "../../lib/device/errors.ts";
import type { Values } from "../../lib/device/attr.ts";

const DB = await Deno.readTextFile(new URL("./fixtures/ca_test.db", import.meta.url));
const ACF = `ASG(DEFAULT) {
  RULE(1, READ)
  RULE(1, WRITE)
}
ASG(RO) {
  RULE(1, READ)
}
`;
const P = "LW:";
/** Write options asking for completion (WRITE_NOTIFY awaited). */
const WAIT: CaCallOptions = { wait: true };

/** Waits until `pred` holds, polling every 10 ms, failing after `ms`. */
async function until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs `fn` with the CA environment of `ioc` set for the shared client, restoring it after. */
async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const old = Object.fromEntries(Object.keys(env).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

peerTest(
  "CA client reads every record type and every DBR family from softIoc",
  missingSoftIoc,
  async () => {
    const ioc = await startSoftIoc({ db: DB, macros: { P }, acf: ACF });
    const client = caClientFor(ioc);
    try {
      const names = ["ao", "ai", "long", "bo", "bi", "mbbi", "str", "wave", "ro"];
      const chans = Object.fromEntries(names.map((n) => [n, client.channel(P + n)]));
      const got = await Promise.all(names.map((n) => chans[n]!.get()));
      const values = Object.fromEntries(names.map((n, i) => [n, got[i]!.data.value]));
      assert.deepEqual(values, {
        ao: [1.5],
        ai: [1.5], // INP from ao at init
        long: [42],
        bo: [1],
        bi: [1],
        mbbi: [2],
        str: ["hello world"],
        wave: [], // never written: the current length is 0
        ro: [7],
      });
      assert.equal(client.circuitCount, 1, "one circuit shared by every channel");
      const ao = chans.ao!;
      assert.equal(ao.nativeType, DBR.DOUBLE);
      assert.equal(chans.wave!.nativeCount, 16);

      // Every DBR type of the DOUBLE ao, converted by the server.
      for (let type = 0; type <= 34; type++) {
        const r = await ao.get({ type });
        const native = type % 7;
        const expected = native === DBR.STRING ? "1.500" : native === DBR.FLOAT ||
            native === DBR.DOUBLE
          ? 1.5
          : 1;
        assert.deepEqual(r.data.value, [expected], `DBR type ${type}`);
        const family = dbrFamily(type);
        if (family !== "plain") assert.equal(r.data.severity, 0);
        if (family === "time") {
          assert.ok(Math.abs(epicsToUnix(r.data.secondsPastEpoch!) - Date.now() / 1000) < 3600);
        }
        if (
          (family === "gr" || family === "ctrl") && native !== DBR.STRING && native !== DBR.ENUM
        ) {
          assert.equal(r.data.units, "mm", `units in type ${type}`);
          assert.equal(r.data.upperDispLimit, 100, `HOPR in type ${type}`);
          assert.equal(r.data.upperAlarmLimit, 40, `HIHI in type ${type}`);
          if (family === "ctrl" && native !== DBR.CHAR) {
            assert.equal(r.data.lowerCtrlLimit, -50, `DRVL in type ${type}`);
          }
          if (native === DBR.DOUBLE || native === DBR.FLOAT) assert.equal(r.data.precision, 3);
        }
      }
      const ctrl = (await ao.get({ type: DBR.CTRL_DOUBLE })).data;
      assert.deepEqual(
        [ctrl.lowerWarningLimit, ctrl.lowerAlarmLimit, ctrl.upperWarningLimit, ctrl.upperCtrlLimit],
        [-30, -40, 30, 50],
      );

      const mbbi = chans.mbbi!;
      assert.deepEqual((await mbbi.get({ type: DBR.CTRL_ENUM })).data.enumStrings, [
        "Zero",
        "One",
        "Two",
        "Three",
      ]);
      assert.deepEqual((await mbbi.get({ type: DBR.STRING })).data.value, ["Two"]);
      assert.deepEqual((await mbbi.get({ type: DBR.TIME_STRING })).data.value, ["Two"]);
      assert.deepEqual((await chans.bi!.get({ type: DBR.GR_ENUM })).data.enumStrings, [
        "Closed",
        "Open",
      ]);
      assert.deepEqual((await chans.bi!.get({ type: DBR.STRING })).data.value, ["Open"]);
      const long = (await chans.long!.get({ type: DBR.CTRL_LONG })).data;
      assert.equal(long.units, "counts");
      assert.equal(long.upperCtrlLimit, 1000);
      for (const t of [DBR.STS_STRING, DBR.TIME_STRING, DBR.CTRL_STRING]) {
        assert.deepEqual((await chans.str!.get({ type: t })).data.value, ["hello world"]);
      }
      assert.equal(chans.ro!.readAccess, true);
      assert.equal(chans.ro!.writeAccess, false);
      assert.equal(ao.writeAccess, true);

      // A read the server cannot convert fails with its ECA code.
      await assert.rejects(chans.str!.get({ type: DBR.DOUBLE }), /ECA_(GETFAIL|NOCONVERT|BADTYPE)/);
    } finally {
      await client.close();
      await ioc.stop();
    }
  },
);

peerTest(
  "CA client writes with and without notify, arrays, enums, strings; read-only refused",
  missingSoftIoc,
  async () => {
    const ioc = await startSoftIoc({ db: DB, macros: { P }, acf: ACF });
    const client = caClientFor(ioc);
    try {
      const [ao, wave, wchar, mbbo, strout, slow, sink, ro] = [
        "ao",
        "wave",
        "wchar",
        "mbbo",
        "strout",
        "slow",
        "sink",
        "ro",
      ].map((n) => client.channel(P + n)) as Channel[];
      await ao!.put(12.25);
      assert.deepEqual((await ao!.get()).data.value, [12.25]);
      await ao!.put(-3, { notify: true });
      assert.deepEqual((await ao!.get()).data.value, [-3]);
      await wave!.put([1, 2.5, -3], { notify: true });
      assert.deepEqual((await wave!.get()).data.value, [1, 2.5, -3]);
      assert.deepEqual((await wave!.get({ type: DBR.TIME_DOUBLE })).count, 3);
      await wchar!.put("long text", { notify: true });
      const chars = (await wchar!.get()).data.value as number[];
      assert.equal(new TextDecoder().decode(new Uint8Array(chars.slice(0, 9))), "long text");
      await mbbo!.put("Stop", { notify: true });
      assert.deepEqual((await mbbo!.get()).data.value, [2]);
      await mbbo!.put(1, { notify: true });
      assert.deepEqual((await mbbo!.get({ type: DBR.STRING })).data.value, ["Run"]);
      await assert.rejects(mbbo!.put("Nope", { notify: true }), DeviceError);
      await strout!.put("written by labwire", { notify: true });
      assert.deepEqual((await strout!.get()).data.value, ["written by labwire"]);

      // WRITE_NOTIFY resolves when processing completes: the seq record writes sink after 0.3 s.
      await sink!.put(0, { notify: true });
      await slow!.put(5, { notify: true });
      assert.deepEqual((await sink!.get()).data.value, [1]);

      await assert.rejects(ro!.put(1), WriteRejected);
      await assert.rejects(ro!.put(1, { notify: true }), WriteRejected);
      assert.deepEqual((await ro!.get()).data.value, [7]);
    } finally {
      await client.close();
      await ioc.stop();
    }
  },
);

peerTest(
  "CA monitors deliver changes and alarms in order, honouring the mask",
  missingSoftIoc,
  async () => {
    const ioc = await startSoftIoc({ db: DB, macros: { P }, acf: ACF });
    const client = caClientFor(ioc);
    try {
      const ao = client.channel(P + "ao");
      const seen: GetResult[] = [];
      const alarms: GetResult[] = [];
      const m = ao.subscribe({}, (r) => seen.push(r));
      const a = ao.subscribe({ mask: DBE.ALARM }, (r) => alarms.push(r));
      await until(() => seen.length === 1 && alarms.length === 1, "the first updates");
      assert.equal(seen[0]!.type, dbrOf("time", DBR.DOUBLE));
      for (const v of [1, 2, 3, 45, 4]) await ao.put(v);
      await until(() => seen.length === 6, "five more updates");
      assert.deepEqual(seen.map((r) => r.data.value[0]), [1.5, 1, 2, 3, 45, 4]);
      assert.deepEqual(seen.map((r) => r.data.severity), [0, 0, 0, 0, 2, 0]);
      // DBE_ALARM only: the first update, into MAJOR at 45, back to NO_ALARM at 4.
      await until(() => alarms.length === 3, "alarm updates");
      assert.deepEqual(alarms.map((r) => r.data.value[0]), [1.5, 45, 4]);
      m.close();
      a.close();
      await ao.put(5, { notify: true });
      assert.equal(seen.length, 6, "no update after close");

      // A 10 Hz record: updates arrive by themselves.
      const tick = client.channel(P + "tick");
      const ticks: number[] = [];
      const t = tick.subscribe({ type: DBR.DOUBLE }, (r) => ticks.push(r.data.value[0] as number));
      await until(() => ticks.length >= 4, "ticks");
      t.close();
      assert.ok(ticks.every((v, i) => i === 0 || v > ticks[i - 1]!), `increasing: ${ticks}`);
    } finally {
      await client.close();
      await ioc.stop();
    }
  },
);

peerTest(
  "ca:// driver: attrs from DBR_CTRL, readings, writes with wait, subscribe",
  missingSoftIoc,
  async () => {
    const ioc = await startSoftIoc({ db: DB, macros: { P }, acf: ACF });
    try {
      await withEnv(ioc.env, async () => {
        const open = (pv: string) =>
          caDriver.open(parseAddress(`ca://${pv}`), { name: pv, options: {}, timeout: 5000 });
        assert.equal(caDriver.defaultName!(parseAddress(`ca://${P}ao.VAL`)), `${P}ao.VAL`);
        const ao = await open(`${P}ao`);
        const mbbi = await open(`${P}mbbi`);
        const wave = await open(`${P}wave`);
        const ro = await open(`${P}ro`);
        const str = await open(`${P}str`);
        const desc = await open(`${P}ao.DESC$`);
        const slow = await open(`${P}slow`);
        const sink = await open(`${P}sink`);
        try {
          const [value] = await ao.attrs();
          assert.deepEqual(
            {
              type: value!.type,
              rw: value!.rw,
              units: value!.units,
              precision: value!.precision,
              min: value!.min,
              max: value!.max,
            },
            { type: "number", rw: true, units: "mm", precision: 3, min: -50, max: 50 },
          );
          assert.deepEqual((await ao.attrs()).map((a) => a.name), [
            "value",
            "severity",
            "status",
            "timestamp",
          ]);
          assert.deepEqual(await ao.read(), {
            value: 1.5,
            severity: "NO_ALARM",
            status: "NO_ALARM",
          });
          const ts = (await ao.read(["timestamp"])).timestamp as number;
          assert.ok(Math.abs(ts - Date.now() / 1000) < 3600);
          const [m] = await mbbi.attrs();
          assert.equal(m!.type, "enum");
          assert.deepEqual(m!.options, ["Zero", "One", "Two", "Three"]);
          assert.equal((await mbbi.read(["value"])).value, "Two");
          assert.equal((await wave.attrs())[0]!.type, "number[]");
          assert.equal((await wave.attrs())[0]!.units, "A");
          assert.equal((await str.attrs())[0]!.type, "string");
          assert.equal((await str.read(["value"])).value, "hello world");
          assert.equal((await desc.attrs())[0]!.type, "string");
          assert.equal((await desc.read(["value"])).value, "analog output");
          assert.equal((await ro.attrs())[0]!.rw, false);
          await assert.rejects(ro.write("value", 1), WriteRejected);

          await wave.write("value", [4, 5, 6], WAIT);
          assert.deepEqual((await wave.read(["value"])).value, [4, 5, 6]);
          await ao.write("value", 45, WAIT);
          assert.deepEqual(await ao.read(), { value: 45, severity: "MAJOR", status: "HIHI" });
          await desc.write("value", "a new description", WAIT);
          assert.equal((await desc.read(["value"])).value, "a new description");

          // Without wait: write returns at once, isMoving() stays true until completion.
          await sink.write("value", 0, WAIT);
          await slow.write("value", 1);
          while (await slow.isMoving!()) await new Promise((r) => setTimeout(r, 10));
          assert.equal((await sink.read(["value"])).value, 1);

          // subscribe(): camonitor-like pushes.
          const pushed: Values[] = [];
          const sub = await ao.subscribe!(undefined, (v) => pushed.push(v));
          await until(() => pushed.length === 1, "first push");
          await ao.write("value", 2);
          await until(() => pushed.length === 2, "second push");
          await sub.close();
          assert.deepEqual(pushed, [
            { value: 45, severity: "MAJOR", status: "HIHI" },
            { value: 2, severity: "NO_ALARM", status: "NO_ALARM" },
          ]);
          assert.equal((ao as CaDevice).channel.client.circuitCount, 1, "devices share a circuit");
        } finally {
          await Promise.all([ao, mbbi, wave, ro, str, desc, slow, sink].map((d) => d.close()));
        }
      });
    } finally {
      await ioc.stop();
    }
  },
);

peerTest("a PV that no server has times out naming the search list", missingSoftIoc, async () => {
  const ioc = await startSoftIoc({ db: DB, macros: { P }, acf: ACF });
  try {
    const client = caClientFor(ioc);
    const dev = new CaDevice("missing", `ca://${P}missing`, `${P}missing`, {
      client,
      timeout: 300,
    });
    try {
      await assert.rejects(dev.read(), /not found.*EPICS_CA_ADDR_LIST="127\.0\.0\.1"/);
    } finally {
      await dev.close();
      await client.close();
    }
  } finally {
    await ioc.stop();
  }
});

peerTest(
  "CA client reconnects and re-subscribes after softIoc is killed and restarted",
  missingSoftIoc,
  async () => {
    let ioc = await startSoftIoc({ db: DB, macros: { P }, acf: ACF });
    const port = ioc.port;
    try {
      const client = caClientFor(ioc);
      {
        const dev = new CaDevice("ao", `ca://${P}ao`, `${P}ao`, { client, timeout: 5000 });
        const pushed: Values[] = [];
        const sub = await dev.subscribe!(["value", "severity"], (v) => pushed.push(v));
        try {
          await until(() => pushed.length === 1, "first push");
          await dev.write("value", 7, WAIT);
          await until(() => pushed.length === 2, "push of 7");

          await ioc.stop({ kill: true });
          await until(() => pushed.length === 3, "the disconnection push");
          assert.deepEqual(pushed[2], { value: null, severity: "INVALID" });
          await assert.rejects(dev.read(undefined, { timeout: 200 }), DeviceError);

          ioc = await startSoftIoc({ db: DB, macros: { P }, acf: ACF, port });
          // The restarted IOC starts again from the database: 1.5, pushed by the renewed monitor.
          await until(() => pushed.length === 4, "the push after reconnection", 15_000);
          assert.deepEqual(pushed[3], { value: 1.5, severity: "NO_ALARM" });
          await dev.write("value", 8, WAIT);
          await until(() => pushed.length === 5, "a push on the new circuit");
          assert.deepEqual(pushed[4], { value: 8, severity: "NO_ALARM" });
          assert.equal((await dev.read(["value"])).value, 8);
        } finally {
          await sub.close();
          await dev.close();
          await client.close();
        }
      }
    } finally {
      await ioc.stop();
    }
  },
);
