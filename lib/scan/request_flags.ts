/**
 * The scan request `labwire scan`'s flags describe: the plan from its words (`ascan m.x 0 10 21`)
 * or a `--plan` file, then detectors, triggers, read-backs, timing, `--goto`, `--set`,
 * `--baseline` and `--suspend-on`, a flag overriding what the plan file says. Every value is
 * checked here, before any device is opened.
 *
 * @module
 */
import { boolFlag, durationFlag, listFlag, type ParsedFlags, stringFlag } from "../cli/flags.ts";
import { MAX_TIMER_MS } from "../config/duration.ts";
import { UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import { GOTO_TARGETS, type GotoTarget } from "./peak.ts";
import { parseRef, type PlanSpec } from "./plan.ts";
import { parsePlanArgs } from "./plan_args.ts";
import { parsePlanFile } from "./plan_file.ts";
import type { ScanRequest } from "./request.ts";
import { parseSettings } from "./settings.ts";

/** Where the request's devices come from, stored with it so `--resume` opens the same ones. */
export interface RequestContext {
  /** `--demo`. */
  demo: boolean;
  /** `--config FILE`. */
  config?: string;
  /** `--devices`: extra targets to open. */
  devices: string[];
}

/**
 * Builds the request from `scan`'s parsed flags and positionals (the plan words); returns it
 * with the devices to open (the plan file's, then `--devices`). Pure apart from `readFile`.
 */
export function scanRequestFromFlags(
  f: ParsedFlags,
  positionals: readonly string[],
  context: RequestContext,
  readFile: (path: string) => string,
): { request: ScanRequest; devices: string[] } {
  const dur = (name: string) => durationFlag(f, name, { min: 0, max: MAX_TIMER_MS });
  const planFile = stringFlag(f, "plan");
  let plan: PlanSpec;
  let fromFile: ReturnType<typeof parsePlanFile> | undefined;
  if (planFile !== undefined) {
    if (positionals.length > 0) {
      throw new UsageError(`--plan ${planFile} gives the plan; drop "${positionals.join(" ")}"`);
    }
    fromFile = parsePlanFile(readFile(planFile), planFile);
    plan = fromFile.plan;
  } else {
    const [name, ...words] = positionals;
    if (name === undefined) {
      throw new UsageError(
        "which plan? e.g. labwire scan ascan motor.position 0 10 21 -d det.counts",
        "see: labwire scan --help",
      );
    }
    plan = parsePlanArgs(name, words, {
      log: boolFlag(f, "log"),
      snake: boolFlag(f, "snake"),
      readFile,
    });
  }
  const readbacks: Record<string, string> = { ...fromFile?.readbacks };
  for (const r of listFlag(f, "readback") ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(r);
    if (!m) {
      throw new UsageError(
        `--readback: expected POS=ATTR or POS=DEV.ATTR like motor.position=readback, got "${r}"`,
      );
    }
    parseRef(m[1]!);
    readbacks[m[1]!] = m[2]!;
  }
  const tolText = stringFlag(f, "tolerance");
  const tolerance = tolText === undefined ? fromFile?.tolerance : Number(tolText);
  if (tolerance !== undefined && !(tolerance >= 0)) {
    throw new UsageError(`--tolerance: expected a number ≥ 0, got "${tolText}"`);
  }
  const detectors = listFlag(f, "detectors") ?? fromFile?.detectors ?? [];
  for (const d of detectors) parseRef(d);
  if (plan.kind === "count" && detectors.length === 0) {
    throw new UsageError("count reads detectors: add --detectors det.counts,…");
  }
  const devices = [...(fromFile?.devices ?? []), ...context.devices];
  const request: ScanRequest = { plan, detectors };
  const triggers = listFlag(f, "trigger") ?? fromFile?.triggers;
  for (const t of triggers ?? []) parseRef(t);
  if (triggers?.length) request.triggers = triggers;
  const settle = dur("settle") ?? fromFile?.settleMs;
  const dwell = dur("dwell") ?? fromFile?.dwellMs;
  const moveTimeout = dur("move-timeout") ?? fromFile?.moveTimeoutMs;
  if (settle !== undefined) request.settleMs = settle;
  if (dwell !== undefined) request.dwellMs = dwell;
  if (tolerance !== undefined) request.tolerance = tolerance;
  if (moveTimeout !== undefined) request.moveTimeoutMs = moveTimeout;
  if (Object.keys(readbacks).length > 0) request.readbacks = readbacks;
  const goto = stringFlag(f, "goto") ?? fromFile?.goto;
  if (goto !== undefined) {
    if (!(GOTO_TARGETS as readonly string[]).includes(goto)) {
      throw new UsageError(
        `--goto: expected one of ${GOTO_TARGETS.join(", ")}, got "${goto}"`,
        didYouMean(goto, GOTO_TARGETS) || undefined,
      );
    }
    if (detectors.length === 0) {
      throw new UsageError(`--goto ${goto} moves to a detector's ${goto}: add --detectors`);
    }
    request.goto = goto as GotoTarget;
  }
  const settings = f.values.set as string[] | undefined;
  if (settings?.length) request.settings = parseSettings(settings);
  const baseline = listFlag(f, "baseline");
  if (baseline?.length) {
    for (const d of baseline) {
      if (d.includes(".") || d.includes("://")) {
        throw new UsageError(`--baseline: give device names like gauge,thermo, got "${d}"`);
      }
    }
    request.baseline = baseline;
  }
  const suspendOn = listFlag(f, "suspend-on");
  const resumeAfter = dur("resume-after");
  if (suspendOn?.length) {
    request.suspendOn = suspendOn;
    if (resumeAfter !== undefined) request.resumeAfterMs = resumeAfter;
  } else if (resumeAfter !== undefined) {
    throw new UsageError("--resume-after applies with --suspend-on ALARM|any");
  }
  request.context = {
    demo: context.demo,
    ...(context.config ? { config: context.config } : {}),
    devices,
  };
  return { request, devices };
}
