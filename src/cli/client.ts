/** `sfx client`: the interactive session. */
import type { Command } from "commander";
import type { CommandResult } from "./context.ts";
import { SfxError } from "../errors.ts";

/** Registers `sfx client`. */
export function registerClient(program: Command, result: CommandResult): void {
  program
    .command("client")
    .description("interactive session: connect, see your ID, send, receive and share")
    .option("-s, --server <host[:port]>", "server address (default: discover one)")
    .option("-d, --dir <dir>", "directory for received files", ".")
    .action(async () => {
      throw new SfxError("SFX_INTERNAL", "client is not implemented yet");
    });
  void result;
}
