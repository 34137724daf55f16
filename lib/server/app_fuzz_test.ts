import assert from "node:assert/strict";
import fc from "fast-check";
import "../drivers/mod.ts";
import { parseConfig } from "../config/load.ts";
import { Lab } from "../lab/lab.ts";
import { TaskBoard } from "../lab/task.ts";
import { fuzzTest } from "../../tests/fuzz_runs.ts";
import { createApp } from "./app.ts";
import { silentLogger } from "./log.ts";
import { ScanService } from "./scans.ts";
import { StreamHub } from "./sse.ts";

// Zero-latency sims that never fail: any 5xx here is the server's fault, not a device's.
const lab = await Lab.open(parseConfig(
  `
[devices.motor]
address = "sim://motor?seed=3&velocity=1e9"
[devices.det]
address = "sim://det?seed=5&motor=motor"
[devices.thermo]
address = "sim://thermo?seed=2"
[devices.dmm]
address = "sim://dmm?seed=4"
`,
  "<fuzz>",
));
const hub = new StreamHub();
hub.attach(lab);
const tasks = new TaskBoard(lab);
const scans = new ScanService(lab, undefined, hub, silentLogger);
const app = createApp({ lab, hub, tasks, scans, log: silentLogger });

const DEVICES = ["motor", "det", "thermo", "dmm"];
const ATTRS = ["position", "velocity", "counts", "setpoint", "temperature", "range", "mode", "x"];
const REFS = DEVICES.flatMap((d) => ATTRS.map((a) => `${d}.${a}`));

