/**
 * `labwire task start|list|status|stop|data` — tomato-style tasks on a running `labwire serve`
 * (its URL from `--url`, `$LABWIRE_URL` or the config's `[server] listen`; the token from
 * `--token-file` or `$LABWIRE_TOKEN`), or, with no daemon, `task start` runs the task here from
 * the config and prints its readings as it takes them.
 *
 * @module
 */
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import {
  boolFlag,
  durationFlag,
  type FlagSpecs,
  intFlag,
  type ParsedFlags,
  parseFlags,
  stringFlag,
} from "../lib/cli/flags.ts";
import { listenForInterrupts } from "../lib/cli/interrupt.ts";
import { inSubcommand, UsageError } from "../lib/device/errors.ts";
import { didYouMean, suggestionThen } from "../lib/device/suggest.ts";
import { loadLabConfig } from "../lib/lab/setup.ts";
import {
  TASK_STATES,
  type TaskData,
  type TaskSpec,
  type TaskStatus,
} from "../lib/lab/task_spec.ts";
import { jsonDocument } from "../lib/output/record.ts";
import { alignColumns } from "../lib/output/columns.ts";
import { stdoutReaderGone } from "../lib/output/reader_gone.ts";
import { PipeClosed, stdoutSink } from "../lib/output/stdout.ts";
import { stdoutIsTerminal } from "../lib/output/terminal.ts";
import { loadToken } from "../lib/server/auth.ts";
import { daemonUrl, NoDaemon, ServeClient } from "../lib/server/client.ts";

const FLAGS: FlagSpecs = {
  url: { type: "string", short: "u" },
  // devices names the daemon --server URL: the same words work here
  server: { type: "string" },
  "token-file": { type: "string" },
  interval: { type: "string", short: "i" },
  duration: { type: "string", short: "d" },
  local: { type: "boolean" },
  follow: { type: "boolean", short: "f" },
  device: { type: "string" },
  state: { type: "string" },
  since: { type: "string" },
  limit: { type: "string" },
};

/** The subcommands of `task` (also what its completion offers). */
export const ACTIONS = ["start", "list", "status", "stop", "data"] as const;

/** What `task`'s command line says (pure: no file is read, nothing is asked). */
export type TaskArgs =
  & {
    /** `--url` or `--server` (or `$LABWIRE_URL`, filled in by the caller). */
    url?: string;
    /** The flag that named the daemon (`--url`, `--server`), for messages. */
    urlFlag?: string;
    /** `--token-file`. */
    tokenFile?: string;
    /** `--config` / `--demo`. */
    config?: string;
    /** `--demo`. */
    demo: boolean;
    /** `--json`: JSON even on a terminal. */
    json: boolean;
  }
  & (
    | {
      action: "start";
      device: string;
      spec: TaskSpec;
      /** `--local`: run here even when a daemon answers. */
      local: boolean;
      /** `--follow`: print the task's readings until it ends. */
      follow: boolean;
    }
    | { action: "list"; device?: string; state?: string }
    | { action: "status" | "stop"; id: string }
    | { action: "data"; id: string; since?: number; limit?: number; follow: boolean }
  );

/**
 * Parses a `PARAM=VALUE` of `task start`: JSON when it parses (numbers, booleans, lists), else the
 * text; `attrs` (what `sample` reads) is a comma-separated list.
 *
 * @example
 * ```ts
 * import { parseParam } from "./task.ts";
 * parseParam("position=2.5"); // ["position", 2.5]
 * parseParam("attrs=temperature,setpoint"); // ["attrs", ["temperature", "setpoint"]]
 * ```
 */
export function parseParam(text: string): [string, unknown] {
  const eq = text.indexOf("=");
  if (eq <= 0) {
    throw new UsageError(
      `"${text}" is not PARAM=VALUE`,
      "e.g. labwire task start motor move position=5",
      { subcommand: "start" },
    );
  }
  const name = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  if (name === "attrs") return [name, raw.split(",").map((s) => s.trim()).filter(Boolean)];
  try {
    return [name, JSON.parse(raw)];
  } catch {
    return [name, raw];
  }
}

