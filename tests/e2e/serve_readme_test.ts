/**
 * The README's `curl | jq` examples for `labwire serve --demo`, run against a real daemon on the
 * demo bench. Each command here is pasted verbatim into the README (with URL=http://localhost:8600).
 */
import assert from "node:assert/strict";
import { findProgram, peerTest } from "../peers.ts";
import { startTestDaemon, until } from "./serve_fixture.ts";
import { startDemoBench } from "../../lib/drivers/demo.ts";

/** README examples: the command and what its output must look like. */
export const README_EXAMPLES: { cmd: string; check: (out: string) => void }[] = [
  {
    cmd: `curl -s $URL/api/devices | jq -r '.devices[] | "\\(.name) \\(.state)"'`,
    check: (out) =>
      assert.deepEqual(out.trim().split("\n"), [
        "gauge up",
        "thermo up",
        "motor up",
        "dmm up",
        "det up",
      ]),
  },
  {
    cmd:
      `curl -s $URL/api/devices/motor | jq -c '.attrs[] | select(.name == "position") | {name, rw, units, min, max}'`,
    check: (out) =>
      assert.equal(out.trim(), '{"name":"position","rw":true,"units":"mm","min":-100,"max":100}'),
  },
  {
    cmd: `curl -s "$URL/api/devices/thermo/read?time=iso&utc=1" | jq -r .t`,
    check: (out) => assert.match(out.trim(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
  },
  {
    cmd: `curl -s "$URL/api/devices/thermo/read?attrs=temperature" | jq .temperature`,
    check: (out) => assert.ok(Math.abs(Number(out) - 25) < 5, out),
  },
  {
    cmd:
      `curl -s -X PUT $URL/api/devices/motor/attrs/position -H 'content-type: application/json' -d '{"value": 2.5}' | jq .value`,
    check: (out) => assert.equal(out.trim(), "2.5"),
  },
  {
    cmd:
      `curl -s -X PUT $URL/api/devices/motor/attrs/position -H 'content-type: application/json' -d '{"value": 500}' | jq -r .error.message`,
    check: (out) => assert.equal(out.trim(), "position: 500 is above the upper limit 100 mm"),
  },
  {
    cmd: `id=$(curl -s -X POST $URL/api/devices/thermo/tasks -H 'content-type: application/json' \\
  -d '{"technique": "sample", "sampling_interval": 0.2, "max_duration": 1}' | jq -r .id)
sleep 1.5; curl -s $URL/api/tasks/$id | jq -r .state; curl -s $URL/api/tasks/$id/data | jq '.data.rows | length'`,
    check: (out) => {
      const [state, rows] = out.trim().split("\n");
      assert.equal(state, "completed");
      assert.ok(Number(rows) >= 4, out);
    },
  },
  {
    cmd:
      `curl -s "$URL/api/samples?device=thermo&attr=temperature&max_points=500" | jq '{units, rows, points: (.t | length)}' -c`,
    check: (out) => {
      const o = JSON.parse(out);
      assert.equal(o.units, "°C");
      assert.ok(o.rows >= 1 && o.points >= 1 && o.points <= 500, out);
    },
  },
  {
    cmd:
      `curl -sN "$URL/api/stream?devices=motor" | grep -m2 '^data:' | cut -c7- | jq -c 'del(.t, .device) | keys'`,
    check: (out) => {
      const lines = out.trim().split("\n");
      assert.equal(lines.length, 2);
      for (const l of lines) assert.deepEqual(JSON.parse(l), ["moving", "position", "readback"]);
    },
  },
  {
    cmd:
      `curl -sN "$URL/api/stream?devices=thermo&time=iso&utc=1" | grep -m1 '^data:' | cut -c7- | jq -r .t`,
    check: (out) => assert.match(out.trim(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
  },
  {
    cmd:
      `curl -s $URL/healthz | jq -c '{status, down: .devices.down, recording: .session.recording}'`,
    check: (out) => assert.equal(out.trim(), '{"status":"ok","down":[],"recording":true}'),
  },
  {
    cmd: `curl -s $URL/api/alarms | jq '.active | length'`,
    check: (out) => assert.equal(out.trim(), "0"),
  },
  {
    cmd: `curl -s $URL/metrics | grep '^labwire_value{device="motor",attr="position"'`,
    check: (out) =>
      assert.equal(out.trim(), 'labwire_value{device="motor",attr="position",units="mm"} 2.5'),
  },
  {
    cmd: `curl -s $URL/api/openapi.json | jq -r '.paths | keys[]' | head -3`,
    check: (out) =>
      assert.deepEqual(out.trim().split("\n"), [
        "/api/alarms",
        "/api/alarms/{id}/ack",
        "/api/devices",
      ]),
  },
];

peerTest(
  "README curl | jq examples against serve --demo",
  () => ["curl", "jq", "bash"].filter((p) => !findProgram(p)),
  async (t) => {
    const bench = await startDemoBench();
    const d = await startTestDaemon({ config: bench.config, interval: 200 });
    try {
      await until(() => d.lab.managers.every((m) => m.state === "up"), 10_000, "demo devices up");
      await until(() => (d.recording?.store.writer.stats.samples ?? 0) > 0, 10_000, "rows written");
      for (const ex of README_EXAMPLES) {
        await t.step(ex.cmd.split("\n")[0]!.slice(0, 90), async () => {
          const out = await new Deno.Command("bash", {
            args: ["-o", "pipefail", "-c", ex.cmd.replace(/\| head -3$/, "| head -3; true")],
            env: { URL: d.url },
            stdout: "piped",
            stderr: "piped",
          }).output();
          const stdout = new TextDecoder().decode(out.stdout);
          const stderr = new TextDecoder().decode(out.stderr);
          ex.check(stdout);
          assert.ok(out.code === 0 || ex.cmd.includes("curl -sN"), `exit ${out.code}: ${stderr}`);
        });
      }
    } finally {
      await d.close();
      await bench.close();
    }
  },
);
