import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig, parseDeviceTable } from "../config/load.ts";
import { Lab } from "../lab/lab.ts";
import type { ServerContext } from "./context.ts";
import { DeviceLines, escapeLabel, LatestValues, MetricsPage, renderMetrics } from "./metrics.ts";
import { LATENCY_BUCKETS_MS } from "../lab/manager.ts";
import { StreamHub } from "./sse.ts";
import type { Value } from "../device/attr.ts";

const FIGURES = { clientCount: 0, lagDisconnects: 0 };
const line = (page: string, prefix: string) => page.split("\n").find((l) => l.startsWith(prefix));

Deno.test("escapeLabel escapes backslash, quote and newline, and leaves plain text alone", () => {
  assert.equal(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeLabel("plain °C"), "plain °C");
});

Deno.test("cached device lines follow readings, writes, state and units", async () => {
  const lab = await Lab.open(parseConfig(
    `[devices.motor]\naddress = "sim://motor?seed=1"\n[devices.gauge]\naddress = "sim://gauge?seed=2"\n`,
    "<test>",
  ));
  const latest = new LatestValues();
  latest.attach(lab);
  let units: Record<string, string> = {};
  const unitsOf = (_d: string, attr: string) => units[attr];
  const cache = new DeviceLines(() => units);
  const ctx = { lab } as unknown as ServerContext;
  const page = () => renderMetrics(ctx, unitsOf, FIGURES, latest, cache);
  try {
    const gauge = lab.get("gauge");
    assert.equal(
      line(page(), 'labwire_reads_total{device="gauge"}'),
      'labwire_reads_total{device="gauge"} 0',
    );
    assert.equal(line(page(), "labwire_value{"), undefined, "no value before a reading");

    const r = await gauge.sample();
    const first = page();
    const value = `labwire_value{device="gauge",attr="pressure",units=""} ${r.values.pressure}`;
    assert.equal(line(first, 'labwire_value{device="gauge",attr="pressure"'), value);
    assert.equal(
      line(first, 'labwire_reads_total{device="gauge"}'),
      'labwire_reads_total{device="gauge"} 1',
    );
    // The up series has no label that changes with the state (issue 13): it stays one series.
    assert.equal(
      line(first, 'labwire_device_up{device="gauge"'),
      'labwire_device_up{device="gauge"} 1',
    );
    assert.equal(
      line(first, 'labwire_device_state{device="gauge",state="up"}'),
      'labwire_device_state{device="gauge",state="up"} 1',
    );
    assert.equal(
      line(first, 'labwire_device_state{device="gauge",state="down"}'),
      'labwire_device_state{device="gauge",state="down"} 0',
    );
    units = { pressure: "torr" };
    assert.match(page(), /labwire_value\{device="gauge",attr="pressure",units="torr"\}/);

    const motor = lab.get("motor");
    await motor.write("position", 2);
    const after = page();
    assert.equal(
      line(after, 'labwire_writes_total{device="motor"}'),
      'labwire_writes_total{device="motor"} 1',
    );
    assert.match(after, /labwire_value\{device="motor",attr="position",units=""\} 2\n/);

    const r2 = await gauge.sample();
    assert.equal(
      line(page(), 'labwire_value{device="gauge",attr="pressure"'),
      `labwire_value{device="gauge",attr="pressure",units="torr"} ${r2.values.pressure}`,
    );
    assert.equal(
      line(page(), 'labwire_read_latency_seconds_count{device="gauge"}'),
      'labwire_read_latency_seconds_count{device="gauge"} 2',
    );
  } finally {
    latest.detach();
    await lab.close();
  }
});

Deno.test("latest values follow a device added at run time, merged across a write's read-back, and forget it when removed", async () => {
  const lab = await Lab.open(
    parseConfig(`[devices.g]\naddress = "sim://gauge?seed=1"\n`, "<test>"),
  );
  const latest = new LatestValues();
  latest.attach(lab);
  try {
    const m = await lab.add(parseDeviceTable("m", { address: "sim://motor?seed=2" }));
    const full = await m.sample();
    assert.deepEqual([...latest.of("m")!.keys()].sort(), Object.keys(full.values).sort());
    // the read-back carries the written attribute only; the others stay on the scrape
    await m.write("position", 3);
    assert.equal(latest.of("m")!.get("position"), 3);
    assert.deepEqual([...latest.of("m")!.keys()].sort(), Object.keys(full.values).sort());
    const page = renderMetrics(
      { lab } as unknown as ServerContext,
      () => undefined,
      FIGURES,
      latest,
    );
    assert.match(page, /labwire_value\{device="m",attr="position",units=""\} 3\n/);
    assert.match(page, /labwire_value\{device="m",attr="readback",units=""\} /);
    // a full reading after it wins over what the read-back left
    const next = await m.sample();
    assert.deepEqual(Object.fromEntries(latest.of("m")!), next.values);

    await lab.remove("m");
    assert.equal(latest.of("m"), undefined);
  } finally {
    latest.detach();
    await lab.close();
  }
});

