/**
 * `sfx share put|ls|get`: upload files as an anonymous share with an
 * expiry, list a share, download all or some of its files (resuming an
 * interrupted download). Also the `sfx serve` flags of the share store.
 *
 * @module
 */
import { printable } from "../protocol/schema.ts";
import { type Command, Option } from "commander";
import { basename, isAbsolute, relative, resolve, sep } from "node:path";
import { realpathSync } from "node:fs";
import type { CommandResult } from "./context.ts";
import { parseCount, parseDuration } from "./options.ts";
import { withInterrupt } from "./send.ts";
import { formatBytes, formatDuration, LeftOut, progressBar, roughDuration, warnSkipped } from "./progress.ts";
import { resolveServer } from "./discover.ts";
import { shellWord } from "./shell_word.ts";
import { exitStatusFor, isSfxError, SfxError } from "../errors.ts";
import { type ClientConnection, connect } from "../client/connection.ts";
import { isShareDownloadNote, type KeptPart, listKeptParts } from "../client/safe_write.ts";
import { collectShareFiles, connectionShareLink, type GotFile, type LocalShareFile, ShareClient, type SpooledFile, spoolStdin } from "../client/share.ts";
import { doneEvent } from "../client/events.ts";
import { isCode, parseCode } from "../share/code.ts";
import { checkStdin } from "../client/walk.ts";
import { CODE_CHARS, DEFAULT_SHARE_LIMITS, MAX_DOWNLOADS_LIMIT, MIN_EXPIRY_MS, type ShareLimits, STORED_FILE_BLOCK_BYTES, storedBytes } from "../share/defaults.ts";
import { MAX_FILES_PER_OFFER } from "../protocol/defaults.ts";

interface ConnFlags {
  server?: string;
}

interface PutFlags extends ConnFlags {
  name?: string;
  expires?: string;
  maxDownloads?: string;
  json?: boolean;
}

interface LsFlags extends ConnFlags {
  json?: boolean;
}

interface GetFlags extends ConnFlags {
  dir: string;
  overwrite?: boolean;
  json?: boolean;
}

/** Registers `sfx share` and its subcommands. */
export function registerShare(program: Command, result: CommandResult): void {
  const share = program.command("share").description("upload files for anyone with the code; list and download shares");
  share
    .command("put")
    .description("upload files and directories as a share; prints its code")
    .argument("<paths...>", "files or directories; - reads standard input (needs --name)")
    .option("-s, --server <host[:port]>", "server address (default: discover one)")
    .option("--name <name>", "the file name for standard input (-)")
    .option("--expires <when>", "how long the share lives: 30m, 1h, 7d, or an ISO date (default 24h; the server may cap it)")
    .option("--max-downloads <n>", "delete the share after n completed downloads")
    .option("--json", "print the code, expiry and files as JSON")
    .action(async (paths: string[], flags: PutFlags) => {
      result.status = await put(paths, flags);
    });
  share
    .command("ls")
    .description("list a share's files, sizes and expiry")
    .argument("<code...>", "the share code")
    .option("-s, --server <host[:port]>", "server address (default: discover one)")
    .option("--json", "print JSON")
    .action(async (words: string[], flags: LsFlags) => {
      const { code, rest } = joinCodeGroups(words);
      if (rest.length > 0) throw new SfxError("SFX_USAGE", `share ls takes one code, not also '${printable(rest.join(" "))}'`);
      result.status = await ls(code, flags);
    });
  share
    .command("get")
    .description("download all or the named files of a share (re-run to resume an interrupted download)")
    .argument("<code>", "the share code")
    .argument("[names...]", "files to download (default: all)")
    .option("-s, --server <host[:port]>", "server address (default: discover one)")
    .option("-d, --dir <dir>", "directory to write to", ".")
    .option("--overwrite", "replace existing files instead of writing 'name (1).ext'")
    .option("--json", "print one JSON object per file, then a summary")
    .action(async (first: string, more: string[], flags: GetFlags) => {
      const { code, rest } = joinCodeGroups([first, ...more]);
      result.status = await get(code, rest, flags);
    });
}

