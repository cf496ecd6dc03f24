/**
 * What Deno lets sfx do, asked before doing it. Deno reports a refused
 * permission badly in the places sfx meets it: a datagram to an address
 * `--allow-net` does not list is dropped with an error the socket's error
 * handler sees as loss (a 10 s "no answer"), a multicast query fails with
 * "UNKNOWN", a signal to a process prompts on a terminal in the middle of the
 * output. So each is asked for first: already granted; granted at Deno's
 * prompt (on a terminal); or refused, and the caller says which flag to give.
 * Outside Deno everything is allowed.
 *
 * @module
 */

interface PermissionStatus {
  state: string;
}
type Descriptor = { name: "net"; host: string } | { name: "write" | "read"; path: string } | { name: "run" };
interface DenoPermissions {
  permissions: { querySync(d: Descriptor): PermissionStatus; requestSync(d: Descriptor): PermissionStatus };
}

const deno = (): DenoPermissions | undefined => (globalThis as { Deno?: DenoPermissions }).Deno;

/** `host:port` as Deno's net permission names it (an IPv6 address in brackets). */
function netHost(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Whether Deno (if this is Deno) grants `desc`: already, or (`ask`) at its prompt on a terminal. */
function granted(desc: Descriptor, ask: boolean): boolean {
  const d = deno();
  if (!d) return true;
  const state = d.permissions.querySync(desc).state;
  return state === "granted" || (ask && state === "prompt" && d.permissions.requestSync(desc).state === "granted");
}

/** Whether Deno (if this is Deno) already lets sfx send to `host`:`port`; never prompts. */
export function mayReachNow(host: string, port: number): boolean {
  return granted({ name: "net", host: netHost(host, port) }, false);
}

/** Whether Deno lets sfx send to `host`:`port`: granted already, or at its prompt on a terminal. */
export function mayReach(host: string, port: number): boolean {
  return granted({ name: "net", host: netHost(host, port) }, true);
}

/** Whether Deno lets sfx read and write under `dir`: granted already, or at its prompt on a terminal. */
export function mayWrite(dir: string): boolean {
  return granted({ name: "read", path: dir }, true) && granted({ name: "write", path: dir }, true);
}

/** Whether Deno (if this is Deno) already grants reading `path`; never prompts (a lock looked at is no reason to). */
export function mayReadNow(path: string): boolean {
  return granted({ name: "read", path }, false);
}

/**
 * Whether sfx can ask whether a process lives: Deno needs `--allow-run` for
 * the signal that asks (and refuses /proc without it). Never prompts: a lock
 * looked at is no reason to interrupt the user.
 */
export function canCheckProcesses(): boolean {
  return granted({ name: "run" }, false);
}

/** The hint for a lock whose process sfx could not check (see {@link canCheckProcesses}), or "". */
export function processCheckHint(): string {
  return canCheckProcesses() ? "" : " (under Deno without --allow-run, sfx cannot tell whether that process still runs: give --allow-run)";
}
