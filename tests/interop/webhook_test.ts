/**
 * Webhook and command sinks against real peers: a local HTTP listener (Deno.serve on
 * 127.0.0.1:0) receives the POSTed alarm, `/bin/sh` receives it on stdin; failing sinks
 * (HTTP 503, a closed port, a server that never answers, a command exiting non-zero) are
 * retried with backoff and logged, and never hold up the alarm engine.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/load.ts";
import { AlarmEngine } from "../../lib/alarm/engine.ts";
import type { AlarmEvent } from "../../lib/alarm/event.ts";
import type { AlarmPayload } from "../../lib/alarm/payload.ts";
import { parseAlarms } from "../../lib/alarm/rules.ts";
import { type NotifyConfig, parseNotify } from "../../lib/alarm/notify_config.ts";
import { Notifier } from "../../lib/alarm/notifier.ts";

function bench(notify: string) {
  const config = parseConfig(
    `
[devices.gauge]
address = "sim://gauge"
[[alarms]]
device = "gauge"
attr = "pressure"
compare = ">"
trip = 1e-3
severity = "minor"
[[alarms]]
name = "vent"
device = "gauge"
attr = "pressure"
compare = ">"
trip = 100
severity = "invalid"
${notify}`,
    "lab.toml",
  );
  return { config, alarms: parseAlarms(config), notify: parseNotify(config) };
}

/** The event of `bench`'s `vent` rule when the gauge reads 760 at t = 11 s. */
const VENT_ACTIVE: AlarmEvent = {
  t: 11,
  name: "vent",
  kind: "threshold",
  device: "gauge",
  attr: "pressure",
  severity: "invalid",
  state: "active",
  value: 760,
  message: "gauge.pressure = 760, > 100",
};

/** Starts an HTTP listener on loopback; `respond` decides each answer. */
function listen(respond: (req: Request, body: string) => Response | Promise<Response>) {
  const bodies: { headers: Headers; body: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.text();
    bodies.push({ headers: req.headers, body });
    return await respond(req, body);
  });
  return { server, bodies, url: `http://127.0.0.1:${server.addr.port}/hook` };
}

/** A notifier of `notify` that logs into `log` and, instead of sleeping between retries, notes each delay in `delays`. */
function recordingNotifier(notify: NotifyConfig, log: string[], delays: number[]): Notifier {
  return Notifier.fromConfig(notify, {
    log: (l) => log.push(l),
    queue: { sleep: (ms) => (delays.push(ms), Promise.resolve()) },
  });
}

Deno.test("the webhook receives each alarm transition as JSON, by severity", async () => {
  const http = listen(() => new Response("ok"));
  try {
    const { alarms, notify } = bench(`
[[notify.sinks]]
type = "webhook"
url = "${http.url}"
headers = { "X-Lab-Token" = "b12" }
min_severity = "invalid"
`);
    const notifier = Notifier.fromConfig(notify, { log: () => {} });
    const engine = new AlarmEngine(alarms, { log: () => {}, now: 0 });
    engine.on((e) => notifier.notify(e));
    engine.observe({ t: 10, device: "gauge", values: { pressure: 0.5 } }); // minor: filtered
    engine.observe({ t: 11, device: "gauge", values: { pressure: 760 } }); // invalid: sent
    engine.observe({ t: 12, device: "gauge", values: { pressure: 1e-6 } }); // both clear
    await notifier.drained();
    await notifier.close();
    assert.equal(http.bodies.length, 2);
    const [active, cleared] = http.bodies.map((b) => JSON.parse(b.body) as AlarmPayload);
    assert.equal(http.bodies[0]!.headers.get("content-type"), "application/json");
    assert.equal(http.bodies[0]!.headers.get("x-lab-token"), "b12");
    assert.deepEqual(
      { ...active!, host: "-" },
      { ...VENT_ACTIVE, time: "1970-01-01T00:00:11.000Z", host: "-", source: "labwire" },
    );
    assert.equal(cleared!.state, "cleared");
    assert.equal(cleared!.value, 1e-6);
  } finally {
    await http.server.shutdown();
  }
});

Deno.test("HTTP errors are retried with exponential backoff until the hook accepts", async () => {
  let calls = 0;
  const http = listen(() =>
    ++calls <= 2 ? new Response("busy", { status: 503 }) : new Response("ok")
  );
  const log: string[] = [];
  const delays: number[] = [];
  try {
    // The URL and a token come from the environment: a secret hook URL stays out of the config.
    Deno.env.set("LABWIRE_TEST_HOOK_URL", http.url);
    Deno.env.set("LABWIRE_TEST_HOOK_AUTH", "Bearer t0ken");
    const { notify } = bench(`
[[notify.sinks]]
type = "webhook"
url_env = "LABWIRE_TEST_HOOK_URL"
headers_env = { Authorization = "LABWIRE_TEST_HOOK_AUTH" }
`);
    const notifier = recordingNotifier(notify, log, delays);
    notifier.notify({
      t: 1,
      name: "gauge error",
      kind: "error",
      device: "gauge",
      severity: "invalid",
      state: "active",
      value: null,
      message: "gauge: 3 failed reads in a row: timeout",
    });
    await notifier.drained();
    await notifier.close();
    assert.equal(calls, 3);
    assert.equal(http.bodies[0]!.headers.get("authorization"), "Bearer t0ken");
    assert.deepEqual(delays, [1000, 2000]);
    assert.equal(notifier.stats()[0]!.delivered, 1);
    assert.match(
      log[0]!,
      /notify webhook: .*failed \(attempt 1\/6\): POST .*: HTTP 503 Service Unavailable: busy; retrying in 1 s/,
    );
    assert.match(log.at(-1)!, /delivered after 3 attempts/);
    Deno.env.delete("LABWIRE_TEST_HOOK_URL");
    assert.throws(
      () => Notifier.fromConfig(notify, { file: "lab.toml" }),
      /lab\.toml: notify\.sinks\[0\]\.url_env: environment variable LABWIRE_TEST_HOOK_URL is not set/,
    );
  } finally {
    Deno.env.delete("LABWIRE_TEST_HOOK_URL");
    Deno.env.delete("LABWIRE_TEST_HOOK_AUTH");
    await http.server.shutdown();
  }
});

