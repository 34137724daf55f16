/**
 * `mqtt://HOST/TOPIC` devices against a real mosquitto, fed by mosquitto_pub as a Tasmota-style
 * plug and a plain-number sensor would: reads through JSON pointers and plain payloads, a stale
 * value as an error reading, `stream` following messages as they come, a write on the declared
 * command topic (seen by mosquitto_sub), a config mistake as exit 2, and a broker behind a
 * password file.
 */
import assert from "node:assert/strict";
import { parseAddress } from "../../lib/device/address.ts";
import { mqttDriver } from "../../lib/drivers/mqtt/driver.ts";
import { peerTest } from "../peers.ts";
import { runCli } from "../e2e/run_cli.ts";
import { until } from "../e2e/serve_fixture.ts";
import { type Broker, missingMqttPeers, pub, startBroker, subscribe } from "./mosquitto.ts";

async function withBroker(
  fn: (broker: Broker, dir: string) => Promise<void>,
  users?: Parameters<typeof startBroker>[1],
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "labwire-mqtt-dev-" });
  const broker = await startBroker(dir, users);
  try {
    await fn(broker, dir);
  } finally {
    await broker.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

const SENSOR = '{"Time":"2026-12-01T13:40:00","ENERGY":{"Total":1.234,"Power":42,"Voltage":230.5}}';

/** Publishes a retained message (a device that published before labwire came). */
async function retained(broker: Broker, topic: string, payload: string): Promise<void> {
  const r = await new Deno.Command("mosquitto_pub", {
    args: ["-h", "127.0.0.1", "-p", String(broker.port), "-r", "-t", topic, "-m", payload],
  }).output();
  assert.ok(r.success);
}

function plugConfig(broker: Broker, extra = ""): string {
  return `
[devices.plug]
address = "${broker.url}/tele/plug1/SENSOR"
interval = "200ms"
stale_after = 5
values.power = { pointer = "/ENERGY/Power", units = "W" }
values.voltage = { pointer = "/ENERGY/Voltage", units = "V" }
values.relay = { topic = "stat/plug1/POWER", type = "boolean", payload_on = "ON", payload_off = "OFF", command = "cmnd/plug1/POWER" }
${extra}`;
}

peerTest(
  "mqtt:// devices: JSON pointers, plain numbers, units, a write on the command topic",
  missingMqttPeers,
  async () => {
    await withBroker(async (broker, dir) => {
      await retained(broker, "tele/plug1/SENSOR", SENSOR);
      await retained(broker, "stat/plug1/POWER", "ON");
      await retained(broker, "lab/t1", "21.5");
      await Deno.writeTextFile(`${dir}/lab.toml`, plugConfig(broker));

      const plug = await runCli(["read", "-c", `${dir}/lab.toml`, "plug"]);
      assert.equal(plug.code, 0, plug.stderr);
      const r = JSON.parse(plug.stdout);
      assert.deepEqual([r.device, r.power, r.voltage, r.relay], ["plug", 42, 230.5, true]);

      const described = await runCli(["read", "-c", `${dir}/lab.toml`, "plug", "--describe"]);
      const attrs = JSON.parse(described.stdout);
      assert.equal(attrs.power.units, "W");
      assert.equal(attrs.relay.rw, true);
      assert.equal(attrs.power.rw, false);

      const plain = await runCli(["read", `${broker.url}/lab/t1?units=°C`]);
      assert.equal(plain.code, 0, plain.stderr);
      assert.equal(JSON.parse(plain.stdout).value, 21.5);
      const pointed = await runCli([
        "read",
        `${broker.url}/tele/plug1/SENSOR?pointer=/ENERGY/Total`,
      ]);
      assert.equal(JSON.parse(pointed.stdout).value, 1.234);

      // A write publishes on the declared command topic, as a plug expects it.
      const commands = subscribe(broker, ["cmnd/plug1/POWER"]);
      try {
        await new Promise((r) => setTimeout(r, 300));
        const w = await runCli(["write", "-c", `${dir}/lab.toml`, "plug", "relay=false"]);
        assert.equal(w.code, 0, w.stderr);
        await until(() => commands.lines.length > 0, 10_000, "the command");
        assert.deepEqual([commands.lines[0]!.topic, commands.lines[0]!.payload], [
          "cmnd/plug1/POWER",
          "OFF",
        ]);
        // A value without a command topic is read-only: refused before anything is published.
        const ro = await runCli(["write", "-c", `${dir}/lab.toml`, "plug", "power=5"]);
        assert.notEqual(ro.code, 0);
        assert.match(ro.stderr, /read-only/);
      } finally {
        await commands.stop();
      }

      // A config mistake is named with its key, exit 2, before any connection.
      await Deno.writeTextFile(
        `${dir}/bad.toml`,
        `[devices.plug]\naddress = "${broker.url}/t"\nvalues.power = { pointer = "ENERGY/Power" }\n`,
      );
      const bad = await runCli(["read", "-c", `${dir}/bad.toml`, "plug"]);
      assert.equal(bad.code, 2);
      assert.match(
        bad.stderr,
        /devices\.plug\.values\.power\.pointer: a JSON pointer starts with "\/"/,
      );
    });
  },
);

peerTest(
  "mqtt:// devices: a value older than stale_after intervals is an error reading",
  missingMqttPeers,
  async () => {
    await withBroker(async (broker, dir) => {
      await Deno.writeTextFile(
        `${dir}/lab.toml`,
        `[devices.t1]\naddress = "${broker.url}/lab/t1"\ninterval = "100ms"\nstale_after = 3\n`,
      );
      // One (retained) message, then silence: the first readings are good, then stale ones are
      // errors.
      await retained(broker, "lab/t1", "7.5");
      // runCli starts the process at once; the message is published while it streams
      const stream = runCli([
        "stream",
        "-c",
        `${dir}/lab.toml`,
        "t1",
        "--poll",
        "--interval",
        "100ms",
        "--duration",
        "3s",
      ]);
      await new Promise((r) => setTimeout(r, 1200));
      await pub(broker, "lab/t1", "7.5");
      const out = await stream;
      const lines = out.stdout.trim().split("\n").map((l) => JSON.parse(l));
      const good = lines.filter((l) => l.value === 7.5);
      assert.ok(good.length >= 1, JSON.stringify(lines));
      const after = lines.slice(lines.indexOf(good.at(-1)) + 1);
      assert.ok(after.length > 0, "readings go on after the last message");
      assert.ok(
        after.every((l) => /stale: the last message on lab\/t1 is/.test(l.error)),
        JSON.stringify(after),
      );
    });
  },
);

peerTest(
  "mqtt:// devices: stream follows the messages as they come (no polling)",
  missingMqttPeers,
  async () => {
    await withBroker(async (broker) => {
      const stream = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../main.ts", import.meta.url).pathname,
          "stream",
          `${broker.url}/lab/t2`,
          "--count",
          "3",
        ],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      // A message every 300 ms until the stream has its three (it may start late on a busy
      // machine): each message is one reading, in order — a poll (1 s by default) would skip.
      let stopped = false;
      const feeder = (async () => {
        for (let i = 1; i <= 200 && !stopped; i++) {
          await pub(broker, "lab/t2", String(i));
          await new Promise((r) => setTimeout(r, 300));
        }
      })();
      // A hang guard, not a timing figure: the feeder stops after 60 s anyway.
      const guard = setTimeout(() => stream.kill("SIGKILL"), 90_000);
      const out = await stream.output();
      clearTimeout(guard);
      stopped = true;
      await feeder;
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const values = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) =>
        JSON.parse(l).value
      );
      // Consecutive messages, none repeated and none skipped.
      assert.deepEqual(values, [values[0], values[0] + 1, values[0] + 2], JSON.stringify(values));
    });
  },
);