/**
 * A code read out and typed in its groups with spaces (`sfx share get 7KQ2 M9XD 4T1F HB6R W3NP 5ZET`)
 * arrives as several arguments: when the first word and the next few make a code, they are that
 * code, and what follows are the names. The longest they make: a code of today (24 characters,
 * whose check character a name that happens to look like a group passes one time in 31) before
 * the 20 of a share in the clear, so that `7KQ2-M9XD-4T1F-HB6R-W3NP 5ZET` is one code, not a
 * shorter one and a name.
 */
export function joinCodeGroups(words: readonly string[]): { code: string; rest: string[] } {
  for (let n = Math.min(words.length, CODE_CHARS); n >= 2; n--) {
    const joined = words.slice(0, n).join("-");
    if (isCode(joined)) return { code: joined, rest: words.slice(n) };
  }
  return { code: words[0], rest: words.slice(1) };
}

/**
 * Parses `--expires`: a duration (`90s`, `30m`, `1h`, `7d`, `2w`) from now,
 * or an ISO 8601 date (`2026-12-01`, `2026-12-01T18:00Z`) for an absolute
 * time. A date without a time means midnight UTC.
 */
export function parseExpires(text: string, now = Date.now()): { expiresInMs: number } | { expiresAt: number } {
  const date = /^(\d{4})-(\d{2})-(\d{2})/.exec(text.trim());
  if (date) {
    const at = Date.parse(text.trim());
    // Date.parse rolls 2026-02-30 over to March: a day the month does not have is refused.
    const [, y, mo, d] = date.map(Number);
    const day = new Date(Date.UTC(y, mo - 1, d));
    if (!Number.isFinite(at) || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) {
      throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --expires '${text}': not a date (use e.g. 2026-12-01T18:00Z)`);
    }
    if (at <= now) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --expires '${text}': that time has passed`);
    return { expiresAt: at };
  }
  // A bare number is ambiguous here (10 seconds? days?): the unit must be said.
  if (/^\s*\d+(\.\d+)?\s*$/.test(text) && Number(text) > 0) {
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --expires '${text}': give a unit, e.g. ${text.trim()}m, ${text.trim()}h or ${text.trim()}d`);
  }
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    // Longer than any server allows: asked for as such, the server shortens it to its maximum and says so.
    if (/too long/.test((err as Error).message)) return { expiresInMs: 10 * 365 * 86_400_000 };
    if (/more than zero/.test((err as Error).message)) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --expires '${text}': at least 1s`);
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --expires '${text}': use a duration (30m, 1h, 1h30m, 7d${/[A-Z]/.test(text) ? "; units are lowercase" : ""}) or an ISO date`);
  }
  if (ms < MIN_EXPIRY_MS) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --expires '${text}': at least 1s`);
  return { expiresInMs: ms };
}

function parsePositive(text: string, what: string, most = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new SfxError("SFX_BAD_ARGUMENT", `Invalid ${what} '${text}': use a whole number of at least 1`);
  }
  if (Number(text) > most) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid ${what} '${text}': at most ${most}`);
  return Number(text);
}

async function open(flags: ConnFlags): Promise<{ conn: ClientConnection; client: ShareClient }> {
  const { host, port } = await resolveServer(flags.server);
  const conn = await connect({ server: { host, port } });
  return { conn, client: new ShareClient(connectionShareLink(conn)) };
}

/** When a share expires, for people: the instant (UTC, to the second) and how long until it. */
export function expiryText(expiresAt: number, now = Date.now()): string {
  return `${new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z")} (in ${roughDuration(expiresAt - now)})`;
}

