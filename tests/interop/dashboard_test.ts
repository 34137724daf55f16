/**
 * The dashboard as a scientist reads it, in headless Chromium (playwright-core) at 1400×900 and
 * on a phone (375×800), over the demo bench (the eBaratron gauge simulator and sim devices) with
 * one alarm always active. Assertions are on the DOM and on what each chart was built with:
 *
 * - per device, big current values of the status attributes with their units;
 * - one chart per attribute unless units and ranges are alike: the gauge's pressure (~0.08 torr)
 *   never shares an axis with its full scale (10 torr), nor wait_hours with run_hours;
 * - pressure on a log scale by default; every chart has axis titles with units and the time
 *   axis says its zone; legend toggles survive a reload;
 * - the scan chart has one axis per detector in its series' colour (or normalised, a visible
 *   choice), and shows the points taken before the page was opened;
 * - alarms show time, severity, device, message and an Acknowledge button that works (and is a
 *   session event); task forms are built from each technique's parameters; a favicon;
 * - on the phone nothing scrolls sideways.
 *
 * With LABWIRE_SCREENSHOT_DIR set, the screenshots the README shows are written there.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { BrowserContext, Page } from "playwright-core";
import { CHROMIUM, launchChromium } from "./chromium.ts";
import { findProgram, peerTest } from "../peers.ts";
import { startTestDaemon, until } from "../e2e/serve_fixture.ts";
import { demoConfigText } from "../../lib/drivers/demo.ts";
import { startBaratronSimulators } from "../../lib/drivers/baratron/simulator.ts";
import { motorScan } from "../fixtures/scan_request.ts";

/** What `labwireDashboard.charts()` says about each chart. */
interface ChartInfo {
  device: string;
  attrs: string[];
  log: boolean;
  y_label: string;
  x_label: string;
  shown: boolean[];
}

type Dash = {
  labwireDashboard: {
    ready: boolean;
    zone: string;
    charts(): ChartInfo[];
    points(n: string, a?: string): number;
    scanPoints(): number;
    scan(): { id: string; mode: string; axes: string[]; strokes: string[] } | null;
  };
};
const dash = <T>(page: Page, fn: (d: Dash["labwireDashboard"]) => T) =>
  page.evaluate(
    (src) =>
      new Function("d", `return (${src})(d)`)(
        (globalThis as unknown as Dash).labwireDashboard,
      ) as T,
    fn.toString(),
  );

async function open(browser: BrowserContext, url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as unknown as Dash).labwireDashboard?.ready);
  return page;
}

const shots = Deno.env.get("LABWIRE_SCREENSHOT_DIR");

