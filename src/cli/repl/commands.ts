/**
 * The commands of the `sfx client` prompt, parsed by the same commander
 * definitions as the one-shot commands (`registerSend`, `registerShare`,
 * `registerDiscover`), so a flag means the same in both places. Only the
 * actions differ: here they run against the session's open connection
 * (see {@link SessionActions}) instead of opening one. A fresh program is
 * built for every line (commander keeps option values between parses).
 *
 * Session-only syntax: `send <code|id> <path>…` (the one-shot `--to <code>` works
 * too; without a code, a send by this client's code), `receive <code>`,
 * `connect [host[:port] | n]`, `disconnect`, `id`, `status`,
 * `help [command]`, `quit` (or `exit`).
 *
 * @module
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { Command, CommanderError } from "commander";
import type { CommandResult } from "../context.ts";
import { registerSend } from "../send.ts";
import { joinCodeGroups, registerShare } from "../share.ts";
import { registerDiscover } from "../discover.ts";
import { parseHostPort } from "../options.ts";
import type { DiscoverOptions } from "../../discovery/index.ts";
import { describeError, SfxError } from "../../errors.ts";
import { printable, printableLines } from "../../protocol/schema.ts";
import { fitText } from "../../protocol/messages.ts";
import { splitWords } from "./words.ts";

/** Flags of `send` as commander parsed them. */
export interface SessionSendFlags {
  name?: string;
  json?: boolean;
  verify?: boolean;
}

/** Flags of `share put`. */
export interface SessionPutFlags {
  expires?: string;
  maxDownloads?: string;
  json?: boolean;
}

/** Flags of `share get`; `dir` is undefined unless typed (the session's --dir applies). */
export interface SessionGetFlags {
  dir?: string;
  overwrite?: boolean;
  json?: boolean;
}

/** What each command does, in the session. */
export interface SessionActions {
  id(): void | Promise<void>;
  /** `to`: undefined when no receiver was given. */
  send(to: string | undefined, paths: string[], flags: SessionSendFlags): void | Promise<void>;
  /** `code`: a sender's code, as typed (its groups joined). */
  receive(code: string): void | Promise<void>;
  sharePut(paths: string[], flags: SessionPutFlags): void | Promise<void>;
  shareLs(code: string, flags: { json?: boolean }): void | Promise<void>;
  shareGet(code: string, names: string[], flags: SessionGetFlags): void | Promise<void>;
  connect(target: string | undefined): void | Promise<void>;
  disconnect(): void | Promise<void>;
  discover(options: DiscoverOptions, flags: { json?: boolean }): void | Promise<void>;
  status(): void | Promise<void>;
  help(text: string): void;
  quit(): void | Promise<void>;
}

/** One line per session command, for `help`. */
export const SESSION_HELP: ReadonlyArray<readonly [string, string]> = [
  ["id", "show this client's ID and code (give the code to whoever sends you files)"],
  ["send <code|id> <path>…", "send files and directories to the client with that code (or ID)"],
  ["send <path>…", "show a code, and send to whoever types it ('sfx receive <code>')"],
  ["receive <code>", "fetch the files of the sender that shows that code"],
  ["share put <path>… [--expires 1h|7d|date] [--max-downloads n]", "upload a share; prints its code"],
  ["share ls <code>", "list a share's files, sizes and expiry"],
  ["share get <code> [name…] [--dir D]", "download all or the named files of a share"],
  ["connect [host[:port] | n]", "connect (again), to a host or to server n of 'discover'"],
  ["disconnect", "close the connection (the ID is released)"],
  ["discover", "list the sfx servers on the local network"],
  ["status", "connection, ID and running transfers"],
  ["help [command]", "this list, or a command's options"],
  ["quit", "leave (cancels running transfers); also exit, Ctrl-D, Ctrl-C twice"],
];

/** Every top-level command word, for completion. */
export const COMMAND_WORDS = ["id", "send", "receive", "share", "connect", "disconnect", "discover", "status", "help", "quit", "exit"] as const;

/** `share` subcommands, for completion. */
export const SHARE_WORDS = ["put", "ls", "get"] as const;

/** How `send` is typed at the prompt. */
const SEND_USAGE = "Usage: send [code|id] <path>…";