async function put(paths: string[], flags: PutFlags): Promise<number> {
  const expiry = flags.expires === undefined ? {} : parseExpires(flags.expires);
  const maxDownloads = flags.maxDownloads === undefined ? undefined : parsePositive(flags.maxDownloads, "--max-downloads", MAX_DOWNLOADS_LIMIT);
  const usesStdin = paths.includes("-");
  if (usesStdin && flags.name === undefined) throw new SfxError("SFX_USAGE", "Sharing standard input ('-') needs --name <file name>");
  if (!usesStdin && flags.name !== undefined) throw new SfxError("SFX_USAGE", "--name names standard input: give '-' among the paths");
  if (usesStdin) checkStdin();
  // Standard input is read last, once everything else checked out (the other files, the
  // names, the server): a mistake must not wait for, nor spool, a long-running pipe.
  // Until then it stands in the list as an empty file that the spool fills in.
  const stdinEntry: LocalShareFile = { path: flags.name ?? "", size: 0, read: () => (async function* () {})() };
  const leftOut = new LeftOut((e) => warnSkipped(e.path, e.reason));
  const files = await collectShareFiles(paths, leftOut.onSkip, usesStdin ? { stdin: stdinEntry } : {});
  const { conn, client } = await open(flags);
  let spooled: SpooledFile | undefined;
  try {
    if (usesStdin) {
      // Ctrl-C while reading ends the read, and the spool is removed.
      spooled = await withInterrupt((signal) => {
        signal.addEventListener("abort", () => process.stdin.destroy(new SfxError("SFX_CANCELLED", "Cancelled")), { once: true });
        return spoolStdin(stdinEntry.path, process.stdin);
      });
      const s = spooled;
      Object.assign(stdinEntry, { path: s.path, size: s.size, read: () => s.read() });
      // `<&-` reads as empty (Node opens /dev/null in its place): said, not silent.
      if (s.size === 0) process.stderr.write(`sfx: note: standard input was empty: ${printable(s.path)} is shared as an empty file\n`);
    }
    return await putFiles(client, files, { ...expiry, maxDownloads }, flags, leftOut);
  } finally {
    await spooled?.remove();
    await conn.close();
  }
}

async function putFiles(
  client: ShareClient,
  files: LocalShareFile[],
  limits: { expiresInMs?: number; expiresAt?: number; maxDownloads?: number },
  flags: PutFlags,
  leftOut: LeftOut,
): Promise<number> {
  const bar = progressBar();
  try {
    const onTooLateToCancel = () => {
      bar.end();
      process.stderr.write("sfx: The server has every byte and is making the share: waiting for its code (Ctrl-C again to leave without it)\n");
    };
    const created = await withInterrupt((signal) => client.put(files, { ...limits, signal, onTooLateToCancel, onProgress: (p) => bar.update(p.bytes, p.total, p.file) }));
    bar.end();
    if (created.warning) process.stderr.write(`sfx: warning: ${created.warning}\n`);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({
        code: created.code,
        expiresAt: new Date(created.expiresAt).toISOString(),
        createdAt: new Date(created.createdAt).toISOString(),
        maxDownloads: created.maxDownloads,
        enciphered: created.enciphered,
        files: created.files,
        ...(created.warning ? { warning: created.warning } : {}),
        ...(leftOut.entries.length > 0 ? { leftOut: leftOut.entries } : {}),
      })}\n`);
    } else {
      const bytes = created.files.reduce((n, f) => n + f.size, 0);
      process.stdout.write(`${created.code}\n`);
      process.stderr.write(
        `Shared ${created.files.length} file${created.files.length === 1 ? "" : "s"} (${formatBytes(bytes)}); ` +
          `expires ${expiryText(created.expiresAt)}` +
          (created.maxDownloads === null ? "" : `, or after ${created.maxDownloads} download${created.maxDownloads === 1 ? "" : "s"}`) +
          "\nEnciphered end to end: the code is the key, and the server never saw it (it cannot read the files or their names)" +
          `\nDownload with: ${downloadCommand(created.code, flags.server)}\n`,
      );
    }
    let line: string | undefined;
    try {
      line = leftOut.end("everything else is in the share");
    } catch (err) {
      if (!flags.json || !isSfxError(err, "SFX_PARTIAL")) throw err;
      // The share object on stdout already lists them (`leftOut`, `failed: true`): one JSON document,
      // not a second one that says the same; the exit status says it too.
      process.stderr.write(`sfx: ${printable(err.message)}\n`);
      return exitStatusFor(err);
    }
    if (line && !flags.json) process.stderr.write(`${line}\n`);
    return 0;
  } finally {
    bar.end();
  }
}

/** Said of a share in the clear, made before shares were enciphered. */
export const PLAIN_SHARE_NOTE = "Note: this share is not enciphered (a server of before sfx enciphered shares made it): the server can read it";

async function ls(code: string, flags: LsFlags): Promise<number> {
  parseCode(code);
  const { conn, client } = await open(flags);
  try {
    const listing = await withInterrupt((signal) => client.list(code, { signal }));
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({
        files: listing.files,
        createdAt: new Date(listing.createdAt).toISOString(),
        expiresAt: new Date(listing.expiresAt).toISOString(),
        maxDownloads: listing.maxDownloads,
        downloads: listing.downloads,
        enciphered: listing.enciphered,
      })}\n`);
    } else {
      const width = Math.max(...listing.files.map((f) => formatBytes(f.size).length));
      for (const f of listing.files) process.stdout.write(`${formatBytes(f.size).padStart(width)}  ${printable(f.path)}\n`);
      const total = listing.files.reduce((n, f) => n + f.size, 0);
      process.stdout.write(`${listing.files.length} file${listing.files.length === 1 ? "" : "s"}, ${formatBytes(total)}; expires ${expiryText(listing.expiresAt)}`);
      if (listing.maxDownloads !== null) process.stdout.write(`; downloaded ${listing.downloads} of ${listing.maxDownloads} times`);
      process.stdout.write("\n");
      if (!listing.enciphered) process.stderr.write(`${PLAIN_SHARE_NOTE}\n`);
    }
    return 0;
  } finally {
    await conn.close();
  }
}