peerTest(
  "dashboard at a glance: big values, one chart per quantity, log pressure, axis titles, alarms with ack, scan axes, phone layout",
  () => (findProgram(CHROMIUM) ? [] : ["chromium"]),
  async () => {
    const sims = await startBaratronSimulators({ count: 1, seed: 1 });
    const bench = demoConfigText(sims.addresses[0]!).replace(
      /^(\[devices\.\w+\]\naddress = .*)$/gm,
      '$1\ninterval = "200ms"',
    ) + `
[[alarms]]
name = "thermo_warm"
device = "thermo"
attr = "temperature"
compare = ">"
trip = 0
severity = "major"
message = "thermo.temperature {value} °C above {trip} °C"
`;
    const d = await startTestDaemon({ bench });
    const profile = await Deno.makeTempDir({ prefix: "labwire-chromium-" });
    const browser = await launchChromium(profile, { width: 1400, height: 900 });
    try {
      const errors: string[] = [];
      browser.on("weberror", (e) => errors.push(e.error().message));
      let page = await open(browser, `${d.url}/`);
      await page.waitForFunction(() =>
        (globalThis as unknown as Dash).labwireDashboard.points("gauge", "pressure") >= 3
      );
      const zone = await dash(page, (x) => x.zone);
      assert.match(zone, /^([A-Z]{2,5}|UTC[+-]\d\d:\d\d)$/);
      assert.equal(await page.locator('[data-testid="zone"]').textContent(), `times in ${zone}`);

      // Big current values with units, per device.
      const big = page.locator('[data-big="gauge.pressure"]');
      assert.match((await big.locator(".big").textContent())!, /^\d+\.\d+$/);
      assert.equal(await big.locator(".unit").textContent(), "torr");
      assert.equal(await page.locator('[data-big="thermo.temperature"] .unit').textContent(), "°C");

      // Finding 3: quantities of different size never share a linear axis.
      const charts = await dash(page, (x) => x.charts());
      const chartOf = (device: string, attr: string) =>
        charts.find((c) => c.device === device && c.attrs.includes(attr))!;
      const pressure = chartOf("gauge", "pressure");
      assert.deepEqual(pressure.attrs, ["pressure"], "pressure has a chart of its own");
      assert.notEqual(chartOf("gauge", "run_hours"), chartOf("gauge", "wait_hours"));
      assert.equal(pressure.log, true, "pressure is on a log scale by default");
      assert.equal(pressure.y_label, "pressure (torr)");
      assert.equal(chartOf("thermo", "temperature").log, false);
      assert.deepEqual(chartOf("thermo", "temperature").attrs, ["temperature", "setpoint"]);
      for (const c of charts) {
        assert.equal(c.x_label, `time (${zone})`);
        assert.ok(c.y_label.startsWith(c.attrs.join(", ")), c.y_label);
      }
      assert.equal(chartOf("dmm", "voltage").y_label, "voltage (V)");
      // The titles are in the DOM too, above each chart.
      assert.equal(
        await page.locator('[data-chart="gauge"][data-attrs="pressure"] .axis-title').textContent(),
        "pressure (torr)",
      );
      assert.equal(
        await page.locator('[data-chart="gauge"][data-attrs="pressure"]').getAttribute(
          "data-scale",
        ),
        "log",
      );
      assert.ok(await page.locator('[data-chart="gauge"] canvas').count() >= 4);

      // Legend toggles persist across a reload (localStorage).
      const thermoChart = page.locator('[data-chart="thermo"][data-attrs="temperature,setpoint"]');
      await thermoChart.locator(".u-legend .u-series").nth(2).click();
      assert.deepEqual(chartOf("thermo", "temperature").shown, [true, true]);
      page = await reload(page, browser, d.url);
      const after = (await dash(page, (x) => x.charts())).find((c) =>
        c.device === "thermo" && c.attrs.includes("setpoint")
      )!;
      assert.deepEqual(after.shown, [true, false], "setpoint stays hidden after a reload");
      const again = await dash(page, (x) => x.charts());
      assert.deepEqual(
        again.find((c) => c.device === "gauge" && c.attrs.includes("pressure"))!.attrs,
        ["pressure"],
        "a reloaded page groups the same way",
      );

      // Alarms: time, severity, device, message, and an acknowledge button that works.
      const row = page.locator('tr[data-alarm="thermo_warm"]');
      await row.waitFor();
      assert.match(
        (await row.locator("td.when").textContent())!,
        new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${zone}$`),
      );
      assert.equal(await row.locator(".sev").textContent(), "MAJOR");
      assert.equal(await row.locator("td.where").textContent(), "thermo.temperature");
      assert.match((await row.locator("td.message").textContent())!, /°C above 0 °C/);
      await row.locator('button[data-ack="thermo_warm"]').click();
      await row.locator("td.ack", { hasText: /^acknowledged \d\d:\d\d:\d\d$/ }).waitFor();
      const listed = await (await fetch(`${d.url}/api/alarms`)).json();
      assert.equal(typeof listed.active[0].acknowledged, "number");
      const db = new DatabaseSync(`${d.dir}/test.session.sqlite`, { readOnly: true });
      try {
        await until(() =>
          Number(
            db.prepare(
              "SELECT count(*) AS n FROM events WHERE message = 'acknowledged thermo_warm'",
            ).get()!.n,
          ) === 1
        );
      } finally {
        db.close();
      }

      // Task forms come from each technique's parameters, not raw JSON.
      const form = page.locator('form[data-tasks="motor"]');
      assert.equal(await form.locator('input[value="{}"]').count(), 0);
      await form.locator('select[data-technique="motor"]').selectOption("move");
      const position = form.locator('input[data-param="position"]');
      assert.equal(await position.getAttribute("type"), "number");
      assert.match(
        (await form.locator('label.param:has(input[data-param="position"])').textContent())!,
        /^position \(mm\)/,
      );
      await form.locator('select[data-technique="motor"]').selectOption("sample");
      assert.ok(
        await form.locator('fieldset[data-param="attrs"] input[data-attr="readback"]').count() ===
          1,
      );

      // A favicon.
      const icon = await page.locator('link[rel="icon"]').getAttribute("href");
      const res = await fetch(new URL(icon!, d.url));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "image/svg+xml");
      assert.match(await res.text(), /^<svg/);

      // Scan: start it, open a fresh page mid-scan, and see every point (the earlier ones too),
      // one y axis per detector in its series' colour.
      const scan = await fetch(`${d.url}/api/scans`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(motorScan(3, 7, 9, ["det.counts", "dmm.voltage"])),
      });
      assert.equal(scan.status, 202);
      const scanId = (await scan.json()).id;
      await until(async () =>
        ((await (await fetch(`${d.url}/api/scans/${scanId}`)).json()).points?.length ?? 0) >= 3
      );
      page = await reload(page, browser, d.url);
      await page.waitForFunction(
        () => (globalThis as unknown as Dash).labwireDashboard.scanPoints() === 9,
        undefined,
        { timeout: 60_000 },
      );
      const s = (await dash(page, (x) => x.scan()))!;
      assert.equal(s.id, scanId);
      assert.deepEqual(
        s.axes,
        ["motor.position (mm)", "det.counts", "dmm.voltage (V)"],
        JSON.stringify(s),
      );
      assert.equal(new Set(s.strokes).size, 2, "a colour per detector");
      assert.equal(await page.locator('[data-testid="scan-mode"]').isVisible(), true);
      if (shots) await page.screenshot({ path: `${shots}/dashboard.png`, fullPage: true });
      await page.locator('[data-testid="scan-mode"]').selectOption("normalised");
      assert.deepEqual((await dash(page, (x) => x.scan()))!.axes, [
        "motor.position (mm)",
        "normalised (0–1)",
      ]);
      await page.locator('[data-testid="scan-mode"]').selectOption("axes");

      // A phone: one column, nothing wider than the screen.
      const phone = await browser.newPage();
      await phone.setViewportSize({ width: 375, height: 800 });
      await phone.goto(`${d.url}/`);
      await phone.waitForFunction(() => (globalThis as unknown as Dash).labwireDashboard?.ready);
      await phone.waitForFunction(() =>
        (globalThis as unknown as Dash).labwireDashboard.points("gauge", "pressure") >= 3
      );
      // (Evaluated in the page, where the DOM is: passed as text, not type-checked here.)
      const widths = await phone.evaluate(`({
        scroll: document.documentElement.scrollWidth,
        inner: innerWidth,
        widest: Math.max(
          ...[...document.querySelectorAll("main *")].map((e) => e.getBoundingClientRect().right),
        ),
      })`) as { scroll: number; inner: number; widest: number };
      assert.ok(
        widths.scroll <= widths.inner,
        `horizontal scroll on a phone: ${JSON.stringify(widths)}`,
      );
      assert.ok(widths.widest <= 375, `something sticks out: ${JSON.stringify(widths)}`);
      assert.ok(await phone.locator('[data-chart="gauge"] canvas').count() >= 4);
      if (shots) await phone.screenshot({ path: `${shots}/dashboard-phone.png` });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await d.close();
      await sims.close();
      // cleanup: a temporary file already gone is fine
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
  { sanitizeOps: false, sanitizeResources: false },
);

/** Closes `page` and opens the dashboard again in a new page of the same profile. */
async function reload(page: Page, browser: BrowserContext, url: string): Promise<Page> {
  await page.close();
  const again = await open(browser, `${url}/`);
  // Charts are built from each device's first good reading.
  await again.waitForFunction(() => {
    const d = (globalThis as unknown as Dash).labwireDashboard;
    return d.points("gauge", "pressure") > 0 && d.points("thermo", "setpoint") > 0;
  });
  return again;
}