const device = fc.oneof(
  { arbitrary: fc.constantFrom(...DEVICES), weight: 6 },
  fc.constantFrom("nope", "%2e%2e", "motor%00", ""),
);
const number = fc.oneof(
  fc.integer({ min: -10, max: 100 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 1e308, -1e308, 5e-324, 1e-9, 2 ** 53),
);
/** Any JSON, and JSON shaped like what each route takes. */
const json = fc.jsonValue({ maxDepth: 3 });
const value = fc.oneof(
  number,
  fc.boolean(),
  fc.string({ maxLength: 8 }),
  fc.constant(null),
  fc.array(number, { maxLength: 3 }),
  json,
);

const writeBody = fc.oneof(
  json,
  fc.record({ value }),
  fc.record({ value, extra: json }),
);
/** Tasks that should run: a technique the device has, parameters it takes, a short life. */
const goodTask = fc.record({
  technique: fc.constantFrom("sample", "hold", "move"),
  params: fc.oneof(
    fc.constant({}),
    fc.subarray(["position", "velocity", "counts", "temperature"]).map((attrs) => ({ attrs })),
    fc.double({ min: -5, max: 5, noNaN: true }).map((position) => ({ position })),
    fc.double({ min: 0, max: 50, noNaN: true }).map((setpoint) => ({ setpoint })),
  ),
  sampling_interval: fc.double({ min: 0.01, max: 0.05, noNaN: true }),
  max_duration: fc.double({ min: 0.001, max: 0.05, noNaN: true }),
}, { requiredKeys: ["technique", "max_duration"] });
const taskBody = fc.oneof(
  json,
  { arbitrary: goodTask, weight: 2 },
  fc.record({
    technique: fc.oneof(
      fc.constantFrom("sample", "hold", "move", "ramp"),
      fc.string({ maxLength: 6 }),
    ),
    params: fc.oneof(
      fc.dictionary(fc.constantFrom(...ATTRS, "attrs", "value", "target"), value, { maxKeys: 3 }),
      json,
    ),
    // Sampling at least every 10 ms, for at most 50 ms: the case ends when the task does.
    sampling_interval: fc.oneof(
      fc.double({ min: 0.01, max: 0.05, noNaN: true }),
      fc.constantFrom(0, -1, "1s"),
    ),
    max_duration: fc.oneof(
      fc.double({ min: 0.001, max: 0.05, noNaN: true }),
      fc.constantFrom(0, -1, "2s"),
    ),
  }, { requiredKeys: ["technique"] }),
);
const axis = fc.record({
  positioner: fc.oneof(fc.constantFrom(...REFS), fc.string({ maxLength: 8 })),
  start: number,
  stop: number,
  num: fc.oneof(fc.integer({ min: -1, max: 5 }), number),
});
/** Plans of a few points (how many a scan may have is bounded by the server, tested there). */
const plan = fc.oneof(
  fc.record({
    kind: fc.constant("line"),
    relative: fc.boolean(),
    axes: fc.array(axis.map(({ num: _n, ...a }) => a), { maxLength: 2 }),
    num: fc.integer({ min: -1, max: 8 }),
    spacing: fc.constantFrom("linear", "log", "cubic"),
  }),
  fc.record({
    kind: fc.constant("mesh"),
    relative: fc.boolean(),
    axes: fc.array(
      axis.map((a) => ({ ...a, num: typeof a.num === "number" && a.num > 4 ? 4 : a.num })),
      { maxLength: 2 },
    ),
    snake: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("list"),
    relative: fc.boolean(),
    positioners: fc.array(fc.constantFrom(...REFS), { maxLength: 2 }),
    points: fc.array(fc.array(number, { maxLength: 2 }), { maxLength: 4 }),
  }),
  fc.record({ kind: fc.constantFrom("count", "bogus"), num: fc.integer({ min: -1, max: 8 }) }),
  fc.dictionary(fc.string({ maxLength: 6 }), json, { maxKeys: 3 }),
);
/** Scans that should run: real positioners and detectors, a few points, small waits. */
const goodScan = fc.record({
  plan: fc.oneof(
    fc.record({
      kind: fc.constant("line"),
      relative: fc.boolean(),
      axes: fc.tuple(
        fc.double({ min: -5, max: 5, noNaN: true }),
        fc.double({ min: -5, max: 5, noNaN: true }),
      )
        .map(([start, stop]) => [{ positioner: "motor.position", start, stop }]),
      num: fc.integer({ min: 1, max: 6 }),
      spacing: fc.constant("linear"),
    }),
    fc.record({
      kind: fc.constant("list"),
      relative: fc.boolean(),
      positioners: fc.constant(["motor.position"]),
      points: fc.array(fc.double({ min: -5, max: 5, noNaN: true }).map((x) => [x]), {
        minLength: 1,
        maxLength: 4,
      }),
    }),
    fc.record({ kind: fc.constant("count"), num: fc.integer({ min: 1, max: 6 }) }),
  ),
  detectors: fc.subarray(["det.counts", "thermo.temperature", "dmm.voltage", "det.nope"], {
    minLength: 1,
  }),
  settle_ms: fc.nat(2),
  poll_ms: fc.constant(5),
  move_timeout_ms: fc.constant(2000),
}, { requiredKeys: ["plan", "detectors"] });
const scanBody = fc.oneof(
  { arbitrary: goodScan, weight: 3 },
  json,
  fc.record({
    plan,
    detectors: fc.array(fc.oneof(fc.constantFrom(...REFS), fc.string({ maxLength: 6 })), {
      maxLength: 2,
    }),
    settle_ms: fc.oneof(fc.nat(3), number),
    dwell_ms: fc.nat(3),
    tolerance: fc.oneof(fc.double({ min: 0.001, max: 10, noNaN: true }), number),
    move_timeout_ms: fc.oneof(fc.constant(2000), number),
    readbacks: fc.dictionary(fc.constantFrom(...REFS), fc.string({ maxLength: 6 }), { maxKeys: 1 }),
    poll_ms: fc.oneof(fc.constant(5), number),
  }, { requiredKeys: ["plan", "detectors"] }).map((b) => // Huge timeouts and settle times would make a case last that long; they are refused or
  // bounded elsewhere. Here they are kept small so that every accepted scan ends at once.
  ({
    ...b,
    settle_ms: clampMs(b.settle_ms),
    move_timeout_ms: clampMs(b.move_timeout_ms, 2000),
    poll_ms: clampMs(b.poll_ms, 5),
  })),
);

function clampMs(v: unknown, max = 3): unknown {
  return typeof v === "number" && v > max ? max : v;
}

/** One request: a route that takes a body, a body (JSON or not), a content type. */
const request = fc.oneof(
  fc.record({
    method: fc.constant("PUT"),
    path: fc.tuple(device, fc.oneof(fc.constantFrom(...ATTRS), fc.string({ maxLength: 5 }))).map(
      ([d, a]) => `/api/devices/${d}/attrs/${encodeURIComponent(a)}`,
    ),
    body: writeBody.map((b) => JSON.stringify(b)),
  }),
  fc.record({
    method: fc.constant("POST"),
    path: device.map((d) => `/api/devices/${d}/tasks`),
    body: taskBody.map((b) => JSON.stringify(b)),
  }),
  fc.record({
    method: fc.constant("POST"),
    path: fc.constant("/api/scans"),
    body: scanBody.map((b) => JSON.stringify(b)),
  }),
  fc.record({
    method: fc.constantFrom("PUT", "POST"),
    path: fc.constantFrom(
      "/api/scans",
      "/api/devices/motor/tasks",
      "/api/devices/motor/attrs/position",
    ),
    body: fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom("", "{", "[]", "null", '{"value":}', "\u0000"),
    ),
  }),
).chain((r) =>
  fc.record({
    ...Object.fromEntries(Object.entries(r).map(([k, v]) => [k, fc.constant(v)])),
    type: fc.constantFrom(
      "application/json",
      "application/json",
      "application/json",
      "text/plain",
      "",
    ),
  }) as fc.Arbitrary<{ method: string; path: string; body: string; type: string }>
);

