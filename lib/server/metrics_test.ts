import assert from "node:assert/strict";
import "../drivers/mod.ts";
import { parseConfig, parseDeviceTable } from "../config/load.ts";
import { Lab } from "../lab/lab.ts";
import type { ServerContext } from "./context.ts";
import { DeviceLines, escapeLabel, LatestValues, renderMetrics } from "./metrics.ts";
import { StreamHub } from "./sse.ts";
import type { Value } from "../device/attr.ts";

const FIGURES = { sseClients: 0, sseLagDisconnects: 0 };
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
