/**
 * What `sfx send` offers: files given on the command line, directories
 * walked recursively (relative paths kept, starting with the directory's own
 * name), and `-` for standard input under a given name.
 *
 * Each file's checks (its stat, whether it can be opened, the stats around
 * its reading) and the reading of a small file are synchronous calls on a
 * local file system (src/fs_calls.ts): a tree of many small files is made of
 * little else. Larger reads go through the thread pool.
 *
 * @module
 */
import { constants, fstatSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, join, resolve, sep } from "node:path";
import { callsFor, type FsCalls, openFile, queued } from "../fs_calls.ts";
import { SfxError } from "../errors.ts";
import { DATA_MESSAGE_BYTES, MAX_FILES_PER_OFFER } from "../protocol/defaults.ts";
import { readFileMessages } from "../protocol/file_messages.ts";
import { RESUME_MIN_BYTES } from "../protocol/messages.ts";
import { isStaleLockName, LOCK_SUFFIX, PART_SUFFIX, RESUME_SUFFIX, STALE_LOCK_PREFIX } from "../protocol/paths.ts";
import { ioError, sanitizeRelativePath } from "./safe_write.ts";

/** One file to send. */
export interface SourceFile {
  /** Relative path offered to the receiver, `/`-separated. */
  path: string;
  /** Where the file is on this machine, for the user's messages; never told to the receiver or the server (see {@link withOfferedNames}). */
  local?: string;
  /** Size in bytes; null when unknown until the end (standard input). */
  size: number | null;
  /**
   * Modification time (ms since 1970, whole) of a file on disk: offered, so a
   * receiver can resume the file if the exchange is interrupted.
   */
  modified?: number;
  /**
   * Reads the file in chunks of at most {@link DATA_MESSAGE_BYTES}. Each chunk
   * must be a fresh buffer the caller never touches again (not a view of a
   * buffer of the caller's, as Node's `Buffer#slice` gives): the sender
   * enciphers it in place and hands it to the transport, which frees
   * (detaches) a chunk that is all of its ArrayBuffer once the receiver has it.
   */
  read(): AsyncIterable<Uint8Array>;
}

/**
 * Why an entry inside a directory is not sent. `"failed"`: it holds data the
 * user asked for that sfx could not read, or could not name for the receiver
 * (permission denied; a name with control characters, or not UTF-8). `sfx
 * send` and `share put` send the rest, then end with `SFX_PARTIAL` (exit 13),
 * as tar, cp and rsync end non-zero after what they could not copy.
 * `"skipped"`: sfx never sends such an entry (a FIFO, socket or device; a link
 * to a directory or to nothing; its own partial files).
 */
export type SkipKind = "failed" | "skipped";

/** Options for {@link collectFiles}. */
export interface CollectOptions {
  /** Name for `-` (standard input). */
  stdinName?: string;
  /** The stream `-` reads; default process.stdin. */
  stdin?: AsyncIterable<Uint8Array | string>;
  /** Told of each entry inside a directory that is not sent, why, and whether that is a failure ({@link SkipKind}). */
  onSkip?: (path: string, why: string, kind: SkipKind) => void;
  /** Return an empty list rather than refuse "nothing to send" (the caller has other files). */
  allowEmpty?: boolean;
  /** The command that reads standard input, for the hint to send a tree too large as one archive (default `sfx send --to ID`). */
  command?: string;
  /** Told how many bytes standard input gave, once it has ended. */
  onStdinEnd?: (bytes: number) => void;
}

/**
 * Turns command-line arguments into the files to offer. Directories are
 * walked depth first in name order. Inside them a symbolic link to a file is
 * followed (sent under the link's name, as scp does); links to directories
 * (they could loop), broken links, FIFOs, sockets and devices are not sent,
 * nor are files and directories this process may not read, and `onSkip`
 * hears of each. Throws SFX_IO for missing or unreadable files given
 * themselves, SFX_USAGE for `-` without a name or a name the receiver would
 * refuse.
 */