Deno.test("a closed port and a silent server fail, are retried, and never block observe()", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedUrl = `http://127.0.0.1:${(closed.addr as Deno.NetAddr).port}/hook`;
  closed.close();
  let release: () => void = () => {};
  const released = new Promise<void>((r) => (release = r));
  const silent = listen(async () => {
    await released; // never answers until the test ends
    return new Response("late");
  });
  const log: string[] = [];
  try {
    const { alarms, notify } = bench(`
[[notify.sinks]]
name = "closed"
type = "webhook"
url = "${closedUrl}"
retries = 3
[[notify.sinks]]
name = "silent"
type = "webhook"
url = "${silent.url}"
timeout = "200ms"
retries = 1
queue = 5
`);
    const notifier = Notifier.fromConfig(notify, {
      log: (l) => log.push(l),
      queue: { baseDelay: 1, maxDelay: 5 },
    });
    const engine = new AlarmEngine(alarms, { log: () => {}, now: 0 });
    engine.on((e) => notifier.notify(e));
    for (let i = 0; i < 20_000; i++) {
      engine.observe({
        t: i / 1000,
        device: "gauge",
        values: { pressure: i % 1000 === 0 ? 1 : 0 },
      });
    }
    assert.equal(engine.history().length, 40, "all transitions happened while sinks were down");
    await notifier.close(1000);
    const [c, s] = notifier.stats();
    assert.equal(c!.delivered + s!.delivered, 0);
    assert.equal(c!.failed + c!.dropped, 40, "every event is accounted for");
    assert.ok(c!.retried >= 3, `closed port retried ${c!.retried} times`);
    assert.equal(s!.failed + s!.dropped, 40);
    assert.ok(
      log.some((l) =>
        /notify closed: .*POST http:\/\/127\.0\.0\.1:\d+\/hook: tcp connect error: Connection refused/
          .test(l)
      ),
      log.join("\n"),
    );
    assert.ok(log.some((l) => /notify silent: .*no answer within 200 ms/.test(l)), log.join("\n"));
  } finally {
    release();
    await silent.server.shutdown();
  }
});

Deno.test("the command sink gets the alarm as JSON on stdin and LABWIRE_ALARM_* variables", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-cmd-" });
  try {
    const script =
      'printf "%s %s\\n" "$LABWIRE_ALARM_SEVERITY" "$LABWIRE_ALARM_STATE" >> "$0.env"; ' +
      'cat >> "$0"';
    const { alarms, notify } = bench(`
[[notify.sinks]]
type = "command"
command = ["/bin/sh", "-c", ${JSON.stringify(script)}, "${dir}/events.ndjson"]
cleared = false
`);
    const notifier = Notifier.fromConfig(notify, { log: () => {} });
    const engine = new AlarmEngine(alarms, { log: () => {}, now: 0 });
    engine.on((e) => notifier.notify(e));
    engine.observe({ t: 1, device: "gauge", values: { pressure: 0.01 } });
    engine.observe({ t: 2, device: "gauge", values: { pressure: 0 } });
    engine.observe({ t: 3, device: "gauge", values: { pressure: 200 } });
    await notifier.drained();
    await notifier.close();
    const events = (await Deno.readTextFile(`${dir}/events.ndjson`)).trim().split("\n")
      .map((l) => JSON.parse(l) as AlarmPayload);
    assert.deepEqual(events.map((e) => [e.name, e.state, e.value]), [
      ["gauge.pressure > 0.001", "active", 0.01],
      ["gauge.pressure > 0.001", "active", 200],
      ["vent", "active", 200],
    ]);
    assert.equal(
      await Deno.readTextFile(`${dir}/events.ndjson.env`),
      "minor active\nminor active\ninvalid active\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a command that exits non-zero is retried, its stderr in the log", async () => {
  const log: string[] = [];
  const delays: number[] = [];
  const { notify } = bench(`
[[notify.sinks]]
type = "command"
command = ["/bin/sh", "-c", "cat > /dev/null; echo 'pager gateway down' >&2; exit 3"]
retries = 2
`);
  const notifier = recordingNotifier(notify, log, delays);
  notifier.notify(VENT_ACTIVE);
  await notifier.drained();
  await notifier.close();
  assert.deepEqual(delays, [1000, 2000]);
  assert.equal(notifier.stats()[0]!.failed, 1);
  assert.match(log[0]!, /\/bin\/sh exited with code 3: pager gateway down; retrying in 1 s/);
});
