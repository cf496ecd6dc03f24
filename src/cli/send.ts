/** `sfx send --to <id> <file|dir>…`: offer files to another client through the server. */
import type { Command } from "commander";
import type { CommandResult } from "./context.ts";
import { SfxError } from "../errors.ts";

/** Registers `sfx send`. */
export function registerSend(program: Command, result: CommandResult): void {
  program
    .command("send")
    .description("send files and directories to the client with the given ID")
    .argument("<paths...>", "files or directories to send; - reads standard input (with --name)")
    .requiredOption("--to <id>", "the receiver's ID, as `sfx receive` shows it")
    .option("-s, --server <host[:port]>", "server address (default: discover one)")
    .option("--name <name>", "file name for standard input")
    .option("--json", "print machine-readable events, one JSON object per line")
    .action(async () => {
      throw new SfxError("SFX_INTERNAL", "send is not implemented yet");
    });
  void result;
}
