/**
 * Dashboard smoothness with 100,000 points: headless Chromium loads the dashboard, one chart is
 * filled with 100,000 points inside its rolling window, and full redraws (data slice, setData,
 * rescale, canvas) are timed. Target: the chart "stays smooth with 100,000 points" (issue 4),
 * i.e. a redraw (median) fits in one 16 ms frame at 60 Hz.
 *
 *     deno run -A tests/bench/serve_dashboard.ts
 */
import { CHROMIUM, launchChromium } from "../interop/chromium.ts";
import { startTestDaemon } from "../e2e/serve_fixture.ts";
import { findProgram } from "../peers.ts";
import { Targets } from "./targets.ts";

const targets = new Targets("dashboard");
if (!findProgram(CHROMIUM)) {
  targets.missingPeer([`chromium (${CHROMIUM})`], "apt-get install chromium");
}

const BENCH = `
[devices.thermo]
address = "sim://thermo?seed=2"
interval = "100ms"
`;
const d = await startTestDaemon({ bench: BENCH, session: false });
const profile = await Deno.makeTempDir({ prefix: "labwire-chromium-" });
const browser = await launchChromium(profile, { width: 1280, height: 900 });
try {
  const page = await browser.newPage();
  await page.goto(`${d.url}/`);
  await page.waitForFunction(() =>
    (globalThis as unknown as { labwireDashboard?: { points(n: string): number } })
      .labwireDashboard?.points("thermo")
  );
  for (const n of [10_000, 100_000]) {
    const r = await page.evaluate(([n]) =>
      (globalThis as unknown as {
        labwireDashboard: { bench(name: string, n: number, span: number): unknown };
      }).labwireDashboard.bench("thermo", n!, 250), [n]) as {
        points: number;
        series: number;
        median: number;
        max: number;
      };
    console.log(
      `dashboard redraw with ${r.points} points in the window (${r.series} series): ` +
        `median ${r.median.toFixed(1)} ms, max ${
          r.max.toFixed(1)
        } ms over 20 redraws (headless Chromium, software rendering)`,
    );
    targets.check(`redraw median, ${r.points} points`, r.median, "<=", 16, "ms");
  }
} finally {
  await browser.close();
  await d.close();
  // cleanup: a temporary file already gone is fine
  await Deno.remove(profile, { recursive: true }).catch(() => {});
}
targets.finish();