const SESSION_SERVER_HINT = "commands use the session's connection: type 'connect <host[:port]>' to change servers";

/** The session program: the one-shot definitions with session actions, plus the session-only commands. */
export function buildSessionProgram(actions: SessionActions, writeRaw: (text: string) => void): Command {
  // commander names a nameless program "program"; at the prompt there is no program name to type.
  const write = (text: string) => writeRaw(text.replace(/^Usage: program /m, "Usage: "));
  const result: CommandResult = { status: 0 };
  const program = new Command("")
    .exitOverride()
    .showSuggestionAfterError(true)
    .helpCommand(false)
    .configureOutput({ writeOut: write, writeErr: write, outputError: () => {} });
  registerSend(program, result);
  registerShare(program, result);
  registerDiscover(program, result);
  const find = (parent: Command, name: string): Command => {
    const c = parent.commands.find((x) => x.name() === name);
    if (!c) throw new SfxError("SFX_INTERNAL", `no '${name}' command to reuse`);
    return c;
  };
  // The session connects once: --server stays parseable (same definitions) but hidden, and refused.
  const hideServer = (cmd: Command) => {
    for (const o of cmd.options) if (o.long === "--server") o.hideHelp();
  };
  const noServer = (flags: { server?: string }) => {
    if (flags.server !== undefined) throw new SfxError("SFX_USAGE", `--server does not apply here: ${SESSION_SERVER_HINT}`);
  };

  hideServer(find(program, "send"));
  // The session's send takes its receiver from the line, never from SFX_TO (sfx send's default):
  // a word meant as a file must not become a send to whoever the environment names.
  const to = find(program, "send").options.find((o) => o.long === "--to");
  if (to) to.envVar = undefined;
  for (const c of find(program, "share").commands) hideServer(c);
  find(program, "send").action(async (paths: string[], flags: SessionSendFlags & { to?: string; server?: string }) => {
    noServer(flags);
    // As for share put: ignored, the file would arrive under its own name, not the one asked for.
    if (flags.name !== undefined) throw new SfxError("SFX_USAGE", "--name names standard input, which carries this session's commands: give files or directories");
    await actions.send(flags.to, paths, { name: flags.name, json: flags.json, verify: flags.verify });
  });
  const share = find(program, "share");
  // Standard input carries the session's commands: `-` and --name (for it) do not apply.
  for (const c of [find(program, "send"), find(share, "put")]) {
    for (const o of c.options) if (o.long === "--name") o.hideHelp();
    for (const a of c.registeredArguments) if (a.name() === "paths") a.description = "files or directories";
  }
  find(share, "put").action(async (paths: string[], flags: SessionPutFlags & { server?: string; name?: string }) => {
    noServer(flags);
    if (flags.name !== undefined) throw new SfxError("SFX_USAGE", "--name names standard input, which carries this session's commands: give files or directories");
    await actions.sharePut(paths, { expires: flags.expires, maxDownloads: flags.maxDownloads, json: flags.json });
  });
  // A code typed in its groups with spaces is one code, as on the command line.
  find(share, "ls").action(async (words: string[], flags: { server?: string; json?: boolean }) => {
    noServer(flags);
    const { code, rest } = joinCodeGroups(words);
    if (rest.length > 0) throw new SfxError("SFX_USAGE", `share ls takes one code, not also '${printable(rest.join(" "))}'`);
    await actions.shareLs(code, { json: flags.json });
  });
  const get = find(share, "get");
  // Its default is the session's --dir, not the one-shot's ".".
  for (const o of get.options) if (o.long === "--dir") o.default(o.defaultValue, "the session's --dir");
  get.action(async (first: string, more: string[], flags: SessionGetFlags & { server?: string }) => {
    noServer(flags);
    const { code, rest } = joinCodeGroups([first, ...more]);
    const dir = get.getOptionValueSource("dir") === "default" ? undefined : flags.dir;
    await actions.shareGet(code, rest, { dir, overwrite: flags.overwrite, json: flags.json });
  });
  find(program, "discover").action(async (flags: { timeout: number; json?: boolean; port: number; interface?: string[]; group: string; to?: string }) => {
    const options: DiscoverOptions = { timeoutMs: flags.timeout, port: flags.port, group: flags.group, interfaces: flags.interface };
    if (flags.to) {
      const hp = parseHostPort(flags.to, flags.port);
      options.target = { address: hp.host, port: hp.port };
    }
    await actions.discover(options, { json: flags.json });
  });

  program.command("id").description("show this client's ID").action(() => actions.id());
  program
    .command("receive")
    .description("fetch the files of the sender that shows this code (sfx send without --to); other offers to you are refused meanwhile")
    .argument("<code...>", "the sender's code, as it shows it (482-913-305-117)")
    .action((words: string[]) => actions.receive(words.join(" ")));
  program
    .command("connect")
    .description("connect (again): to the last server, to host[:port], or to server n of the last 'discover'")
    .argument("[server]", "host[:port], or a number from 'discover'")
    .action((target?: string) => actions.connect(target));
  program.command("disconnect").description("close the connection to the server").action(() => actions.disconnect());
  program.command("status").description("connection, ID and running transfers").action(() => actions.status());
  program
    .command("help")
    .description("list the commands, or show one command's options")
    .argument("[command...]", "a command, e.g. 'share get'")
    .action((words: string[]) => actions.help(helpText(program, words)));
  program.command("quit").alias("exit").description("leave the session").action(() => actions.quit());

  for (const c of program.commands) quiet(c, write);
  return program;
}

