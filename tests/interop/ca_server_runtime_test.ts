/**
 * `serve --ca` and devices at run time: a device added to the lab (POST /api/devices, SIGHUP)
 * gets its PVs, a removed one loses them and the clients holding them are disconnected
 * (SERVER_DISCONN, as an IOC does for a deleted record), and a reopened one is found again —
 * checked with the reference `caget` and `camonitor`.
 */
import assert from "node:assert/strict";
import "../../lib/drivers/mod.ts";
import { parseConfig, parseDeviceTable } from "../../lib/config/load.ts";
import { Lab } from "../../lib/lab/lab.ts";
import { startCaServer } from "../../lib/server/ca/server.ts";
import { ensureCaRepeater, EPICS_BIN, findProgram, peerTest, runTool } from "../peers.ts";

const TOOLS = ["caget", "camonitor"];

function missingTools(): string[] {
  return TOOLS.filter((t) => !findProgram(`${EPICS_BIN}/${t}`)).map((t) => `${EPICS_BIN}/${t}`);
}

/** The loopback client environment, pointed at our server. */
function clientEnv(port: number): Record<string, string> {
  return {
    EPICS_CA_AUTO_ADDR_LIST: "NO",
    EPICS_CA_ADDR_LIST: "127.0.0.1",
    EPICS_CA_SERVER_PORT: String(port),
  };
}

/** Waits until `pred` holds, polling, failing after `ms`. */
async function until(pred: () => Promise<boolean> | boolean, what: string, ms = 15_000) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

if (missingTools().length === 0) await ensureCaRepeater();

peerTest(
  "CA server: devices added and removed at run time gain and lose their PVs",
  missingTools,
  async () => {
    const lab = await Lab.open(parseConfig('[devices.motor]\naddress = "sim://motor"\n'));
    const ca = await startCaServer(lab, {
      prefix: "LW:",
      port: 0,
      interfaces: ["127.0.0.1"],
      autoBeacon: false,
      beaconAddrs: ["127.0.0.1"],
    });
    const env = clientEnv(ca.port);
    const caget = (pv: string) =>
      runTool(`${EPICS_BIN}/caget`, ["-w", "1", "-t", pv], { env, timeoutMs: 20_000 });
    const monitor = new Deno.Command(`${EPICS_BIN}/camonitor`, {
      args: ["LW:g2:pressure"],
      env,
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines: string[] = [];
    const reading = (async () => {
      let buffered = "";
      for await (const chunk of monitor.stdout.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        const parts = buffered.split("\n");
        buffered = parts.pop()!;
        lines.push(...parts.filter((l) => l.trim() !== ""));
      }
    })();
    try {
      assert.notEqual((await caget("LW:g2:pressure")).code, 0, "not served before it exists");
      await lab.add(parseDeviceTable("g2", { address: "sim://gauge?seed=4" }));
      await lab.get("g2").sample();
      await until(async () => (await caget("LW:g2:pressure")).code === 0, "g2's PV");
      assert.ok(ca.names().includes("LW:g2:pressure"));
      // the monitor that searched before the device existed connects to it
      await until(
        () => lines.some((l) => /^LW:g2:pressure\s+\S+ \S+\s+[\d.e+-]+/.test(l)),
        "an update",
      );

      await lab.remove("g2");
      assert.ok(!ca.names().includes("LW:g2:pressure"));
      await until(
        () => lines.some((l) => /^LW:g2:pressure\s.*\*\*\* disconnected/.test(l)),
        "the disconnection",
      );
      const r = await caget("LW:g2:pressure");
      assert.notEqual(r.code, 0, "gone once removed");

      // reopened (a changed device): found again, with its new value
      const before = lines.length;
      await lab.add(parseDeviceTable("g2", { address: "sim://gauge?seed=9" }));
      lab.get("g2").publish({ t: Date.now() / 1000, device: "g2", values: { pressure: 123.5 } });
      await until(() => lines.slice(before).some((l) => /\s123\.5\s*$/.test(l)), "the reopened PV");
    } finally {
      monitor.kill("SIGTERM");
      await monitor.status;
      await reading.catch(() => {});
      await ca.close();
      await lab.close();
    }
  },
);
