/**
 * The floor under `ca-read-many` (`./ca_read_many.ts`), timed beside it: what a Deno process
 * costs before labwire's own code runs.
 *
 * - `--start-only`: Deno starts and exits (its runtime start, nothing of labwire).
 * - otherwise: the CA client alone (`lib/drivers/epics/client.ts`, no CLI, lab or devices) reads
 *   each PV named on the command line as DBR_TIME of its native type and prints one JSON document
 *   of `{t, device, value, severity, status}` per PV, as `labwire read` does.
 *
 * The client's modules are imported by a computed URL so that `--start-only` does not make Deno
 * read them (it follows literal imports, dynamic ones included, before running).
 *
 * Run: `deno run -A tests/bench/ca_read_floor.ts [--start-only] PV…` with the EPICS_CA_* settings
 * of the IOC in the environment.
 *
 * @module
 */

if (Deno.args[0] === "--start-only") Deno.exit(0);

const here = (path: string) => new URL(path, import.meta.url).href;
const { CaClient } = await import(
  here("../../lib/drivers/epics/client.ts")
) as typeof import("../../lib/drivers/epics/client.ts");
const { clientOptionsFromEnv } = await import(
  here("../../lib/drivers/epics/client_env.ts")
) as typeof import("../../lib/drivers/epics/client_env.ts");
const { ALARM_STATUS_NAMES, dbrOf, SEVERITY_NAMES } = await import(
  here("../../lib/drivers/epics/dbr_types.ts")
) as typeof import("../../lib/drivers/epics/dbr_types.ts");

const client = new CaClient(clientOptionsFromEnv());
const doc: Record<string, unknown> = {};
await Promise.all(Deno.args.map(async (pv) => {
  const ch = client.channel(pv);
  await ch.connected();
  const d = (await ch.get({ type: dbrOf("time", ch.nativeType) })).data;
  doc[pv] = {
    t: Date.now() / 1000,
    device: pv,
    value: d.value.length === 1 ? d.value[0] : d.value,
    severity: SEVERITY_NAMES[d.severity ?? 0],
    status: ALARM_STATUS_NAMES[d.status ?? 0],
  };
}));
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(doc) + "\n"));
await client.close();
Deno.exit(0);
