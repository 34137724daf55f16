import assert from "node:assert/strict";
import type { Attr } from "../device/attr.ts";
import { abbreviate, LiveTable, loadTableRenderer } from "./table.ts";
import { displayWidth, paint } from "./terminal.ts";

await loadTableRenderer();

const n = (name: string, units?: string, extra: Partial<Attr> = {}): Attr => ({
  name,
  type: "number",
  rw: false,
  status: true,
  units,
  ...extra,
});

const GAUGE: Attr[] = [
  n("pressure", "torr"),
  { name: "pressure_units", type: "string", rw: false, status: true },
  n("full_scale_pressure", "torr"),
  { name: "led_color", type: "string", rw: false, status: true },
  n("run_hours", "h"),
  n("wait_hours", "h"),
  n("drift"),
  { name: "system_status", type: "string", rw: false, status: true },
  n("setpoint_hidden", "torr", { status: false }),
];
const T = Date.UTC(2026, 0, 15, 4, 34, 12, 345) / 1000;

function gaugeTable(
  writes: string[] = [],
  extra: Partial<ConstructorParameters<typeof LiveTable>[0]> = {},
) {
  const table = new LiveTable({
    write: (s) => writes.push(s),
    paint: paint(false),
    attrs: new Map([["gauge", GAUGE], ["thermo", [n("temperature", "°C"), n("setpoint", "°C")]]]),
    utc: true,
    minRedrawMs: 0,
    ...extra,
  });
  table.update({
    t: T,
    device: "gauge",
    values: {
      pressure: 0.077841,
      pressure_units: "torr",
      full_scale_pressure: 10,
      led_color: "yellow, blinking",
      run_hours: 70546.378,
      wait_hours: 0.033,
      drift: 0.00107,
      system_status: "ok",
    },
  });
  table.update({ t: T, device: "thermo", values: { temperature: 25.014, setpoint: 25 } });
  return table;
}

const widest = (text: string) => Math.max(...text.split("\n").map(displayWidth));

Deno.test("a wide terminal gets the bordered table, units in the headers, local time zone", () => {
  const text = gaugeTable().render({ columns: 200, rows: 50 });
  assert.ok(widest(text) <= 200);
  assert.match(text, /│ device │ time \(UTC\)\s+│ pressure \(torr\) │ pressure_units │/);
  assert.match(text, /│ gauge {2}│ 04:34:12\.345 │ 0\.077841 /);
  assert.ok(!text.includes("setpoint_hidden"));
});

Deno.test("an 80-column terminal gets the compact layout: nothing wider, dropped columns named", () => {
  const text = gaugeTable().render({ columns: 80, rows: 24 });
  const lines = text.trimEnd().split("\n");
  for (const l of lines) assert.ok(displayWidth(l) <= 80, l);
  assert.ok(!text.includes("┌"));
  // Abbreviated headers, units on their own line, numbers right-aligned under them.
  const head = lines.findIndex((l) => l.startsWith("device") && l.includes("pressure"));
  assert.match(lines[head]!, /^device {2}time {6}pressure {2}pres_unit {2}full_scal…/);
  assert.match(lines[head + 1]!, /^ {8}UTC {11}torr/);
  assert.match(lines[head + 2]!, /^gauge {3}04:34:12 {2}0\.077841 {2}torr {15}10 /);
  assert.equal(
    lines.find((l) => l.startsWith("+")),
    "+4 columns (--attrs NAME,… picks them, or widen the terminal): run_hours, wait_…",
  );
});

Deno.test("--attrs picks the columns (non-status ones too), in the given order", () => {
  const table = gaugeTable([], { only: ["setpoint_hidden", "pressure"] });
  const text = table.render({ columns: 80, rows: 24 });
  assert.match(
    text,
    /│ device │ time \(UTC\)\s+│ setpoint_hidden \(torr\) │ pressure \(torr\) │ ok\/err │/,
  );
  assert.ok(!text.includes("led_color"));
});

