/** `sfx discover`: find sfx servers on the LAN by multicast. */
import type { Command } from "commander";
import type { CommandResult } from "./context.ts";
import { parseDuration } from "./options.ts";
import { SfxError } from "../errors.ts";

/** Registers `sfx discover`. */
export function registerDiscover(program: Command, result: CommandResult): void {
  program
    .command("discover")
    .description("find sfx servers on the local network")
    .option("-t, --timeout <duration>", "how long to listen for answers", parseDuration, 1000)
    .option("--json", "print one JSON object per server")
    .action(async () => {
      throw new SfxError("SFX_INTERNAL", "discover is not implemented yet");
    });
  void result;
}
