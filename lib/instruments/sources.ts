/**
 * Where user instrument definitions come from besides `~/.config/labwire/instruments/`: files
 * and folders named by `--instruments DIR` and `[instruments]` in labwire.toml. A module of its
 * own, without dependencies, so `main.ts` can record `--instruments` without loading the
 * definition parser at start-up.
 *
 * @module
 */

const sources: string[] = [];
let version = 0;

/** Adds a file or folder of user definitions (later ones win over earlier ones and built-ins). */
export function addInstrumentSource(path: string): void {
  if (!sources.includes(path)) {
    sources.push(path);
    version++;
  }
}

/** Forgets every added source (tests). */
export function resetInstrumentSources(): void {
  sources.length = 0;
  version++;
}

/** The added sources in order, and a counter that changes whenever they do. */
export function instrumentSources(): { paths: readonly string[]; version: number } {
  return { paths: [...sources], version };
}
