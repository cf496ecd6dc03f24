/**
 * `sfx receive`: connect, print this client's ID, and take offered files:
 * ask on a terminal, accept with `--yes`, reject when there is no one to
 * ask. Keeps receiving until Ctrl-C, or one exchange with `--once`.
 * `sfx receive <code>`: fetch the files of the sender that shows that code
 * (`sfx send` without `--to`), asked and accepted in the same way, then exit.
 *
 * @module
 */
import type { Command } from "commander";
import { stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { basename, resolve } from "node:path";
import type { CommandResult } from "./context.ts";
import { resolveServer } from "./discover.ts";
import { CODES_CLOSED_LINE, codeLine, filesSummary, missedCodeLine, followTransfer, formatBytes, formatDuration, formatDoneRate, ID_ONLY_NOTE, jsonEvents, progressBar, renewedCodeLine, verifyLine } from "./progress.ts";
import { ExchangeCode, parseSenderCode } from "../protocol/exchange_code.ts";
import { withInterrupt } from "./send.ts";
import { connect } from "../client/connection.ts";
import { formatAddress } from "../transport/datagram.ts";
import { CodeNotProven, type IncomingOffer, type KeptTransfer, keptTransfers, OfferWithdrawn, Receiver, receiveByCode, withoutFolder } from "../client/receive.ts";
import { discardKeptParts, ioError, listKeptParts, prepareDirectory } from "../client/safe_write.ts";
import { printable } from "../protocol/schema.ts";
import { offeredBytes, refusedBySfx, type TransferEvent } from "../client/events.ts";
import { formatId } from "../pairing/id_registry.ts";
import { exitStatusFor, isSfxError, SfxError } from "../errors.ts";
import { outputLost } from "./output_lost.ts";
import { canCheckProcesses } from "../deno_access.ts";

interface ReceiveFlags {
  server?: string;
  dir: string;
  yes?: boolean;
  once?: boolean;
  overwrite?: boolean;
  json?: boolean;
  discardKept?: boolean;
}

/** Registers `sfx receive`. */
/** What a receiver says as it resumes: before the rest comes, the kept bytes are hashed here (and read there), which takes a while for a large part. */
export function resumingHere(bytes: number): string {
  return `Resuming: checking the ${formatBytes(bytes)} kept from an interrupted transfer, then the rest comes.`;
}

export function registerReceive(program: Command, result: CommandResult): void {
  program
    .command("receive")
    .description("wait for files: prints this client's ID and code for the sender; or, given the code 'sfx send' shows, fetch that sender's files")
    .argument("[code]", "the code a sender shows (sfx send without --to): fetch its files, then exit")
    .option("-s, --server <host[:port]>", "server address (default: discover one)")
    .option("-d, --dir <dir>", "directory to write received files to", ".")
    .option("-y, --yes", "accept every offer without asking")
    .option("--once", "exit after one exchange")
    .option("--overwrite", "replace existing files instead of writing 'name (1).ext'")
    .option("--json", "print machine-readable events, one JSON object per line")
    .option("--discard-kept", "delete what interrupted transfers kept under --dir to resume from, then exit")
    .action(async (code: string | undefined, flags: ReceiveFlags) => {
      if (flags.discardKept && code !== undefined) throw new SfxError("SFX_USAGE", "--discard-kept receives nothing: drop the code");
      result.status = flags.discardKept ? await runDiscardKept(flags) : await runReceive(flags, code);
    });
}

/** `sfx receive --discard-kept`: frees the space interrupted transfers kept to resume from; connects to no server. */
async function runDiscardKept(flags: ReceiveFlags): Promise<number> {
  const receiving = (["server", "yes", "once", "overwrite"] as const).filter((k) => flags[k] !== undefined);
  if (receiving.length > 0) throw new SfxError("SFX_USAGE", `--discard-kept receives nothing: drop --${receiving.join(", --")}`);
  const dir = resolve(flags.dir);
  const st = await stat(dir).catch((err) => {
    throw ioError(err, "read", dir);
  });
  if (!st.isDirectory()) throw new SfxError("SFX_IO", `Cannot read ${dir}: it is not a directory`);
  const { parts, truncated, strays, inUse } = await listKeptParts(dir);
  const { gone, failed } = await discardKeptParts(parts, strays);
  const bytes = gone.reduce((n, p) => n + p.bytes, 0);
  const left = parts.length - gone.length - failed.length;
  if (flags.json) {
    const line = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
    for (const p of gone) line({ event: "discarded", temporary: p.temporary, bytes: p.bytes });
    for (const f of failed) line({ event: "error", code: f.error.code, message: f.error.message, temporary: f.part.temporary });
    line({ event: "discarded-all", parts: gone.length, bytes, failed: failed.length, left, inUse, truncated });
  } else {
    for (const f of failed) process.stderr.write(`sfx: ${f.error.message}\n`);
    process.stdout.write(`Deleted ${gone.length} kept part${gone.length === 1 ? "" : "s"} under ${dir}: ${formatBytes(bytes)} freed.\n`);
    if (left > 0) process.stderr.write(`${left} left: a receiver took them up meanwhile.\n`);
    if (inUse > 0) {
      const one = inUse === 1;
      process.stderr.write(`${inUse} ${one ? "was" : "were"} left alone: ${one ? "its lock names" : "their locks name"} a live process (a receive or share get writing ${one ? "it" : "them"}; if none runs, the process ID is now another program's: delete the .sfx-lock beside ${one ? "it" : "each"}).\n`);
    }
    if (truncated) process.stderr.write("The search stopped early or could not open some folders: there may be more.\n");
    if (!canCheckProcesses()) process.stderr.write("Under Deno without --allow-run, sfx cannot tell whether the process holding a part's lock still runs: such parts were neither listed nor deleted. Give --allow-run.\n");
  }
  return failed.length > 0 ? exitStatusFor(failed[0].error) : 0;
}

async function runReceive(flags: ReceiveFlags, senderCode?: string): Promise<number> {
  // Given a sender's code: that sender's files, one exchange (checked before anything else is done).
  const fetching = senderCode === undefined ? undefined : parseSenderCode(senderCode);
  const once = flags.once || fetching !== undefined;
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  // Its offer could only be declined, which ends the sender's send: said before anything is done.
  if (fetching && !flags.yes && !interactive) throw new SfxError("SFX_USAGE", "sfx receive <code> asks before it takes the files, and has no terminal to ask on: give --yes to take them");
  const dir = resolve(flags.dir);
  await prepareDirectory(dir);
  const json = flags.json ? jsonEvents() : undefined;
  const bar = progressBar();
  const say = (line: string) => {
    if (!json) process.stderr.write(`${line}\n`);
  };
  return withInterrupt(async (signal) => {
    // What earlier transfers left here is looked for while connecting, not after.
    const listing = keptTransfers(dir);
    const found = await resolveServer(flags.server);
    const conn = await connect({ server: { host: found.host, port: found.port }, signal });
    // Its secret digits are never sent: a sender who types the whole code keys the exchange with them.
    const code = new ExchangeCode();
    // An offer the server garbled is not shown as one: said, rather than waiting without a word.
    conn.onProtocolError((err) => process.stderr.write(`sfx: ${printable(err.message)}\n`));
    try {
      const { kept, truncated } = await listing;
      // The ID is what a receiver is run for: written nowhere (a full disk; a reader gone away is
      // another matter, EPIPE), nobody could send to it, and it would wait for nothing. Node reports
      // a failed write as an error event (outputLost), Deno throws it here.
      const unshown = (why: string) => new SfxError("SFX_IO", `Cannot show this receiver's ID: its output could not be written (${why}), so nobody could send to it`);
      try {
        if (json) {
          json({ event: "connected", id: conn.id, ...(fetching ? {} : { code: code.format(conn.id) }), server: conn.welcome.server.name, version: conn.welcome.server.version, address: formatAddress(found.host, found.port) });
          for (const { leftover, path, bytes, temporary, ...k } of kept) {
            json(leftover ? { event: "unresumable", path, bytes, temporary } : { event: "resumable", path, bytes, temporary, ...k });
          }
        } else {
          // Fetching by a sender's code, nobody sends to this client's ID: not shown.
          if (!fetching) process.stdout.write(`\n  Your ID:  ${formatId(conn.id)}\n${codeLine(code, conn.id)}\n\n`);
          say(`Connected to ${conn.welcome.server.name} (sfx ${conn.welcome.server.version}) at ${formatAddress(found.host, found.port)}. Files go to ${dir}.`);
          for (const line of describeKept(kept, truncated)) say(line);
          say(fetching ? `Asking ${formatId(fetching.id)} for its files…` : `Waiting for files${flags.once ? "" : " (Ctrl-C to stop)"}…`);
        }
      } catch (err) {
        // A reader gone away (EPIPE, Deno's BrokenPipe) is the pipe's business, as everywhere else.
        const e = err as NodeJS.ErrnoException;
        if (e?.code === "EPIPE" || e?.name === "BrokenPipe") throw err;
        throw unshown(e?.code ?? (e instanceof Error ? e.message : String(err)));
      }
      const decide = async (offer: IncomingOffer, withdrawn: AbortSignal): Promise<boolean | string> => {
        if (flags.yes) return true;
        if (!interactive) {
          const reason = "it has no terminal to ask on, and was not started with --yes";
          say(`Rejected an offer from ${formatId(offer.from)}: no terminal to ask on; run with --yes to accept offers.`);
          return reason;
        }
        return ask(offer, withdrawn, signal);
      };
      let offerFrom = "?";
      const barFollows = followTransfer(bar);
      /** Why the last offer was rejected (the "rejected" event's reason). */
      let rejection: string | undefined;
      /** Whether the exchange under way used our code and ended without proving it (its miss was just said). */
      let unproven = false;
      const onEvent = (e: TransferEvent) => {
        if (e.event === "rejected") rejection = e.reason;
        if (e.event === "offer") unproven = false;
        if (e.event === "codeMissed" || e.event === "code" || e.event === "codeClosed") unproven = true;
        json?.(e);
        if (json) return;
        barFollows(e);
        switch (e.event) {
          case "offer":
            offerFrom = e.from ?? "?";
            if (flags.yes || !interactive) {
              say(`Offer from ${formatId(e.from ?? "?")}: ${describeFiles(e.files)}${e.byCode === false ? ` ${ID_ONLY_NOTE}` : ""}`);
            }
            break;
          case "rejected":
            // Refused by sfx itself (names, space); a refusal by the user or by --yes missing says so elsewhere.
            if (refusedBySfx(e.reason)) say(`Rejected an offer from ${formatId(e.from ?? offerFrom)}: ${printable(e.reason)}`);
            else if (e.reason === "declined") say(`Declined the offer from ${formatId(e.from ?? offerFrom)}; the sender was told.`);
            break;
          case "start":
            if (e.resumed) say(resumingHere(e.resumed));
            break;
          case "verify":
            say(verifyLine(e.code, "the sender", e.byCode, fetching ? "theirs" : "yours"));
            break;
          case "codeMissed":
            say(missedCodeLine(e.misses, e.missesInAll));
            break;
          case "code":
            say(renewedCodeLine(e.code));
            // On standard output too, where the first code was (a script reading it sees the new one).
            process.stdout.write(`${codeLine(code, conn.id)}\n`);
            break;
          case "codeClosed":
            say(CODES_CLOSED_LINE);
            process.stdout.write(`${codeLine(code, conn.id)}\n`);
            break;
          case "file":
            bar.end();
            if (e.unchanged) say(`  ${printable(e.savedAs ?? e.path)} was already here with the same bytes (SHA-256 ${e.sha256.slice(0, 16)}…): kept as it was`);
            else say(`  received ${printable(e.savedAs ?? e.path)} (${takenNote(e)}${formatBytes(e.size)}, SHA-256 ${e.sha256.slice(0, 16)}…${e.resumedFrom ? `; resumed from ${formatBytes(e.resumedFrom)} kept from an interrupted transfer` : ""})`);
            break;
          case "done":
            process.stdout.write(`Received ${e.files} file${e.files === 1 ? "" : "s"}, ${formatBytes(e.bytes)} in ${formatDuration(e.seconds)} (${formatDoneRate(e)}), every hash verified.\n`);
            break;
          case "cancelled":
            say(`Cancelled: ${e.reason}`);
            break;
          case "kept":
            bar.end();
            say(`  kept ${formatBytes(e.bytes)} of ${printable(e.path)} (hidden: ${printable(basename(e.temporary))}); the same file sent again resumes from there`);
            break;
          case "error":
            // With --once the failure ends the command, whose "sfx: …" line says it, unless the
            // exchange used our code and never proved it (nothing was exchanged; said just before);
            // so does a lost connection. Otherwise we go on waiting.
            if ((!once || (unproven && !fetching)) && e.code !== "SFX_CONNECTION_LOST" && !conn.closedWith) say(`Transfer failed: ${printable(e.message)}; waiting for the next offer`);
            break;
        }
      };
      /** The failure of a single exchange that was not accepted, with the reason, for the one line a script's log keeps (with --json nothing else is on stderr). */
      const rejected = () => {
        const why = rejection === undefined || rejection === "declined" ? "" : `: ${printable(rejection)}`;
        return new SfxError("SFX_REJECTED", rejection === "declined" ? "The offer was declined" : `The offer was rejected${why}`);
      };
      // Made before anything is awaited: from here an offer that comes is held for receiveOne (a
      // sender quick to offer once the ID is shown must not find nobody listening). Fetching, the
      // fetch makes its own, before it asks.
      const receiver = fetching ? undefined : new Receiver(conn, { dir, overwrite: flags.overwrite, decide, onEvent, code });
      // A write that failed is reported on the next turn (Node).
      await new Promise((resolve) => setImmediate(resolve));
      const lost = outputLost();
      if (lost?.stream === "stdout") throw unshown(lost.error.code ?? lost.error.message);
      if (!receiver) {
        const outcome = await receiveByCode(conn, senderCode!, { dir, overwrite: flags.overwrite, decide, onEvent }, signal);
        await conn.close();
        if (!outcome.accepted) throw rejected();
        return 0;
      }
      for (let n = 0;; n++) {
        try {
          const outcome = await receiver.receiveOne(signal);
          if (flags.once) {
            await conn.close();
            if (!outcome.accepted) throw rejected();
            return 0;
          }
        } catch (err) {
          if (signal.aborted) throw err;
          // An offer withdrawn before it was answered, or one that used our code and never proved it
          // (a mistyped code, a guess), was no exchange: --once waits for the next.
          const noExchange = err instanceof OfferWithdrawn || err instanceof CodeNotProven;
          if ((flags.once && !noExchange) || !isSfxError(err) || err.code === "SFX_CONNECTION_LOST" || conn.closedWith) throw err;
          // One exchange failed (cancelled, peer gone…): already reported; wait for the next.
        }
      }
    } catch (err) {
      bar.end();
      if (signal.aborted) {
        await conn.close(1000);
        throw new SfxError("SFX_CANCELLED", "Stopped");
      }
      // A failed exchange was reported to the sender through the server: a
      // graceful close delivers that report before the connection ends (an
      // ABORT would drop it, and the sender would only see us vanish).
      if (isSfxError(err) && !conn.closedWith) await conn.close(2000, `the receiver failed: ${withoutFolder(err.message, dir)}`.slice(0, 400));
      else await conn.abort("receive failed");
      throw err;
    }
  });
}

function describeFiles(files: Array<{ path: string; size: number | null }>, names = true): string {
  const counted = filesSummary(files.length, offeredBytes(files));
  if (!names) return counted;
  const head = files.slice(0, 3).map((f) => printable(f.path)).join(", ");
  return `${counted}: ${head}${files.length > 3 ? ", …" : ""}`;
}

/** Asks y/N on the terminal; a withdrawn offer closes the question. `stopping`: this receiver's own stop (Ctrl-C, SIGTERM), which closes it too. */
function ask(offer: IncomingOffer, withdrawn: AbortSignal, stopping: AbortSignal): Promise<boolean> {
  // The names once, in the list below (the summary line says how many and how much).
  const lines = [`${formatId(offer.from)} wants to send you ${describeFiles(offer.files, false)}:`];
  for (const f of offer.files.slice(0, 20)) lines.push(`  ${printable(f.path)}  ${f.size === null ? "(size unknown)" : formatBytes(f.size)}`);
  if (offer.files.length > 20) lines.push(`  … and ${offer.files.length - 20} more`);
  if (offer.kept > 0) lines.push(keptLine(offer.kept));
  if (offer.byCode === false) lines.push(ID_ONLY_NOTE);
  process.stderr.write(`${lines.join("\n")}\n`);
  return new Promise((resolveAnswer) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    let interrupted = false;
    const onWithdrawn = () => {
      // Not when it is this receiver that stops (a signal, not the key readline takes): "sfx: Stopped" follows.
      if (!interrupted && !stopping.aborted) process.stderr.write("\n(the offer was withdrawn)\n");
      rl.close();
    };
    let answered = false;
    rl.on("close", () => {
      withdrawn.removeEventListener("abort", onWithdrawn);
      if (!answered) resolveAnswer(false);
    });
    withdrawn.addEventListener("abort", onWithdrawn, { once: true });
    // On a terminal readline takes Ctrl-C for itself: it means stop, as everywhere else.
    rl.on("SIGINT", () => {
      interrupted = true;
      process.stderr.write("^C\n");
      process.emit("SIGINT", "SIGINT");
      rl.close();
    });
    rl.question("Accept? [y/N] ", (answer) => {
      answered = true;
      rl.close();
      resolveAnswer(/^y(es)?$/i.test(answer.trim()));
    });
  });
}

