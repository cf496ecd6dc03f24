/**
 * `sfx client`: the interactive session — connect (or discover and pick a
 * server), show this client's ID, and take commands at a prompt (`send`,
 * `share put|ls|get`, `connect`, `disconnect`, `discover`, `status`, …)
 * while staying receivable. The session lives in `./repl/`.
 *
 * @module
 */
import type { Command } from "commander";
import type { CommandResult } from "./context.ts";
import { runSession } from "./repl/session.ts";
import { historyFile } from "./repl/history.ts";

interface ClientFlags {
  server?: string;
  dir: string;
  yes?: boolean;
  overwrite?: boolean;
}

/** Registers `sfx client`. */
export function registerClient(program: Command, result: CommandResult): void {
  program
    .command("client")
    .description("interactive session: connect, see your ID, send, receive and share")
    .option("-s, --server <host[:port]>", "server address (default: discover one; several answering: pick one)")
    .option("-d, --dir <dir>", "directory for received files (and 'share get' without --dir)", ".")
    .option("-y, --yes", "accept every offer without asking")
    .option("--overwrite", "replace existing files instead of writing 'name (1).ext'")
    .action(async (flags: ClientFlags, cmd: Command) => {
      const verbose = Boolean(cmd.parent?.opts().verbose);
      result.status = await runSession({ server: flags.server, dir: flags.dir, yes: flags.yes, overwrite: flags.overwrite, verbose, historyFile: historyFile() });
    });
}
