/**
 * `sfx send --to <code|id> <file|dir>…`: offer files to another client through
 * the server, with a progress bar on a terminal (or `--json` events), and
 * Ctrl-C cancelling on both sides. Without `--to`, show this sender's code and
 * send to the receiver that types it (`sfx receive <code>`).
 *
 * @module
 */
import { createInterface } from "node:readline/promises";
import { type Command, Option } from "commander";
import type { CommandResult } from "./context.ts";
import { resolveServer } from "./discover.ts";
import { filesSummary, followTransfer, formatBytes, formatDuration, formatDoneRate, jsonEvents, LeftOut, progressBar, SAME_CODE_LINE, sendByCodeLines, verifyLine, warnSkipped } from "./progress.ts";
import { connect } from "../client/connection.ts";
import { formatAddress } from "../transport/datagram.ts";
import { sendByCode, sendFiles } from "../client/send.ts";
import { checkStdin, collectFiles } from "../client/walk.ts";
import { offeredBytes, type TransferEvent } from "../client/events.ts";
import { formatId } from "../pairing/id_registry.ts";
import { ExchangeCode, parseReceiverTarget } from "../protocol/exchange_code.ts";
import { SfxError } from "../errors.ts";
import { printable } from "../protocol/schema.ts";
import { signalRepeats } from "../signal_repeat.ts";

interface SendFlags {
  to?: string;
  server?: string;
  name?: string;
  json?: boolean;
  verify?: boolean;
}

/** Registers `sfx send`. */
export function registerSend(program: Command, result: CommandResult): void {
  const to = new Option("--to <code>", "the receiver's code (or its ID alone), as `sfx receive` shows it: with the code, the exchange is keyed with its secret digits, which the server never sees. Without --to, sfx shows a code of its own for the receiver to type (sfx receive <code>)");
  // SFX_TO keeps the code out of `ps`. Deno granted access to some variables only refuses to read
  // any other (commander would throw on it): then it is not consulted.
  if (mayReadEnv(TO_ENV)) to.env(TO_ENV);
  program
    .command("send")
    .description("send files and directories: to the client with the given code (or ID), or, without --to, to whoever types the code this shows")
    .argument("<paths...>", "files or directories to send; - reads standard input (with --name)")
    .addOption(to)
    .option("-s, --server <host[:port]>", "server address (default: discover one)")
    .option("--name <name>", "file name for standard input")
    .option("--json", "print machine-readable events, one JSON object per line")
    .option("--verify", "before any byte is sent, type the verification code the receiver shows (ask them): a server in between is found out before it gets the files")
    .action(async (paths: string[], flags: SendFlags) => {
      result.status = await runSend(paths, flags);
    });
}

/** The environment variable `sfx send --to` defaults to. */
const TO_ENV = "SFX_TO";

