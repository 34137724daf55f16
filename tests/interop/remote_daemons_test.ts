/**
 * Three `labwire serve` daemons on loopback ports (the third over HTTPS with a certificate
 * openssl made for the test) feeding one central `serve` through `labwire://` and
 * `labwire+https://` devices: a reading travels end to end unchanged, writes are validated
 * locally (a bad value never reaches the remote) and a good one does, a missing or wrong token
 * is refused with a message saying what to do, an untrusted certificate says to give ca_file,
 * and a remote daemon's restart is a recorded gap (error and recovered events in the central
 * session) that heals, after which the central daemon declares what the remote now declares.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { findProgram, peerTest } from "../peers.ts";
import { makeCert } from "./tls_cert.ts";
import { guardedFetch, type ServeProcess, spawnServe } from "../e2e/labwire_process.ts";
import { until } from "../e2e/serve_fixture.ts";

const TOKEN = "remote-test-token-0123456789abcdef";

/** The state of `device` on the daemon at `url`, once `ok` holds for it (30 s hang guard). */
async function deviceWhen(
  url: string,
  device: string,
  what: string,
  ok: (d: Summary) => boolean,
): Promise<Summary> {
  let d: Summary | undefined;
  await until(async () => ok(d = (await devices(url)).get(device)!), 30_000, what);
  return d!;
}

/** `n` distinct loopback ports nothing listens on now (a remote is restarted on its own one). */
function freePorts(n: number): number[] {
  // all held open together, so the system cannot hand out one twice
  const ls = Array.from({ length: n }, () => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const ports = ls.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of ls) l.close();
  return ports;
}

interface Summary {
  name: string;
  state: string;
  last_t: number | null;
  error: string | null;
}

async function devices(url: string): Promise<Map<string, Summary>> {
  const r = await guardedFetch(`${url}/api/devices`);
  return new Map((r.body.devices as Summary[]).map((d) => [d.name, d]));
}

/**
 * The first reading event of `device` on `url`'s event stream: the next one live, or with
 * `fromMs` the first at or after that time (a resume by Last-Event-ID).
 */
