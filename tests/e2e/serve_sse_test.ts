/**
 * Server-Sent Events of `labwire serve`: readings arrive, and a client that reconnects with
 * Last-Event-ID gets what it missed — from memory, and from the session after a daemon restart.
 */
import assert from "node:assert/strict";
import { readEvents, startTestDaemon } from "./serve_fixture.ts";
import { benchToml, SIM } from "../fixtures/sim_bench.ts";

const BENCH = benchToml({ thermo: SIM.thermo, dmm: SIM.dmm }, "100ms");

type Ev = { id?: string; event?: string; data: string };

function times(events: Ev[]): number[] {
  return events.filter((e) => e.event === "reading").map((e) => JSON.parse(e.data).t as number);
}

Deno.test("SSE delivers readings and resumes after Last-Event-ID without a gap", async () => {
  const d = await startTestDaemon({ bench: BENCH, session: false });
  try {
    const first = await readEvents((await fetch(`${d.url}/api/stream?devices=thermo`)).body!, 3);
    const t1 = times(first);
    assert.equal(t1.length, 3);
    const lastId = first.at(-1)!.id!;
    // Away for a while: about 8 readings happen meanwhile.
    await new Promise((r) => setTimeout(r, 800));
    const res = await fetch(`${d.url}/api/stream?devices=thermo`, {
      headers: { "last-event-id": lastId },
    });
    const resumed = await readEvents(res.body!, 6);
    const t2 = times(resumed);
    assert.ok(t2[0]! > t1.at(-1)!, "nothing already seen is sent again");
    // The first resumed reading is the one right after the last seen: 100 ms later, not 800.
    assert.ok(t2[0]! - t1.at(-1)! < 0.25, `gap of ${t2[0]! - t1.at(-1)!} s`);
    for (let i = 1; i < t2.length; i++) assert.ok(t2[i]! > t2[i - 1]!);
    for (const e of resumed) assert.equal(JSON.parse(e.data).device, "thermo");
  } finally {
    await d.close();
  }
});

Deno.test("SSE resumes from the session after the daemon restarts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "labwire-sse-" });
  try {
    const a = await startTestDaemon({ bench: BENCH, dir });
    let lastId: string;
    let lastT: number;
    try {
      const first = await readEvents((await fetch(`${a.url}/api/stream?devices=dmm`)).body!, 2);
      lastId = first.at(-1)!.id!;
      lastT = times(first).at(-1)!;
      // Readings recorded after the client left, then the daemon stops (flushing the session).
      await new Promise((r) => setTimeout(r, 600));
    } finally {
      await a.stop("restart");
    }
    const restartedAt = Date.now() / 1000;
    const b = await startTestDaemon({ bench: BENCH, dir });
    try {
      const res = await fetch(`${b.url}/api/stream?devices=dmm`, {
        headers: { "last-event-id": lastId },
      });
      const replayed = await readEvents(res.body!, 4);
      const t = times(replayed);
      assert.ok(t[0]! > lastT, "starts after the last event seen");
      assert.ok(t[0]! - lastT < 0.25, `the first reading after ${lastT} came from the session`);
      assert.ok(t[0]! < restartedAt, "recorded by the first daemon");
      const r0 = JSON.parse(replayed[0]!.data);
      assert.equal(r0.device, "dmm");
      assert.equal(typeof r0.voltage, "number");
      assert.equal(replayed[0]!.id, `${Math.round(t[0]! * 1000)}:dmm`);
    } finally {
      await b.stop("test over");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
