import assert from "node:assert/strict";
import { parseScanArgs } from "./scan.ts";
import { UsageError } from "../lib/device/errors.ts";
import "../lib/drivers/mod.ts";

Deno.test("scan words and flags become a request", () => {
  const o = parseScanArgs([
    "--demo",
    "dscan",
    "motor.position",
    "-1",
    "1",
    "11",
    "-d",
    "det.counts,dmm.voltage",
    "--settle",
    "50ms",
    "--dwell",
    "0.1",
    "--tolerance",
    "0.01",
    "--move-timeout",
    "5s",
    "--readback",
    "motor.position=readback",
    "--json",
  ]);
  assert.equal(o.demo, true);
  assert.equal(o.format, "ndjson");
  assert.deepEqual(o.request, {
    plan: {
      kind: "line",
      relative: true,
      axes: [{ positioner: "motor.position", start: -1, stop: 1 }],
      num: 11,
      spacing: "linear",
    },
    detectors: ["det.counts", "dmm.voltage"],
    settleMs: 50,
    dwellMs: 100,
    tolerance: 0.01,
    moveTimeoutMs: 5000,
    readbacks: { "motor.position": "readback" },
    context: { demo: true, devices: [] },
  });
});

Deno.test("negative starts are positions, not flags", () => {
  const o = parseScanArgs(["mesh", "a.x", "-2", "-.5", "3", "b.x", "-1e-3", "1", "2", "--snake"]);
  assert.ok(o.request?.plan.kind === "mesh");
  assert.deepEqual(o.request.plan.axes.map((a) => a.start), [-2, -0.001]);
  assert.equal(o.request.plan.axes[0]!.stop, -0.5);
  assert.equal(o.request.plan.snake, true);
});

Deno.test("--plan FILE, with flags overriding it", () => {
  const files: Record<string, string> = {
    "s.toml":
      'plan = "count"\nnum = 4\ndetectors = ["det.counts"]\nsettle = "1s"\ndevices = ["sim://det"]',
  };
  const o = parseScanArgs(
    ["--plan", "s.toml", "--settle", "20ms", "--devices", "sim://gauge"],
    (p) => files[p]!,
  );
  assert.deepEqual(o.request?.plan, { kind: "count", num: 4 });
  assert.equal(o.request?.settleMs, 20);
  assert.deepEqual(o.request?.detectors, ["det.counts"]);
  assert.deepEqual(o.devices, ["sim://det", "sim://gauge"]);
  assert.throws(() => parseScanArgs(["--plan", "s.toml", "ascan"], (p) => files[p]!), /drop/);
});

Deno.test("resume options", () => {
  const o = parseScanArgs(["--resume", "x.sqlite", "--scan", "3"]);
  assert.equal(o.resume, "x.sqlite");
  assert.equal(o.scanId, 3);
  assert.equal(o.request, undefined);
  assert.throws(() => parseScanArgs(["--resume", "x.sqlite", "count", "3"]), /no plan/);
  assert.throws(() => parseScanArgs(["--scan", "3", "count", "3", "-d", "d.c"]), /--resume/);
  assert.throws(() => parseScanArgs(["--resume", "x", "--scan", "0"]), /scan number/);
});

Deno.test("usage mistakes", () => {
  assert.throws(() => parseScanArgs([]), /which plan/);
  assert.throws(() => parseScanArgs(["count", "3"]), /--detectors/);
  assert.throws(
    () => parseScanArgs(["ascan", "m.x", "0", "1", "3", "--format", "xml"]),
    /--format/,
  );
  assert.throws(
    () => parseScanArgs(["ascan", "m.x", "0", "1", "3", "--readback", "m.x"]),
    /POS=ATTR/,
  );
  assert.throws(
    () => parseScanArgs(["ascan", "m.x", "0", "1", "3", "-d", "counts"]),
    /device\.attr/,
  );
  assert.throws(() => parseScanArgs(["ascan", "m.x", "0", "1", "3", "--setle", "1s"]), UsageError);
});

Deno.test("a missing --plan or @FILE is a usage error naming the file", () => {
  for (
    const args of [["--plan", "/nonexistent/scan.toml"], [
      "list",
      "motor.position",
      "@/nonexistent/v.txt",
    ]]
  ) {
    assert.throws(
      () => parseScanArgs([...args, "-d", "det.counts"]),
      (e) => e instanceof UsageError && /^no file \/nonexistent\//.test(e.message),
      args.join(" "),
    );
  }
});

Deno.test("a mistyped --goto gets a did-you-mean", () => {
  assert.throws(
    () =>
      parseScanArgs([
        "ascan",
        "motor.position",
        "0",
        "1",
        "2",
        "-d",
        "det.counts",
        "--goto",
        "peek",
      ]),
    (e) =>
      e instanceof UsageError &&
      /^--goto: expected one of peak, cen, com, got "peek"$/.test(e.message) &&
      e.hint === 'did you mean "peak"?',
  );
});
