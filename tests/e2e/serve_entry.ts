/**
 * Runs `labwire serve` the way `main.ts` does (drivers registered, errors mapped to exit codes),
 * for the serve process tests and benchmarks while `main.ts` may not list the verb yet.
 *
 * @module
 */
import "../../lib/drivers/mod.ts";
import { serveCommand } from "../../cmd/serve.ts";
import { ConfigError, UsageError } from "../../lib/device/errors.ts";

if (import.meta.main) {
  let code: number;
  try {
    code = await serveCommand.run(Deno.args);
  } catch (err) {
    console.error(`labwire serve: ${(err as Error).message}`);
    code = err instanceof UsageError || err instanceof ConfigError ? 2 : 1;
  }
  Deno.exit(code);
}
