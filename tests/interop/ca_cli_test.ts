/**
 * Channel Access as pyepics users expect it, end to end: `labwire read`/`write` as processes
 * against the reference softIoc (tests/interop/fixtures/ca_test.db, P=T:), each behaviour checked
 * by the reference `caget`/`caput`/`cainfo` and by pyepics: enum states written by name and by
 * index, CHAR waveforms holding text read as strings (`as_string`), a write that returns once
 * sent unless `--wait`, array writes, `read --describe` beside `caget -d 34` and `cainfo`; and
 * `labwire serve --ca` publishing its alarm rules as the PVs' HIHI/HIGH/LOW/LOLO.
 */
import assert from "node:assert/strict";
import {
  debianPython,
  EPICS_BIN,
  findProgram,
  hasPythonModule,
  peerTest,
  runTool,
  type ToolResult,
} from "../peers.ts";
import { runCli } from "../e2e/run_cli.ts";
import { spawnLabwire } from "../e2e/labwire_process.ts";
import {
  caEnv,
  caFields,
  freePort,
  missingSoftIoc,
  type SoftIoc,
  startSoftIoc,
} from "./ca_softioc.ts";

const DB = await Deno.readTextFile(new URL("./fixtures/ca_test.db", import.meta.url));
const PYTHON = hasPythonModule("epics") ? debianPython() : undefined;

function missingPeers(): string[] {
  const tools = ["caget", "caput", "cainfo"].filter((t) => !findProgram(`${EPICS_BIN}/${t}`));
  return [...missingSoftIoc(), ...tools.map((t) => `${EPICS_BIN}/${t}`)];
}

/** The clients' environment: the IOC's CA settings; EPICS_BIN off PATH, so no caRepeater is left running. */
function clientEnv(env: Record<string, string>): Record<string, string> {
  return { ...env, PATH: "/usr/bin:/bin" };
}

/** Runs a reference CA tool against the IOC. */
function tool(env: Record<string, string>, name: string, args: string[]): Promise<ToolResult> {
  return runTool(`${EPICS_BIN}/${name}`, args, { env: clientEnv(env), timeoutMs: 20_000 });
}

/** `caget -t PV` (the value only). */
async function caget(env: Record<string, string>, ...args: string[]): Promise<string> {
  const r = await tool(env, "caget", ["-t", ...args]);
  assert.equal(r.code, 0, r.err);
  return r.out.trim();
}

/** `labwire ARGS…` against the IOC; the JSON on stdout parsed when it succeeded. */
async function labwire(env: Record<string, string>, ...args: string[]) {
  const r = await runCli(args, { env: clientEnv(env) });
  return { ...r, json: r.code === 0 ? JSON.parse(r.stdout) : undefined };
}

