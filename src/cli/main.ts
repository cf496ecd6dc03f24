/**
 * The command line: one commander program, one file per command in this
 * folder. Each command's action resolves to an exit status; errors are
 * {@link SfxError}s mapped to a status and a one-line message here, in one
 * place.
 *
 * @module
 */
import { Command, CommanderError } from "commander";
import { existsSync } from "node:fs";
import { describeError, ERROR_CODES, exitStatusFor, SfxError } from "../errors.ts";
import { printableLines } from "../protocol/schema.ts";
import { VERSION } from "../version.ts";
import { jsonError } from "./progress.ts";
import { registerServe } from "./serve.ts";
import { registerSend } from "./send.ts";
import { registerReceive } from "./receive.ts";
import { registerDiscover } from "./discover.ts";
import { registerShare } from "./share.ts";
import { registerClient } from "./client.ts";
import { registerDemo } from "./demo.ts";
import type { CommandResult } from "./context.ts";
import { requireDenoPermissions } from "./deno_permissions.ts";
import { outputLost, setOutputLost } from "./output_lost.ts";

/** Builds the program. Exported so the interactive client reuses the same definitions. */
export function buildProgram(result: CommandResult): Command {
  const program = new Command("sfx")
    .description("Streaming Files eXchange: send files through a server you run, over SCTP over UDP")
    .version(VERSION, "-V, --version", "print the sfx version")
    .option("-v, --verbose", "explain errors with their causes")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // commander's own error text is replaced by one line of ours (see main()).
      outputError: () => {},
    })
    .hook("preAction", () => requireDenoPermissions());
  for (const register of [registerServe, registerSend, registerReceive, registerDiscover, registerShare, registerClient, registerDemo]) {
    register(program, result);
  }
  // Subcommands inherit exitOverride and the quiet error output.
  for (const cmd of program.commands) quietErrors(cmd);
  return program;
}

function quietErrors(cmd: Command): void {
  cmd.exitOverride().configureOutput({ outputError: () => {} });
  for (const sub of cmd.commands) quietErrors(sub);
}

/** Runs sfx with `argv` (without node and script) and resolves to the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  // The command: the first word that is not an option (the global options take no value).
  ignoreClosedOutput(argv.find((a) => !a.startsWith("-")));
  return withOutput(await run(argv));
}

async function run(argv: readonly string[]): Promise<number> {
  const result: CommandResult = { status: 0 };
  const program = buildProgram(result);
  // `sfx help share get` reads as `sfx share get --help` (commander's help command takes one word);
  // a word that names no command is a usage error, as `sfx nosuch` is.
  if (argv[0] === "help" && argv.length > 1) {
    let cmd = program;
    for (const word of argv.slice(1)) {
      if (word === "help" || word.startsWith("-")) break; // commander's own help command, or an option: its business
      const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
      if (!sub) {
        console.error(`sfx: unknown command '${argv.slice(1).join(" ")}' (see 'sfx --help')`);
        return 2;
      }
      cmd = sub;
    }
  }
  const args = argv[0] === "help" && argv.length > 2 ? [...argv.slice(1), "--help"] : [...argv];
  // Options come before a bare `--`; after it `--json` is a file's name (`sfx send --to ID -- --json`).
  const options = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
  const json = options.includes("--json");
  try {
    await program.parseAsync(args, { from: "user" });
    return result.status;
  } catch (caught) {
    if (caught instanceof CommanderError) {
      const status = reportUsage(caught, commandPath(program, argv));
      // A script reading --json events hears about a usage error too (an unknown option, a missing value).
      if (status === 2 && json) jsonError("SFX_USAGE", caught.message.replace(/^error:\s*/, "").split("\n")[0]);
      return status;
    }
    const err = withLostDirectory(caught);
    const verbose = Boolean(program.opts().verbose) || options.includes("--verbose") || options.includes("-v");
    const hint = err instanceof SfxError && (err.code === "SFX_BAD_ARGUMENT" || err.code === "SFX_USAGE") ? ` (see 'sfx ${commandPath(program, argv)}--help')` : "";
    // Messages carry names a peer chose (a file in an offer): shown printable; --json keeps them exact.
    console.error(`sfx: ${printableLines(describeError(err, verbose))}${hint}`);
    if (json) jsonError(err instanceof SfxError ? err.code : "SFX_INTERNAL", describeError(err, false));
    return exitStatusFor(err);
  }
}