/** Whether the environment variable `name` may be read (Deno, granted some variables only, throws on others). */
function mayReadEnv(name: string): boolean {
  try {
    void (name in process.env);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a leaf of work with Ctrl-C (and SIGTERM) aborting its signal; a second Ctrl-C exits at once.
 * One Ctrl-C that arrives twice within REPEAT_WITHIN_MS (a wrapper such as `timeout --foreground`
 * passing it on) is one: it cancels, the peer is told and kept parts are saved.
 */
export async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>, now?: () => number): Promise<T> {
  const ac = new AbortController();
  const counts = signalRepeats(now);
  // SIGHUP: the terminal closed (an ssh session dropped) — a cancel like Ctrl-C, so the peer is told
  // and no temporary file is left behind.
  const handlers = INTERRUPTS.map((sig) => {
    const handler = () => {
      if (!counts(sig)) return;
      if (ac.signal.aborted) process.exit(130);
      ac.abort();
    };
    listen(sig, handler);
    return [sig, handler] as const;
  });
  try {
    return await work(ac.signal);
  } finally {
    for (const [sig, handler] of handlers) process.off(sig, handler);
  }
}

/** The signals that cancel a command (and end a session) as Ctrl-C does. */
export const INTERRUPTS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** process.on(sig, …), where the platform has that signal. */
export function listen(sig: (typeof INTERRUPTS)[number], handler: () => void): void {
  try {
    process.on(sig, handler);
  } catch {
    // No such signal here (SIGHUP under Deno on Windows).
  }
}

/** What a sender is told when the receiver resumes: `bytes` it kept are not sent again (here and in `sfx client`). */
export function keptByReceiver(bytes: number): string {
  // Reading a large part takes a while (both sides hash it), with nothing sent: said, so it is not taken for a stall.
  return `The receiver kept ${formatBytes(bytes)} from an interrupted transfer: reading them here to check them, then sending the rest.`;
}

/**
 * Asks the user to type the verification code the receiver shows (`--verify`): what they typed,
 * or undefined when the input ends (Ctrl-D). A line without digits (an Enter pressed while
 * waiting for the accept) is asked again. Read as a line in the terminal's own mode, so that
 * Ctrl-C is the usual signal.
 */
export async function askCode(signal: AbortSignal, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<string | undefined> {
  const rl = createInterface({ input, output, terminal: false });
  const ended = new Promise<undefined>((resolve) => rl.once("close", () => resolve(undefined)));
  try {
    return await typedCode(() => Promise.race([rl.question(ASK_CODE, { signal }), ended]));
  } finally {
    rl.close();
  }
}

/**
 * The answer to `--verify`'s question that has digits: `ask` again after a line without (an Enter
 * pressed while waiting for the accept), up to five times; undefined when `ask` gives none.
 */
export async function typedCode(ask: () => Promise<string | undefined>): Promise<string | undefined> {
  for (let asked = 0; asked < 5; asked++) {
    const typed = await ask();
    if (typed === undefined || /\d/.test(typed)) return typed;
  }
  return undefined;
}

/** What `--verify` asks. */
export const ASK_CODE = "Ask the receiver for the verification code it shows, and type it here to send: ";

async function runSend(paths: string[], flags: SendFlags): Promise<number> {
  // Without --to, this sender shows a code of its own and sends to whoever types it.
  const target = flags.to === undefined ? undefined : parseReceiverTarget(flags.to);
  const secret = target?.secret;
  const json = flags.json ? jsonEvents() : undefined;
  const leftOut = new LeftOut((e) => {
    warnSkipped(e.path, e.reason);
    json?.({ event: "leftOut", ...e });
  });
  // Else it would be ignored: the file would arrive under its own name, not the one asked for.
  if (flags.name !== undefined && !paths.includes("-")) throw new SfxError("SFX_USAGE", "--name names standard input: give '-' among the paths (a file is sent under its own name)");
  // `sfx send - <&-` reads a closed standard input as empty (Node opens /dev/null in its place): said, not silent.
  let stdinEmpty = false;
  const files = await collectFiles(paths, { stdinName: flags.name, onSkip: leftOut.onSkip, onStdinEnd: (bytes) => (stdinEmpty = bytes === 0) });
  const bar = progressBar();
  const say = (line: string) => {
    if (!json) process.stderr.write(`${line}\n`);
  };
  const usesStdin = paths.includes("-");
  // Given the receiver's code, or sending by this sender's own, --verify asks nothing (the receiver proves the code), so it needs no terminal.
  if (flags.verify && target !== undefined && secret === undefined && (usesStdin || !process.stdin.isTTY)) {
    throw new SfxError("SFX_USAGE", `--verify asks you to type the code the receiver shows: it needs a terminal on standard input${usesStdin ? ", which '-' sends" : ""}`);
  }
  if (usesStdin) checkStdin();
  try {
    await withInterrupt((signal) => sendWithSignal(signal));
    // Said again at the end, where a user looks: the lines above may have scrolled away.
    const line = leftOut.end("everything else arrived and was verified");
    if (line) say(line);
    if (stdinEmpty) process.stderr.write(`sfx: note: standard input was empty: ${printable(flags.name ?? "-")} was sent as an empty file\n`);
    return 0;
  } finally {
    // A pending read of a pipe would keep the process alive after a cancel.
    if (usesStdin) process.stdin.destroy();
  }

  async function sendWithSignal(signal: AbortSignal): Promise<void> {
    const found = await resolveServer(flags.server);
    const conn = await connect({ server: { host: found.host, port: found.port }, signal });
    // Before an answer the offer may not have reached the receiver yet (the server holds it while
    // the receiver's exchange is checked): it is withdrawn; after one, the receiver is told.
    let accepted = false;
    // Sending by this sender's code: made here, never sent; the receiver types it.
    const code = target === undefined ? new ExchangeCode() : undefined;
    /** The receiver the files are offered to: given, or (by code) the last that typed the code. */
    let to = target?.id;
    /** Whether an offer went out (by code, only to a receiver that proved the code). */
    let offered = false;
    try {
      // A code of its own comes as the `code` event, once the server knows it takes pulls.
      json?.({ event: "connected", id: conn.id, server: conn.welcome.server.name, version: conn.welcome.server.version, address: formatAddress(found.host, found.port) });
      if (code) say(`Connected to ${conn.welcome.server.name} (sfx ${conn.welcome.server.version}) at ${formatAddress(found.host, found.port)}.`);
      /** Whether this sender's code was shown (once the server knows it takes pulls: its first `code` event). */
      let shown = false;
      const waiting = "Still waiting for the receiver to type the code (Ctrl-C to stop)…";
      const barFollows = followTransfer(bar);
      /** Whether the exchange is keyed with a code (then --verify asks nothing). */
      let byCode = false;
      const onEvent = (e: TransferEvent) => {
        if (e.event === "accepted") accepted = true;
        if (e.event === "offer") offered = true;
        if (e.event === "pulled") to = e.from;
        // Cancelled here (Ctrl-C, a signal): the one error event is the command's own, below, which says whether the receiver was told.
        if (e.event === "error" && signal.aborted) return;
        json?.(e);
        if (json) return;
        barFollows(e);
        const lines = sendByCodeLines(e, shown, to ?? "", waiting);
        if (lines?.out !== undefined) process.stdout.write(`${lines.out}\n`);
        if (lines?.err !== undefined) say(lines.err);
        if (e.event === "code" && !shown) {
          shown = true;
          say(`${filesSummary(files.length, offeredBytes(files))}: waiting for the receiver to type the code (Ctrl-C to stop)…`);
        }
        switch (e.event) {
          case "offer":
            if (code) say(`Client ${formatId(to!)} typed the code: offering ${filesSummary(files.length, e.bytes)}; waiting for them to accept…`);
            else say(`Offering ${filesSummary(files.length, e.bytes)} to ${formatId(to!)}${secret === undefined ? "" : ", with its code"}; waiting for them to accept…`);
            break;
          case "accepted":
            say(flags.verify && target !== undefined && secret === undefined ? "Accepted. Enciphered end to end, under keys the two ends agreed through the server." : "Accepted; sending.");
            break;
          case "verify":
            // With --verify this end's code is not shown: the user types the receiver's, not this one copied.
            // Keyed with a code, nothing was asked: said as without --verify.
            byCode = e.byCode === true;
            if (!flags.verify || byCode) say(verifyLine(e.code, "the receiver", e.byCode, code ? "yours" : "theirs"));
            break;
          case "start":
            if (flags.verify && !byCode) say(SAME_CODE_LINE);
            if (e.resumed) say(keptByReceiver(e.resumed));
            break;
          case "done":
            process.stdout.write(`Sent ${e.files} file${e.files === 1 ? "" : "s"}, ${formatBytes(e.bytes)} in ${formatDuration(e.seconds)} (${formatDoneRate(e)})${code ? ` to ${formatId(to!)}` : ""}; the receiver verified every file.\n`);
            break;
        }
      };
      if (code) await sendByCode(conn, { code, files, onEvent, signal });
      else await sendFiles(conn, { to: target!.id + (secret ?? ""), files, onEvent, signal, ...(flags.verify ? { confirmCode: askCode } : {}) });
      await conn.close();
    } catch (err) {
      bar.end();
      if (signal.aborted) {
        await conn.abort("cancelled by the sender");
        const withdrawn = !code || offered ? "Cancelled: the offer was withdrawn" : "Stopped: no receiver proved the code";
        throw new SfxError("SFX_CANCELLED", accepted ? "Cancelled: the receiver was told" : withdrawn);
      }
      // The receiver was told why (an error message through the server): a
      // graceful close delivers it; an ABORT would drop it.
      // Should the close not get through (the relay holding our window shut), the abort says why.
      if (err instanceof SfxError && !conn.closedWith) await conn.close(2000, `the sender failed: ${err.message}`.slice(0, 400));
      else await conn.abort("send failed");
      throw err;
    }
  }

}