function quiet(cmd: Command, write: (text: string) => void): void {
  cmd.exitOverride().configureOutput({ writeOut: write, writeErr: write, outputError: () => {} });
  for (const sub of cmd.commands) quiet(sub, write);
}

/**
 * `help`: the session's command list, fitted to `columns` (a table when it
 * fits, else each description on its own indented lines); `help share get`:
 * that command's options.
 */
export function helpText(program: Command, words: readonly string[], columns = process.stdout.columns || 80): string {
  if (words.length === 0) {
    const width = Math.max(...SESSION_HELP.map(([c]) => c.length));
    const longest = Math.max(...SESSION_HELP.map(([, d]) => d.length));
    // The last column is left free: a terminal wraps a line that fills it.
    const table = 2 + width + 2 + longest < columns;
    const rows = table
      ? SESSION_HELP.map(([c, d]) => `  ${c.padEnd(width)}  ${d}`)
      : SESSION_HELP.flatMap(([c, d]) => [`  ${c}`, ...wrapWords(d, columns - 1 - 6).map((l) => `      ${l}`)]);
    return [
      "Commands:",
      ...rows,
      ...wrapWords("Ctrl-C cancels the running transfer; 'help <command>' shows its options.", columns - 1),
    ].join("\n");
  }
  let cmd: Command | undefined = program;
  for (const w of words) {
    cmd = cmd?.commands.find((c) => c.name() === w || c.aliases().includes(w));
  }
  if (!cmd) throw new SfxError("SFX_USAGE", `No command '${words.join(" ")}': type 'help' for the list`);
  let text = cmd.helpInformation().replace(/^Usage:\s+(program )?/, "Usage: ").trimEnd();
  if (cmd.name() === "send") text = text.replace(/^Usage: .*$/m, "Usage: send [code|id] <paths...>  (or: send --to <code|id> <paths...>)");
  return text;
}

/** `text` in lines of at most `width` characters, broken between words (a longer word has a line of its own). */
function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * Rewrites the session's shorthand into the one-shot form: `send <code> <path>…`
 * becomes `send --to <code> <path>…` (unless `--to` is given; an ID or a code typed in
 * groups, as shown, is joined), `?` is `help`. A first word that is not digits (and dashes),
 * or that names a file, is a path: `send a.txt` is a send by this client's code. `isPath`:
 * whether a word names an existing file or directory, which is never taken for a code.
 */
