/**
 * Where the Modbus `registers` option rule finds the register-table check
 * (`./register_map.ts`'s `checkRegisterTables`): that module installs it when it loads. The rule
 * is registered with every driver at start-up, and the register-map compiler (three modules,
 * ~5 M instructions) was loaded by every run through it, a `labwire read ca://…` of addresses
 * without a config included. What checks device options loads `./register_map.ts` itself: the
 * config's device tables (`../config/device_tables.ts`), opening a Lab's devices
 * (`../lab/open.ts`) and the Modbus driver.
 *
 * @module
 */

/** What is wrong with a generic device's `registers` table: a key path below it and a message. */
export type RegisterTablesProblem = { path: string[]; message: string };

/** Checks a `registers` table: its first mistake, or undefined when it is a usable register map. */
export type RegisterTablesCheck = (v: unknown) => RegisterTablesProblem | undefined;

let installed: RegisterTablesCheck | undefined;

/** Installs the check (`./register_map.ts` does, once, when it loads). */
export function installRegisterTablesCheck(check: RegisterTablesCheck): void {
  installed = check;
}

/**
 * The installed check. Throws when nothing loaded `./register_map.ts` before a `registers`
 * table was checked: a path of labwire that checks options without it is a bug, never a table
 * passed unchecked.
 */
export function registerTablesCheck(): RegisterTablesCheck {
  if (installed === undefined) {
    throw new Error(
      "the register-table check is not loaded (import lib/instruments/register_map.ts first)",
    );
  }
  return installed;
}
