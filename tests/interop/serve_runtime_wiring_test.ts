/**
 * A `labwire serve --ca` process and devices at run time, through the HTTP API a user calls: a
 * device added with `POST /api/devices` is served on Channel Access (the reference `caget` reads
 * it), a device the config's `[[alarms]]` name, removed and added again with `POST`, gets its rule
 * back (the alarm is active in `/api/alarms`, recorded in the session, and its limit is the PV's
 * HIHI), and `DELETE` takes the PVs away so `caget` fails cleanly.
 */
import assert from "node:assert/strict";
import { EPICS_BIN, findProgram, peerTest, runTool } from "../peers.ts";
import { spawnServe } from "../e2e/labwire_process.ts";
import { until } from "../e2e/serve_fixture.ts";
import { caEnv, caFields, freePort } from "./ca_softioc.ts";
import { GAUGE_ANY_ALARM } from "../fixtures/alarm_rules.ts";

function missingCaget(): string[] {
  return findProgram(`${EPICS_BIN}/caget`) ? [] : [`caget (reference EPICS build in ${EPICS_BIN})`];
}

/** A config with one device and a rule on it that holds for any pressure (active at once). */
const bench = (port: number) => `
[devices.g]
address = "sim://gauge?seed=1"
interval = "100ms"

[ca]
prefix = "RT:"
port = ${port}
auto_beacon = false
beacon_addrs = ["127.0.0.1"]
${GAUGE_ANY_ALARM}`;

peerTest(
  "serve --ca: devices added and removed over HTTP gain and lose their PVs and alarm rules",
  missingCaget,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "labwire-rt-wiring-" });
    const port = freePort();
    await Deno.writeTextFile(`${dir}/bench.toml`, bench(port));
    const session = `${dir}/s.sqlite`;
    const s = await spawnServe([`${dir}/bench.toml`, "--session", session]);
    const env = { ...caEnv(port), PATH: "/usr/bin:/bin" };
    const caget = (...args: string[]) =>
      runTool(`${EPICS_BIN}/caget`, ["-w", "2", ...args], { env, timeoutMs: 20_000 });
    const call = async (path: string, method = "GET", body?: unknown) => {
      const res = await fetch(s.url + path, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    const active = async () =>
      ((await call("/api/alarms")).body.active as { name: string; device: string }[])
        .map((a) => a.name);
    try {
      await s.waitFor(/CA server: .* port \d+/, 30_000);
      assert.notEqual((await caget("-t", "RT:g2:pressure")).code, 0, "no PV before the device");

      // a device nobody configured: its PV is served once it is added
      const g2 = { name: "g2", address: "sim://gauge?seed=4", options: { interval: "100ms" } };
      const added = await call("/api/devices", "POST", g2);
      assert.equal(added.status, 201, JSON.stringify(added.body));
      let value = "";
      await until(
        async () => {
          const r = await caget("-t", "RT:g2:pressure");
          value = r.out.trim();
          return r.code === 0;
        },
        15_000,
        "RT:g2:pressure",
      );
      assert.ok(Number.isFinite(Number(value)), value);

      // a configured device with a rule: removed, its alarm clears and its PV goes away…
      await until(async () => (await active()).includes("g_any"), 10_000, "g_any at start");
      assert.equal((await call("/api/devices/g", "DELETE")).status, 200);
      await until(async () => !(await active()).includes("g_any"), 10_000, "g_any cleared");
      assert.notEqual((await caget("-t", "RT:g:pressure")).code, 0, "RT:g:pressure removed");

      // …added again at run time (another address), it gets the config's rule back
      const again = await call("/api/devices", "POST", {
        name: "g",
        address: "sim://gauge?seed=9",
        options: { interval: "100ms" },
      });
      assert.equal(again.status, 201, JSON.stringify(again.body));
      await until(async () => (await active()).includes("g_any"), 10_000, "g_any again");
      let limits: Record<string, string> = {};
      await until(
        async () => {
          const r = await caget("-d", "DBR_CTRL_DOUBLE", "RT:g:pressure");
          limits = caFields(r.out);
          return r.code === 0;
        },
        15_000,
        "RT:g:pressure again",
      );
      assert.equal(limits["Hi alarm limit"], "-1", JSON.stringify(limits));

      // DELETE: the PV is gone, and caget says so (exit non-zero, no value)
      assert.equal((await call("/api/devices/g2", "DELETE")).status, 200);
      const gone = await caget("-t", "RT:g2:pressure");
      assert.notEqual(gone.code, 0);
      assert.match(gone.out + gone.err, /not connected|Channel connect timed out/i);
    } finally {
      assert.equal(await s.stop(), 0, s.lines.join("\n"));
    }
    try {
      const { SessionReader } = await import("../../lib/session/reader.ts");
      const reader = SessionReader.open(session);
      const events = reader.events({ kinds: ["device", "alarm"] })
        .map((e) => `${e.kind}: ${e.message}`);
      reader.close();
      const at = (re: RegExp) => events.findIndex((e) => re.test(e));
      const readded = at(/^device: device g added \(POST \/api\/devices\): sim:\/\/gauge\?seed=9$/);
      assert.ok(readded > 0, events.join("\n"));
      // the rule's activation after the re-add is recorded like one of a configured device
      assert.ok(
        events.slice(readded + 1).some((e) => /^alarm: active g_any: g\.pressure = /.test(e)),
        events.join("\n"),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