Deno.test("families are grouped: each HELP is followed by the lines of every device", async () => {
  const lab = await Lab.open(parseConfig(
    `[devices.a]\naddress = "sim://gauge?seed=1"\n[devices.b]\naddress = "sim://gauge?seed=2"\n`,
    "<test>",
  ));
  try {
    for (const m of lab.managers) await m.sample();
    const page = renderMetrics({ lab } as unknown as ServerContext, () => undefined, FIGURES);
    const names = page.split("\n").filter((l) => l && !l.startsWith("#")).map((l) =>
      l.replace(/\{.*$| .*$/, "").replace(/_(bucket|sum|count)$/, "")
    );
    const order = names.filter((n, i) => n !== names[i - 1]);
    assert.equal(new Set(order).size, order.length, `a family is split: ${order.join(", ")}`);
    assert.ok(order.indexOf("labwire_value") < order.indexOf("labwire_reads_total"));
  } finally {
    await lab.close();
  }
});

Deno.test("between readings the families are served as they were; a reading renews them", async () => {
  const lab = await Lab.open(
    parseConfig(`[devices.g]\naddress = "sim://gauge?seed=3"\n`, "<test>"),
  );
  try {
    const cache = new DeviceLines();
    const families = () => cache.families(lab.managers, () => undefined);
    await lab.get("g").sample();
    const first = families();
    assert.equal(families(), first);
    await new Promise((r) => setTimeout(r, 2));
    const r = await lab.get("g").sample();
    const next = families();
    assert.notEqual(next, first);
    assert.ok(next.includes(`labwire_value_timestamp_seconds{device="g"} ${r.t}\n`));
  } finally {
    await lab.close();
  }
});

Deno.test("latency buckets are cumulative: a read counts in its bucket and every one above", async () => {
  const lab = await Lab.open(
    parseConfig(
      `[devices.slow]\naddress = "sim://gauge?seed=4&latency=30ms"\n` +
        `[devices.instant]\naddress = "sim://gauge?seed=4"\n`,
      "<test>",
    ),
  );
  try {
    const slow = lab.get("slow");
    await slow.sample();
    await slow.sample();
    await lab.get("instant").sample();
    const page = renderMetrics({ lab } as unknown as ServerContext, () => undefined, FIGURES);
    const figure = (name: string, device = "slow", le?: string) =>
      Number(
        line(
          page,
          `labwire_read_latency_seconds_${name}{device="${device}"${
            le === undefined ? "" : `,le="${le}"`
          }}`,
        )?.split(" ")[1],
      );
    const bucket = (le: string) => figure("bucket", "slow", le);
    // 30 ms reads: none within 25 ms, both within 50 ms and every bound above it
    assert.equal(bucket("0.025"), 0);
    assert.equal(bucket("0.05"), 2);
    assert.equal(bucket("5"), 2);
    assert.equal(bucket("+Inf"), 2);
    assert.ok(figure("sum") > 0);
    // A simulator with no fault answers in the turn it is asked: no time, in the first bucket.
    assert.equal(figure("bucket", "instant", "0.001"), 1);
    assert.equal(figure("sum", "instant"), 0);
    assert.equal(figure("count", "instant"), 1);
  } finally {
    await lab.close();
  }
});

Deno.test("latest values fed by the hub are those of a listener of their own, whatever the names, their order and kinds", async () => {
  const lab = await Lab.open(
    parseConfig(`[devices.g]\naddress = "sim://gauge?seed=1"\n`, "<test>"),
  );
  const hub = new StreamHub({ ringSize: 16 });
  hub.attach(lab);
  const fed = new LatestValues();
  fed.attach(lab, hub);
  const own = new LatestValues();
  own.attach(lab, hub); // the hub feeds one keeper only: this one listens itself
  const alone = new LatestValues();
  alone.attach(lab);
  assert.equal(hub.feed(lab, new LatestValues()), undefined, "the hub feeds one keeper");
  const unattached = new StreamHub();
  assert.equal(unattached.feed(lab, new LatestValues()), undefined, "a hub of no lab feeds none");
  try {
    const m = await lab.add(parseDeviceTable("m", { address: "sim://motor?seed=2" }));
    const g = lab.get("g");
    // a deterministic walk over names (subsets, orders, one more), kinds and failures
    let seed = 7;
    const next = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const names = ["a", "b", "c", "d", "e", "f"];
    for (let i = 0; i < 400; i++) {
      const manager = next(3) === 0 ? m : g;
      const values: Record<string, Value> = {};
      const count = 1 + next(names.length);
      const start = next(3);
      for (let k = 0; k < count; k++) {
        const name = names[(start + k * (1 + next(2))) % names.length]!;
        values[name] = next(4) === 0 ? `text ${i}` : next(5) === 0 ? null : i + k;
      }
      const failed = next(10) === 0;
      manager.publish({
        t: i,
        device: manager.name,
        values: failed ? {} : values,
        ...(failed ? { error: "timeout" } : {}),
      });
      for (const device of ["g", "m"]) {
        const want = alone.of(device);
        assert.deepEqual(fed.of(device), want, `reading ${i}, ${device}`);
        assert.deepEqual(own.of(device), want, `reading ${i}, ${device}`);
      }
    }
    // and the page a scrape gets, byte for byte
    const page = (latest: LatestValues) =>
      renderMetrics({ lab } as unknown as ServerContext, () => undefined, FIGURES, latest);
    assert.equal(page(fed), page(alone));
    assert.match(page(fed), /labwire_value\{device="g",attr="[a-f]",units=""\} \d/);
  } finally {
    fed.detach();
    own.detach();
    alone.detach();
    hub.close();
    await lab.close();
  }
});

/** The page without the process' memory lines (read again once a second, whatever moved). */
const steady = (page: string) =>
  page.split("\n").filter((l) =>
    !/^(process_resident_memory_bytes|labwire_heap_used_bytes) /.test(l)
  );

/** The lines of `after` that differ from `before`'s (both of the same series, in order). */
function changed(before: string, after: string): string[] {
  const a = steady(before);
  const b = steady(after);
  assert.equal(b.length, a.length, "the same series");
  return b.filter((l, i) => l !== a[i]).map((l) => l.replace(/ [^ ]*$/, ""));
}

Deno.test("the page answered while nothing moved changes exactly where something did, as a fresh render", async () => {
  const lab = await Lab.open(parseConfig(
    `[devices.g]\naddress = "sim://gauge?seed=2"\n` +
      `[devices.f]\naddress = "sim://gauge?seed=5&error_rate=0.5"\n` +
      `[devices.m]\naddress = "sim://motor?seed=1"\n`,
    "<test>",
  ));
  const latest = new LatestValues();
  latest.attach(lab);
  const sampler = { stats: { missed: 0, expected: 0, started: 0 } };
  let rows = 0;
  let active: unknown[] = [];
  const session = {
    path: "x.sqlite",
    rowsWritten: () => rows,
    problem: () => null,
  } as unknown as ServerContext["session"];
  const extraMetrics: (() => string)[] = [];
  const ctx = {
    lab,
    sampler,
    session,
    alarms: { active: () => active },
    extraMetrics,
  } as unknown as ServerContext;
  const hub = { clientCount: 0, lagDisconnects: 0 };
  const page = new MetricsPage(ctx, hub, latest);
  const unitsOf = (device: string, attr: string) =>
    lab.find(device)?.cachedAttrs()?.find((a) => a.name === attr)?.units;
  const fresh = () =>
    renderMetrics(
      ctx,
      unitsOf,
      hub,
      latest,
    );
  // Each step: the page changed in exactly `want` (lines up to their value) and is the page a
  // render from nothing gives.
  let last = page.text();
  const step = (want: string[], latencyOf?: string) => {
    const now = page.text();
    assert.deepEqual(steady(now), steady(fresh()));
    // a read that took time moves the latency sum and the buckets from its own up
    const timed = (l: string) =>
      l.startsWith(`labwire_read_latency_seconds_bucket{device="${latencyOf}",`) ||
      l === `labwire_read_latency_seconds_sum{device="${latencyOf}"}`;
    assert.deepEqual(changed(last, now).filter((l) => !timed(l)), want);
    last = now;
  };
  const g = lab.get("g");
  const f = lab.get("f");
  const m = lab.get("m");
  try {
    step([]);
    // a reading: its values, its time, its counts (an instant read: in every bucket, sum 0)
    const before = (await g.sample()).values.pressure;
    last = page.text();
    // the sim's value moves with time (readings until it did: the same lines change); a read is
    // timed to the millisecond, so one in the same millisecond as the first keeps its time line
    let next = before;
    for (let i = 0; i < 100 && next === before; i++) {
      await new Promise((r) => setTimeout(r, 5));
      next = (await g.sample()).values.pressure;
    }
    const latency = (device: string) => [
      ...[...LATENCY_BUCKETS_MS.map((le) => String(le / 1000)), "+Inf"].map((le) =>
        `labwire_read_latency_seconds_bucket{device="${device}",le="${le}"}`
      ),
      `labwire_read_latency_seconds_count{device="${device}"}`,
    ];
    step([
      'labwire_value{device="g",attr="pressure",units=""}',
      'labwire_value_timestamp_seconds{device="g"}',
      'labwire_reads_total{device="g"}',
      ...latency("g"),
    ]);
    // a failure: the state, the error and read counts (the values stay)
    let r = await f.sample();
    while (r.error !== undefined) r = await f.sample();
    last = page.text();
    while (r.error === undefined) {
      last = page.text();
      r = await f.sample();
    }
    step([
      'labwire_device_up{device="f"}',
      'labwire_device_state{device="f",state="up"}',
      'labwire_device_state{device="f",state="down"}',
      'labwire_reads_total{device="f"}',
      'labwire_read_errors_total{device="f"}',
      'labwire_read_latency_seconds_count{device="f"}',
    ], "f");
    // attrs fetched: the units of the gauge's values
    const epoch = g.device as { attrsEpoch?: number };
    epoch.attrsEpoch = 1;
    await g.attrs();
    step(['labwire_value{device="g",attr="pressure",units="torr"}']);
    // attrs stale on their own (a labwire:// device's daemon came back), with nothing read
    epoch.attrsEpoch = 2;
    step(['labwire_value{device="g",attr="pressure",units=""}']);
    // a write (its read-back is a reading of one attribute)
    await m.sample();
    await m.attrs();
    last = page.text();
    await m.write("velocity", 7);
    const written = page.text();
    assert.match(written, /\nlabwire_writes_total\{device="m"\} 1\n/);
    assert.match(written, /\nlabwire_value\{device="m",attr="velocity",units="mm\/s"\} 7\n/);
    assert.deepEqual(steady(written), steady(fresh()));
    last = written;
    // server figures, one at a time
    sampler.stats.expected++;
    step(["labwire_samples_due_total"]);
    sampler.stats.missed++;
    step(["labwire_missed_deadlines_total"]);
    rows += 3;
    step(["labwire_session_rows_written_total"]);
    active = [{}];
    step(["labwire_alarms_active"]);
    hub.clientCount++;
    step(["labwire_sse_clients"]);
    hub.lagDisconnects++;
    step(["labwire_sse_lag_disconnects_total"]);
    // a device added, then removed
    await lab.add(parseDeviceTable("h", { address: "sim://gauge?seed=9" }));
    const added = page.text();
    assert.match(added, /labwire_reads_total\{device="h"\} 0\n/);
    assert.deepEqual(steady(added), steady(fresh()));
    await lab.remove("h");
    const removed = page.text();
    assert.doesNotMatch(removed, /device="h"/);
    assert.deepEqual(steady(removed), steady(last));
    // add-ons' lines, read on every scrape
    let sent = 0;
    extraMetrics.push(() => `# TYPE x_sent counter\nx_sent ${sent}\n`, () => "y 1");
    assert.ok(page.text().endsWith("x_sent 0\ny 1\n"));
    sent++;
    assert.ok(page.text().endsWith("x_sent 1\ny 1\n"));
    assert.deepEqual(steady(page.text()), steady(fresh()));
  } finally {
    page.close();
    latest.detach();
    await lab.close();
  }
});

Deno.test("two scrapes with nothing moved get the same page; the one after a reading does not", async () => {
  const lab = await Lab.open(
    parseConfig(`[devices.g]\naddress = "sim://gauge?seed=3"\n`, "<test>"),
  );
  const latest = new LatestValues();
  latest.attach(lab);
  const page = new MetricsPage({ lab } as unknown as ServerContext, {
    clientCount: 0,
    lagDisconnects: 0,
  }, latest);
  try {
    await lab.get("g").sample();
    const first = page.text();
    assert.deepEqual(steady(page.text()), steady(first));
    await new Promise((r) => setTimeout(r, 2));
    const r = await lab.get("g").sample();
    const next = page.text();
    assert.ok(next.includes(`labwire_value_timestamp_seconds{device="g"} ${r.t}\n`));
    assert.notDeepEqual(steady(next), steady(first));
  } finally {
    page.close();
    latest.detach();
    await lab.close();
  }
});