/** Parses `task`'s arguments; every mistake is a usage error (exit 2). */
export function parseTaskArgs(args: string[]): TaskArgs {
  const f: ParsedFlags = parseFlags(args, FLAGS, "task");
  const [action, ...rest] = f.positionals;
  if (action === undefined || !(ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(
      action === undefined
        ? "give an action: start, list, status, stop or data"
        : `unknown action "${action}"; use start, list, status, stop or data`,
      suggestionThen(action, ACTIONS, "see: labwire task --help"),
    );
  }
  const flag = stringFlag(f, "url") === undefined && stringFlag(f, "server") !== undefined
    ? "server"
    : "url";
  if (stringFlag(f, "url") !== undefined && stringFlag(f, "server") !== undefined) {
    throw new UsageError("give the daemon either as --url or as --server, not both");
  }
  const url = stringFlag(f, flag);
  if (url !== undefined && !/^https?:\/\/[^/]+/.test(url)) {
    throw new UsageError(
      `--${flag}: "${url}" is not an http:// URL`,
      `e.g. --${flag} http://127.0.0.1:8600`,
    );
  }
  const base = {
    url,
    urlFlag: `--${flag}`,
    tokenFile: stringFlag(f, "token-file"),
    config: stringFlag(f, "config"),
    demo: boolFlag(f, "demo"),
    json: boolFlag(f, "json"),
  };
  const at = { subcommand: action };
  const only = (allowed: string[]) => {
    for (const k of Object.keys(FLAGS)) {
      if (["url", "server", "token-file"].includes(k) || allowed.includes(k)) continue;
      if (f.values[k] !== undefined) {
        throw new UsageError(`--${k} does not apply here`, "see: labwire task --help", at);
      }
    }
  };
  const oneId = () => {
    if (rest.length !== 1) {
      throw new UsageError(
        `give one task ID, e.g. labwire task ${action} t3`,
        "see the IDs with: labwire task list",
        at,
      );
    }
    return rest[0]!;
  };
  switch (action) {
    case "start": {
      only(["interval", "duration", "local", "follow"]);
      const [device, technique, ...params] = rest;
      if (device === undefined || technique === undefined) {
        throw new UsageError(
          "give a DEVICE and a TECHNIQUE",
          "e.g. labwire task start thermo sample --interval 0.5s --duration 10s",
          at,
        );
      }
      const spec: TaskSpec = { technique, params: Object.fromEntries(params.map(parseParam)) };
      const interval = durationFlag(f, "interval", { min: 1, max: 86_400_000 });
      if (interval !== undefined) spec.sampling_interval = interval / 1000;
      const duration = durationFlag(f, "duration", { min: 1 });
      if (duration !== undefined) spec.max_duration = duration / 1000;
      return {
        ...base,
        action,
        device,
        spec,
        local: boolFlag(f, "local"),
        follow: boolFlag(f, "follow"),
      };
    }
    case "list": {
      only(["device", "state"]);
      if (rest.length > 0) {
        throw new UsageError(
          `unexpected "${rest.join(" ")}"; filter with --device or --state`,
          undefined,
          at,
        );
      }
      const state = stringFlag(f, "state");
      if (state !== undefined && !(TASK_STATES as readonly string[]).includes(state)) {
        throw new UsageError(
          `--state: "${state}" is not one of ${TASK_STATES.join(", ")}`,
          didYouMean(state, TASK_STATES) || undefined,
          at,
        );
      }
      return { ...base, action, device: stringFlag(f, "device"), state };
    }
    case "status":
    case "stop":
      only([]);
      return { ...base, action, id: oneId() };
    default:
      only(["since", "limit", "follow"]);
      return {
        ...base,
        action: "data",
        id: oneId(),
        since: intFlag(f, "since", 0),
        limit: intFlag(f, "limit", 1),
        follow: boolFlag(f, "follow"),
      };
  }
}

/** The client of the daemon the arguments (or the config) name; `explicit` when a URL was given. */
async function connect(
  opts: TaskArgs,
): Promise<{ client: ServeClient; explicit: boolean }> {
  const envUrl = Deno.env.get("LABWIRE_URL");
  let url = opts.url ?? (envUrl && envUrl !== "" ? envUrl : undefined);
  const explicit = url !== undefined;
  let tokenFile = opts.tokenFile;
  if (url === undefined || tokenFile === undefined) {
    // the config says where its daemon listens and where the token is
    const { config, cleanup } = await loadLabConfig({ config: opts.config, demo: opts.demo })
      .catch((err) => {
        if (opts.config !== undefined || opts.demo) throw err;
        return { config: undefined, cleanup: () => Promise.resolve() };
      });
    try {
      if (config) {
        const { parseServerConfig } = await import("../lib/server/config.ts");
        const server = parseServerConfig(config.sections.server, config.file);
        url ??= daemonUrl(server.listen);
        tokenFile ??= server.tokenFile;
      }
    } finally {
      await cleanup();
    }
  }
  const token = await loadToken(tokenFile, Deno.env.get("LABWIRE_TOKEN"));
  const flag = opts.urlFlag ?? "--url";
  return { client: new ServeClient(url ?? daemonUrl(undefined), { token, flag }), explicit };
}

const TERMINAL: readonly string[] = ["completed", "stopped", "failed", "cancelled"];

/** Prints a page of rows as NDJSON (a row is a reading, flat as `read` prints it). */
function printRows(data: TaskData): void {
  if (data.rows.length === 0) return;
  stdoutSink.write(data.rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
}

/**
 * The exit code a finished task gives: 1 when it failed or every sample it took failed (a gauge
 * that never answered: as `stream --count` says it), else 0.
 */
export function exitFor(s: Pick<TaskStatus, "state" | "samples" | "errors">): number {
  return s.state === "failed" || allFailed(s) ? EXIT.device : EXIT.ok;
}

function allFailed(s: Pick<TaskStatus, "samples" | "errors">): boolean {
  return s.samples > 0 && s.errors === s.samples;
}

/** How a finished task's end is told on stderr: `t1 completed after 5 samples`, and failures. */
export function endLine(s: TaskStatus): string {
  const failed = allFailed(s) ? `, all failed` : s.errors > 0 ? `, ${s.errors} failed` : "";
  return `${s.id} ${s.state} after ${s.samples} samples${failed}${
    s.last_error ? ` (last error: ${s.last_error})` : ""
  }`;
}

/** Follows a task on the daemon: prints its rows from `since` until it has ended. */
async function follow(
  client: ServeClient,
  id: string,
  since: number | undefined,
  signal: AbortSignal,
): Promise<TaskStatus> {
  let cursor = since;
  while (true) {
    const q = cursor === undefined ? "" : `?since=${cursor}`;
    const page = await client.request<{ task: TaskStatus; data: TaskData }>(
      "GET",
      `/api/tasks/${encodeURIComponent(id)}/data${q}`,
    );
    printRows(page.data);
    cursor = page.data.next_since;
    if (TERMINAL.includes(page.task.state) && page.data.rows.length === 0) return page.task;
    if (signal.aborted) return page.task;
    if (page.data.rows.length === 0) {
      // an idle task writes nothing that would tell us the reader left (`| head -1`)
      if (stdoutReaderGone()) throw new PipeClosed();
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Runs a task here, without a daemon: opens the device from the config and prints its rows. */
async function runLocal(opts: Extract<TaskArgs, { action: "start" }>): Promise<number> {
  const { openLab } = await import("../lib/lab/setup.ts");
  const { TaskBoard } = await import("../lib/lab/task.ts");
  const interrupts = listenForInterrupts({
    onFirst: () => console.error("labwire task: stopping the task…"),
  });
  const lab = await openLab({ config: opts.config, demo: opts.demo, targets: [opts.device] });
  try {
    // The device's name in the lab: an address (sim://thermo) is opened under a name of its own
    // (thermo), and the board knows it by that name only.
    const device = lab.managers[0]!.name;
    const { safeStateMessage } = await import("../lib/lab/safe_state.ts");
    const board = new TaskBoard(lab, {
      onSafeState: (r) => console.error(`labwire task: ${safeStateMessage(r)}`),
    });
    const task = await board.submit(device, opts.spec);
    console.error(`labwire task: ${task.id} ${opts.spec.technique} on ${device}, running here`);
    const stop = () => void task.stop();
    interrupts.signal.addEventListener("abort", stop, { once: true });
    let cursor = 0;
    const flush = () => {
      const page = task.data({ since: cursor });
      printRows(page);
      cursor = page.next_since;
    };
    while (task.state === "queued" || task.state === "running") {
      await Promise.race([task.done, new Promise((r) => setTimeout(r, 100))]);
      flush();
    }
    await task.done;
    flush();
    const s = task.status();
    console.error(`labwire task: ${endLine(s)}`);
    await board.close();
    return interrupts.received ? interrupts.exitCode() : exitFor(s);
  } finally {
    interrupts.dispose();
    await lab.close();
  }
}

/** One line per task for a terminal. */
function renderTasks(tasks: readonly TaskStatus[]): string {
  const head = ["id", "device", "technique", "state", "samples", "queue"];
  const cells = tasks.map((t) => [
    t.id,
    t.device,
    t.technique,
    t.state,
    String(t.samples),
    t.queue_position === null ? "" : `${t.queue_position} (after ${t.waiting_for})`,
  ]);
  return alignColumns([head, ...cells]).map((l) => l + "\n").join("");
}

/** Runs `task`. */
export async function runTask(args: string[]): Promise<number> {
  const opts = parseTaskArgs(args);
  try {
    return await taskAction(opts);
  } catch (err) {
    // what the lab or the daemon refuses is said under the action, as its own mistakes
    throw inSubcommand(err, opts.action);
  }
}

/** Runs the action `opts` asks for: on the daemon, or here. */
async function taskAction(opts: TaskArgs): Promise<number> {
  if (opts.action === "start" && opts.local) return await runLocal(opts);
  const { client, explicit } = await connect(opts);
  const pretty = stdoutIsTerminal() && !opts.json;
  const path = (id: string) => `/api/tasks/${encodeURIComponent(id)}`;
  switch (opts.action) {
    case "start": {
      let status: TaskStatus;
      try {
        status = await client.request<TaskStatus>(
          "POST",
          `/api/devices/${encodeURIComponent(opts.device)}/tasks`,
          opts.spec,
        );
      } catch (err) {
        // no daemon at the config's address: the task runs here, from the config
        if (!(err instanceof NoDaemon) || err.reason !== "refused" || explicit) throw err;
        console.error(`labwire task: ${err.message.split("\n")[0]}: running the task here`);
        return await runLocal(opts);
      }
      if (!opts.follow) {
        stdoutSink.write(jsonDocument(status, pretty));
        return EXIT.ok;
      }
      console.error(
        `labwire task: ${status.id} ${status.state}${
          status.queue_position === null ? "" : ` at ${status.queue_position} in the queue`
        } on ${client.url}`,
      );
      const interrupts = listenForInterrupts({
        onFirst: () => console.error(`labwire task: stopping ${status.id}…`),
      });
      const stopTask = () =>
        client.request<{ task: TaskStatus }>("DELETE", path(status.id)).catch((err) => {
          console.error(`labwire task: stopping ${status.id}: ${(err as Error).message}`);
        });
      interrupts.signal.addEventListener("abort", () => void stopTask(), { once: true });
      try {
        const end = await follow(client, status.id, 0, interrupts.signal);
        const final = TERMINAL.includes(end.state)
          ? end
          : await client.request<TaskStatus>("GET", path(status.id));
        console.error(`labwire task: ${endLine(final)}`);
        return interrupts.received ? interrupts.exitCode() : exitFor(final);
      } catch (err) {
        if (!(err instanceof PipeClosed)) throw err;
        // The reader of the task's readings went away (`| head -1`): the task this command
        // started stops with it, as on Ctrl-C, instead of running on with nobody reading.
        console.error(`labwire task: stdout closed: stopping ${status.id}…`);
        const stopped = await stopTask();
        if (stopped) console.error(`labwire task: ${endLine(stopped.task)}`);
        return EXIT.ok;
      } finally {
        interrupts.dispose();
      }
    }
    case "list": {
      const q = new URLSearchParams();
      if (opts.device !== undefined) q.set("device", opts.device);
      if (opts.state !== undefined) q.set("state", opts.state);
      const qs = q.size > 0 ? `?${q}` : "";
      const { tasks } = await client.request<{ tasks: TaskStatus[] }>("GET", `/api/tasks${qs}`);
      stdoutSink.write(
        pretty ? renderTasks(tasks) : tasks.map((t) => JSON.stringify(t) + "\n").join(""),
      );
      return EXIT.ok;
    }
    case "status":
      stdoutSink.write(jsonDocument(await client.request("GET", path(opts.id)), pretty));
      return EXIT.ok;
    case "stop": {
      const r = await client.request<{ task: TaskStatus }>("DELETE", `${path(opts.id)}?limit=1`);
      stdoutSink.write(jsonDocument(r.task, pretty));
      return EXIT.ok;
    }
    case "data": {
      if (opts.follow) {
        const interrupts = listenForInterrupts();
        try {
          const end = await follow(client, opts.id, opts.since, interrupts.signal);
          return interrupts.received ? interrupts.exitCode() : exitFor(end);
        } finally {
          interrupts.dispose();
        }
      }
      const q = new URLSearchParams();
      if (opts.since !== undefined) q.set("since", String(opts.since));
      if (opts.limit !== undefined) q.set("limit", String(opts.limit));
      const qs = q.size > 0 ? `?${q}` : "";
      const page = await client.request<{ data: TaskData }>("GET", `${path(opts.id)}/data${qs}`);
      printRows(page.data);
      console.error(
        `labwire task: rows ${page.data.since}–${
          page.data.next_since - 1
        }; next: --since ${page.data.next_since}`,
      );
      return EXIT.ok;
    }
  }
}

/** The `task` verb. */
export const taskCommand: Command = {
  name: "task",
  summary: "tomato-style tasks: start, list, status, stop, data (on a running serve, or here)",
  run: runTask,
  help: `labwire task — tasks (technique + params, sampled until done) on a device

Usage: labwire task start DEVICE TECHNIQUE [PARAM=VALUE…] [--interval D] [--duration D]
                          [--follow] [--local]
       labwire task list [--device NAME] [--state STATE]
       labwire task status ID
       labwire task stop ID
       labwire task data ID [--since N] [--limit N] [--follow]

Talks to a running labwire serve: its URL from --url, $LABWIRE_URL or the config's
[server] listen (default http://127.0.0.1:8600); the token for start and stop from
--token-file, $LABWIRE_TOKEN or [server] token_file. Each device runs one task at a
time from a FIFO queue: a task for a busy device is queued (state queued, with its
queue_position), and stop cancels a queued task. A task that writes waits while a scan
owns its device.

Without a daemon at the config's address (or with --local), task start runs the task
here, on a device of the config or an address (sim://thermo), and prints its readings
as NDJSON until it ends (Ctrl-C stops it).

Techniques: sample (PARAM attrs=a,b: what to read), hold (write each PARAM, then
sample), and the device's own (a motor's move: write, then sample until it stops).

Output: start, status and stop print the task's status (one JSON document); list one
JSON line per task (a table on a terminal); data the task's readings as NDJSON (rows
--since N on; the task keeps them, so every reader pages on its own cursor).

start --follow owns the task it started: Ctrl-C stops it on the daemon (exit 130), and
so does a closed pipe (start … --follow | head -1: one reading, the task stopped, exit
0). data --follow only reads: Ctrl-C or a closed pipe leaves the task running.

Flags:
  -u, --url URL            the daemon (default: [server] listen of the config); or
                           --server URL, as labwire devices names it
      --token-file FILE    bearer token for start and stop (or $LABWIRE_TOKEN)
  -i, --interval DURATION  sampling interval (default 1s)
  -d, --duration DURATION  longest run (default: the server's cap, 7 days; move: until done)
  -f, --follow             start, data: print readings until the task ends
      --local              start: run here, not on the daemon
      --device NAME        list: only this device's tasks
      --state STATE        list: only tasks in this state (${TASK_STATES.join(", ")})
      --since N            data: first row (default: the oldest kept)
      --limit N            data: most rows
  -c, --config FILE        config file (default ./labwire.toml or $LABWIRE_CONFIG)
      --demo               the built-in simulated bench (with --local)
      --json               JSON even on a terminal

Exit codes: 0 done (or stopped); 1 the task failed, every sample it took failed, or the
daemon refused it (409, 503); 2 a usage mistake or a request the daemon found
malformed; 130 interrupted.

Examples:
  labwire task start thermo sample attrs=temperature --interval 0.2s --duration 1s --local --demo
  labwire task start motor move position=5 --url http://127.0.0.1:8600
  labwire task list --url http://127.0.0.1:8600 --state queued
  labwire task data t3 --since 100 --url http://127.0.0.1:8600
  labwire task stop t3 --url http://127.0.0.1:8600
`,
};
