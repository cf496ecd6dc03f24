/** `sfx share put|ls|get`: the anonymous share store. */
import type { Command } from "commander";
import type { CommandResult } from "./context.ts";
import { SfxError } from "../errors.ts";

/** Registers `sfx share` and its subcommands. */
export function registerShare(program: Command, result: CommandResult): void {
  const share = program.command("share").description("upload files for anyone with the code; list and download shares");
  share
    .command("put")
    .description("upload files and directories; prints the share code")
    .argument("<paths...>", "files or directories")
    .option("-s, --server <host[:port]>", "server address (default: discover one)")
    .option("--expires <when>", "1h, 7d or an ISO date (default 24h)")
    .option("--max-downloads <n>", "delete the share after n completed downloads")
    .option("--json", "print the code, expiry and files as JSON")
    .action(async () => {
      throw new SfxError("SFX_INTERNAL", "share put is not implemented yet");
    });
  share
    .command("ls")
    .description("list a share's files, sizes and expiry")
    .argument("<code>", "the share code")
    .option("-s, --server <host[:port]>", "server address (default: discover one)")
    .option("--json", "print JSON")
    .action(async () => {
      throw new SfxError("SFX_INTERNAL", "share ls is not implemented yet");
    });
  share
    .command("get")
    .description("download all or the named files of a share")
    .argument("<code>", "the share code")
    .argument("[names...]", "files to download (default: all)")
    .option("-s, --server <host[:port]>", "server address (default: discover one)")
    .option("-d, --dir <dir>", "directory to write to", ".")
    .option("--overwrite", "replace existing files instead of writing 'name (1).ext'")
    .option("--json", "print machine-readable events")
    .action(async () => {
      throw new SfxError("SFX_INTERNAL", "share get is not implemented yet");
    });
  void result;
}