/**
 * Node's "process.cwd failed … uv_cwd": sfx was started in a directory that has since been
 * removed, and a relative path (or the default `--dir .`) needed it. The user's doing, not a bug.
 */
function withLostDirectory(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code !== "ENOENT" || e.syscall !== "uv_cwd") return err;
  return new SfxError("SFX_IO", "The current directory no longer exists (it was removed): change to another one, or give absolute paths and --dir", { cause: err });
}

/** The command words `argv` starts with, each followed by a space ("share get "), for a help hint. */
function commandPath(program: Command, argv: readonly string[]): string {
  let cmd = program;
  let path = "";
  for (const word of argv) {
    if (path === "" && word.startsWith("-")) continue; // sfx's own options before the command (-v)
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) break;
    path += `${sub.name()} `;
    cmd = sub;
  }
  return path;
}

/** commander's errors: help asked for and version exit 0; everything else (a missing command: the help on stderr) status 2. */
function reportUsage(err: CommanderError, command: string): number {
  if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return 0;
  // Asked for (`sfx help`), help is an answer; shown because a command was missing (`sfx`, `sfx share`), a usage error.
  if (err.code === "commander.help") return err.exitCode === 0 ? 0 : 2;
  const [line, ...rest] = err.message.replace(/^error:\s*/, "").split("\n");
  // commander's "(Did you mean send?)" is on a line of its own: keep it.
  const suggestion = rest.find((l) => l.startsWith("(Did you mean"));
  // `sfx send --to 123456 -notes.txt`: a file whose name starts with a dash, taken for an option.
  const option = err.code === "commander.unknownOption" ? /'(-[^']*)'/.exec(line)?.[1] : undefined;
  const file = option !== undefined && isFile(option) ? ` (the file ${option}? write ./${option}, or put -- before the file names)` : "";
  console.error(`sfx: ${line}${suggestion ? ` ${suggestion}` : ""}${file} (see 'sfx ${command}--help')`);
  return 2;
}

export { SfxError };

function isFile(path: string): boolean {
  try {
    return existsSync(path);
  } catch {
    return false; // Deno without --allow-read
  }
}

/**
 * Output that cannot be written never crashes sfx. A reader that went away
 * (`sfx send --json … | head -1`, EPIPE): what is left to say is dropped, and
 * the command goes on (a transfer is not broken by it) and exits with its
 * own status. Any other failure to write (a full disk, ENOSPC; a terminal
 * gone, EIO) loses what the command had to say: a command other than `serve`
 * then says so on stderr, if it can, and exits with SFX_IO's status. The
 * server's console is only a copy of its log, which goes on. (A listener
 * that threw here made a daemon whose stderr file was on a full disk die
 * without a trace, and a foreground server whose terminal was gone loop at
 * 100 % CPU.)
 */
function ignoreClosedOutput(command: string | undefined): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount("error") > 0) continue;
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED" || command === "serve") return;
      if (outputLost()) return;
      setOutputLost(stream === process.stdout ? "stdout" : "stderr", err);
      // Said after the command's own status was settled (the last line was what failed): unless it failed anyway.
      if (!process.exitCode) process.exitCode = withOutput(0);
      if (stream === process.stdout) {
        try {
          process.stderr.write(`sfx: could not write the output: ${err.message}\n`);
        } catch { /* stderr is gone too */ }
      }
    });
  }
}

/** The command's status, or SFX_IO's when what it had to say was lost. */
function withOutput(status: number): number {
  return status === 0 && outputLost() ? ERROR_CODES.SFX_IO : status;
}
