/**
 * Under Deno, sfx reads system information that needs `--allow-sys`: the host
 * name (locks, the server's name), the user and group ids (Deno's node:fs
 * checks access with them) and the network interfaces (discovery). Deno's
 * node:fs throws that refusal outside the promise it returns, an uncatchable
 * crash with a stack trace, so the permission is asked for before any command
 * runs: already granted, granted at Deno's prompt on a terminal, or refused
 * with one line naming the flag. Under Node and in the single executable there
 * is nothing to ask.
 *
 * @module
 */
import { SfxError } from "../errors.ts";

const SYS_KINDS = ["hostname", "uid", "gid", "networkInterfaces"] as const;

interface DenoPermissions {
  permissions: { requestSync(desc: { name: "sys"; kind: string }): { state: string } };
}

/** Throws `SFX_IO` naming what Deno refused; a no-op outside Deno. */
export function requireDenoPermissions(deno = (globalThis as { Deno?: DenoPermissions }).Deno): void {
  if (!deno) return;
  const refused = SYS_KINDS.filter((kind) => deno.permissions.requestSync({ name: "sys", kind }).state !== "granted");
  if (refused.length === 0) return;
  throw new SfxError(
    "SFX_IO",
    `Deno did not grant system access to ${refused.join(", ")}: run sfx with --allow-sys (or -A), as in 'deno run -A --unstable-net cli.ts …'`,
  );
}
