/** `sfx serve`: run the server in the foreground, as a daemon, or stop the daemon. */
import type { Command } from "commander";
import type { CommandResult } from "./context.ts";
import { parsePort } from "./options.ts";
import { SfxError } from "../errors.ts";

/** Registers `sfx serve`. */
export function registerServe(program: Command, result: CommandResult): void {
  program
    .command("serve")
    .description("run the sfx server: discovery responder, logs (and, as it lands, the SCTP relay and share store)")
    .option("-p, --port <port>", "UDP port for SCTP and discovery", parsePort, 6969)
    .option("--host <address>", "address to bind", "0.0.0.0")
    .option("--name <name>", "server name shown by discovery (default: host name)")
    .option("--log-dir <dir>", "directory for stream_server*.log (default /var/log)")
    .option("--daemon", "detach and run in the background; returns once the server is ready")
    .option("--stop", "stop the running daemon (SIGTERM) and wait for it to exit")
    .option("--pid-file <file>", "pid file (default /run/sfx.pid)")
    .action(async () => {
      throw new SfxError("SFX_INTERNAL", "serve is not implemented yet");
    });
  void result;
}