async function get(code: string, names: string[], flags: GetFlags): Promise<number> {
  parseCode(code);
  // The directory is made by the get, once it knows the files fit (a refused get leaves nothing).
  const { conn, client } = await open(flags);
  const bar = progressBar();
  /** What a failed get keeps to resume from. */
  const kept: { path: string; bytes: number; temporary: string }[] = [];
  try {
    const started = Date.now();
    const r = await withInterrupt((signal) =>
      client.get(code, {
        dir: flags.dir,
        names,
        overwrite: flags.overwrite,
        signal,
        onProgress: (p) => bar.update(p.bytes, p.total, p.file),
        onKept: (k) => kept.push(k),
        onWaiting: () => process.stderr.write("sfx: Waiting: downloads in progress hold this share's remaining downloads; the server is asking whether their clients are still there (one that is gone is let go within 10 s)\n"),
      })
    );
    bar.end();
    const seconds = (Date.now() - started) / 1000;
    for (const f of r.files) {
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(gotFileEvent(f, flags.dir))}\n`);
      } else {
        const note = f.alreadyThere ? " (already there)" : f.resumedFrom > 0 ? ` (resumed from ${formatBytes(f.resumedFrom)})` : "";
        process.stdout.write(`${printable(f.path)}${note}\n`);
      }
    }
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(gotDoneEvent(r.files.length, r.bytes, seconds))}\n`);
    } else {
      process.stderr.write(`Got ${r.files.length} file${r.files.length === 1 ? "" : "s"} (${formatBytes(r.bytes)} fetched in ${formatDuration(seconds)})\n`);
      if (!r.enciphered) process.stderr.write(`${PLAIN_SHARE_NOTE}\n`);
    }
    return 0;
  } catch (err) {
    bar.end();
    for (const k of kept) {
      if (flags.json) process.stdout.write(`${JSON.stringify({ event: "kept", ...k })}\n`);
      else process.stderr.write(`sfx: kept ${formatBytes(k.bytes)} of ${printable(k.path)} (hidden: ${printable(basename(k.temporary))}); the same 'sfx share get' again resumes from there\n`);
    }
    if (isSfxError(err, "SFX_SHARE_NOT_FOUND") && !flags.json) await sayKeptDownloads(flags.dir);
    throw err;
  } finally {
    await conn.close();
  }
}

/**
 * After "no share with that code": what interrupted gets left in `dir` (a share that has expired since
 * leaves its parts for good), and how to remove it. Share downloads' parts are those noted with a SHA-256.
 */
