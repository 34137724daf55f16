import assert from "node:assert/strict";
import { parseAddress } from "../../device/address.ts";
import { mqttDriver } from "./driver.ts";

/** An MQTT device whose broker never answers (port 1 on loopback: nobody listens), 10 ms timeout. */
function unreachablePlug() {
  return mqttDriver.open(parseAddress("mqtt://127.0.0.1:1/tele/plug1/SENSOR"), {
    name: "plug",
    options: {},
    timeout: 10,
  });
}

Deno.test("subscribe to an unknown name throws and leaves nothing reporting the unreachable broker", async () => {
  const d = await unreachablePlug();
  const errors: string[] = [];
  try {
    assert.throws(() => d.subscribe!(["nope"], (_v, _t, e) => errors.push(e ?? "")), /nope/);
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(errors, []);
  } finally {
    await d.close();
  }
});

Deno.test("closing the device stops its subscriptions' unreachable-broker reports", async () => {
  const d = await unreachablePlug();
  const errors: string[] = [];
  await d.subscribe!(undefined, (_v, _t, e) => errors.push(e ?? ""));
  await new Promise((r) => setTimeout(r, 40));
  assert.ok(errors.length > 0, "the unreachable broker is reported while subscribed");
  // The subscription is never closed by its caller; the device's close ends it all the same.
  await d.close();
  const seen = errors.length;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(errors.length, seen);
});

Deno.test("an unreachable broker is reported once per outage, then with back-off, not every timeout", async () => {
  const d = await unreachablePlug();
  const errors: string[] = [];
  try {
    await d.subscribe!(undefined, (_v, _t, e) => errors.push(e ?? ""));
    // 10 ms timeout: the first report comes at 10 ms, the next not before a second later.
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0]!, /^cannot reach the MQTT broker 127\.0\.0\.1:1/);
  } finally {
    await d.close();
  }
});

Deno.test("password_file and ca_file of a config's device are read beside the config file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-mqtt-files-" });
  try {
    await Deno.writeTextFile(`${dir}/pw`, "s3cret\n");
    const open = (options: Record<string, unknown>) =>
      mqttDriver.open(parseAddress("mqtt://127.0.0.1:1/tele/plug1/SENSOR"), {
        name: "plug",
        options: { username: "lab", ...options },
        timeout: 10,
        configFile: `${dir}/lab.toml`,
      });
    // the password beside the config is found wherever the test runs
    await (await open({ password_file: "pw" })).close();
    await assert.rejects(open({ ca_file: "ca.pem" }), new RegExp(`ca_file ${dir}/ca\\.pem:`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
