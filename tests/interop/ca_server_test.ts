/**
 * labwire's CA server against the reference EPICS tools (`caget`, `cainfo`, `caput`,
 * `camonitor` from the reference build) and pyepics (on the reference C library): the server
 * runs in this process over a lab of sim devices; the tools run as subprocesses on loopback.
 */
import assert from "node:assert/strict";
import "../../lib/drivers/mod.ts";
import { Lab } from "../../lib/lab/lab.ts";
import type { CaServer } from "../../lib/server/ca/server.ts";
import {
  debianPython,
  ensureCaRepeater,
  EPICS_BIN,
  findProgram,
  hasPythonModule,
  peerTest,
  runTool,
  type ToolResult,
} from "../peers.ts";
import { caFields } from "./ca_softioc.ts";
import { LOOPBACK_CA, SIM_TRIO, withCaLab } from "../../lib/server/ca/test_lab.ts";

const TOOLS = ["caget", "cainfo", "caput", "camonitor"];

function missingTools(): string[] {
  return TOOLS.filter((t) => !findProgram(`${EPICS_BIN}/${t}`)).map((t) => `${EPICS_BIN}/${t}`);
}

/** The loopback client environment of the facts sheet, pointed at our server. */
function clientEnv(port: number): Record<string, string> {
  return {
    PATH: `${EPICS_BIN}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
    EPICS_CA_AUTO_ADDR_LIST: "NO",
    EPICS_CA_ADDR_LIST: "127.0.0.1",
    EPICS_CA_SERVER_PORT: String(port),
  };
}

function withLabServer(fn: (ca: CaServer, lab: Lab) => Promise<void>): Promise<void> {
  return withCaLab(SIM_TRIO, { prefix: "LW:", ...LOOPBACK_CA, sampleFirst: true }, fn);
}

function run(ca: CaServer, tool: string, args: string[]): Promise<ToolResult> {
  return runTool(`${EPICS_BIN}/${tool}`, args, { env: clientEnv(ca.port), timeoutMs: 20_000 });
}

/** `caget`'s "NAME   VALUE" lines as a map. */
function cagetValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.trim().split("\n")) {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

// Without a running repeater the first tool spawns one that holds its stdout pipe open.
if (missingTools().length === 0) await ensureCaRepeater();

peerTest("reference caget reads labwire PVs: values, enums, booleans", missingTools, async () => {
  await withLabServer(async (ca, lab) => {
    const r = await run(ca, "caget", [
      "LW:motor:position",
      "LW:thermo:setpoint",
      "LW:thermo:heater",
      "LW:dmm:range",
      "LW:motor:velocity",
    ]);
    assert.equal(r.code, 0, r.err);
    const v = cagetValues(r.out);
    const motor = lab.get("motor");
    assert.equal(Number(v["LW:motor:position"]), (await motor.read(["position"])).position);
    assert.equal(Number(v["LW:thermo:setpoint"]), 25);
    assert.equal(v["LW:thermo:heater"], "true");
    assert.equal(v["LW:dmm:range"], "AUTO");
    assert.equal(Number(v["LW:motor:velocity"]), (await motor.read(["velocity"])).velocity);
    const f = await run(ca, "caget", ["-t", "LW:motor:position.EGU", "LW:motor:readback.DESC"]);
    assert.equal(f.code, 0, f.err);
    assert.deepEqual(f.out.trim().split("\n"), ["mm", "actual position"]);
    const missing = await run(ca, "caget", ["-w", "0.5", "LW:motor:nothing"]);
    assert.notEqual(missing.code, 0);
  });
});

peerTest("reference caget -d DBR_CTRL_DOUBLE and cainfo show metadata", missingTools, async () => {
  await withLabServer(async (ca) => {
    const ctrl = await run(ca, "caget", ["-d", "DBR_CTRL_DOUBLE", "LW:thermo:setpoint"]);
    assert.equal(ctrl.code, 0, ctrl.err);
    const f = caFields(ctrl.out);
    assert.equal(f["Native data type"], "DBF_DOUBLE");
    assert.equal(f["Units"], "°C");
    assert.equal(f["Precision"], "2");
    assert.equal(Number(f["Lo disp limit"]), -20);
    assert.equal(Number(f["Hi disp limit"]), 150);
    assert.equal(Number(f["Lo ctrl limit"]), -20);
    assert.equal(Number(f["Hi ctrl limit"]), 150);
    assert.equal(Number(f["Value"]), 25);

    const en = await run(ca, "caget", ["-d", "DBR_CTRL_ENUM", "LW:dmm:range"]);
    assert.equal(en.code, 0, en.err);
    for (const s of ["AUTO", "100 mV", "1 V", "10 V", "100 V", "1000 V"]) {
      assert.match(en.out, new RegExp(`\\] ${s}\\s*$`, "m"));
    }
    const time = await run(ca, "caget", ["-d", "DBR_TIME_DOUBLE", "LW:thermo:temperature"]);
    assert.equal(caFields(time.out)["Severity"], "NO_ALARM");
    assert.match(caFields(time.out)["Timestamp"] ?? "", /^\d{4}-\d\d-\d\d /);

    const ro = caFields((await run(ca, "cainfo", ["LW:motor:readback"])).out);
    assert.equal(ro["State"], "connected");
    assert.equal(ro["Access"], "read, no write");
    assert.equal(ro["Native data type"], "DBF_DOUBLE");
    const rw = caFields((await run(ca, "cainfo", ["LW:dmm:range"])).out);
    assert.equal(rw["Access"], "read, write");
    assert.equal(rw["Native data type"], "DBF_ENUM");
  });
});

peerTest(
  "reference caput -c moves the sim motor; read-only and bad puts are refused",
  missingTools,
  async () => {
    await withLabServer(async (ca, lab) => {
      const motor = lab.get("motor");
      const put = await run(ca, "caput", ["-c", "-w", "30", "LW:motor:position", "2.5"]);
      assert.equal(put.code, 0, put.err);
      assert.match(put.out, /New : LW:motor:position\s+2.5/);
      // caput -c completes when the move does (like a motor record), so the readback is there.
      assert.equal((await motor.read(["readback"])).readback, 2.5);

      const ro = await run(ca, "caput", ["LW:motor:readback", "3"]);
      assert.notEqual(ro.code, 0);
      assert.match(ro.err, /Write access denied/);

      const over = await run(ca, "caput", ["-c", "LW:motor:position", "500"]);
      assert.notEqual(over.code, 0);
      assert.equal((await motor.read(["position"])).position, 2.5);

      const en = await run(ca, "caput", ["-c", "LW:dmm:range", "10 V"]);
      assert.equal(en.code, 0, en.err);
      assert.equal((await lab.get("dmm").read(["range"])).range, "10 V");
      const bool = await run(ca, "caput", ["-c", "LW:thermo:heater", "false"]);
      assert.equal(bool.code, 0, bool.err);
      assert.equal((await lab.get("thermo").read(["heater"])).heater, false);
    });
  },
);

peerTest("reference camonitor receives updates pushed from readings", missingTools, async () => {
  await withLabServer(async (ca, lab) => {
    const child = new Deno.Command(`${EPICS_BIN}/camonitor`, {
      args: ["LW:thermo:temperature", "LW:thermo:heater"],
      env: clientEnv(ca.port),
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines: string[] = [];
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    const waitLines = async (n: number) => {
      const deadline = Date.now() + 10_000;
      while (lines.length < n && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value;
        const parts = buffered.split("\n");
        buffered = parts.pop()!;
        lines.push(...parts.filter((l) => l.trim() !== ""));
      }
    };
    try {
      await waitLines(2); // the initial update of each PV
      const thermo = lab.get("thermo");
      for (const v of [30.5, 31.5, 32.5]) {
        thermo.publish({ t: Date.now() / 1000, device: "thermo", values: { temperature: v } });
        await new Promise((r) => setTimeout(r, 50));
      }
      await waitLines(5);
    } finally {
      child.kill("SIGTERM");
      // the stream may already be closed; cancelling is best effort
      await reader.cancel().catch(() => {});
      await child.status;
    }
    const temps = lines.filter((l) => l.startsWith("LW:thermo:temperature"))
      .map((l) => Number(l.trim().split(/\s+/).at(-1)));
    assert.deepEqual(temps.slice(-3), [30.5, 31.5, 32.5]);
    assert.ok(lines.some((l) => /^LW:thermo:heater\s.*\strue\s*$/.test(l)), lines.join("\n"));
  });
});

const PYTHON = hasPythonModule("epics") ? debianPython() : undefined;

peerTest(
  "pyepics reads, describes and writes labwire PVs",
  () => PYTHON ? [] : ["pyepics"],
  async () => {
    await withLabServer(async (ca, lab) => {
      const script = `
import json, epics
pv = epics.PV("LW:thermo:setpoint"); pv.wait_for_connection(5)
ctrl = pv.get_ctrlvars()
out = {
  "value": pv.get(), "units": ctrl["units"], "precision": ctrl["precision"],
  "limits": [ctrl["lower_ctrl_limit"], ctrl["upper_ctrl_limit"]],
  "range": epics.caget("LW:dmm:range", as_string=True),
  "readback_write": epics.PV("LW:motor:readback").wait_for_connection(5) and epics.PV("LW:motor:readback").write_access,
}
epics.caput("LW:thermo:setpoint", 42.5, wait=True)
print(json.dumps(out))
`;
      const r = await runTool(PYTHON!, ["-c", script], {
        env: clientEnv(ca.port),
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, r.err);
      const got = JSON.parse(r.out.trim().split("\n").at(-1)!);
      assert.deepEqual(got, {
        value: 25,
        units: "°C",
        precision: 2,
        limits: [-20, 150],
        range: "AUTO",
        readback_write: false,
      });
      assert.equal((await lab.get("thermo").read(["setpoint"])).setpoint, 42.5);
    });
  },
);