async function sayKeptDownloads(dir: string): Promise<void> {
  const { parts } = await listKeptParts(resolve(dir)).catch(() => ({ parts: [] as KeptPart[] }));
  const ofGets = parts.filter((p) => p.note !== undefined && isShareDownloadNote(p.note));
  if (ofGets.length === 0) return;
  const bytes = ofGets.reduce((n, p) => n + p.bytes, 0);
  process.stderr.write(`sfx: ${printable(dir)} holds ${formatBytes(bytes)} kept from interrupted share downloads (hidden .sfx-part files); if their share is gone, 'sfx receive --discard-kept --dir ${printable(shellWord(dir))}' removes them\n`);
}

/**
 * A file a get dealt with, as `--json` says it: the fields `sfx receive --json` gives a file
 * (`savedAs` relative to the folder; `unchanged` when the same bytes were there already;
 * `resumedFrom` when resumed), and `alreadyThere` as before.
 */
export function gotFileEvent(f: GotFile, dir: string): Record<string, unknown> {
  // A file fetched is named under the folder's real path, one found already there under the path as
  // given (they differ when --dir is a link): relative to whichever holds it.
  const given = resolve(dir);
  let real = given;
  try {
    real = realpathSync(given);
  } catch {
    // gone: as given
  }
  const under = (root: string) => {
    const r = relative(root, f.path);
    return r === "" || r.startsWith("..") || isAbsolute(r) ? undefined : r;
  };
  const savedAs = (under(given) ?? under(real) ?? f.path).split(sep).join("/");
  return {
    event: "file", path: f.name, savedAs, size: f.size, sha256: f.sha256,
    ...(f.resumedFrom > 0 ? { resumedFrom: f.resumedFrom } : {}),
    ...(f.alreadyThere ? { unchanged: true } : {}),
    alreadyThere: f.alreadyThere,
  };
}

/** The end of a get, as `--json` says it (with `megabytesPerSecond`, as `sfx receive --json`'s `done`). */
export function gotDoneEvent(files: number, bytes: number, seconds: number): Record<string, unknown> {
  return doneEvent(files, bytes, Math.max(seconds, 0.001));
}

/** The `sfx serve` flags of the share store. */
export interface ShareServeFlags {
  storage?: string;
  maxShareFiles?: string;
  maxShareBytes?: string;
  storeQuota?: string;
  maxShares?: string;
  maxExpiry?: string;
  defaultExpiry?: string;
}

/** Adds the share store's flags to `sfx serve`; returns the command. */
export function addShareServeOptions(cmd: Command): Command {
  return cmd
    .option("--storage <dir>", "share storage directory (default /var/lib/sfx/shares, or ~/.local/state/sfx/shares when that cannot be written)")
    .option("--max-share-files <n>", "most files in one share (default 100)")
    .option("--max-share-bytes <size>", "most bytes in one share, e.g. 500M, 8G (default 8G)")
    .option("--store-quota <size>", "most bytes in all shares together, each file counted in whole 4 KiB blocks (default 64G)")
    .option("--max-shares <n>", "most shares kept at once, uploads in progress included (default 10000; one address: a quarter, and a quarter of the quota or one --max-share-bytes if more)")
    .option("--max-expiry <duration>", "longest share expiry; longer requests are shortened (default 7d)")
    .addOption(new Option("--default-expiry <duration>", "expiry of a share that asks for none (default 24h)"));
}