export async function collectFiles(args: readonly string[], opts: CollectOptions = {}): Promise<SourceFile[]> {
  const nothing = `Nothing to ${opts.command?.startsWith("sfx share") ? "share" : "send"}`;
  if (args.length === 0 && !opts.allowEmpty) throw new SfxError("SFX_USAGE", `${nothing}: no files given`);
  const out: SourceFile[] = [];
  const seen = new Set<string>();
  const devices: Devices = new Map();
  const add = (f: SourceFile) => {
    if (seen.has(f.path)) throw new SfxError("SFX_USAGE", `Two files would have the same name: ${f.path}`);
    seen.add(f.path);
    if (out.length >= MAX_FILES_PER_OFFER) {
      throw new SfxError("SFX_LIMIT", `More than ${MAX_FILES_PER_OFFER} files, the most sfx moves at once: send so many as one archive (tar c DIR | ${opts.command ?? "sfx send --to ID"} - --name DIR.tar)`);
    }
    out.push(f);
  };
  let skipped = 0;
  let failed = 0;
  const skip = (path: string, why: string, kind: SkipKind) => {
    skipped++;
    if (kind === "failed") failed++;
    opts.onSkip?.(path, why, kind);
  };
  let usedStdin = false;
  for (const arg of args) {
    if (arg === "-") {
      if (usedStdin) throw new SfxError("SFX_USAGE", "'-' (standard input) can be given only once");
      usedStdin = true;
      if (!opts.stdinName) throw new SfxError("SFX_USAGE", "Sending standard input ('-') needs --name <file name>");
      const path = checkName(opts.stdinName);
      add({ path, size: null, read: () => counted(rechunk(readingStdin(opts.stdin ?? (process.stdin as AsyncIterable<Uint8Array>))), opts.onStdinEnd) });
      continue;
    }
    const abs = resolve(arg);
    // A name given with U+FFFD in it may be bytes that are not UTF-8, decoded so, with a file truly
    // named with U+FFFD beside it: the path then names that other file, which must not be sent in its place.
    if (arg.includes("\ufffd") && (await ambiguousPath(abs))) {
      throw new SfxError("SFX_BAD_ARGUMENT", `Cannot send ${arg}: its name, or another's in its folder, is not valid UTF-8, and the two cannot be told apart; rename it`);
    }
    const st = await stat(abs).catch((err) => {
      // The name came as bytes that are not UTF-8, and was decoded with U+FFFD in their place: no such file.
      if ((err as NodeJS.ErrnoException).code === "ENOENT" && arg.includes("\ufffd")) {
        throw new SfxError("SFX_BAD_ARGUMENT", `Cannot send ${arg}: its name is not valid UTF-8, which sfx needs to give it to the receiver; rename it`);
      }
      throw ioError(err, "read", arg);
    });
    const name = basename(abs);
    if (!st.isDirectory() && !st.isFile()) {
      // A pipe (`<(cmd)`, a FIFO, /dev/stdin) has bytes but no size to offer: standard input takes them.
      // `<(cmd)` is /dev/fd/63 in this command only: the command itself goes before the pipe.
      const substituted = /^\/(?:dev|proc\/[^/]+)\/fd\/\d+$/.test(abs);
      const hint = !st.isFIFO() && !st.isCharacterDevice()
        ? ""
        : substituted
        ? `; send its bytes through standard input instead: COMMAND | ${opts.command ?? "sfx send --to ID"} --name NAME -`
        : `; send its bytes through standard input instead: cat ${arg} | ${opts.command ?? "sfx send --to ID"} --name ${name} -`;
      throw new SfxError("SFX_IO", `Cannot send ${arg}: not a regular file or directory${hint}`);
    }
    // How each file's checks are called: at once on a local file system (src/fs_calls.ts), the one
    // the file really is on (a link followed).
    const calls = await callsOn(devices, st.dev, abs);
    if (st.isDirectory()) await walk(abs, checkName(name), add, skip, { calls, dev: st.dev, devices }, 0, opts.command);
    else {
      const denied = await readError(abs, st.size, calls);
      if (denied) throw denied;
      add(fileSource(abs, checkName(name), st.size, st, calls));
    }
  }
  if (out.length === 0 && !opts.allowEmpty && failed > 0) {
    // As a file given by name that cannot be read: nothing went, and it is no mistake of the command line.
    const what = failed === 1 ? "1 entry" : `${failed} entries`;
    throw new SfxError("SFX_IO", `${nothing}: ${what} of ${args.length === 1 ? "the directory" : "the directories"} could not be read or named (listed above as 'left out')`);
  }
  if (out.length === 0 && !opts.allowEmpty) {
    const dirs = args.length === 1 ? "the directory" : "the directories";
    const what = skipped === 1 ? `the one entry of ${dirs} was` : `all ${skipped} entries of ${dirs} were`;
    throw new SfxError("SFX_USAGE", skipped > 0 ? `${nothing}: ${what} left out` : `${nothing}: ${dirs} ${args.length === 1 ? "is" : "are"} empty`);
  }
  return out;
}

