/**
 * Registers every driver labwire ships ({@linkcode registerAllFamilies} of `./families.ts`):
 * each family's `driver_info.ts` (scheme, help, options, default name), with its code loaded on
 * its first `open`. Import this module once where every scheme must be known (a test, a tool);
 * `main.ts` and `../lab/setup.ts` register the families a run needs through `./families.ts`.
 *
 * @module
 */
import { registerAllFamilies } from "./families.ts";

await registerAllFamilies();
