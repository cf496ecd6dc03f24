/** `sfx receive`: connect, show this client's ID, and accept offered files. */
import type { Command } from "commander";
import type { CommandResult } from "./context.ts";
import { SfxError } from "../errors.ts";

/** Registers `sfx receive`. */
export function registerReceive(program: Command, result: CommandResult): void {
  program
    .command("receive")
    .description("wait for files: prints this client's ID for the sender")
    .option("-s, --server <host[:port]>", "server address (default: discover one)")
    .option("-d, --dir <dir>", "directory to write received files to", ".")
    .option("-y, --yes", "accept every offer without asking")
    .option("--once", "exit after one exchange")
    .option("--overwrite", "replace existing files instead of writing 'name (1).ext'")
    .option("--json", "print machine-readable events, one JSON object per line")
    .action(async () => {
      throw new SfxError("SFX_INTERNAL", "receive is not implemented yet");
    });
  void result;
}