/**
 * Why this process cannot read the file `path`, or undefined. Asked before
 * the offer: a file that fails only when its turn comes ends the exchange
 * after the files before it went for nothing. By opening it (and closing it
 * again): Deno's access() judges by the mode bits alone, not as the kernel
 * does (supplementary groups, root).
 */
async function readError(path: string, size: number, calls: FsCalls): Promise<SfxError | undefined> {
  let fd: number;
  try {
    fd = await calls.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    // EAGAIN: another process holds a lease on it (Samba's oplocks); the read will wait its turn.
    return (err as NodeJS.ErrnoException).code === "EAGAIN" ? undefined : ioError(err, "read", path);
  }
  try {
    // A file whose size is 0 and that reads bytes (/proc, /sys) cannot be offered for what it is:
    // found now, it is left out (or refused, given by name) instead of failing the exchange later.
    if (size === 0 && (await calls.read(fd, new Uint8Array(1), 0, 1, 0)) > 0) {
      const hint = `send it through standard input instead ('-' with --name ${basename(path)}: cat ${path} | sfx send --to ID --name ${basename(path)} -)`;
      return Object.assign(new SfxError("SFX_IO", `Cannot send ${path}: ${SIZE_SAYS_NOTHING}; ${hint}`), { leftOut: `${SIZE_SAYS_NOTHING}: send it through standard input` });
    }
    return undefined;
  } catch {
    return undefined; // a read that fails now fails when the file is sent, saying why
  } finally {
    await calls.close(fd).catch(() => {});
  }
}

const SIZE_SAYS_NOTHING = "it has bytes although its size is 0 (a /proc or /sys file?)";