/** The server options the share flags stand for (`storage`, `shareLimits`); validates each value. */
export function shareServerOptions(flags: ShareServeFlags): { storage?: string; shareLimits: Partial<ShareLimits> } {
  const limits: Partial<ShareLimits> = {};
  if (flags.maxShareFiles !== undefined) {
    limits.maxFilesPerShare = parsePositive(flags.maxShareFiles, "--max-share-files");
    // One list of files travels in one message, which the protocol caps.
    if (limits.maxFilesPerShare > MAX_FILES_PER_OFFER) {
      throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --max-share-files '${flags.maxShareFiles}': at most ${MAX_FILES_PER_OFFER} (the protocol's limit per share)`);
    }
  }
  if (flags.maxShareBytes !== undefined) limits.maxShareBytes = parseCount(flags.maxShareBytes);
  if (flags.storeQuota !== undefined) {
    limits.maxStoreBytes = parseCount(flags.storeQuota);
    // Below what the smallest share counts for, every put would be told the store is full.
    const least = storedBytes([0]);
    if (limits.maxStoreBytes < least) {
      throw new SfxError("SFX_BAD_ARGUMENT", `Invalid --store-quota '${flags.storeQuota}': at least ${formatBytes(least)}, what the smallest share counts for`);
    }
  }
  // The largest share the quota could keep (one file, in whole blocks, and the share's own 8 KiB):
  // a larger limit could never be met, and a put between the two would hear "the store is full".
  const quota = limits.maxStoreBytes ?? DEFAULT_SHARE_LIMITS.maxStoreBytes;
  const largest = Math.floor((quota - storedBytes([])) / STORED_FILE_BLOCK_BYTES) * STORED_FILE_BLOCK_BYTES;
  if (limits.maxShareBytes === undefined) {
    if (largest < DEFAULT_SHARE_LIMITS.maxShareBytes) limits.maxShareBytes = largest;
  } else if (limits.maxShareBytes > largest) {
    throw new SfxError(
      "SFX_BAD_ARGUMENT",
      `--max-share-bytes (${limits.maxShareBytes} bytes) is more than ${limits.maxStoreBytes === undefined ? "the default --store-quota" : "--store-quota"} (${formatBytes(quota)}) can keep in one share: at most ${largest} bytes (the quota less 8 KiB for the share itself); lower the one or raise the other`,
    );
  }
  if (flags.maxShares !== undefined) limits.maxShares = parsePositive(flags.maxShares, "--max-shares");
  if (flags.maxExpiry !== undefined) limits.maxExpiryMs = parseDuration(flags.maxExpiry);
  if (flags.defaultExpiry !== undefined) limits.defaultExpiryMs = parseDuration(flags.defaultExpiry);
  if ((limits.maxExpiryMs ?? Infinity) < 1000 || (limits.defaultExpiryMs ?? Infinity) < 1000) {
    throw new SfxError("SFX_BAD_ARGUMENT", "Share expiries must be at least 1s");
  }
  // A default beyond the cap would shorten, with a warning, every share that asked for nothing.
  const maxMs = limits.maxExpiryMs ?? DEFAULT_SHARE_LIMITS.maxExpiryMs;
  const defaultMs = limits.defaultExpiryMs ?? DEFAULT_SHARE_LIMITS.defaultExpiryMs;
  if (defaultMs > maxMs) {
    throw new SfxError(
      "SFX_BAD_ARGUMENT",
      `--default-expiry (${roughDuration(defaultMs)}) is longer than --max-expiry (${roughDuration(maxMs)}): lower the one or raise the other`,
    );
  }
  return { ...(flags.storage !== undefined ? { storage: resolve(flags.storage) } : {}), shareLimits: limits };
}

/** The share flags again, as arguments, for relaunching `sfx serve` as a daemon. */
export function shareServeArgs(flags: ShareServeFlags): string[] {
  const out: string[] = [];
  const pairs: [keyof ShareServeFlags, string][] = [
    ["storage", "--storage"],
    ["maxShareFiles", "--max-share-files"],
    ["maxShareBytes", "--max-share-bytes"],
    ["storeQuota", "--store-quota"],
    ["maxShares", "--max-shares"],
    ["maxExpiry", "--max-expiry"],
    ["defaultExpiry", "--default-expiry"],
  ];
  for (const [key, flag] of pairs) {
    if (flags[key] !== undefined) out.push(flag, key === "storage" ? resolve(flags[key]!) : String(flags[key]));
  }
  return out;
}

/**
 * The command that downloads share `code`, to print: with `--server` as the user named the server
 * (without it, it works only where discovery finds this server), quoted for a shell.
 */
export function downloadCommand(code: string, server?: string): string {
  return `sfx share get ${code}${server ? ` --server ${shellWord(server)}` : ""}`;
}

