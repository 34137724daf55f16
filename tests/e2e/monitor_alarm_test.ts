/**
 * A real `labwire monitor` process with alarms and two sinks: a webhook that works and an SMTP
 * server that accepts connections and never answers. Sampling must go on for the whole run,
 * the webhook must get its events, every transition must be a stderr line, and the process
 * must still exit (the notifier's close is bounded).
 */
import assert from "node:assert/strict";
import { ROOT } from "./run_cli.ts";

Deno.test("monitor keeps sampling and notifying while the mail server hangs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-monitor-alarm-" });
  const smtp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of smtp) held.push(c);
    } catch {
      // closed at the end
    }
  })();
  const hooks: { name: string; state: string }[] = [];
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    hooks.push(await req.json());
    return new Response("ok");
  });
  try {
    const config = `${dir}/lab.toml`;
    await Deno.writeTextFile(
      config,
      `
[devices.oven]
address = "sim://thermo?seed=1"
interval = "50ms"
[devices.gauge]
address = "sim://gauge?seed=2"
interval = "50ms"

[[alarms]]
name = "oven warm"
device = "oven"
attr = "temperature"
compare = ">"
trip = 20
severity = "major"

[[alarms]]
name = "gauge moves"
device = "gauge"
attr = "pressure"
compare = "changed"
severity = "minor"

[notify.smtp]
host = "127.0.0.1"
port = ${(smtp.addr as Deno.NetAddr).port}
security = "plain"
from = "labwire@example.org"
timeout = "300ms"

[[notify.sinks]]
type = "email"
to = "oncall@example.org"
retries = 0

[[notify.sinks]]
type = "webhook"
url = "http://127.0.0.1:${http.addr.port}/hook"
min_severity = "major"
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}main.ts`, "monitor", config, "--duration", "2s", "--json"],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);

    // Sampling went on for the whole run.
    const readings = stdout.trim().split("\n").map((l) =>
      JSON.parse(l) as { t: number; device: string }
    );
    const oven = readings.filter((r) => r.device === "oven").map((r) => r.t);
    assert.ok(oven.length >= 20, `only ${oven.length} oven readings in 2 s at 50 ms`);
    assert.ok(oven.at(-1)! - oven[0]! >= 1.5, "oven readings span the run");

    // Alarms reached stderr and the working sink; the hanging one was given up, not waited for.
    assert.match(stderr, /alarm MAJOR active oven warm: oven\.temperature = /);
    assert.match(stderr, /alarm MINOR active gauge moves: /);
    assert.deepEqual(hooks.map((h) => `${h.name} ${h.state}`), ["oven warm active"]);
    assert.match(stderr, /notify email: delivery of \d+ items? failed .*no answer within 300 ms/);
  } finally {
    await http.shutdown();
    smtp.close();
    await accepting;
    for (const c of held) c.close();
    await Deno.remove(dir, { recursive: true });
  }
});