/** Why an entry inside a tree given is left out when reading it fails so, or undefined (an error). */
function leftOutFor(err: unknown): string | undefined {
  const said = (err as { leftOut?: string } | undefined)?.leftOut;
  if (said !== undefined) return said;
  const code = (((err as SfxError | undefined)?.cause ?? err) as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EACCES" || code === "EPERM") return DENIED;
  // Deleted (or replaced by a file) while the tree was read, as in a folder still being written to.
  if (code === "ENOENT" || code === "ENOTDIR") return "it vanished while its folder was read";
  if (code === "ENAMETOOLONG") return "its path is longer than this system takes";
  return undefined;
}

const DENIED = "this user may not read it (permission denied)";
const NOT_UTF8 = "its name is not valid UTF-8";

/** How deep a directory tree sfx walks. */
const MAX_DEPTH = 64;

/**
 * Whether a component of `abs` holding U+FFFD is the name of more than one
 * entry of its directory as this runtime lists them: one of them is bytes
 * that are not UTF-8, and the path cannot say which.
 */
async function ambiguousPath(abs: string): Promise<boolean> {
  const parts = abs.split(sep);
  for (let i = 1; i < parts.length; i++) {
    if (!parts[i].includes("\ufffd")) continue;
    const names = await readdir(parts.slice(0, i).join(sep) || sep).catch(() => [] as string[]);
    if (names.filter((n) => n === parts[i]).length > 1) return true;
  }
  return false;
}

function checkName(path: string): string {
  try {
    return sanitizeRelativePath(path);
  } catch (err) {
    throw new SfxError("SFX_USAGE", (err as Error).message);
  }
}

/**
 * Whether `name` is one sfx gives its own partial files: hidden, with one of their suffixes as
 * sfx writes them (`.big.iso.sfx-part`, `.big.iso.2.sfx-lock`, `.sfx-stale-…`). Left out, no
 * failure. Another name ending so (`notes.sfx-part`, `.X.SFX-PART`) is the user's file, which
 * no receiver would take: a failure (exit 13), so that `sfx send dir && rm -r dir` keeps it.
 */
function isLeftover(name: string): boolean {
  if (name.startsWith(STALE_LOCK_PREFIX)) return isStaleLockName(name);
  return name.startsWith(".") && [PART_SUFFIX, LOCK_SUFFIX, RESUME_SUFFIX].some((s) => name.length > s.length + 1 && name.endsWith(s));
}

/** The most a walk holds the event loop between two of its turns; see walk. */
const YIELD_AFTER_MS = 10;
let lastTurn = 0;

/** The calls for each file system a walk meets (by device), chosen once per walk (src/fs_calls.ts). */
type Devices = Map<number, Promise<FsCalls>>;

/** The calls for files on device `dev`, `path` being one of them. */
function callsOn(devices: Devices, dev: number, path: string): Promise<FsCalls> {
  let calls = devices.get(dev);
  if (!calls) {
    calls = callsFor(path);
    devices.set(dev, calls);
  }
  return calls;
}

async function walk(dir: string, rel: string, add: (f: SourceFile) => void, skip: (path: string, why: string, kind: SkipKind) => void, on: { calls: FsCalls; dev: number; devices: Devices }, depth = 0, command = "sfx send --to ID"): Promise<void> {
  const { calls } = on;
  if (depth > MAX_DEPTH) {
    throw new SfxError("SFX_LIMIT", `Directories nested deeper than ${MAX_DEPTH} levels, the most sfx walks, at ${dir}: send so deep a tree as one archive (tar c DIR | ${command} - --name DIR.tar)`);
  }
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const e = ioError(err, "read the directory", dir);
    // One inside the tree given is left out (and said); the tree given itself is an error.
    const why = depth > 0 ? leftOutFor(e) : undefined;
    if (why !== undefined) return skip(rel, why, "failed");
    throw e;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // Two entries of one name: bytes that are not UTF-8 decoded with U+FFFD, beside a name truly
  // written so. Neither can be told apart (the path names the second), so neither is sent.
  const twice = new Set(entries.filter((e, i) => i > 0 && entries[i - 1].name === e.name).map((e) => e.name));
  for (const e of entries) {
    // Calls made at once never let anything else run: a walk of thousands of files would hold up
    // an interactive session's connection (its timers, an offer arriving, Ctrl-C) for its whole length.
    if (performance.now() - lastTurn > YIELD_AFTER_MS) {
      await new Promise((r) => setImmediate(r));
      lastTurn = performance.now();
    }
    const abs = join(dir, e.name);
    const shown = `${rel}/${e.name}`;
    if (twice.has(e.name)) {
      skip(shown, `${NOT_UTF8}, or is one such a name cannot be told from`, "failed");
      continue;
    }
    // One odd entry inside a directory is left out (and said), not the end of the whole send.
    if (isLeftover(e.name)) {
      skip(shown, "a partial file of an unfinished sfx transfer", "skipped");
      continue;
    }
    // What the entry is comes first: a name sfx cannot send is a failure only on what would be sent.
    if (!e.isDirectory() && !e.isFile() && !e.isSymbolicLink()) {
      skip(shown, "not a regular file", "skipped");
      continue;
    }
    let loops = false;
    // A name that is not UTF-8 reaches us with U+FFFD in place of its bytes, and no longer names the
    // entry: stat() finds nothing (a link so named cannot even be told from a broken one).
    const st = await calls.stat(abs).catch((err) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && e.name.includes("\ufffd")) return "not-utf8" as const;
      if (code === "ENOENT" && e.isSymbolicLink()) return null;
      // A link in a loop, or through a file as if it were a directory, is as broken as a dangling one.
      if ((code === "ELOOP" || code === "ENOTDIR") && e.isSymbolicLink()) {
        loops = code === "ELOOP";
        return null;
      }
      // In a directory this user may list but not enter; gone since it was listed; too long a path.
      const why = leftOutFor(err);
      if (why !== undefined) return { leftOut: why };
      throw ioError(err, "read", abs);
    });
    if (st === "not-utf8") skip(shown, NOT_UTF8, "failed");
    else if (st && "leftOut" in st) skip(shown, st.leftOut, "failed");
    else if (!st) skip(shown, loops ? "a broken symbolic link (it loops)" : "a broken symbolic link", "skipped");
    else if (e.isSymbolicLink() && st.isDirectory()) skip(shown, "a symbolic link to a directory (not followed)", "skipped");
    else if (!st.isFile() && !st.isDirectory()) skip(shown, "not a regular file", "skipped");
    else {
      let name: string;
      try {
        name = sanitizeRelativePath(e.name);
      } catch (err) {
        skip(shown, `its name cannot be sent: ${(err as Error).message.replace(/^Refusing file name "(?:[^"\\]|\\.)*": /, "")}`, "failed");
        continue;
      }
      const childRel = `${rel}/${name}`;
      // A file system mounted inside the tree (or a link to a file on one) has calls of its own.
      const here = st.dev === on.dev ? on : { ...on, calls: await callsOn(on.devices, st.dev, abs), dev: st.dev };
      if (st.isDirectory()) await walk(abs, childRel, add, skip, here, depth + 1, command);
      else {
        const denied = await readError(abs, st.size, here.calls);
        const why = denied && leftOutFor(denied);
        if (why) skip(childRel, why, "failed");
        else if (denied) throw denied;
        else add(fileSource(abs, childRel, st.size, st, here.calls));
      }
    }
  }
}