peerTest("mqtt:// devices log in with a password file", missingMqttPeers, async () => {
  const users = [
    { name: "reader", password: "reader-secret-0123", acl: ["topic read lab/#"] },
    { name: "feeder", password: "feeder-secret-0123", acl: ["topic write lab/#"] },
  ];
  await withBroker(async (broker, dir) => {
    await Deno.writeTextFile(`${dir}/pw`, "reader-secret-0123\n");
    const r = await new Deno.Command("mosquitto_pub", {
      args: [
        "-p",
        String(broker.port),
        "-u",
        "feeder",
        "-P",
        "feeder-secret-0123",
        "-r",
        "-t",
        "lab/t3",
        "-m",
        "9",
      ],
    }).output();
    assert.ok(r.success);
    await Deno.writeTextFile(
      `${dir}/lab.toml`,
      `[devices.t3]\naddress = "${broker.url}/lab/t3"\nusername = "reader"\npassword_file = "${dir}/pw"\ntimeout = "2s"\n`,
    );
    const ok = await runCli(["read", "-c", `${dir}/lab.toml`, "t3"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).value, 9);
    await Deno.writeTextFile(`${dir}/pw`, "wrong\n");
    const refused = await runCli(["read", "-c", `${dir}/lab.toml`, "t3"]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /cannot reach the MQTT broker 127\.0\.0\.1:\d+ \(.*[Nn]ot authorized/,
    );
  }, users);
});

peerTest(
  "mqtt:// subscription: a broker that goes away is reported once per outage, and again after it came back and went again",
  missingMqttPeers,
  async () => {
    await withBroker(async (broker) => {
      const d = await mqttDriver.open(parseAddress(`${broker.url}/lab/t1`), {
        name: "t1",
        options: {},
        timeout: 50,
      });
      const errors: string[] = [];
      try {
        await d.subscribe!(undefined, (_v, _t, e) => e !== undefined && errors.push(e));
        await new Promise((r) => setTimeout(r, 300));
        assert.deepEqual(errors, [], "nothing to report while connected");
        for (const outage of [1, 2]) {
          const before: number = errors.length;
          await broker.stop();
          await until(() => errors.length > before, 5000, `report of outage ${outage}`);
          // the link retries from 0.5 s on: the outage is not reported per attempt or timeout
          await new Promise((r) => setTimeout(r, 800));
          assert.equal(errors.length, before + 1, errors.join("\n"));
          assert.match(errors.at(-1)!, /^cannot reach the MQTT broker 127\.0\.0\.1:/);
          await broker.start();
          await until(
            async () => {
              try {
                await d.read(undefined, { timeout: 100 });
              } catch (err) {
                // connected again: a topic nobody published to answers "no message", not "cannot reach"
                return /no message on lab\/t1/.test((err as Error).message);
              }
              return false;
            },
            10_000,
            "the link is up again",
          );
        }
      } finally {
        await d.close();
      }
    });
  },
);