/** The offer prompt's line for bytes an interrupted transfer left: accepting resumes them. */
export function keptLine(bytes: number): string {
  return `  ${formatBytes(bytes)} of it is already here from an interrupted transfer: only the rest will be sent.`;
}

/** "a.txt was taken; " when a received file was saved under another name than the one offered (`a (1).txt`). */
export function takenNote(e: { path: string; savedAs?: string }): string {
  return e.savedAs !== undefined && e.savedAs !== e.path ? `${printable(e.path)} was taken; ` : "";
}

/** Kept parts listed at most, by name (the rest are counted). */
const KEPT_LISTED = 10;

/**
 * Lines telling a receiver what interrupted transfers left in its directory
 * (none when nothing is kept): how much of which file, that sending the same
 * file again resumes it, and how to get the space back instead.
 */
export function describeKept(kept: readonly KeptTransfer[], truncated: boolean): string[] {
  if (kept.length === 0) return [];
  const total = kept.reduce((n, k) => n + k.bytes, 0);
  // What a killed receiver left of a file it could not keep to resume (under 1 MiB, standard input).
  const leftovers = kept.every((k) => k.leftover);
  // Sent here again, a part kept by a receive into another folder starts over: the headline says so when one is listed.
  const except = kept.slice(0, KEPT_LISTED).some((k) => !k.resumesHere) ? ", except as noted" : "";
  const lines = [
    leftovers
      ? `Left in part by receivers that were killed, ${formatBytes(total)} in all (hidden; these do not resume):`
      : `Kept from interrupted transfers, ${formatBytes(total)} in all (the same file sent again resumes from there${except}):`,
  ];
  for (const k of kept.slice(0, KEPT_LISTED)) {
    const note = k.leftover
      ? leftovers ? "" : " (left by a receiver that was killed: it does not resume)"
      : k.resumesHere ? "" : " (kept by a receive into another folder: sent here it starts over, received there it resumes)";
    lines.push(`  ${printable(k.path)}: ${formatBytes(k.bytes)}${k.size !== undefined ? ` of ${formatBytes(k.size)}` : ""}${note}`);
  }
  if (kept.length > KEPT_LISTED) lines.push(`  and ${kept.length - KEPT_LISTED} more`);
  if (truncated) lines.push("  (the search stopped early or could not open some folders: there may be more)");
  lines.push(`To free the space${leftovers ? "" : " instead"}: sfx receive --discard-kept (with the same --dir).`);
  return lines;
}
