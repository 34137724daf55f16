/**
 * CPU time and memory of a process from /proc (Linux), for benchmarks that measure labwire as a
 * separate process.
 *
 * @module
 */

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / clockTicks();
}

/**
 * Watches the CPU use of running processes: their CPU seconds read every `everyMs`, so that
 * `stop()` gives cores per process (in `pids` order) over the stretch from now to the last
 * reading taken while they all still ran (a process that exits ends the stretch).
 */
export function watchCpu(pids: number[], everyMs = 250): { stop(): number[] } {
  const c0 = pids.map(cpuSeconds);
  const t0 = performance.now();
  let c1 = c0;
  let t1 = t0;
  const timer = setInterval(() => {
    try {
      c1 = pids.map(cpuSeconds);
      t1 = performance.now();
    } catch { /* exited */ }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const wall = (t1 - t0) / 1000;
      return c1.map((c, i) => (c - c0[i]!) / wall);
    },
  };
}

/**
 * CPU seconds so far of each thread of this process (or of process `pid`), summed by thread name
 * (`main` for the main thread, `V8 DefaultWorke` for V8's helpers: GC, compilation): where a
 * process's CPU goes beyond its JavaScript.
 */
export function threadCpuSeconds(pid: number = Deno.pid): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = t.name === String(pid)
      ? "main"
      : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).trim();
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    out.set(name, (out.get(name) ?? 0) + ticks / clockTicks());
  }
  return out;
}

/** Per-thread-name CPU used between two {@linkcode threadCpuSeconds} snapshots, µs per `n`. */
export function threadCpuPer(
  before: Map<string, number>,
  after: Map<string, number>,
  n: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, s] of after) {
    const used = s - (before.get(name) ?? 0);
    if (used > 0) out[name] = round((used / n) * 1e6, 1);
  }
  return out;
}

/**
 * The whole machine's CPU time so far from /proc/stat, in seconds: busy (every state but idle and
 * I/O wait) and in all. Two readings give how many cores were busy between them, whoever used
 * them: a process's own figure read beside it says how loaded the machine was meanwhile.
 */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = Deno.readTextFileSync("/proc/stat").split("\n", 1)[0]!;
  const t = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = t.reduce((a, b) => a + b, 0);
  return { busy: (total - t[3]! - t[4]!) / clockTicks(), total: total / clockTicks() };
}

/** The one-minute load average (/proc/loadavg). */
export function loadAverage(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ", 1)[0]);
}

/** Resident and peak resident memory of a process, in MB. */
export function memoryMb(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const out = new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).outputSync();
    ticksPerSecond = Number(new TextDecoder().decode(out.stdout).trim()) || 100;
  }
  return ticksPerSecond;
}

/** Rounds to `digits` decimals, for printing. */
export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * Seconds the process' main thread has waited, runnable, for a CPU (/proc/PID/schedstat): on a
 * loaded machine, how much of a latency is the machine's rather than the program's.
 */
export function runQueueWaitSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/schedstat`).trim().split(" ");
  return Number(fields[1]) / 1e9;
}
