/**
 * Whether this process is the single executable (`build/sfx`), not `node cli.ts` or Deno: it
 * decides how sfx runs itself again and how it knows its own processes.
 *
 * @module
 */

/** True inside the single executable. */
export function isSingleExecutable(): boolean {
  try {
    const sea = process.getBuiltinModule?.("node:sea") as { isSea?: () => boolean } | undefined;
    return sea?.isSea?.() === true;
  } catch {
    return false;
  }
}
