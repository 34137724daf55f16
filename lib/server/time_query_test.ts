import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import { Lab } from "../lab/lab.ts";
import { createApp } from "./app.ts";
import { StreamHub } from "./sse.ts";
import { isoEvents, isoTimes, withTimeQuery } from "./time_query.ts";

const ISO_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Runs `chunks` through `isoEvents(true)` and returns the text that comes out. */
async function rewrite(chunks: string[]): Promise<string> {
  const enc = new TextEncoder();
  const source = ReadableStream.from(chunks.map((c) => enc.encode(c)));
  return await new Response(source.pipeThrough(isoEvents(true))).text();
}

Deno.test("isoTimes: times under their keys become ISO 8601; other numbers stay", () => {
  assert.deepEqual(isoTimes({ t: 0, device: "g", p: 1, points: [{ t: 1 }] }, true), {
    t: "1970-01-01T00:00:00.000Z",
    device: "g",
    p: 1,
    points: [{ t: "1970-01-01T00:00:01.000Z" }],
  });
});

Deno.test("isoEvents: data lines rewritten, ids, names and heartbeats kept, split lines joined", async () => {
  const out = await rewrite([
    ': heartbeat\n\nid: 1000:g\nevent: reading\ndata: {"t":1,"dev',
    'ice":"g","p":2}\n\nevent: alarm\ndata: {"since":2,"t":3}\n\ndata: not json\n\n',
  ]);
  assert.equal(
    out,
    ": heartbeat\n\nid: 1000:g\nevent: reading\n" +
      'data: {"t":"1970-01-01T00:00:01.000Z","device":"g","p":2}\n\n' +
      'event: alarm\ndata: {"since":"1970-01-01T00:00:02.000Z","t":"1970-01-01T00:00:03.000Z"}\n\n' +
      "data: not json\n\n",
  );
});

Deno.test("GET /api/stream?time=iso: reading events carry ISO times; ids stay epoch ms for resume", async () => {
  const lab = await Lab.open(parseConfig(`[devices.thermo]\naddress = "sim://thermo"\n`, "<t>"));
  const hub = new StreamHub({ flushMs: 5 });
  hub.attach(lab);
  try {
    const app = createApp({ lab, hub });
    const res = await app.request("/api/stream?devices=thermo&time=iso&utc=1");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    await lab.get("thermo").sample();
    let text = "";
    while (!/\ndata: .*\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const id = /^id: (\d+):thermo$/m.exec(text);
    assert.ok(id, text);
    const data = JSON.parse(/^data: (.*)$/m.exec(text)![1]!);
    assert.match(data.t, ISO_Z);
    assert.equal(data.device, "thermo");
    assert.equal(typeof data.temperature, "number");
    assert.equal(Date.parse(data.t), Number(id[1]), "the id is the same instant in epoch ms");
    // Closing the rewritten stream closes the hub's client too.
    await reader.cancel();
    for (let i = 0; i < 50 && hub.clientCount > 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(hub.clientCount, 0);
    // Without time= the stream is the hub's own: epoch seconds.
    const plain = (await app.request("/api/stream?devices=thermo")).body!.getReader();
    await lab.get("thermo").sample();
    let raw = "";
    while (!/\ndata: .*\n/.test(raw)) raw += new TextDecoder().decode((await plain.read()).value);
    assert.equal(typeof JSON.parse(/^data: (.*)$/m.exec(raw)![1]!).t, "number");
    await plain.cancel();
  } finally {
    hub.close();
    await lab.close();
  }
});

Deno.test("withTimeQuery: a request with time= reaches the app with its method, headers and body, without the original's signal", async () => {
  const seen: { method: string; type: string | null; body: string; url: string }[] = [];
  const controller = new AbortController();
  let inner: AbortSignal | undefined;
  const app = withTimeQuery(async (req: Request) => {
    inner = req.signal;
    seen.push({
      method: req.method,
      type: req.headers.get("content-type"),
      body: await req.text(),
      url: req.url,
    });
    return Response.json({ t: 0 });
  });
  const res = await app(
    new Request("http://x/api/scans?time=iso&utc=1", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"num":3}',
      signal: controller.signal,
    }),
  );
  assert.deepEqual(await res.json(), { t: "1970-01-01T00:00:00.000Z" });
  assert.deepEqual(seen, [{
    method: "POST",
    type: "application/json",
    body: '{"num":3}',
    url: "http://x/api/scans",
  }]);
  // Deno.serve aborts request signals after every answer (legacy abort) and warns when a copy
  // follows one: the app's copy has its own signal.
  controller.abort();
  assert.equal(inner?.aborted, false);
});
