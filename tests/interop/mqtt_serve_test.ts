/**
 * `serve --mqtt` against a real mosquitto, with mosquitto_sub/mosquitto_pub as the independent
 * clients: states, readings and retained values; writes off by default; writes on behind a
 * password file and an ACL, one refused by validation; the last will on kill -9; a broker
 * restart with the bounded buffer (dropped counted in /metrics, buffered readings delivered).
 */
import assert from "node:assert/strict";
import { peerTest } from "../peers.ts";
import { metric, spawnServe } from "../e2e/labwire_process.ts";
import { until } from "../e2e/serve_fixture.ts";
import {
  type Broker,
  type BrokerUser,
  type Login,
  missingMqttPeers,
  pub,
  startBroker,
  sub,
  subscribe,
} from "./mosquitto.ts";

const BENCH = `
[devices.thermo]
address = "sim://thermo?seed=2"
interval = "100ms"

[devices.motor]
address = "sim://motor?seed=3"
interval = "100ms"
`;

async function withBroker(
  users: BrokerUser[] | undefined,
  fn: (broker: Broker, dir: string) => Promise<void>,
  persist = false,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "labwire-mqtt-" });
  const broker = await startBroker(dir, users, persist);
  try {
    await fn(broker, dir);
  } finally {
    await broker.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function readAttr(url: string, device: string, attr: string): Promise<unknown> {
  const res = await fetch(`${url}/api/devices/${device}/read?attrs=${attr}`);
  return (await res.json())[attr];
}

peerTest(
  "serve --mqtt: states, readings and retained values on the broker; writes off by default",
  missingMqttPeers,
  async () => {
    await withBroker(undefined, async (broker, dir) => {
      await Deno.writeTextFile(`${dir}/bench.toml`, BENCH);
      const s = await spawnServe([`${dir}/bench.toml`, "--no-record", "--mqtt", broker.url]);
      try {
        const got = await sub(broker, ["labwire/#"], { count: 40 });
        const find = (topic: string) => got.find((m) => m.topic === topic);
        assert.equal(find("labwire/$state")?.payload, "online");
        assert.equal(find("labwire/thermo/$state")?.payload, "online");
        assert.equal(find("labwire/motor/$state")?.payload, "online");
        const reading = JSON.parse(find("labwire/thermo")!.payload);
        assert.equal(reading.device, "thermo");
        assert.equal(typeof reading.t, "number");
        assert.equal(reading.setpoint, 25);
        assert.equal(typeof reading.temperature, "number");
        // The reading has the API's shape: the same keys as GET /api/devices/thermo/read.
        const api = await (await fetch(`${s.url}/api/devices/thermo/read`)).json();
        assert.deepEqual(Object.keys(reading).sort(), Object.keys(api).sort());

        // A client arriving later gets each attribute's last value, retained.
        const retained = await sub(broker, ["labwire/thermo/+"], {
          count: 3,
          retainedOnly: true,
        });
        const setpoint = retained.find((m) => m.topic === "labwire/thermo/setpoint");
        assert.ok(setpoint?.retained, JSON.stringify(retained));
        assert.equal(setpoint.payload, "25");
        assert.ok(retained.every((m) => m.retained));

        // Writes are off: the request is answered with why, and nothing is written.
        const results = subscribe(broker, ["labwire/thermo/setpoint/result"]);
        try {
          await until(
            async () => {
              await pub(broker, "labwire/thermo/setpoint/set", "30");
              return results.lines.length > 0;
            },
            10_000,
            "a write result",
          );
          const r = JSON.parse(results.lines[0]!.payload);
          assert.equal(r.error.code, "writes_off");
          assert.match(r.error.message, /\[mqtt\] writes = true/);
          assert.equal(await readAttr(s.url, "thermo", "setpoint"), 25);
        } finally {
          await results.stop();
        }
      } finally {
        assert.equal(await s.stop(), 0);
      }
      // A clean stop says every device and the daemon are offline (retained).
      const after = await sub(broker, ["labwire/$state", "labwire/+/$state"], {
        count: 3,
        retainedOnly: true,
      });
      assert.deepEqual(after.map((m) => m.payload), ["offline", "offline", "offline"]);
    });
  },
);

const LABWIRE: BrokerUser = {
  name: "pc1",
  password: "pc1-secret-0123456789",
  acl: ["topic readwrite lab/pc1/#"],
};
const OPERATOR: BrokerUser = {
  name: "operator",
  password: "operator-secret-0123",
  acl: ["topic write lab/pc1/+/+/set", "topic read lab/pc1/#"],
};
const OPERATOR_LOGIN: Login = { user: OPERATOR.name, password: OPERATOR.password };

peerTest(
  "serve --mqtt behind a password file and an ACL: validated writes, refusals on the result topic",
  missingMqttPeers,
  async () => {
    await withBroker([LABWIRE, OPERATOR], async (broker, dir) => {
      await Deno.writeTextFile(`${dir}/mqtt-password`, `${LABWIRE.password}\n`);
      await Deno.writeTextFile(
        `${dir}/bench.toml`,
        BENCH + `
[mqtt]
url = "${broker.url}"
prefix = "lab/pc1"
username = "pc1"
password_file = "${dir}/mqtt-password"
writes = true
`,
      );
      const s = await spawnServe([`${dir}/bench.toml`, "--no-record"]);
      const results = subscribe(broker, ["lab/pc1/+/+/result"], OPERATOR_LOGIN);
      try {
        // labwire's own login publishes under its prefix.
        const online = await sub(broker, ["lab/pc1/$state"], { count: 1, login: OPERATOR_LOGIN });
        assert.equal(online[0]?.payload, "online");
        // Without a login the broker refuses (the ACL and password file are in force).
        const anonymous = await sub(broker, ["lab/pc1/#"], { count: 1, waitS: 2 });
        assert.equal(anonymous.length, 0);

        const answer = async (topic: string, payload: string) => {
          const before = results.lines.length;
          assert.equal((await pub(broker, topic, payload, OPERATOR_LOGIN)).code, 0);
          await until(() => results.lines.length > before, 10_000, `the result of ${topic}`);
          return {
            topic: results.lines[before]!.topic,
            ...JSON.parse(results.lines[before]!.payload),
          };
        };
        const ok = await answer("lab/pc1/thermo/setpoint/set", "30");
        assert.equal(ok.topic, "lab/pc1/thermo/setpoint/result");
        assert.equal(ok.device, "thermo");
        assert.equal(ok.value, 30);
        assert.equal(await readAttr(s.url, "thermo", "setpoint"), 30);

        // Refused by the attribute's limits, as PUT /api/devices/thermo/attrs/setpoint is.
        const tooHot = await answer("lab/pc1/thermo/setpoint/set", "500");
        assert.equal(tooHot.error.code, "write_rejected");
        assert.match(tooHot.error.message, /150/);
        const http = await fetch(`${s.url}/api/devices/thermo/attrs/setpoint`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ value: 500 }),
        });
        assert.equal(http.status, 422);
        assert.equal((await http.json()).error.message, tooHot.error.message);
        assert.equal(await readAttr(s.url, "thermo", "setpoint"), 30);

        const notBool = await answer("lab/pc1/thermo/heater/set", "maybe");
        assert.equal(notBool.error.code, "write_rejected");
        const readOnly = await answer("lab/pc1/thermo/temperature/set", "20");
        assert.equal(readOnly.error.code, "write_rejected");
        assert.match(readOnly.error.message, /read-only/);
        const missing = await answer("lab/pc1/thermo/pressure/set", "1");
        assert.equal(missing.error.code, "not_found");

        assert.equal(await metric(s.url, 'labwire_mqtt_writes_total{result="ok"}'), 1);
        assert.equal(await metric(s.url, 'labwire_mqtt_writes_total{result="refused"}'), 4);
        assert.equal(await metric(s.url, "labwire_mqtt_connected"), 1);
      } finally {
        await results.stop();
        await s.stop();
      }
    });
  },
);