/**
 * `message` (a failure said to this machine's user, naming files where they are here) as the
 * receiver and the server may read it: each file's local path replaced by the name it was offered
 * under. Where the user keeps their files is theirs, as the receiver's folder is the receiver's.
 */
export function withOfferedNames(message: string, files: readonly { path: string; local?: string }[]): string {
  // Longest first: /home/a/x is a prefix of /home/a/x.txt.
  const named = files.filter((f) => f.local !== undefined && message.includes(f.local)).sort((a, b) => b.local!.length - a.local!.length);
  for (const f of named) message = message.split(f.local!).join(f.path);
  return message;
}

/**
 * Refuses standard input when it is a directory (`sfx send - < dir`): reading
 * one just ends, which would send an empty file as if it were the data.
 */
export function checkStdin(fd = 0): void {
  let isDir = false;
  try {
    isDir = fstatSync(fd).isDirectory();
  } catch {
    return; // cannot tell: read it
  }
  if (isDir) throw new SfxError("SFX_IO", "Cannot read standard input: it is a directory");
}

/** What a file was when it was listed: the same inode (and modification time) must still be there when it is read. */
export interface ListedFile {
  dev: number;
  ino: number;
  mtimeMs?: number;
}

/**
 * A file on disk as a source. Reading it checks that it is still the file
 * that was offered and that it does not change while it is read — else the
 * receiver would verify, and keep, bytes of no version of it (the hash is
 * the sender's, taken over what it read): the same inode and a regular file
 * (opened without blocking, so a FIFO put in its place cannot hang us), the
 * offered size, no byte past it (a /proc file says 0), and the same size,
 * modification and change times once read. Any of these is `SFX_IO`, before
 * the file's end is sent, so the receiver keeps nothing of it.
 */