/** True when `p` settles within `ms` (its outcome is left to the caller). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((r) => timer = setTimeout(() => r(false), ms));
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function ask(method: string, path: string, body?: string, type = "application/json") {
  const headers: Record<string, string> = type ? { "content-type": type } : {};
  const res = await app.request(path, { method, headers, body });
  const text = await res.text();
  // this app has no device admin (only serve adds and removes devices): that 503 says so
  const noAdmin = res.status === 503 &&
    text.includes("adding and removing devices needs labwire serve");
  assert.ok(res.status < 500 || noAdmin, `${method} ${path} ${body ?? ""} → ${res.status} ${text}`);
  return { status: res.status, text };
}

// A request, however wrong, is answered with a 4xx naming the mistake; only a failing device
// may produce a 5xx. Accepted tasks and scans are stopped before the next case.
fuzzTest(
  "HTTP: any body for writes, tasks and scans is answered, never with a 5xx",
  fc.array(request, { minLength: 1, maxLength: 3 }),
  async (requests) => {
    for (const r of requests) {
      const { status, text } = await ask(r.method, r.path, r.body, r.type);
      if (status >= 200 && status < 300 && r.method === "POST") {
        const id = (JSON.parse(text) as { id?: string }).id;
        if (id === undefined) continue;
        const kind = r.path === "/api/scans" ? "scans" : "tasks";
        const stopped = ask("DELETE", `/api/${kind}/${id}`);
        // A scan's point may be a move that takes its whole move timeout (an earlier case can
        // leave the motor anywhere): a second DELETE stops it at once, as a second Ctrl-C.
        if (kind === "scans" && !(await settlesWithin(stopped, 50))) {
          await ask("DELETE", `/api/scans/${id}`);
        }
        await stopped;
      }
    }
  },
);

/** Query strings near what the routes take: known keys, numbers at their edges, junk. */
const query = fc.array(
  fc.tuple(
    fc.oneof(
      { arbitrary: fc.constantFrom("since", "limit", "attrs", "devices", "stop"), weight: 4 },
      fc.string({ maxLength: 5 }),
    ),
    fc.oneof(
      fc.constantFrom("0", "1", "-1", "1e309", "NaN", "9007199254740993", "position,velocity", ""),
      fc.integer().map(String),
      fc.string({ maxLength: 8 }),
    ),
  ),
  { maxLength: 3 },
).map((q) => (q.length ? `?${new URLSearchParams(q)}` : ""));
const id = fc.oneof(
  fc.constantFrom("s1", "s999999999999", "t1", "x", "%00", "..", ""),
  fc.string({ maxLength: 6 }).map(encodeURIComponent),
);
/** Reads and stops: every route but the event stream, with any ids and query strings. */
const readRequest = fc.record({
  method: fc.constantFrom("GET", "GET", "DELETE", "HEAD", "PATCH"),
  path: fc.oneof(
    device.map((d) => `/api/devices/${d}`),
    device.map((d) => `/api/devices/${d}/read`),
    id.map((i) => `/api/tasks/${i}`),
    id.map((i) => `/api/tasks/${i}/data`),
    id.map((i) => `/api/scans/${i}`),
    fc.constantFrom("/api/devices", "/api/alarms", "/healthz", "/metrics", "/api/openapi.json"),
    fc.string({ maxLength: 12 }).map((p) => `/api/${encodeURIComponent(p)}`),
  ),
  query,
});

fuzzTest(
  "HTTP: any id and query string on the read and stop routes is answered, never with a 5xx",
  readRequest,
  async ({ method, path, query }) => {
    await ask(method, path + query, undefined, "");
  },
);

Deno.test({
  name: "HTTP fuzz: close the lab",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await scans.close?.();
    await tasks.close();
    hub.close();
    await lab.close();
  },
});
