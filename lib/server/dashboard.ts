/**
 * The dashboard's files, embedded in the program (text imports, so `deno compile` carries them
 * and an offline lab network needs no CDN). Only these names are served: a request for anything
 * else, `../` included, is a 404.
 *
 * @module
 */
import indexHtml from "./assets/index.html" with { type: "text" };
import dashboardJs from "./assets/dashboard.js" with { type: "text" };
import dashboardCss from "./assets/dashboard.css" with { type: "text" };
import faviconSvg from "./assets/favicon.svg" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };

/** One embedded file. */
export interface Asset {
  /** Content-Type header. */
  type: string;
  /** File contents. */
  body: string;
}

const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ["index.html", { type: "text/html; charset=utf-8", body: indexHtml }],
  ["dashboard.js", { type: "text/javascript; charset=utf-8", body: dashboardJs }],
  ["dashboard.css", { type: "text/css; charset=utf-8", body: dashboardCss }],
  ["favicon.svg", { type: "image/svg+xml", body: faviconSvg }],
  ["uPlot.iife.min.js", { type: "text/javascript; charset=utf-8", body: uplotJs }],
  ["uPlot.min.css", { type: "text/css; charset=utf-8", body: uplotCss }],
]);

/**
 * Returns an embedded asset by its exact file name, or undefined.
 *
 * @example
 * ```ts
 * import { dashboardAsset } from "./dashboard.ts";
 * dashboardAsset("index.html")?.type; // "text/html; charset=utf-8"
 * dashboardAsset("../deno.json"); // undefined
 * ```
 */
export function dashboardAsset(name: string): Asset | undefined {
  return ASSETS.get(name);
}

/** Names of every embedded asset. */
export function assetNames(): string[] {
  return [...ASSETS.keys()];
}
