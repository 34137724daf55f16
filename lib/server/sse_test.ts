import assert from "node:assert/strict";
import type { Reading } from "../device/device.ts";
import type { SessionSource } from "./context.ts";
import { eventId, parseEventId, StreamHub } from "./sse.ts";

const reading = (tms: number, device = "g", v = tms): Reading => ({
  t: tms / 1000,
  device,
  values: { x: v },
});

/** The ids of the first `events` events of a stream (fewer if they do not come within 2 s). */
async function take(stream: ReadableStream<Uint8Array>, events: number): Promise<string[]> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const ids = () => [...text.matchAll(/^id: (.+)$/gm)].map((m) => m[1]!);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), 2000));
  while (ids().length < events) {
    const next = await Promise.race([reader.read(), late]);
    if (next === undefined || next.done) break;
    text += next.value;
  }
  clearTimeout(timer);
  await reader.cancel();
  return ids().slice(0, events);
}

Deno.test("event ids carry time and device and parse back", () => {
  assert.equal(eventId(reading(1234, "motor")), "1234:motor");
  assert.deepEqual(parseEventId("1234:motor"), { tms: 1234, device: "motor" });
  assert.equal(parseEventId("garbage"), undefined);
});

Deno.test("resume replays from the ring what came after the last id, filtered by device", async () => {
  const hub = new StreamHub({ flushMs: 5 });
  for (let i = 1; i <= 6; i++) hub.publishReading(reading(i * 100, i % 2 ? "a" : "b"));
  const stream = hub.connect(new Set(["a"]), "300:a");
  const got = take(stream, 2);
  await new Promise((r) => setTimeout(r, 10));
  hub.publishReading(reading(700, "b"));
  hub.publishReading(reading(800, "a"));
  // 100 and 300 were seen, 200/400/600/700 are b's: the replay is 500, then live 800.
  assert.deepEqual(await got, ["500:a", "800:a"]);
  hub.close();
});

Deno.test("resume after readings that arrived out of time order replays what arrived later", async () => {
  // A central daemon's labwire:// devices push readings as they arrive from several daemons:
  // 250:c arrives after 300:b. A client whose last event was 300:b must still get 250:c.
  const hub = new StreamHub({ flushMs: 5 });
  hub.publishReading(reading(100, "a"));
  hub.publishReading(reading(300, "b"));
  hub.publishReading(reading(250, "c"));
  hub.publishReading(reading(400, "a"));
  assert.deepEqual(await take(hub.connect(undefined, "300:b"), 2), ["250:c", "400:a"]);
  // An id the ring no longer holds (or never held) resumes by time.
  assert.deepEqual(await take(hub.connect(undefined, "350:z"), 1), ["400:a"]);
  hub.close();
});

Deno.test("a replayed reading is the same event a live client got: values, error, time to the ms", async () => {
  const hub = new StreamHub({ flushMs: 5 });
  const live = hub.connect(undefined).pipeThrough(new TextDecoderStream()).getReader();
  const first: Reading = { t: 1.2345, device: "g", values: { x: 0.5, units: "torr" } };
  const failed: Reading = { t: 1.5, device: "g", values: {}, error: "timed out" };
  hub.publishReading(first);
  hub.publishReading(failed);
  let seen = "";
  while (!seen.includes("1500:g")) seen += (await live.read()).value;
  await live.cancel();
  const replay = hub.connect(undefined, "1000:g").pipeThrough(new TextDecoderStream()).getReader();
  let again = "";
  while (!again.includes("timed out")) again += (await replay.read()).value;
  await replay.cancel();
  const events = (text: string) => text.split("\n\n").filter((e) => e.startsWith("id: "));
  assert.deepEqual(events(again), events(seen));
  assert.deepEqual(events(seen), [
    'id: 1235:g\nevent: reading\ndata: {"t":1.235,"device":"g","x":0.5,"units":"torr"}',
    'id: 1500:g\nevent: reading\ndata: {"t":1.5,"device":"g","error":"timed out"}',
  ]);
  hub.close();
});

Deno.test("resume asks the session for what the ring no longer holds", async () => {
  const asked: number[] = [];
  const session: SessionSource = {
    samples: () => ({ t: [], min: [], max: [], rows: 0, bucket: null }),
    readingsSince: (tms) => {
      asked.push(tms);
      return [reading(200), reading(300), reading(400), reading(500)];
    },
    rowsWritten: () => 0,
    problem: () => null,
  };
  const hub = new StreamHub({ flushMs: 5, ringSize: 2, session });
  for (let i = 1; i <= 6; i++) hub.publishReading(reading(i * 100));
  // The ring holds 500 and 600; 300 and 400 come from the session, then the ring.
  const ids = await take(hub.connect(undefined, "200:g"), 4);
  assert.deepEqual(asked, [200]);
  assert.deepEqual(ids, ["300:g", "400:g", "500:g", "600:g"]);
  hub.close();
});

Deno.test("live readings reach clients in batches; a client that stops reading is dropped", async () => {
  const hub = new StreamHub({ flushMs: 5, maxLagMs: 20 });
  const live = hub.connect(undefined);
  const stalled = hub.connect(undefined);
  const stalledReader = stalled.getReader();
  await stalledReader.read(); // the preamble, then never again
  const got = take(live, 3);
  await new Promise((r) => setTimeout(r, 10));
  for (let i = 1; i <= 3; i++) hub.publishReading(reading(i));
  assert.deepEqual(await got, ["1:g", "2:g", "3:g"]);
  // Keep publishing until the stalled client has fallen far enough behind to be dropped.
  for (let i = 4; hub.lagDisconnects === 0 && i < 500; i++) {
    hub.publishReading(reading(i));
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.equal(hub.lagDisconnects, 1);
  assert.equal(hub.clientCount, 0);
  await stalledReader.cancel();
  hub.close();
});

Deno.test("close ends every stream", async () => {
  const hub = new StreamHub({ flushMs: 5 });
  const reader = hub.connect(undefined).getReader();
  await reader.read();
  hub.close();
  assert.equal((await reader.read()).done, true);
  assert.equal(hub.clientCount, 0);
});