export function normalizeWords(words: readonly string[], isPath: (word: string) => boolean = () => false): string[] {
  const out = [...words];
  if (out[0] === "?") out[0] = "help";
  if (out[0] !== "send" || out.some((w) => w === "--to" || w.startsWith("--to="))) return out;
  const takesValue = new Set(["--name", "-s", "--server"]);
  for (let i = 1; i < out.length; i++) {
    const w = out[i];
    if (w === "--") break;
    if (takesValue.has(w)) {
      i++;
      continue;
    }
    if (w.startsWith("-") && w !== "-") continue;
    // Not a code or an ID: every word is a path, sent to whoever types this client's code.
    if (!/^\d[\d-]*$/.test(w) || isPath(w)) break;
    // An ID or a code typed in groups, as shown (`send 482 913 a.txt`, `send 482 913 305 117 a.txt`,
    // `send 482913 305-117 a.txt`): the words made of groups of three digits that follow, up to a
    // code's twelve digits, are one word. A code with a group missing is then refused as such
    // (nine digits), not sent to an ID with the rest taken for files. A word that names a file
    // here (`123456`, a date) is a path, never a group.
    const group = /^\d{3}(-?\d{3})*$/;
    const digitsIn = (word: string) => word.replace(/-/g, "").length;
    let n = 1;
    let digits = digitsIn(out[i]);
    while (group.test(out[i]) && i + n < out.length && group.test(out[i + n]) && !isPath(out[i + n]) && digits + digitsIn(out[i + n]) <= 12) {
      digits += digitsIn(out[i + n]);
      n++;
    }
    out.splice(i, n, out.slice(i, i + n).join(""));
    out.splice(i, 0, "--to");
    break;
  }
  return out;
}

/**
 * Parses and runs one typed line. Errors become one line on `write` (never
 * thrown): a usage error with a hint, an {@link SfxError} with its message.
 * Resolves once the command's action has (a transfer action may return at
 * once and go on in the background).
 */
export async function dispatchLine(
  line: string,
  actions: SessionActions,
  write: (text: string) => void,
  verbose = false,
  onError: (err: unknown) => void = () => {},
): Promise<void> {
  let words: string[];
  try {
    // `~` is the home directory, as in a shell (home looked up only when typed).
    words = normalizeWords(splitWords(line.trim(), line.includes("~") ? homedir() : undefined), (w) => existsSync(w));
  } catch (err) {
    write(`${(err as Error).message}\n`);
    onError(new SfxError("SFX_USAGE", (err as Error).message));
    return;
  }
  if (words.length === 0) return;
  const program = buildSessionProgram(actions, write);
  try {
    await program.parseAsync(words, { from: "user" });
  } catch (err) {
    // `send` with no files: the usage, which says a code or ID is optional (commander would name only 'paths').
    const noFiles = words[0] === "send" && err instanceof CommanderError && err.code === "commander.missingArgument";
    const text = noFiles ? `${SEND_USAGE} (type 'help send')` : errorLine(err, verbose);
    if (text) write(`${text}\n`);
    // Help and version output end parsing with an "error" that is none.
    if (text) onError(err instanceof CommanderError ? new SfxError("SFX_USAGE", text) : err);
  }
}

/** The one line an error becomes at the prompt. */
export function errorLine(err: unknown, verbose = false): string {
  if (err instanceof CommanderError) {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.help" || err.code === "commander.version") return "";
    const [first, ...rest] = err.message.replace(/^error:\s*/, "").split("\n");
    const suggestion = rest.find((l) => l.startsWith("(Did you mean"));
    return suggestion ? `${fitText(first, ERROR_LINE_BYTES)} ${suggestion}` : `${fitText(first, ERROR_LINE_BYTES)} (type 'help')`;
  }
  const usage = err instanceof SfxError && (err.code === "SFX_USAGE" || err.code === "SFX_BAD_ARGUMENT");
  const hint = usage && !/type '/.test(err.message) ? " (type 'help')" : "";
  // What was typed comes back in the message (a path, an unknown word): a megabyte pasted must not come back whole.
  const lines = describeError(err, verbose).split("\n");
  const shown = lines.length > ERROR_LINES ? [...lines.slice(0, ERROR_LINES - 1), `… (${lines.length - ERROR_LINES + 1} more lines)`] : lines;
  return `${printableLines(shown.map((l) => fitText(l, ERROR_LINE_BYTES)).join("\n"))}${hint}`;
}

/** The most an error line of the session takes: what the user typed is cut in its middle past it. */
const ERROR_LINE_BYTES = 1000;
/** The most lines an error takes (a message with its causes, with --verbose). */
const ERROR_LINES = 20;