async function firstReading(url: string, device: string, ca?: Deno.HttpClient, fromMs?: number) {
  const res = await fetch(`${url}/api/stream?devices=${device}`, {
    headers: fromMs === undefined ? {} : { "last-event-id": `${fromMs}:nobody` },
    signal: AbortSignal.timeout(10_000),
    client: ca,
  });
  assert.equal(res.status, 200, await (res.ok ? "" : res.text()));
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream of ${url} ended: ${buf}`);
      buf += value;
      const m = /event: reading\ndata: (.*)\n/.exec(buf);
      if (m) return JSON.parse(m[1]!) as Record<string, unknown>;
    }
  } finally {
    await reader.cancel();
  }
}

async function writesOf(url: string, device: string, ca?: Deno.HttpClient): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { client: ca })).text();
  const m = new RegExp(`^labwire_writes_total\\{device="${device}"\\} (\\d+)`, "m").exec(text);
  return Number(m?.[1] ?? NaN);
}

/** `PUT` of a motor's position on the daemon at `url`, as a client of the HTTP API sends it. */
function putPosition(url: string, device: string, value: number) {
  return guardedFetch(`${url}/api/devices/${device}/attrs/position`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ value }),
  });
}

peerTest(
  "three labwire daemons feed one central serve through labwire:// devices",
  () => findProgram("openssl") ? [] : ["openssl"],
  async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "labwire-remote-" });
    const { cert, key } = await makeCert(dir);
    await Deno.writeTextFile(`${dir}/token`, TOKEN + "\n");
    await Deno.writeTextFile(`${dir}/wrong`, "not-the-remote-token-0123456789\n");
    const ports = freePorts(3);
    /** A remote daemon's arguments; its motor travels up to `motorMax` mm. */
    const remoteArgs = async (i: number, motorMax = 100) => {
      const file = `${dir}/remote${i}.toml`;
      await Deno.writeTextFile(
        file,
        `[devices.thermo]\naddress = "sim://thermo?seed=${i}"\ninterval = "200ms"\n` +
          `[devices.motor]\naddress = "sim://motor?seed=${i}&max=${motorMax}"\n` +
          `interval = "200ms"\n`,
      );
      const tls = i === 2 ? ["--tls-cert", cert, "--tls-key", key] : [];
      return [file, "--no-record", "--token-file", `${dir}/token`, ...tls, "--listen"].concat(
        `127.0.0.1:${ports[i]}`,
      );
    };
    const remotes: (ServeProcess | undefined)[] = [];
    let central: ServeProcess | undefined;
    const caClient = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(cert)] });
    try {
      for (let i = 0; i < 3; i++) remotes.push(await spawnServe(await remoteArgs(i)));
      const [p0, p1, p2] = ports;
      const session = `${dir}/central.sqlite`;
      await Deno.writeTextFile(
        `${dir}/central.toml`,
        `[devices.r1_thermo]\naddress = "labwire://127.0.0.1:${p0}/thermo"\n` +
          `[devices.r1_motor]\naddress = "labwire://127.0.0.1:${p0}/motor"\n` +
          `token_file = "${dir}/token"\n` +
          `[devices.r2_thermo]\naddress = "labwire://127.0.0.1:${p1}/thermo"\n` +
          `[devices.r2_motor]\naddress = "labwire://127.0.0.1:${p1}/motor"\n` +
          `token_file = "${dir}/wrong"\n` +
          `[devices.r3_thermo]\naddress = "labwire+https://127.0.0.1:${p2}/thermo?ca_file=${cert}"\n` +
          `[devices.r3_motor]\naddress = "labwire+https://127.0.0.1:${p2}/motor"\n` +
          `ca_file = "${cert}"\n` +
          `[devices.r3_untrusted]\naddress = "labwire+https://127.0.0.1:${p2}/thermo"\n`,
      );
      central = await spawnServe([`${dir}/central.toml`, "--session", session]);
      const url = central.url;

      await t.step("a reading of each remote travels to the central daemon unchanged", async () => {
        for (const [i, name] of ["r1_thermo", "r2_thermo", "r3_thermo"].entries()) {
          await deviceWhen(url, name, `${name} up`, (d) => d.state === "up");
          // the central daemon's resume ring holds three daemons' readings interleaved (not in
          // time order), so its live stream is read, and the remote's ring resumed at that time
          const there = await firstReading(url, name);
          const remoteUrl = `${i === 2 ? "https" : "http"}://127.0.0.1:${ports[i]}`;
          const tms = Math.round((there.t as number) * 1000);
          const here = await firstReading(remoteUrl, "thermo", caClient, tms);
          assert.equal(there.t, here.t);
          assert.equal(there.temperature, here.temperature);
          assert.equal(typeof there.temperature, "number");
          assert.equal(there.device, name);
        }
      });

      await t.step("a write is validated locally; a good one reaches the remote", async () => {
        const remote = `http://127.0.0.1:${p0}`;
        const before = await writesOf(remote, "motor");
        const bad = await putPosition(url, "r1_motor", 500);
        assert.equal(bad.status, 422, JSON.stringify(bad.body));
        assert.match(JSON.stringify(bad.body), /above the upper limit 100 mm/);
        assert.equal(await writesOf(remote, "motor"), before, "the refused value was not sent");
        const good = await putPosition(url, "r1_motor", 5);
        assert.equal(good.status, 200, JSON.stringify(good.body));
        assert.equal(good.body.value, 5);
        assert.equal(await writesOf(remote, "motor"), before + 1);
        const back = await guardedFetch(`${remote}/api/devices/motor/read?attrs=position`);
        assert.equal(back.body.position, 5);
      });

      await t.step("writes without the token or with a wrong one say what to do", async () => {
        const put = (device: string) => putPosition(url, device, 1);
        const none = await put("r3_motor");
        assert.equal(none.status, 400, JSON.stringify(none.body));
        assert.match(
          JSON.stringify(none.body),
          /needs Authorization: Bearer.*give token_file = FILE.*LABWIRE_TOKEN/,
        );
        const wrong = await put("r2_motor");
        assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
        assert.match(JSON.stringify(wrong.body), /wrong bearer token.*is not the remote daemon's/);
        assert.equal(await writesOf(`https://127.0.0.1:${p2}`, "motor", caClient), 0);
        assert.equal(await writesOf(`http://127.0.0.1:${p1}`, "motor"), 0);
      });

      await t.step("labwire+https:// without the CA says to give ca_file", async () => {
        const d = await deviceWhen(
          url,
          "r3_untrusted",
          "r3_untrusted down",
          (d) => d.state === "down",
        );
        assert.match(d.error ?? "", /certificate is not trusted.*give ca_file/);
      });

      await t.step("a remote daemon's restart is a recorded gap that heals", async () => {
        const stopping = Date.now() / 1000;
        await remotes[1]!.stop();
        remotes[1] = undefined;
        const stopped = Date.now() / 1000;
        const down = await deviceWhen(
          url,
          "r2_thermo",
          "r2_thermo down",
          (d) => d.state === "down",
        );
        assert.match(down.error ?? "", /127\.0\.0\.1:\d+/);
        const starting = Date.now() / 1000;
        // it comes back with a shorter motor travel: the central daemon must not go on
        // validating writes against the limits it learnt before
        remotes[1] = await spawnServe(await remoteArgs(1, 50));
        const restarted = Date.now() / 1000;
        await deviceWhen(
          url,
          "r2_thermo",
          "r2_thermo up again",
          (d) => d.state === "up" && d.last_t! > restarted,
        );
        // the other remotes went on all along
        assert.equal((await devices(url)).get("r1_thermo")!.state, "up");
        await deviceWhen(
          url,
          "r2_motor",
          "r2_motor up again",
          (d) => d.state === "up" && d.last_t! > restarted,
        );
        const detail = await guardedFetch(`${url}/api/devices/r2_motor`);
        const position = (detail.body.attrs as { name: string; max?: number }[])
          .find((a) => a.name === "position");
        assert.equal(position?.max, 50, JSON.stringify(detail.body));
        const put = await putPosition(url, "r2_motor", 70);
        assert.equal(put.status, 422, JSON.stringify(put.body));
        assert.match(JSON.stringify(put.body), /above the upper limit 50 mm/);
        const db = new DatabaseSync(session, { readOnly: true });
        try {
          const eventsSince = () =>
            db.prepare(
              "SELECT kind, t, message FROM events WHERE device = 'r2_thermo' AND t >= ? ORDER BY t",
            ).all(stopping) as { kind: string; t: number; message: string }[];
          const sampleTimes = () =>
            (db.prepare(
              `SELECT s.t FROM samples s JOIN attrs a ON a.id = s.attr_id JOIN devices d ON
               d.id = a.device_id WHERE d.name = 'r2_thermo' AND a.name = 'temperature'
               ORDER BY s.t`,
            ).all() as { t: number }[]).map((r) => r.t);
          // the session's writer batches: the recovered event and the samples after it land
          // with its next flushes
          await until(
            () =>
              eventsSince().some((e) => e.kind === "recovered") &&
              sampleTimes().some((x) => x > restarted),
            10_000,
            "the recovered event and samples after the restart in the session",
          ).catch(() => {});
          const events = eventsSince();
          const error = events.find((e) => e.kind === "error");
          const recovered = events.find((e) => e.kind === "recovered");
          assert.ok(error, JSON.stringify(events));
          assert.ok(recovered && recovered.t > error.t, JSON.stringify(events));
          const times = sampleTimes();
          // samples before the stop and after the restart, and none in between: the gap
          assert.ok(times.some((x) => x < stopping), "samples before the stop");
          assert.ok(times.some((x) => x > restarted), "samples after the restart");
          const widest = Math.max(...times.slice(1).map((x, i) => x - times[i]!));
          // the remote was down from `stopped` to `starting` at least
          assert.ok(widest >= starting - stopped, `widest gap ${widest} s`);
        } finally {
          db.close();
        }
      });
    } finally {
      await central?.stop();
      for (const r of remotes) await r?.stop();
      caClient.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
