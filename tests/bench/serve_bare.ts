/**
 * The bare counterpart of a labwire route in `bench serve`: a plain `Deno.serve` in its own
 * process (as the daemon is), printing its port on stdout. With no arguments it answers the body
 * it reads from stdin with the given content type; with `--read CONFIG DEVICE` it answers a fresh
 * reading of that device per request, opened through the same driver and serialised as labwire
 * serialises it (the same bytes: the body once nested the values and kept the time unrounded,
 * 88 bytes against labwire's 75), but with nothing else around it (no router, queue, recording,
 * alarms, SSE or metrics). That is what
 * `GET /api/devices/{name}/read` is measured against: a constant body would compare a device
 * call with no call at all.
 *
 *     deno run -A tests/bench/serve_bare.ts CONTENT_TYPE < body
 *     deno run -A tests/bench/serve_bare.ts --read bench.toml g42
 *
 * @module
 */
import "../../lib/drivers/mod.ts";
import { parseConfig } from "../../lib/config/load.ts";
import { nowSeconds } from "../../lib/device/device.ts";
import { openDevice } from "../../lib/lab/open.ts";
import { readingJson } from "../../lib/output/record.ts";

const onListen = (a: Deno.NetAddr) => console.log(a.port);
if (Deno.args[0] === "--read") {
  const [, file, name] = Deno.args;
  const cfg = parseConfig(await Deno.readTextFile(file!), file).devices.find((d) =>
    d.name === name
  );
  if (!cfg) throw new Error(`no device ${name} in ${file}`);
  const device = await openDevice(cfg);
  const headers = { "content-type": "application/json" };
  Deno.serve({ hostname: "127.0.0.1", port: 0, onListen }, async (req) => {
    if (!req.url) throw new Error("no URL");
    const t = nowSeconds();
    const values = await device.read();
    // The body labwire answers (same serialiser, so the same bytes for the same reading).
    return new Response(readingJson({ t, device: cfg.name, values }), { headers });
  });
} else {
  const body = await new Response(Deno.stdin.readable).text();
  const headers = { "content-type": Deno.args[0] ?? "text/plain" };
  // Like any router, it looks at the URL.
  Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen },
    (req) => new Response(req.url ? body : "", { headers }),
  );
}