/** Runs a pyepics script against the IOC and returns what it printed last, as JSON. */
async function pyepics(env: Record<string, string>, script: string): Promise<unknown> {
  const r = await runTool(PYTHON!, ["-c", `import json, epics\n${script}`], {
    env: clientEnv(env),
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out.trim().split("\n").at(-1)!);
}

async function withIoc(fn: (ioc: SoftIoc) => Promise<void>): Promise<void> {
  const ioc = await startSoftIoc({ db: DB, macros: { P: "T:" } });
  try {
    await fn(ioc);
  } finally {
    await ioc.stop();
  }
}

peerTest(
  "write sets an enum by state name and by index; a wrong state lists them",
  missingPeers,
  () =>
    withIoc(async ({ env }) => {
      const open = await labwire(env, "write", "ca://T:shutter", "value=Open");
      assert.equal(open.code, 0, open.stderr);
      assert.equal(open.json.value, "Open");
      assert.equal(await caget(env, "T:shutter"), "Open");
      const byIndex = await labwire(env, "write", "ca://T:shutter", "value=2");
      assert.equal(byIndex.code, 0, byIndex.stderr);
      assert.equal(byIndex.json.value, "Fault");
      assert.equal(await caget(env, "T:shutter"), "Fault");
      assert.equal(await caget(env, "-n", "T:shutter"), "2");

      const bad = await labwire(env, "write", "ca://T:shutter", "value=Jammed");
      assert.equal(bad.code, 2, "a state the PV does not have is a usage error");
      assert.match(
        bad.stderr,
        /value: "Jammed" is not a state of this PV; write a state's name or its index: 0 "Closed", 1 "Open", 2 "Fault"/,
      );
      assert.equal((await labwire(env, "write", "ca://T:shutter", "value=3")).code, 2);
      assert.equal(await caget(env, "T:shutter"), "Fault", "a refused write sends nothing");

      // caput by index, read back by labwire as the state name.
      assert.equal((await tool(env, "caput", ["T:shutter", "0"])).code, 0);
      const read = await labwire(env, "read", "ca://T:shutter");
      assert.equal(read.json.value, "Closed");
      if (PYTHON) {
        assert.deepEqual(
          await pyepics(env, `print(json.dumps(epics.caget("T:shutter", as_string=True)))`),
          "Closed",
        );
      }
    }),
);

peerTest(
  "a read of many targets: the PVs in one batch beside a simulated device, in the order given, a missing PV failing alone",
  missingPeers,
  () =>
    withIoc(async ({ env }) => {
      const targets = ["ca://T:shutter", "sim://gauge?seed=1", "ca://T:ao", "ca://T:nosuch"];
      const r = await labwire(env, "read", ...targets, "--timeout", "1s");
      assert.equal(r.code, 1, "one target failed");
      const doc = JSON.parse(r.stdout);
      assert.deepEqual(Object.keys(doc), ["T:shutter", "gauge", "T:ao", "T:nosuch"]);
      assert.equal(doc["T:shutter"].value, "Closed");
      assert.equal(typeof doc.gauge.pressure, "number");
      assert.deepEqual(
        { ...doc["T:ao"], t: undefined },
        { t: undefined, device: "T:ao", value: 1.5, severity: "NO_ALARM", status: "NO_ALARM" },
      );
      assert.match(doc["T:nosuch"].error, /^PV T:nosuch not found: no CA server answered/);
      assert.match(r.stderr, /labwire read: T:nosuch: PV T:nosuch not found/);
    }),
);

peerTest(
  "a CHAR waveform holding text reads as a string; as_string forces either",
  missingPeers,
  () =>
    withIoc(async ({ env }) => {
      assert.equal((await tool(env, "caput", ["-S", "T:msg", "beam on target"])).code, 0);
      const text = await labwire(env, "read", "ca://T:msg");
      assert.equal(text.json.value, "beam on target");
      const described = await labwire(env, "read", "--describe", "ca://T:msg", "--attrs", "value");
      assert.equal(described.json.value.type, "string");
      assert.equal(described.json.value.elements, 64);
      const bytes = await labwire(env, "read", "ca://T:msg?as_string=0");
      assert.deepEqual(bytes.json.value, [...new TextEncoder().encode("beam on target"), 0]);
      if (PYTHON) {
        const py = await pyepics(env, `print(json.dumps(epics.caget("T:msg", as_string=True)))`);
        assert.equal(py, text.json.value, "the text pyepics' as_string gives");
      }

      // labwire writes text; caget -S reads it back.
      const w = await labwire(env, "write", "ca://T:msg", "value=shutter closed");
      assert.equal(w.code, 0, w.stderr);
      assert.equal(await caget(env, "-S", "T:msg"), "shutter closed");
      const long = await labwire(env, "write", "ca://T:msg", `value=${"x".repeat(64)}`);
      assert.equal(long.code, 2);
      assert.match(
        long.stderr,
        /64 bytes of text do not fit T:msg: it holds 63 and the closing NUL/,
      );

      // Bytes that are not text stay numbers (caget shows DBF_CHAR signed), unless text is forced.
      const w2 = await labwire(env, "write", "ca://T:wchar?as_string=0", "value=1,2,200");
      assert.equal(w2.code, 0, w2.stderr);
      assert.match((await tool(env, "caget", ["-#", "3", "T:wchar"])).out, /T:wchar 3 1 2 -56/);
      assert.deepEqual((await labwire(env, "read", "ca://T:wchar")).json.value, [1, 2, 200]);
      const forced = await labwire(env, "read", "ca://T:msg?as_string=1");
      assert.equal(forced.json.value, "shutter closed");
    }),
);

peerTest(
  "write returns once the put is sent; --wait returns when it has completed",
  missingPeers,
  () =>
    withIoc(async ({ env }) => {
      // T:lazy completes (writes 1 into T:lazysink) 10 s after a put.
      const sent = await labwire(env, "write", "ca://T:lazy", "value=1");
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal(await caget(env, "T:lazysink"), "0", "returned before the put completed");
      // T:slow completes 0.3 s after a put, into T:sink.
      assert.equal(await caget(env, "T:sink"), "0");
      const waited = await labwire(env, "write", "ca://T:slow", "value=1", "--wait");
      assert.equal(waited.code, 0, waited.stderr);
      assert.equal(await caget(env, "T:sink"), "1", "--wait returned after completion");
      assert.equal(waited.json.severity, "NO_ALARM", "after --wait, the whole reading");
    }),
);

peerTest(
  "array writes: value=1,2,3 fills a waveform",
  missingPeers,
  () =>
    withIoc(async ({ env }) => {
      const w = await labwire(env, "write", "ca://T:wave", "value=1.5,2,-3");
      assert.equal(w.code, 0, w.stderr);
      assert.deepEqual(w.json.value, [1.5, 2, -3]);
      const r = await tool(env, "caget", ["T:wave"]); // the native count (16), zero-filled
      assert.deepEqual(r.out.trim().split(/\s+/).slice(1, 6), ["16", "1.5", "2", "-3", "0"]);
      assert.deepEqual((await labwire(env, "read", "ca://T:wave")).json.value, [1.5, 2, -3]);
      const short = await labwire(env, "write", "ca://T:wshort", "value=7 8 9");
      assert.equal(short.code, 0, short.stderr);
      assert.match((await tool(env, "caget", ["T:wshort"])).out, /T:wshort 8 7 8 9 0/);
      // More than the waveform holds is refused before anything is sent (exit 2).
      assert.equal((await labwire(env, "write", "ca://T:wfloat", "value=1,2,3,4")).code, 0);
      const big = await labwire(env, "write", "ca://T:wfloat", "value=1,2,3,4,5");
      assert.equal(big.code, 2);
      assert.match(big.stderr, /5 elements do not fit T:wfloat: it holds at most 4/);
      assert.match((await tool(env, "caget", ["T:wfloat"])).out, /T:wfloat 4 1 2 3 4/);
    }),
);

peerTest(
  "read --describe shows what caget -d 34 and cainfo print",
  missingPeers,
  () =>
    withIoc(async ({ env }) => {
      for (const pv of ["T:ao", "T:calc", "T:ai"]) {
        const d = await labwire(env, "read", "--describe", `ca://${pv}`, "--attrs", "value");
        assert.equal(d.code, 0, d.stderr);
        const v = d.json.value;
        const ref = caFields((await tool(env, "caget", ["-d", "34", pv])).out);
        const num = (s: string | undefined) => s === "nan" ? null : Number(s);
        assert.deepEqual(
          {
            units: v.units,
            precision: v.precision,
            display: v.limits.display,
            warning: v.limits.warning,
            alarm: v.limits.alarm,
            control: v.limits.control,
          },
          {
            units: ref["Units"],
            precision: Number(ref["Precision"]),
            display: { low: num(ref["Lo disp limit"]), high: num(ref["Hi disp limit"]) },
            warning: { low: num(ref["Lo warn limit"]), high: num(ref["Hi warn limit"]) },
            alarm: { low: num(ref["Lo alarm limit"]), high: num(ref["Hi alarm limit"]) },
            control: { low: num(ref["Lo ctrl limit"]), high: num(ref["Hi ctrl limit"]) },
          },
          pv,
        );
      }
      const calc = (await labwire(env, "read", "--describe", "ca://T:calc")).json.value;
      assert.deepEqual(calc.limits.alarm, { low: -20, high: 150 });
      const wave = (await labwire(env, "read", "--describe", "ca://T:wave")).json.value;
      const info = caFields((await tool(env, "cainfo", ["T:wave"])).out);
      assert.equal(wave.elements, Number(info["Element count"]));
      assert.equal(wave.elements, 16);
    }),
);

peerTest(
  "serve --ca publishes the alarm rules as the PVs' HIHI/HIGH/LOW/LOLO",
  missingPeers,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "labwire-ca-limits-" });
    await Deno.writeTextFile(
      `${dir}/lab.toml`,
      `[devices.thermo]
address = "sim://thermo"

[ca]
prefix = "LAB:"
port = ${freePort()}
auto_beacon = false
beacon_addrs = ["127.0.0.1"]

[[alarms]]
device = "thermo"
attr = "temperature"
compare = ">"
trip = 80
severity = "major"

[[alarms]]
device = "thermo"
attr = "temperature"
compare = "outside"
low = 10
high = 60
severity = "minor"

[[alarms]]
device = "thermo"
attr = "temperature"
compare = "<"
trip = 5
severity = "invalid"
`,
    );
    const serve = spawnLabwire([
      "serve",
      `${dir}/lab.toml`,
      "--listen",
      "127.0.0.1:0",
      "--no-record",
    ]);
    try {
      const m = await serve.waitFor(/CA server: .* port (\d+)/, 30_000);
      const env = caEnv(Number(m[1]));
      const ref = caFields(
        (await tool(env, "caget", ["-d", "DBR_CTRL_DOUBLE", "LAB:thermo:temperature"])).out,
      );
      assert.deepEqual(
        [ref["Lo alarm limit"], ref["Lo warn limit"], ref["Hi warn limit"], ref["Hi alarm limit"]],
        ["5", "10", "60", "80"],
      );
      // An attribute without rules publishes none (NaN: not in force, as an EPICS 7 record).
      const setpoint = caFields(
        (await tool(env, "caget", ["-d", "34", "LAB:thermo:setpoint"])).out,
      );
      assert.equal(setpoint["Hi alarm limit"], "nan");
      // labwire's own client reads them back the same.
      const d = await labwire(
        env,
        "read",
        "--describe",
        "ca://LAB:thermo:temperature",
        "-a",
        "value",
      );
      assert.deepEqual(d.json.value.limits.alarm, { low: 5, high: 80 });
      assert.deepEqual(d.json.value.limits.warning, { low: 10, high: 60 });
      if (PYTHON) {
        const py = await pyepics(
          env,
          `c = epics.PV("LAB:thermo:temperature").get_ctrlvars(timeout=5)
print(json.dumps([c["lower_alarm_limit"], c["lower_warning_limit"], c["upper_warning_limit"], c["upper_alarm_limit"]]))`,
        );
        assert.deepEqual(py, [5, 10, 60, 80]);
      }
    } finally {
      await serve.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
