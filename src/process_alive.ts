/**
 * Whether a process runs, for the locks and pid files that name one.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { canCheckProcesses, mayReadNow } from "./deno_access.ts";

/**
 * Whether process `pid` runs (EPERM from kill(pid, 0): it does, as another
 * user). A zombie — exited, not yet reaped by its parent — does not: a killed
 * writer's lock is stale at once, not when its parent gets round to it.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid > MAX_PID) return false; // no process has it
  // Deno without --allow-run: the signal would prompt on a terminal (or be refused). Cannot tell:
  // alive, as below, so that a live writer's lock is never taken over; the messages say why.
  if (!canCheckProcesses()) return true;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // Only "no such process" says it is gone. Anything else — EPERM (another user's), or Deno
    // refusing the signal without --allow-run (it refuses /proc too) — says nothing: alive, so that
    // a live writer's lock is never taken over (its temporary file had been deleted under it).
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  return !isZombie(pid);
}

/** The largest pid kill() takes (Linux's are at most 2^22): a larger one in a lock is no process. */
const MAX_PID = 2 ** 31 - 1;

/** Whether /proc says `pid` is a zombie (state Z); false where there is no /proc. */
function isZombie(pid: number): boolean {
  if (!mayReadNow(`/proc/${pid}/stat`)) return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  // "pid (comm) S …": the name may hold spaces and parentheses; the state follows the last ")".
  return stat.charAt(stat.lastIndexOf(")") + 2) === "Z";
}