Deno.test("no more lines than the terminal has rows (minus the cursor's)", () => {
  const attrs = new Map<string, Attr[]>();
  const table = new LiveTable({ write: () => {}, paint: paint(false), attrs, utc: true });
  for (let i = 0; i < 100; i++) {
    attrs.set(`g${i}`, [n("pressure", "torr")]);
    table.update({ t: T, device: `g${i}`, values: { pressure: i } });
  }
  const lines = table.render({ columns: 80, rows: 24 }).trimEnd().split("\n");
  assert.equal(lines.length, 23);
  assert.match(lines.at(-1)!, /^… and \d+ more devices$/);
});

Deno.test("the status area shows active alarms and the last events, colour-free under NO_COLOR", () => {
  const table = new LiveTable({
    write: () => {},
    paint: paint(false),
    attrs: new Map([["thermo", [n("temperature", "°C", { precision: 2 })]]]),
    utc: true,
    alarms: () => [{
      name: "warm",
      device: "thermo",
      attr: "temperature",
      severity: "major",
      since: T,
      value: 31.256,
    }],
  });
  table.update({ t: T, device: "thermo", values: { temperature: 31.256 } });
  table.alarm({
    t: T,
    name: "warm",
    device: "thermo",
    attr: "temperature",
    severity: "major",
    state: "active",
    message: "thermo.temperature = 31.256, > 30",
  });
  table.note("session writes failed: disk full", T + 1);
  const text = table.render({ columns: 100, rows: 30 });
  assert.ok(!text.includes("\x1b"));
  const tail = text.trimEnd().split("\n").slice(-4);
  assert.deepEqual(tail, [
    "alarms: 1 active",
    "  MAJOR   thermo.temperature = 31.26 °C  since 04:34:12  warm",
    "04:34:12 MAJOR warm: thermo.temperature = 31.256, > 30",
    "04:34:13 session writes failed: disk full",
  ]);
});

Deno.test("without a cursor every redraw is appended: no escape sequence", () => {
  const writes: string[] = [];
  const table = gaugeTable(writes, { cursor: false, size: () => ({ columns: 80, rows: 24 }) });
  table.update({ t: T + 1, device: "thermo", values: { temperature: 25.1, setpoint: 25 } });
  table.finish();
  assert.ok(writes.length >= 2);
  assert.ok(!writes.join("").includes("\x1b"));
});

Deno.test("with a cursor a redraw goes up exactly the lines it drew", () => {
  const writes: string[] = [];
  const table = gaugeTable(writes, { size: () => ({ columns: 80, rows: 24 }) });
  table.finish();
  assert.ok(writes.length >= 2);
  // deno-lint-ignore no-control-regex
  const before = writes.at(-2)!.replace(/^\x1b\[\d+A\x1b\[J/, "");
  const drawn = before.split("\n").length - 1;
  assert.ok(writes.at(-1)!.startsWith(`\x1b[${drawn}A\x1b[J`), JSON.stringify(writes.at(-1)));
});

Deno.test("abbreviate shortens words, then cuts", () => {
  assert.equal(abbreviate("pressure"), "pressure");
  assert.equal(abbreviate("pressure_units"), "pres_unit");
  assert.equal(abbreviate("temperature"), "temp");
  assert.equal(abbreviate("system_status"), "syst_stat");
  assert.equal(abbreviate("full_scale_pressure"), "full_scal…");
});

Deno.test("a long error in the bordered table is cut on a whole character, within 60 cells", () => {
  // an emoji (two UTF-16 units) right where a cut by units would fall
  const error = "x".repeat(58) + "🧪".repeat(5);
  const table = gaugeTable();
  table.update({ t: T, device: "thermo", values: {}, error });
  const text = table.render({ columns: 200, rows: 50 });
  const row = text.split("\n").find((l) => l.includes("│ thermo"))!;
  assert.ok(row.includes("x".repeat(58) + "…"), row);
  assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text));
});