peerTest(
  "serve --mqtt: kill -9 leaves the last will, the daemon shown offline",
  missingMqttPeers,
  async () => {
    await withBroker(undefined, async (broker, dir) => {
      await Deno.writeTextFile(`${dir}/bench.toml`, BENCH);
      const watch = subscribe(broker, ["labwire/$state"]);
      const s = await spawnServe([`${dir}/bench.toml`, "--no-record", "--mqtt", broker.url]);
      try {
        await until(() => watch.lines.some((l) => l.payload === "online"), 10_000, "online");
        await s.stop("SIGKILL");
        await until(() => watch.lines.at(-1)?.payload === "offline", 10_000, "the last will");
        const later = await sub(broker, ["labwire/$state"], { count: 1, retainedOnly: true });
        assert.equal(later[0]?.payload, "offline", "the will is retained for clients to come");
      } finally {
        await watch.stop();
      }
    });
  },
);

peerTest(
  "serve --mqtt across a broker restart: bounded buffer, drops counted, buffered readings sent",
  missingMqttPeers,
  async () => {
    await withBroker(undefined, async (broker, dir) => {
      await Deno.writeTextFile(
        `${dir}/bench.toml`,
        BENCH + `\n[mqtt]\nurl = "${broker.url}"\nbuffer = 40\n`,
      );
      // A persistent subscriber: its session outlives the broker restart, so what labwire
      // sends on reconnecting reaches it whichever of the two comes back first.
      const readings = subscribe(broker, ["labwire/thermo", "labwire/motor"], undefined, "watcher");
      const s = await spawnServe([`${dir}/bench.toml`, "--no-record"]);
      try {
        await until(() => readings.lines.length > 0, 10_000, "readings");
        await broker.stop();
        const stoppedAt = Date.now() / 1000;
        await until(
          async () => await metric(s.url, "labwire_mqtt_messages_dropped_total") > 0,
          10_000,
          "dropped messages",
        );
        assert.equal(await metric(s.url, "labwire_mqtt_connected"), 0);
        assert.ok(await metric(s.url, "labwire_mqtt_messages_buffered") <= 40);
        assert.ok(s.lines.some((l) => /MQTT broker mqtt:\/\/127\.0\.0\.1:\d+ lost/.test(l)));

        await broker.start();
        await until(
          async () => await metric(s.url, "labwire_mqtt_reconnects_total") === 1,
          40_000,
          "the reconnection",
        );
        const reconnectedAt = Date.now() / 1000;
        await until(
          () => readings.lines.some((l) => JSON.parse(l.payload).t > reconnectedAt),
          20_000,
          "fresh readings",
        );
        // What waited in the buffer went out: readings taken while the broker was away (well
        // before the reconnection was seen), at most as many as the buffer holds.
        const t = (l: { payload: string }) => JSON.parse(l.payload).t as number;
        const old = readings.lines.filter((l) => t(l) > stoppedAt && t(l) < reconnectedAt - 0.5);
        assert.ok(old.length > 0 && old.length <= 40, `${old.length} buffered readings`);
        assert.ok(s.lines.some((l) => /connected again after/.test(l)), s.lines.join("\n"));
      } finally {
        await readings.stop();
        await s.stop();
      }
    }, true);
  },
);
