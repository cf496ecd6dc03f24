/**
 * Whether a process runs, for the locks and pid files that name one.
 *
 * @module
 */

/** Whether process `pid` exists (EPERM from kill(pid, 0): it does, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