export function fileSource(abs: string, path: string, size: number, listed?: ListedFile, calls: FsCalls = queued): SourceFile {
  // Offered (so that the file can be resumed) for files worth resuming, with a time a message can carry.
  const mtime = listed?.mtimeMs === undefined ? undefined : Math.floor(listed.mtimeMs);
  const modified = mtime !== undefined && size >= RESUME_MIN_BYTES && Number.isSafeInteger(mtime) && mtime >= 0 ? mtime : undefined;
  return {
    path,
    local: abs,
    size,
    ...(modified === undefined ? {} : { modified }),
    async *read() {
      const h = await openFile(calls, abs, constants.O_RDONLY | constants.O_NONBLOCK).catch((err) => {
        throw ioError(err, "read", abs);
      });
      try {
        const before = await calls.fstat(h.fd);
        if (!before.isFile()) throw new SfxError("SFX_IO", `Cannot send ${abs}: it is no longer a regular file`);
        if (listed && (before.ino !== listed.ino || before.dev !== listed.dev)) {
          throw new SfxError("SFX_IO", `Cannot send ${abs}: it was replaced by another file after it was offered`);
        }
        if (before.size !== size) {
          throw new SfxError("SFX_IO", `Cannot send ${abs}: it changed after it was offered (${size} bytes then, ${before.size} now)`);
        }
        // Rewritten in place (same size): the offer's modification time, which a kept part is noted with, is no longer its.
        if (listed?.mtimeMs !== undefined && before.mtimeMs !== listed.mtimeMs) {
          throw new SfxError("SFX_IO", `Cannot send ${abs}: it was rewritten after it was offered`);
        }
        let sent = 0;
        try {
          for await (const m of readFileMessages(h, 0, size)) {
            sent += m.length;
            yield m;
          }
        } catch (err) {
          throw ioError(err, "read", abs);
        }
        if (sent < size) throw new SfxError("SFX_IO", `Cannot send ${abs}: it shrank while being sent (${sent} of ${size} bytes)`);
        const { bytesRead } = await h.read(new Uint8Array(1), 0, 1, size);
        if (bytesRead > 0) {
          throw new SfxError(
            "SFX_IO",
            // Found here, not when offered: it had no bytes then (one that had is left out, or refused).
            size === 0 ? `Cannot send ${abs}: ${SIZE_SAYS_NOTHING}` : `Cannot send ${abs}: it grew while being sent`,
          );
        }
        const after = await calls.fstat(h.fd);
        if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || after.ctimeMs !== before.ctimeMs) {
          throw new SfxError("SFX_IO", `Cannot send ${abs}: it changed while being sent (a file being written cannot be sent as it is)`);
        }
      } finally {
        await h.close();
      }
    },
  };
}

/** A source of unknown size from any byte stream (standard input). */
/**
 * Standard input's chunks, a read that fails said as one of standard input
 * (SFX_IO: `sfx send - 0>file` opened it for writing only, EBADF), not as a
 * bug of sfx's.
 */
export async function* readingStdin<T>(stream: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* stream;
  } catch (err) {
    throw err instanceof SfxError ? err : ioError(err, "read", "standard input");
  }
}

/** `chunks` as they come; `onEnd` hears how many bytes they held, once they have all come. */
async function* counted(chunks: AsyncIterable<Uint8Array>, onEnd?: (bytes: number) => void): AsyncIterable<Uint8Array> {
  let bytes = 0;
  for await (const c of chunks) {
    bytes += c.length;
    yield c;
  }
  onEnd?.(bytes);
}

export async function* rechunk(stream: AsyncIterable<Uint8Array | string>): AsyncIterable<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const part of stream) {
    const bytes = typeof part === "string" ? new TextEncoder().encode(part) : part;
    pending.push(bytes);
    pendingBytes += bytes.length;
    while (pendingBytes >= DATA_MESSAGE_BYTES) {
      const out = new Uint8Array(DATA_MESSAGE_BYTES);
      let filled = 0;
      while (filled < DATA_MESSAGE_BYTES) {
        const head = pending[0];
        const take = Math.min(head.length, DATA_MESSAGE_BYTES - filled);
        out.set(head.subarray(0, take), filled);
        filled += take;
        if (take === head.length) pending.shift();
        else pending[0] = head.subarray(take);
      }
      pendingBytes -= DATA_MESSAGE_BYTES;
      yield out;
    }
  }
  if (pendingBytes > 0) {
    const out = new Uint8Array(pendingBytes);
    let off = 0;
    for (const p of pending) {
      out.set(p, off);
      off += p.length;
    }
    pending = [];
    yield out;
  }
}
