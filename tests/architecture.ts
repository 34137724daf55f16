/**
 * The layer order of DESIGN.md as data, and the import parser `architecture_test.ts` checks it
 * with. A layer may import from its own folder and from any layer of a lower rank; layers of the
 * same rank (the driver families) do not import each other.
 *
 * @module
 */

/** One layer: the path prefix of its files, its rank (higher may import lower) and its role. */
export interface Layer {
  /** The folder, e.g. `lib/device`; for `lib/drivers/*` each family is its own layer. */
  name: string;
  /** Lower ranks are imported by higher ones, never the reverse. */
  rank: number;
  /** What the layer holds (DESIGN.md says the same). */
  role: string;
}

/**
 * DESIGN.md's layer list, lowest first. A path belongs to the longest matching prefix; `*`
 * stands for one folder name (each driver family is a layer of its own, all of one rank).
 */
export const LAYERS: readonly (Layer & { prefix: string })[] = [
  { prefix: "lib/device/", name: "lib/device", rank: 0, role: "driver model, addresses, errors" },
  { prefix: "lib/schedule/", name: "lib/schedule", rank: 1, role: "periodic timing, yielding" },
  { prefix: "lib/transport/", name: "lib/transport", rank: 2, role: "bytes on wires, deadlines" },
  { prefix: "lib/output/", name: "lib/output", rank: 2, role: "NDJSON/JSON/table/CSV writers" },
  { prefix: "lib/config/", name: "lib/config", rank: 2, role: "config file, one schema" },
  { prefix: "lib/cli/", name: "lib/cli", rank: 3, role: "flags, exit codes, signals" },
  { prefix: "lib/instruments/", name: "lib/instruments", rank: 4, role: "instrument definitions" },
  { prefix: "lib/drivers/sim/", name: "lib/drivers/sim", rank: 5, role: "simulated world, faults" },
  { prefix: "lib/drivers/*/", name: "lib/drivers/*", rank: 6, role: "one protocol family" },
  { prefix: "lib/drivers/", name: "lib/drivers", rank: 7, role: "all families registered, demo" },
  { prefix: "lib/lab/", name: "lib/lab", rank: 8, role: "named devices, queues, tasks" },
  { prefix: "lib/alarm/", name: "lib/alarm", rank: 9, role: "alarms and notifications" },
  { prefix: "lib/session/", name: "lib/session", rank: 10, role: "the recording store" },
  { prefix: "lib/scan/", name: "lib/scan", rank: 11, role: "scan plans and the runner" },
  { prefix: "lib/server/", name: "lib/server", rank: 12, role: "HTTP app, add-ons (CA server)" },
  { prefix: "cmd/", name: "cmd", rank: 13, role: "one file per verb" },
];

/** The layer a repo path (`lib/device/attr.ts`) belongs to, or undefined for none. */
export function layerOf(path: string): Layer | undefined {
  let best: (Layer & { prefix: string }) | undefined;
  let bestName = "";
  for (const layer of LAYERS) {
    let name = layer.name;
    if (layer.prefix.endsWith("*/")) {
      // `lib/drivers/*/`: a file in any sub-folder, named after that folder.
      const head = layer.prefix.slice(0, -2);
      const rest = path.startsWith(head) ? path.slice(head.length) : "";
      const slash = rest.indexOf("/");
      if (slash <= 0) continue;
      name = head + rest.slice(0, slash);
    } else if (!path.startsWith(layer.prefix)) continue;
    if (best === undefined || layer.prefix.length > best.prefix.length) {
      best = layer;
      bestName = name;
    }
  }
  return best && { name: bestName, rank: best.rank, role: best.role };
}

/** Normalises `a/b/../c/./d` to `a/c/d`. */
function normalise(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "..") out.pop();
    else if (part !== "." && part !== "") out.push(part);
  }
  return out.join("/");
}

// A static import or re-export starts a line (JSDoc examples start with ` *`, so they are not
// taken); its specifier follows `from`, or the keyword for a side-effect import.
const STATIC = /^(?:import|export)\b(?:[^;"'=()]*?\bfrom)?\s*["']([^"'\n]+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"'\n]+)["']\s*\)/g;

/**
 * The repo paths a file at `path` imports by relative specifier (package imports such as
 * `"zod"` are left out), in source order.
 */
export function importsOf(path: string, text: string): string[] {
  const dir = path.split("/").slice(0, -1).join("/");
  const specs: { at: number; spec: string }[] = [];
  for (const m of text.matchAll(STATIC)) specs.push({ at: m.index, spec: m[1]! });
  for (const m of text.matchAll(DYNAMIC)) {
    const lineStart = text.lastIndexOf("\n", m.index) + 1;
    const lead = text.slice(lineStart, m.index).trimStart();
    if (lead.startsWith("//") || lead.startsWith("*")) continue;
    specs.push({ at: m.index, spec: m[1]! });
  }
  specs.sort((a, b) => a.at - b.at);
  return specs.filter((s) => s.spec.startsWith(".")).map((s) => normalise(`${dir}/${s.spec}`));
}

/**
 * Every import against the layer order, as `from (layer) imports to (layer)` lines. A unit test
 * (`*_test.ts`) beside its module may also import any library layer to set up real
 * collaborators (registering every driver, opening a Lab), but never a command.
 */
export function violations(graph: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const [from, tos] of graph) {
    const a = layerOf(from);
    if (a === undefined) continue;
    const test = from.endsWith("_test.ts");
    for (const to of tos) {
      const b = layerOf(to);
      if (b === undefined || a.name === b.name || b.rank < a.rank) continue;
      if (test && b.name !== "cmd") continue;
      out.push(`${from} (${a.name}) imports ${to} (${b.name})`);
    }
  }
  return out;
}

/** Every import cycle among the files (test files left out), one `a -> b -> a` line each. */
export function findCycles(graph: Map<string, string[]>): string[] {
  const nodes = [...graph.keys()].filter((f) => !f.endsWith("_test.ts")).sort();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[] = [];
  let counter = 0;
  // Tarjan's strongly connected components; each component of more than one file is a cycle.
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w) || w.endsWith("_test.ts")) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) out.push(cyclePath(graph, new Set(component)));
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  return out.sort();
}

/** One cycle through a strongly connected component, from its first file in sort order. */
function cyclePath(graph: Map<string, string[]>, component: Set<string>): string {
  const start = [...component].sort()[0]!;
  // Breadth-first from start back to start inside the component: the shortest cycle.
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let x = v; x !== start; x = prev.get(x)!) path.unshift(x);
        path.unshift(start);
        return path.join(" -> ");
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...component].join(" <-> ");
}

/** Repo paths of the `.ts` files below `dir` (a URL), named from `prefix`. */
export async function* walk(dir: URL, prefix: string): AsyncGenerator<string> {
  const entries = [];
  for await (const e of Deno.readDir(dir)) entries.push(e);
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.isDirectory) yield* walk(new URL(`${e.name}/`, dir), `${prefix}/${e.name}`);
    else if (e.isFile && e.name.endsWith(".ts")) yield `${prefix}/${e.name}`;
  }
}
