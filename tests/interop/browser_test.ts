/**
 * The dashboard in a real browser: headless Chromium (Debian's) driven by playwright-core loads
 * it, sees chart points arrive over SSE, writes the sim motor's setpoint through the UI and sees
 * the motor move; a write the server refuses shows the server's message.
 */
import assert from "node:assert/strict";
import { CHROMIUM, launchChromium } from "./chromium.ts";
import { findProgram, peerTest } from "../peers.ts";
import { startTestDaemon, until } from "../e2e/serve_fixture.ts";
import { benchToml, SIM } from "../fixtures/sim_bench.ts";
import { motorScan } from "../fixtures/scan_request.ts";

const BENCH = benchToml({ motor: SIM.motor, det: SIM.det }, "100ms") +
  benchToml({ thermo: SIM.thermo }, "250ms");

peerTest(
  "dashboard in headless Chromium: live chart points, a motor write through the UI moves it",
  () => (findProgram(CHROMIUM) ? [] : ["chromium"]),
  async () => {
    const d = await startTestDaemon({ bench: BENCH });
    const profile = await Deno.makeTempDir({ prefix: "labwire-chromium-" });
    // A fresh profile (playwright passes it as --user-data-dir); a phone-sized viewport.
    const browser = await launchChromium(profile, { width: 390, height: 844 });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${d.url}/`);
      await page.waitForFunction(() =>
        (globalThis as unknown as { labwireDashboard?: { ready: boolean } }).labwireDashboard?.ready
      );
      // Every device has a card with its attrs and units.
      for (const name of ["motor", "det", "thermo"]) {
        await page.locator(`article[data-device="${name}"]`).waitFor();
      }
      assert.equal(
        await page.locator('article[data-device="motor"] td.units').first().textContent(),
        "mm",
      );
      // Chart points arrive over SSE and the chart is drawn.
      const points = () =>
        page.evaluate(() =>
          (globalThis as unknown as { labwireDashboard: { points(n: string): number } })
            .labwireDashboard.points("motor")
        );
      const before = await points();
      await page.waitForFunction(
        (n) =>
          (globalThis as unknown as { labwireDashboard: { points(n: string): number } })
            .labwireDashboard.points("motor") >= n + 5,
        before,
      );
      assert.ok(await page.locator('[data-chart="motor"] canvas').count() >= 1);

      // A write the server refuses shows its message.
      await page.fill('input[data-write="motor.position"]', "100000");
      await page.click('button[data-set="motor.position"]');
      await page.locator('[data-error="motor"]', { hasText: "above the upper limit" }).waitFor();

      // A valid setpoint: the motor moves, the UI shows its readback arriving.
      const readback = async () =>
        Number(await page.locator('[data-value="motor.readback"]').textContent());
      const start = await readback();
      const target = start < 5 ? start + 3 : start - 3;
      await page.fill('input[data-write="motor.position"]', String(target));
      await page.click('button[data-set="motor.position"]');
      await until(async () => (await page.locator('[data-error="motor"]').textContent()) === "");
      await until(
        async () => Math.abs((await readback()) - target) < 0.05,
        15_000,
        `readback to reach ${target} (from ${start})`,
      );
      assert.equal(d.lab.find("motor")!.lastGood?.values.position, target);
      assert.ok(
        Math.abs((d.lab.find("motor")!.lastGood?.values.readback as number) - target) < 0.05,
      );
      // A scan started through the API is plotted live.
      const scan = await fetch(`${d.url}/api/scans`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(motorScan(4, 6, 5)),
      });
      assert.equal(scan.status, 202);
      const scanId = (await scan.json()).id;
      await page.locator("#scan:not(.hidden) canvas").waitFor();
      await page.locator("#scan-title", { hasText: scanId }).waitFor();
      await page.waitForFunction(() =>
        (globalThis as unknown as { labwireDashboard: { scanPoints(): number } }).labwireDashboard
          .scanPoints() === 5
      );

      // Zooming into a time range shows the recorded history from /api/samples.
      const to = Date.now() / 1000;
      await page.evaluate(
        ([from, to]) =>
          (globalThis as unknown as {
            labwireDashboard: { zoom(n: string, a: number, b: number): void };
          })
            .labwireDashboard.zoom("thermo", from!, to!),
        [to - 60, to],
      );
      await page.locator('[data-chart="thermo"] .note', {
        hasText: /^history: [1-9]\d* recorded rows$/,
      })
        .waitFor();
      await page.locator('[data-chart="thermo"] button.live:not(.hidden)').click();
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await d.close();
      // cleanup: a temporary file already gone is fine
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
  { sanitizeOps: false, sanitizeResources: false },
);
