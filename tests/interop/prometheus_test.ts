/**
 * A real Prometheus (Debian's) scrapes `labwire serve`'s /metrics every second; its query API
 * then returns labwire series with the right labels and values.
 */
import assert from "node:assert/strict";
import { findProgram, peerTest } from "../peers.ts";
import { startTestDaemon, until } from "../e2e/serve_fixture.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

type PromResult = { metric: Record<string, string>; value: [number, string] }[];

peerTest(
  "Prometheus scrapes /metrics and answers queries on labwire series",
  () => (findProgram("prometheus") ? [] : ["prometheus"]),
  async () => {
    const d = await startTestDaemon({ session: false });
    const dir = await Deno.makeTempDir({ prefix: "labwire-prom-" });
    const port = freePort();
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: labwire
    static_configs:
      - targets: ["127.0.0.1:${d.addr.port}"]
`,
    );
    const prom = new Deno.Command(findProgram("prometheus")!, {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const query = async (q: string): Promise<PromResult> => {
      const res = await fetch(
        `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`,
      );
      const body = await res.json();
      assert.equal(body.status, "success", JSON.stringify(body));
      return body.data.result as PromResult;
    };
    try {
      let temps: PromResult = [];
      await until(
        async () => {
          try {
            temps = await query('labwire_value{device="thermo",attr="temperature"}');
          } catch {
            return false; // not listening yet
          }
          return temps.length === 1;
        },
        30_000,
        "Prometheus to scrape labwire",
      );
      const s = temps[0]!;
      assert.equal(s.metric.job, "labwire");
      assert.equal(s.metric.units, "°C");
      assert.ok(Math.abs(Number(s.value[1]) - 25) < 5, s.value[1]);
      const up = await query('up{job="labwire"}');
      assert.equal(up[0]!.value[1], "1");
      const down = await query('labwire_device_up{device="broken"}');
      assert.equal(down[0]!.value[1], "0");
      await until(
        async () => (await query("labwire_read_latency_seconds_count")).length === 4,
        10_000,
        "latency histogram series",
      );
      // rate() needs two scrapes; then the latency quantile is a finite number of seconds.
      let p99: PromResult = [];
      await until(
        async () => {
          p99 = await query(
            'histogram_quantile(0.99, rate(labwire_read_latency_seconds_bucket{device="thermo"}[1m]))',
          );
          return p99.length === 1 && Number.isFinite(Number(p99[0]!.value[1]));
        },
        10_000,
        "a latency quantile",
      );
      assert.ok(Number(p99[0]!.value[1]) >= 0);
    } finally {
      prom.kill("SIGTERM");
      const { code } = await prom.status;
      const err = await new Response(prom.stderr).text();
      await d.close();
      await Deno.remove(dir, { recursive: true });
      assert.ok(code === 0 || code === 143 || code === null || code === 1, err);
    }
  },
);
