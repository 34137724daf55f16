/**
 * `serve --mqtt` and devices at run time, against a real mosquitto with `mosquitto_sub` as the
 * independent client: a device added with `POST /api/devices` is published like a configured one
 * (state, readings, retained values); removed with `DELETE`, its state goes `offline` and its
 * retained values are cleared, so a client arriving later does not take them for live ones.
 */
import assert from "node:assert/strict";
import { peerTest } from "../peers.ts";
import { spawnServe } from "../e2e/labwire_process.ts";
import { until } from "../e2e/serve_fixture.ts";
import { missingMqttPeers, startBroker, sub } from "./mosquitto.ts";

const BENCH = `
[devices.thermo]
address = "sim://thermo?seed=2"
interval = "100ms"
`;

peerTest(
  "serve --mqtt: a device added at run time is published, a removed one said offline",
  missingMqttPeers,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "labwire-mqtt-rt-" });
    const broker = await startBroker(dir);
    try {
      await Deno.writeTextFile(`${dir}/bench.toml`, BENCH);
      const s = await spawnServe([`${dir}/bench.toml`, "--no-record", "--mqtt", broker.url]);
      try {
        const device = {
          name: "g2",
          address: "sim://gauge?seed=4",
          options: { interval: "100ms" },
        };
        const added = await fetch(`${s.url}/api/devices`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(device),
        });
        assert.equal(added.status, 201, await added.text());
        const got = await sub(broker, ["labwire/g2", "labwire/g2/+"], { count: 6 });
        const find = (topic: string) => got.find((m) => m.topic === topic);
        assert.equal(find("labwire/g2/$state")?.payload, "online", JSON.stringify(got));
        assert.equal(JSON.parse(find("labwire/g2")!.payload).device, "g2");
        assert.equal(typeof JSON.parse(find("labwire/g2/pressure")!.payload), "number");

        const removed = await fetch(`${s.url}/api/devices/g2`, { method: "DELETE" });
        assert.equal(removed.status, 200, await removed.text());
        // what a client arriving now is told, retained: offline, and no stale values
        let retained: { topic: string; payload: string }[] = [];
        await until(
          async () => {
            retained = await sub(broker, ["labwire/g2/+"], {
              count: 10,
              waitS: 1,
              retainedOnly: true,
            });
            return retained.length === 1;
          },
          15_000,
          "the retained values cleared",
        );
        assert.deepEqual(retained.map((m) => [m.topic, m.payload]), [
          ["labwire/g2/$state", "offline"],
        ]);
        // and the configured device goes on
        assert.equal(
          (await sub(broker, ["labwire/thermo/$state"], { count: 1 }))[0]?.payload,
          "online",
        );
      } finally {
        assert.equal(await s.stop(), 0);
      }
    } finally {
      await broker.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
