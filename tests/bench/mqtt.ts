/**
 * `serve --mqtt` through a real mosquitto (issue 15, part 1): 100 `sim://bank` devices × 10
 * attributes at 10 Hz — each reading one message on `labwire/DEVICE` and each value one retained
 * message on `labwire/DEVICE/ATTR`, 11,000 messages/s — published to mosquitto on loopback and
 * received by one `mosquitto_sub -t 'labwire/#'`. Targets: every message labwire sent is
 * delivered (100 % at QoS 0 on loopback: the subscriber's count against the count labwire logs
 * when it stops), labwire CPU ≤ 0.2 core (user + system time from /proc over the measured
 * window, labwire run with the shipped V8 flags, `--no-record`), publish-to-receive latency p99
 * ≤ 50 ms (a reading's `t` to the time mosquitto_sub printed it, `%U`).
 *
 * Then part 2, one central daemon aggregating three remote daemons (`./mqtt_central.ts`).
 *
 *     deno run -A tests/bench/mqtt.ts [--seconds 30] [--central-seconds 60]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { findProgram } from "../peers.ts";
import { startBroker } from "../interop/mosquitto.ts";
import { cpuSeconds, round, runQueueWaitSeconds } from "./proc_stats.ts";
import { metric, spawnServe } from "./serve_bench_setup.ts";
import { centralBench } from "./mqtt_central.ts";
import { SHIPPED_V8_FLAGS } from "./shipped_flags.ts";
import { Targets } from "./targets.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "30" },
    devices: { type: "string", default: "100" },
    warmup: { type: "string", default: "5" },
    // part 2 (./mqtt_central.ts): 0 skips it
    "central-seconds": { type: "string", default: "60" },
  },
});
const SECONDS = Number(values.seconds);
const DEVICES = Number(values.devices);
const ATTRS = 10;
const HZ = 10;

const dir = await Deno.makeTempDir({ prefix: "labwire-mqtt-bench-" });
const broker = await startBroker(dir);

// The subscriber writes straight into a file (through the shell, no pipe to this process):
// parsing 11,000 lines/s here would compete with labwire for the machine's cores.
const received = `${dir}/received.txt`;
const sub = new Deno.Command("bash", {
  args: [
    "-c",
    `exec "$0" -h 127.0.0.1 -p ${broker.port} -t 'labwire/#' -F '%U|%t|%p' > "$1"`,
    findProgram("mosquitto_sub")!,
    received,
  ],
  stdin: "null",
  stdout: "null",
  stderr: "null",
}).spawn();
await new Promise((r) => setTimeout(r, 500));

let config = "";
for (let i = 0; i < DEVICES; i++) {
  config += `[devices.b${i}]\naddress = "sim://bank?channels=${ATTRS}&seed=${i + 1}"\n` +
    `interval = "${1000 / HZ}ms"\n\n`;
}
config += `[mqtt]\nurl = "${broker.url}"\n`;
await Deno.writeTextFile(`${dir}/bench.toml`, config);
const serve = await spawnServe([`${dir}/bench.toml`, "--no-record"], [
  `--v8-flags=${SHIPPED_V8_FLAGS}`,
]);
await new Promise((r) => setTimeout(r, Number(values.warmup) * 1000));

// The three processes a message passes through: labwire, mosquitto, mosquitto_sub (whose
// shell `exec`s it, so it keeps the shell's pid).
const pids = { labwire: serve.pid, mosquitto: broker.pid()!, mosquitto_sub: sub.pid };
const usage = () =>
  Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [k, [cpuSeconds(pid), runQueueWaitSeconds(pid)]]),
  );
const missed0 = await metric(serve.url, "labwire_missed_deadlines_total");
const usage0 = usage();
const cpu0 = cpuSeconds(serve.pid);
const t0 = Date.now() / 1000;
await new Promise((r) => setTimeout(r, SECONDS * 1000));
const cpu1 = cpuSeconds(serve.pid);
const t1 = Date.now() / 1000;
const usage1 = usage();
const missed = (await metric(serve.url, "labwire_missed_deadlines_total")) - missed0;
await serve.stop();
const sentLine = /MQTT: (\d+) messages sent, (\d+) dropped/.exec(serve.stderr());
// What labwire wrote last may still be on its way (on a loaded machine, seconds): the
// subscriber is stopped once its file has not grown for 2 s.
for (let last = -1, still = 0, i = 0; still < 4 && i < 240; i++) {
  await new Promise((r) => setTimeout(r, 500));
  const size = (await Deno.stat(received)).size;
  still = size === last ? still + 1 : 0;
  last = size;
}
sub.kill("SIGTERM");
await sub.status;

let delivered = 0;
let inWindow = 0;
let offline = 0;
const latencies: number[] = [];
const decoder = new TextDecoderStream();
const file = await Deno.open(received);
let rest = "";
for await (const chunk of file.readable.pipeThrough(decoder)) {
  const lines = (rest + chunk).split("\n");
  rest = lines.pop()!;
  for (const line of lines) {
    delivered++;
    const a = line.indexOf("|");
    const b = line.indexOf("|", a + 1);
    const at = Number(line.slice(0, a));
    if (line.endsWith("/$state|offline")) offline++;
    if (at < t0 || at > t1) continue;
    inWindow++;
    const topic = line.slice(a + 1, b);
    // A reading (labwire/DEVICE): its `t` is when labwire published it.
    if (topic.indexOf("/", 8) === -1 && topic.startsWith("labwire/b")) {
      const payload = line.slice(b + 1);
      const i = payload.indexOf('"t":');
      latencies.push((at - parseFloat(payload.slice(i + 4, i + 24))) * 1000);
    }
  }
}
latencies.sort((x, y) => x - y);
const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? NaN;
const sent = sentLine ? Number(sentLine[1]) : NaN;
const dropped = sentLine ? Number(sentLine[2]) : NaN;
await broker.stop();
await Deno.remove(dir, { recursive: true });

const rate = inWindow / (t1 - t0);
const expected = DEVICES * (ATTRS + 1) * HZ;
console.error(
  `labwire sent ${sent} messages (${dropped} dropped), mosquitto_sub received ${delivered}; ` +
    `${round(rate, 0)} messages/s in the ${SECONDS} s window (expected ${expected}), ` +
    `${latencies.length} readings timed, ${missed} missed sampling deadlines, ` +
    `${offline} of the ${DEVICES + 1} offline states at the stop`,
);
// Where the time went: CPU used, and time spent runnable but waiting for a CPU (a loaded
// machine's share of the latency), per process, as fractions of the window.
console.error(
  Object.keys(pids).map((k) => {
    const [c0, w0] = usage0[k]!;
    const [c1, w1] = usage1[k]!;
    return `${k}: CPU ${round((c1! - c0!) / (t1 - t0), 3)} cores, run-queue wait ${
      round((w1! - w0!) / (t1 - t0), 3)
    } s/s`;
  }).join("; "),
);
const targets = new Targets("mqtt");
targets.check(
  "messages delivered vs sent (QoS 0)",
  round((delivered / sent) * 100, 3),
  ">=",
  100,
  "%",
);
targets.check("messages/s published", round(rate, 0), ">=", expected * 0.99, "msg/s");
targets.check("labwire CPU", round((cpu1 - cpu0) / (t1 - t0), 3), "<=", 0.2, "cores");
targets.check("publish-to-receive latency p99", round(p99, 2), "<=", 50, "ms");
if (Number(values["central-seconds"]) > 0) {
  await centralBench(targets, { seconds: Number(values["central-seconds"]) });
}
targets.finish();
