/**
 * Writing a received file safely: sanitized relative names, a temporary
 * file next to the final one, SHA-256 computed while writing and verified,
 * fsync, then an atomic move to a name that never silently replaces an
 * existing file. Used by `sfx receive` and by `sfx share get` (which resumes
 * an interrupted download from its temporary file).
 *
 * @example
 * ```ts
 * const out = await openSafeWrite("/tmp/in", "docs/report.pdf", { size: 1234, resume: true });
 * // out.offset bytes are already on disk: fetch the rest from there.
 * for await (const chunk of source(out.offset)) await out.write(chunk);
 * const { path, sha256 } = await out.finish(expectedSha256);
 * ```
 *
 * The calls on names (look, resolve, link, unlink, the lock), the open and
 * close, and the bytes of a small file are synchronous on a local file
 * system; larger writes and the fsync never are (src/fs_calls.ts): a tree of
 * many small files is made of little else.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { constants, type Stats, statfsSync } from "node:fs";
import { access, lstat, open, opendir, readdir, realpath, rename, rm, rmdir, stat, statfs } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { mayWrite, processCheckHint } from "../deno_access.ts";
import { ensureDir } from "../ensure_dir.ts";
import { callsFor, type FsCalls, type OpenFile, openFile, queued } from "../fs_calls.ts";
import { SfxError } from "../errors.ts";
import { isSfxLockText, judgeLock, type LockRelease, readLockText, readSmallFile, takeLock } from "../file_lock.ts";
import { localRelativePath, LOCK_SUFFIX, PART_SUFFIX, RESUME_SUFFIX, sanitizeRelativePath } from "../protocol/paths.ts";
import { truncateUtf8 } from "../protocol/schema.ts";
import { releaseReceived } from "../protocol/release.ts";

export { localRelativePath, LOCK_SUFFIX, PART_SUFFIX, RESUME_SUFFIX, sanitizeRelativePath } from "../protocol/paths.ts";
export { removeStaleLock, type StaleLock } from "../file_lock.ts";

const byteLength = (s: string) => new TextEncoder().encode(s).length;
/** The longest file name (one path segment) common file systems take, in bytes. */
const NAME_MAX = 255;
/** How many temporary names a write tries when others are taken by running writes. */
const MAX_PART_ATTEMPTS = 100;

/** The longest of the suffixes a temporary file's siblings take (the lock's and the note's replace the part's). */
const LONGEST_SUFFIX = Math.max(byteLength(PART_SUFFIX), byteLength(LOCK_SUFFIX), byteLength(RESUME_SUFFIX));

/**
 * The hidden sibling `.<name><tag><suffix>` of `finalPath`. When that, with
 * the longest of the suffixes, is longer than a file name may be, the name is
 * cut (at a character boundary) and a hash of the whole name keeps siblings
 * of different files apart: the part's lock and note, which swap its suffix
 * for theirs, fit too.
 */
function hiddenSibling(finalPath: string, tag: string, suffix: string): string {
  const name = basename(finalPath);
  const extra = `${tag}${suffix}`;
  let hidden = `.${name}${extra}`;
  const room = NAME_MAX - (LONGEST_SUFFIX - byteLength(suffix));
  if (byteLength(hidden) > room) {
    const mark = `~${createHash("sha256").update(name).digest("hex").slice(0, 8)}`;
    hidden = `.${truncateUtf8(name, room - byteLength(`.${mark}${extra}`))}${mark}${extra}`;
  }
  return join(dirname(finalPath), hidden);
}

/**
 * The temporary file a final path is written through: `<dir>/.<name>.sfx-part`,
 * or `.<name>.<n>.sfx-part` for the n-th (n ≥ 2) concurrent write of the same name.
 */
export function partPathFor(finalPath: string, attempt = 1): string {
  return hiddenSibling(finalPath, attempt > 1 ? `.${attempt}` : "", PART_SUFFIX);
}

/** The lock beside a temporary file: `.<name>.sfx-lock`, holding the writer's process ID. */
export function lockPathFor(partPath: string): string {
  return join(dirname(partPath), `${basename(partPath).slice(0, -PART_SUFFIX.length)}${LOCK_SUFFIX}`);
}

/** The note beside a resumable temporary file: `.<name>.sfx-resume`, holding what the finished file must hash to. */
export function resumeNotePathFor(partPath: string): string {
  return join(dirname(partPath), `${basename(partPath).slice(0, -PART_SUFFIX.length)}${RESUME_SUFFIX}`);
}

/** The most a note (a name, a size, a time) may take. */
const NOTE_MAX_BYTES = 64 * 1024;

/** What a resumable temporary file is becoming (its note), or undefined when it has none. */
async function readResumeNote(partPath: string, calls: FsCalls = queued): Promise<string | undefined> {
  const path = resumeNotePathFor(partPath);
  // Most files have none: looked for first, without opening.
  if ((await lookAt(calls, path)) === undefined) return undefined;
  return (await readSmallFile(path, NOTE_MAX_BYTES, calls) ?? undefined)?.trim();
}

/** What is at `path` (not followed): undefined when nothing is; null when it cannot be looked at. */
function lookAt(calls: FsCalls, path: string): Promise<Stats | undefined | null> {
  return calls.lstat(path).catch(() => null);
}

/**
 * Writes the note of `partPath` (under its lock) as a new file: whatever was
 * at that name is unlinked first, not truncated, since a hard link planted
 * there by someone else who can write into the directory would otherwise
 * make us overwrite the file it links to, outside the directory.
 */
async function writeResumeNote(partPath: string, key: string): Promise<void> {
  const path = resumeNotePathFor(partPath);
  await unlinkFile(path);
  const h = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    await h.writeFile(`${key}\n`);
  } catch (err) {
    // An empty note (a full disk) would mark the temporary file as another download's for good.
    await h.close().catch(() => {});
    await rm(path, { force: true }).catch(() => {});
    throw err;
  }
  await h.close();
}

/** Options for {@link openSafeWrite}. */
export interface SafeWriteOptions {
  /** Expected size; `finish` refuses another. null or absent: unknown (`finish` takes the size). */
  size?: number | null;
  /**
   * Continue an existing temporary file for this path: its bytes are kept
   * (and hashed), `offset` says how many. A temporary file longer than
   * `size` is started over.
   */
  resume?: boolean;
  /**
   * With `resume`: what the finished file must be (its SHA-256). It is noted
   * beside the temporary file (`.<name>.sfx-resume`), and only a temporary
   * file noted with the same key is continued; one another download left
   * (another key) is neither continued nor destroyed: this write takes the
   * next temporary name. Writes without a key leave noted files alone too.
   */
  resumeKey?: string;
  /**
   * With `resume` and a key: start the temporary file over even when it could
   * be continued, but note the key (this write can be resumed later).
   */
  discard?: boolean;
  /**
   * With `resume` and a key: when the temporary file noted with the key is
   * being written by another writer, start another one rather than fail.
   */
  busyOk?: boolean;
  /**
   * With `resume` and a key: a temporary file noted with another key that
   * this says yes to (an older version of the same file) is taken over and
   * started over, rather than passed by.
   */
  reclaim?: (note: string) => boolean;
  /** Replace an existing file at the final name instead of choosing `name (1).ext`. */
  overwrite?: boolean;
  /**
   * Shared by the writes of one batch (an exchange's files): directories
   * already created and checked are not checked again.
   */
  cache?: SafeWriteCache;
  /**
   * Leave the fsync of the directory after the rename to the caller, who
   * syncs each directory once with {@link syncDirectory} (many small files).
   */
  deferDirSync?: boolean;
}

/**
 * Directory work shared by several writes into the same tree; see
 * {@link newSafeWriteCache}. Only the creating of directories is kept: that
 * they are still inside the target is checked again at every write, since
 * someone who can write into it may swap one for a link meanwhile.
 */
export interface SafeWriteCache {
  roots: Map<string, Promise<string>>;
  /** Each directory made and checked, and how calls on names are made in it (src/fs_calls.ts). */
  parents: Map<string, Promise<FsCalls>>;
  /** The directories the batch's writes created, for {@link removeMadeDirectories}. */
  made: string[];
}

/** A fresh cache for a batch of writes. */
export function newSafeWriteCache(): SafeWriteCache {
  return { roots: new Map(), parents: new Map(), made: [] };
}

/**
 * Removes the directories a batch of writes created ({@link SafeWriteCache})
 * that are empty, deepest first: what a failed transfer leaves of a tree it
 * had begun. A directory holding anything (a file that arrived, a part kept
 * to resume, whatever someone else put there) stays, and so do its parents.
 */
export async function removeMadeDirectories(cache: SafeWriteCache): Promise<void> {
  const made = [...cache.made].sort((a, b) => b.length - a.length);
  cache.made.length = 0;
  for (const dir of made) await rmdir(dir).catch(() => {});
}

/** What {@link SafeWrite.finish} reports. */
export interface SafeWriteResult {
  /** Where the file now is (may be `name (1).ext` when `name.ext` existed). */
  path: string;
  /** Its path relative to the target directory, `/`-separated. */
  relativePath: string;
  size: number;
  sha256: string;
  /** True when the same bytes were already there under the final name: nothing new was written. */
  unchanged?: boolean;
}

/** Chunks gathered for one writev(), and those of them to free once written. */
interface Batch {
  chunks: Uint8Array[];
  release: Uint8Array[];
  done: Promise<void>;
}

/** An open safe write. Call `write` for each chunk in order, then `finish` or `abort`. */
export interface SafeWrite {
  /** The wanted final path (the actual one may get a ` (n)` suffix). */
  readonly finalPath: string;
  /** The temporary file being written. */
  readonly partPath: string;
  /** Bytes that were already in the temporary file when it was opened (resume), else 0. */
  readonly offset: number;
  /** Bytes in the file so far, `offset` included. */
  readonly size: number;
  /** Bytes handed to `write` and not yet on disk. */
  readonly pendingBytes: number;
  /**
   * Settles once the `offset` bytes kept from before are hashed (at once when
   * there are none): writes wait behind it. It never rejects (a failure shows
   * in the next write or `finish`).
   */
  readonly ready: Promise<void>;
  /**
   * Appends a chunk (hashed as it goes). If writing fails (`SFX_IO`, e.g.
   * disk full), the temporary file is removed and later calls fail too. Calls may overlap: chunks are
   * written in call order. Do not modify `chunk` until the promise resolves.
   * With `release`, the write owns `chunk`: once written its memory is freed
   * at once ({@link releaseReceived}) and every view of it reads empty; for
   * received messages nothing else reads again.
   */
  write(chunk: Uint8Array, opts?: { release?: boolean }): Promise<void>;
  /**
   * Verifies size and SHA-256 (hex, or a check of it: an exchange's tag; omitted: not checked), fsyncs, and moves
   * the file to its final name. On any failure the temporary file is removed
   * and the error thrown (`SFX_INTEGRITY`, `SFX_IO`).
   */
  finish(expectedSha256?: string | ((sha256: string) => boolean), expectedSize?: number): Promise<SafeWriteResult>;
  /**
   * Stops: removes the temporary file, or keeps it for a later resume.
   * Resolves with the bytes kept (0 when removed, or when a failed write
   * removed it already). Idempotent.
   */
  abort(opts?: { keepPartial?: boolean }): Promise<number>;
}

/**
 * True when the file system of `path` (or of its nearest ancestor that exists: the file or
 * directories that could not be made) has space left, a fixed number of inodes, and none free.
 */
function outOfInodes(path: string): boolean {
  for (let at = path; ; at = dirname(at)) {
    try {
      const st = statfsSync(at);
      return Number(st.files) > 0 && Number(st.ffree) === 0 && Number(st.bavail) > 0;
    } catch {
      if (dirname(at) === at) return false;
    }
  }
}

/** Maps a file-system error to `SFX_IO` with a message that names the file and the cause. */
export function ioError(err: unknown, action: string, path: string): SfxError {
  if (err instanceof SfxError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const why = code === "ENOSPC"
    ? (outOfInodes(path) ? "the file system is out of inodes: it has space left, but no room for another file" : "the disk is full")
    : code === "EACCES" || code === "EPERM"
    ? "permission denied"
    : code === "EDQUOT"
    ? "the disk quota is exceeded"
    : code === "ENOTDIR"
    ? "a part of the path is a file, not a directory"
    : code === "EROFS"
    ? "the file system is read-only"
    : code === "ENOENT"
    ? "no such file or directory"
    : code === "EISDIR"
    ? "it is a directory"
    : code === "ENAMETOOLONG"
    ? "the name is too long for this file system"
    : code === "ELOOP"
    ? "too many symbolic links (a loop?)"
    // Node's text repeats the code, the call and the path: "EIO: i/o error, read '/x'", "EBADF: bad file descriptor, read".
    : ((err as Error)?.message ?? String(err)).replace(/^[A-Z]+: /, "").replace(code ? /, \w+(?: '.*')?$/ : /, \w+ '.*'$/, "");
  return new SfxError("SFX_IO", `Cannot ${action} ${path}: ${why}${code ? ` (${code})` : ""}`, { cause: err });
}

/**
 * Makes sure files can be received into `dir`: creates it (and its parents)
 * when it does not exist yet, as a download folder is expected to be; fails
 * with SFX_IO when it exists but is not a directory, or cannot be created.
 */
export async function prepareDirectory(dir: string): Promise<void> {
  // Said now, before an offer is accepted, and not in Deno's words ("run again with the --allow-write flag").
  if (!mayWrite(dir)) throw new SfxError("SFX_IO", `Deno did not grant read and write access to ${dir}: give it with --allow-read and --allow-write (or -A)`);
  const st = await stat(dir).catch(() => null);
  if (st && !st.isDirectory()) throw new SfxError("SFX_IO", `Cannot receive into ${dir}: it exists and is not a directory`);
  if (!st) {
    try {
      await ensureDir(dir);
    } catch (err) {
      throw ioError(err, "create the directory", dir);
    }
  }
  // Said now, not after an offer was accepted (a read-only mount, no permission).
  try {
    await access(dir, constants.W_OK);
  } catch (err) {
    throw ioError(err, "write into", dir);
  }
}

/**
 * The size of the temporary file of `relPath` under `dir` noted with `key`
 * (an interrupted write {@link openSafeWrite} would continue with that key),
 * or undefined when there is none. A quick look, without locks (the open
 * decides): `listings` keeps each directory's entries, so that looking for
 * many files costs one read of each directory and a note read only where a
 * note is.
 */
export async function resumableBytes(dir: string, relPath: string, key: string, listings = new Map<string, Promise<Set<string>>>()): Promise<number | undefined> {
  try {
    const finalPath = join(await realpath(dir), ...localRelativePath(sanitizeRelativePath(relPath)).split("/"));
    const parent = dirname(finalPath);
    let listing = listings.get(parent);
    if (!listing) {
      listing = readdir(parent).then((names) => new Set(names), () => new Set<string>());
      listings.set(parent, listing);
    }
    const attempt = await notedAttempt(finalPath, key, await listing);
    if (attempt === undefined) return undefined;
    const part = partPathFor(finalPath, attempt);
    const st = await lstat(part);
    // Not a file of ours (a link, a FIFO, a hard link to a file elsewhere, a stranger's): not resumed.
    return st.isFile() && st.nlink === 1 && !(await othersFile(st, part)) ? st.size : undefined;
  } catch {
    // an unusable name or directory, or a part gone meanwhile: nothing to resume (the write reports why)
    return undefined;
  }
}

/**
 * Which temporary file of `finalPath` (1 for `.name.sfx-part`, n for
 * `.name.n.sfx-part`) is noted with `key`, if any. Names free now may have
 * been taken before it (slots are reused): it looks past up to 8 free names.
 * With `names`, the directory's entries, a note is read only where one is.
 */
async function notedAttempt(finalPath: string, key: string, names?: ReadonlySet<string>): Promise<number | undefined> {
  const exists = (path: string) => (names ? Promise.resolve(names.has(basename(path))) : lstat(path).then(() => true, () => false));
  for (let attempt = 1, gaps = 0; attempt <= MAX_PART_ATTEMPTS && gaps < 8; attempt++) {
    const candidate = partPathFor(finalPath, attempt);
    const note = !names || names.has(basename(resumeNotePathFor(candidate))) ? await readResumeNote(candidate) : undefined;
    if (note === key) return attempt;
    gaps = note !== undefined || (await exists(candidate)) ? 0 : gaps + 1;
  }
  return undefined;
}

/** Where an offer needs a directory and the receiver cannot give it one, and what is there. */
export interface InTheWay {
  /** Relative to the receiving folder. */
  path: string;
  what: "a file" | "a symbolic link to a file" | "a broken symbolic link" | "a symbolic link that leads outside the folder";
}

/**
 * The first directory an offer needs under `dir` that cannot be one there (a
 * file named `photos` where files arrive as `photos/…`; a symbolic link to a
 * file, to nothing, or out of the folder, which the write does not follow);
 * `undefined` when none is. Such an offer could only fail once accepted. A
 * link to a directory inside the folder is a directory.
 */
export async function pathInTheWay(dir: string, relPaths: readonly string[]): Promise<InTheWay | undefined> {
  const root = await realpath(dir).catch(() => resolve(dir));
  const checked = new Map<string, InTheWay["what"] | null | "absent">(); // relative directory → what is in the way there
  for (const rel of relPaths) {
    const segments = localRelativePath(sanitizeRelativePath(rel)).split("/");
    for (let depth = 1; depth < segments.length; depth++) {
      const parent = segments.slice(0, depth).join("/");
      let found = checked.get(parent);
      if (found === undefined) {
        found = await whatIsAt(root, join(root, ...segments.slice(0, depth)));
        checked.set(parent, found);
      }
      if (found === "absent") break; // nothing there: nothing deeper either
      if (found !== null) return { path: parent, what: found };
    }
  }
  return undefined;
}

/** Whether real path `path` is `root` or under it (`/` included: its children do not start with `//`). */
export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** What stands at `path`: null for a directory inside `root` (or a link to one), "absent", or what is in the way. */
async function whatIsAt(root: string, path: string): Promise<InTheWay["what"] | null | "absent"> {
  const st = await lstat(path).catch(() => null);
  if (st === null) return "absent";
  if (st.isDirectory()) return null;
  if (!st.isSymbolicLink()) return "a file";
  const real = await realpath(path).catch(() => null);
  if (real === null) return "a broken symbolic link";
  if (!isInside(root, real)) return "a symbolic link that leads outside the folder";
  return (await stat(real).catch(() => null))?.isDirectory() ? null : "a symbolic link to a file";
}

/**
 * Inodes that `atOnce` files written at the same time take for a while
 * beyond their own: each its lock file and the hard link that places it under
 * its final name (tmpfs counts each link against its nr_inodes until the
 * part's name is removed), and each of the `noted` among them (resumable: a
 * key given) its resume note.
 */
export function inodesInPassing(atOnce: number, noted: number): number {
  return 2 * atOnce + Math.min(noted, atOnce);
}

/** What {@link roomFor} found: bytes, and files (inodes) where the file system counts them. */
export interface Room {
  /** True when both the bytes and the files fit. */
  fits: boolean;
  /** Bytes the files take on disk, and bytes free for an unprivileged writer. */
  need: number;
  free: number;
  /** The block size `need` was rounded to ({@link bytesOnDisk}). */
  block: number;
  /** Inodes needed (the files to create, and those taken in passing) and free; undefined where the file system has no fixed count (btrfs). */
  inodes?: { need: number; free: number };
}

/**
 * Whether files of these `sizes` (bytes still to write, each) fit on the
 * file system of `dir`: each takes whole blocks (a thousand 1-byte files
 * take a thousand blocks), checked against what an unprivileged writer may
 * still use; and whether it has an inode for each of the `newFiles` still to
 * create (default: one per size; a resumed file has its inode already), plus
 * those taken `inPassing` while they are written ({@link inodesInPassing}).
 * A file system out of inodes has bytes free and takes no file:
 * ext4 made with few inodes, a tmpfs with nr_inodes. Callers add the
 * directories the files go in ({@link newDirectories}).
 * null when the file system cannot say.
 */
export async function roomFor(dir: string, sizes: readonly number[], newFiles = sizes.length, inPassing = inodesInPassing(sizes.length, 0)): Promise<Room | null> {
  try {
    const st = await statfs(await nearestExisting(dir));
    // Counts are in fragments (f_frsize); f_bsize is only the preferred I/O size (4 MiB on CephFS).
    const unit = Number((st as { frsize?: number }).frsize) || Number(st.bsize);
    const block = Math.min(unit, 4096);
    const need = bytesOnDisk(sizes, block);
    const free = Number(st.bavail) * unit;
    // f_files is 0 where inodes are made as needed (btrfs): nothing to check there.
    const inodes = Number(st.files) > 0 ? { need: newFiles + inPassing, free: Number(st.ffree) } : undefined;
    return { fits: need <= free && (inodes === undefined || inodes.need <= inodes.free), need, free, block, ...(inodes ? { inodes } : {}) };
  } catch {
    return null;
  }
}

/** The longest path Linux takes (PATH_MAX, 4096 bytes with the terminating NUL). */
export const PATH_MAX_BYTES = 4095;

/**
 * The first of `relPaths` whose file, or a temporary file beside it (its
 * longest: the lock or note of the last temporary name), would have a path longer
 * than the system takes under `dir` as it resolves: every name in it may fit
 * and the whole not. Such a file could not be written; it is found before
 * anything is. Undefined when all fit.
 */
export async function pathTooLong(dir: string, relPaths: readonly string[]): Promise<{ path: string; bytes: number } | undefined> {
  const root = await realpath(dir).catch(() => resolve(dir));
  for (const rel of relPaths) {
    let finalPath: string;
    try {
      finalPath = join(root, ...localRelativePath(sanitizeRelativePath(rel)).split("/"));
    } catch {
      continue; // an unsafe name is refused as such
    }
    const last = partPathFor(finalPath, MAX_PART_ATTEMPTS);
    const bytes = Math.max(byteLength(finalPath), byteLength(lockPathFor(last)), byteLength(resumeNotePathFor(last)));
    if (bytes > PATH_MAX_BYTES) return { path: rel, bytes };
  }
  return undefined;
}

/**
 * How many directories receiving `relPaths` under `dir` would create: each
 * missing directory on the way, counted once (a directory that is missing has
 * no subdirectory to look for). Each takes an inode too. Names are taken as
 * given (sanitized ones); unsafe ones count for nothing here, as they are refused anyway.
 */
export async function newDirectories(dir: string, relPaths: readonly string[]): Promise<number> {
  const dirs = new Set<string>();
  for (const rel of relPaths) {
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  const missing = new Set<string>();
  // Parents before children, so a missing parent answers for everything below it without a look.
  for (const d of [...dirs].sort((a, b) => a.split("/").length - b.split("/").length)) {
    const parent = d.includes("/") ? d.slice(0, d.lastIndexOf("/")) : undefined;
    if ((parent !== undefined && missing.has(parent)) || !(await lstat(join(dir, ...d.split("/"))).then(() => true, () => false))) missing.add(d);
  }
  return missing.size;
}

/** `path`, or its nearest ancestor that exists: the file system a directory not made yet would be on. */
async function nearestExisting(path: string): Promise<string> {
  let at = resolve(path);
  while (!(await stat(at).then(() => true, () => false))) {
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  return at;
}

/** What files of these `sizes` take on disk, each in whole blocks of `block` bytes. */
export function bytesOnDisk(sizes: readonly number[], block: number): number {
  return sizes.reduce((n, size) => n + Math.ceil(Math.max(0, size) / block) * block, 0);
}

/**
 * Where `relPath` (sanitized here) goes under `dir`: creates `dir` if need
 * be and the directories on the way, and refuses a symbolic link among them that leads outside
 * `dir` (checked before anything is created; the file's open and its
 * placing check again). Holds nothing open:
 * a batch can check every destination before asking for any byte.
 */
export async function prepareDestination(dir: string, relPath: string, cache?: SafeWriteCache): Promise<{ rel: string; root: string; finalPath: string; calls: FsCalls }> {
  const rel = sanitizeRelativePath(relPath);
  let rootP = cache?.roots.get(dir);
  if (!rootP) {
    // Made if missing, as `sfx receive --dir` does (the library's Receiver meets it here first).
    rootP = ensureDir(dir).then(() => realpath(dir)).catch((err) => {
      throw ioError(err, "use the directory", dir);
    });
    cache?.roots.set(dir, rootP);
  }
  const root = await rootP;
  const finalPath = join(root, ...localRelativePath(rel).split("/"));
  const parent = dirname(finalPath);
  let parentP = cache?.parents.get(parent);
  if (!parentP) {
    parentP = (async () => {
      try {
        // Checked before anything is created: a symbolic link on the way must
        // not make us create directories elsewhere.
        let existing = parent;
        while (existing !== root && !(await lstat(existing).then(() => true, () => false))) existing = dirname(existing);
        await realInside(root, existing, rel);
        await ensureDir(parent, undefined, cache?.made);
      } catch (err) {
        throw ioError(err, "create the directory for", finalPath);
      }
      // A directory we may not write into (read-only, another owner's) is found before any byte is asked for.
      await access(parent, constants.W_OK).catch((err) => {
        throw ioError(err, "write into", parent);
      });
      return callsFor(parent);
    })();
    cache?.parents.set(parent, parentP);
  }
  const calls = await parentP;
  // Not checked again here, for each file: openPart checks just before the open, and #place
  // just before the file takes its name.
  return { rel, root, finalPath, calls };
}

/**
 * The real path of `dir`, which must be `root` or inside it: a symbolic link
 * on the way may lead elsewhere inside, never outside (SFX_IO).
 */
async function realInside(root: string, dir: string, rel: string, calls: FsCalls = queued): Promise<string> {
  const real = await calls.realpath(dir);
  if (!isInside(root, real)) {
    throw new SfxError("SFX_IO", `Refusing ${rel}: a symbolic link in its directory leads outside ${root}`);
  }
  return real;
}

/** Which file a path or a handle is: equal ids, the same file. */
interface FileId {
  dev: number;
  ino: number;
}

/**
 * Whether `path` is, right now, the file `id` in a directory inside `root`.
 * Node has no openat(), so a path is resolved anew by every call: someone who
 * can write into `root` may swap a directory on the way for a symbolic link
 * to elsewhere between our check and our use of the path. This narrows that
 * to a swap between the realpath() and the lstat() here, made after our file
 * was opened or just before it is placed: the directory is resolved, and the
 * file found there must be the one we hold.
 */
async function isAt(root: string, rel: string, path: string, id: FileId, calls: FsCalls): Promise<boolean> {
  const real = await realInside(root, dirname(path), rel, calls).catch(() => undefined);
  const st = real === undefined ? undefined : await lookAt(calls, join(real, basename(path)));
  return st != null && st.dev === id.dev && st.ino === id.ino;
}

/**
 * Opens the temporary file `partPath`, under its lock: created anew (any
 * file a killed write of ours left is removed first), or with `resume` the
 * one there reopened. A regular file with other links (a hard link to a file
 * elsewhere, planted, or made by a backup tool) is never written through:
 * our name for it is removed, that file left alone, and the write starts
 * over; so is a stranger's file (see othersFile). Returns undefined, touching
 * nothing, when what is at that name is not a regular file (a symbolic link,
 * a FIFO, a directory) or cannot be removed (a stranger's, under the sticky
 * bit): the caller takes the next temporary name. Fails (SFX_IO) when the
 * directory leads outside `root`, checked just before the open and again
 * after it.
 */
async function openPart(root: string, rel: string, partPath: string, resume: boolean, calls: FsCalls, looked: Stats | undefined | null = null): Promise<{ handle: OpenFile; id: FileId } | undefined> {
  await realInside(root, dirname(partPath), rel, calls);
  // What the name held, as the caller just looked (null: look now).
  const there = looked !== null ? looked : await calls.lstat(partPath);
  if (there && !there.isFile()) return undefined;
  // Another user's file (planted in a shared directory) is never taken over: renamed to the final
  // name, it would stay theirs, and they could change it after its hash was checked.
  const reuse = there !== undefined && resume && there.nlink === 1 && !(await othersFile(there, partPath));
  if (there && !reuse) {
    // A stale one of ours (a killed write's) is removed; one we may not remove (another user's, in
    // a directory with the sticky bit) is not ours.
    const removed = await unlinkFile(partPath).then(() => true, (err) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EPERM") return false;
      throw err;
    });
    if (!removed) return undefined;
  }
  let handle: OpenFile;
  try {
    if (reuse) {
      handle = await openFile(calls, partPath, constants.O_RDWR | constants.O_NOFOLLOW);
    } else {
      // Created, never reused: O_EXCL fails rather than open whatever appears here meanwhile.
      handle = await openFile(calls, partPath, (resume ? constants.O_RDWR : constants.O_WRONLY) | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    }
  } catch (err) {
    // Something else put here since we looked (a link, another file), or what we may not open: not ours either.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || code === "ELOOP" || code === "EACCES" || code === "EPERM") return undefined;
    throw err;
  }
  try {
    const st = await calls.fstat(handle.fd);
    // Checked on what is open, not only on what the name held a moment before.
    const same = !reuse || (st.dev === there!.dev && st.ino === there!.ino);
    if (!st.isFile() || st.nlink !== 1 || !same) {
      await handle.close();
      return undefined;
    }
    const id = { dev: st.dev, ino: st.ino };
    if (!(await isAt(root, rel, partPath, id, calls))) {
      // What we opened is elsewhere (a directory was swapped): left alone, nothing written to it.
      throw new SfxError("SFX_IO", `Refusing ${rel}: its directory ${dirname(partPath)} was replaced while the file was being opened`);
    }
    return { handle, id };
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}

/**
 * Opens a safe write of `relPath` (sanitized here) under `dir`. Creates the
 * directories on the way, refuses to write outside `dir` even through a
 * symbolic link, and opens (or, with `resume`, reopens) the temporary file.
 */
export async function openSafeWrite(dir: string, relPath: string, opts: SafeWriteOptions = {}): Promise<SafeWrite> {
  const { rel, root, finalPath, calls } = await prepareDestination(dir, relPath, opts.cache);
  // Each temporary file has one writer: its lock says which process. Another
  // running write of the same name gets the next free name (or, resuming,
  // a clear error: there is only one partial download to continue).
  // A temporary file noted for a resumable download is that download's: only
  // the same download (same key) continues it; every other write passes it by.
  // So does every write a name holding what is not our temporary file (see openPart).
  const key = opts.resume ? opts.resumeKey : undefined;
  // Our own earlier partial may sit under a later name (`.name.2.sfx-part`): that one first.
  const first = (key !== undefined ? await notedAttempt(finalPath, key) : undefined) ?? 1;
  let partPath = "";
  let unlock: LockRelease | undefined;
  let opened: { handle: OpenFile; id: FileId } | undefined;
  let remade = false;
  for (let n = 0; n < MAX_PART_ATTEMPTS && !opened; n++) {
    const attempt = ((first - 1 + n) % MAX_PART_ATTEMPTS) + 1;
    partPath = partPathFor(finalPath, attempt);
    try {
      unlock = await takeLock(lockPathFor(partPath), calls);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT" && !remade) {
        // Its folder went since it was made (another receive into this --dir failed, and removed the
        // empty folders it had made): made again, once, and checked to be inside as before.
        remade = true;
        try {
          await ensureDir(dirname(partPath), undefined, opts.cache?.made);
          await realInside(root, dirname(partPath), rel);
        } catch (again) {
          throw again instanceof SfxError ? again : ioError(again, "create the directory for", finalPath);
        }
        n--;
        continue;
      }
      throw ioError(err, "lock", partPath);
    }
    const noted = await readResumeNote(partPath, calls);
    // An empty note beside a lock taken over from a killed sfx: that writer died between making
    // the note and filling it. Nobody's download, it is no reason to pass the name by for good.
    const note = noted === "" && isSfxLockText(unlock?.tookOver) ? undefined : noted;
    if (!unlock) {
      // Held by a live writer, or by another user (whose dead writer's lock we may not remove in
      // a shared directory): theirs is passed by.
      const me = process.geteuid?.();
      const theirs = me !== undefined && (await lstat(lockPathFor(partPath)).then((st) => st.uid !== me, () => false));
      if (opts.resume && (key === undefined || note === key) && !opts.busyOk && !theirs) {
        throw new SfxError("SFX_IO", `Cannot write ${finalPath}: another sfx process is writing it now (its lock: ${lockPathFor(partPath)})${processCheckHint()}`);
      }
      continue;
    }
    // What is at the temporary name, looked at once for both questions below (null: not looked
    // at, or the look failed; openPart looks again, and reports what fails).
    let there: Stats | undefined | null = null;
    const look = async () => (there = await lookAt(calls, partPath));
    // Without a key, `resume` says the temporary file there is the caller's to continue.
    const mayTake = note === undefined
      ? (opts.resume === true && key === undefined) || strayPartIsOurs(await look(), unlock.tookOver)
      : note === key || (key !== undefined && opts.reclaim?.(note) === true);
    if (mayTake) {
      try {
        opened = await openPart(root, rel, partPath, opts.resume === true, calls, there);
      } catch (err) {
        const e = ioError(err, "open", partPath); // before the unlock frees the lock's inode: ENOSPC says which ran out
        await unlock();
        throw e;
      }
    }
    if (!opened) await unlock();
  }
  if (!opened || !unlock) {
    throw new SfxError("SFX_IO", `Cannot write ${finalPath}: its ${MAX_PART_ATTEMPTS} temporary names are taken (by other running writes, or by what is not a regular file of ours)`);
  }
  const { handle, id } = opened;
  const hash = createHash("sha256");
  let offset = 0;
  try {
    if (opts.resume) {
      const { size: existing } = await handle.stat();
      // Continued only when noted for this very file (a file without a note is what a killed
      // receive or an older sfx left: of unknown origin, started over).
      const ours = key === undefined || (await readResumeNote(partPath)) === key;
      if (!ours || opts.discard || (opts.size != null && existing > opts.size)) {
        await handle.truncate(0);
      } else {
        // Hashed by the writer before anything it writes (not here: a large one takes a while).
        offset = existing;
      }
      if (key !== undefined) await writeResumeNote(partPath, key);
    }
  } catch (err) {
    const e = ioError(err, "open", partPath);
    await handle.close().catch(() => {});
    await unlock();
    throw e;
  }
  return new SafeWriteImpl(root, rel, finalPath, partPath, handle, id, hash, offset, opts, unlock, calls);
}

/**
 * Whether a temporary file without a resume note may be replaced or started
 * over: when there is none, and when it proves to be a killed writer's of
 * ours, as the listing of kept parts decides (see listKeptParts): our own
 * file, beside the lock sfx left naming its process, which our lock took
 * over (`tookOver`: see LockRelease). A file merely named like a part is the
 * user's, and passed by: the write takes the next temporary name.
 */
function strayPartIsOurs(st: Stats | undefined | null, tookOver: string | null | undefined): boolean {
  // Nothing there (or not known: openPart looks again), or what openPart passes by anyway (not a regular file).
  if (st === undefined || st === null || !st.isFile()) return true;
  return isSfxLockText(tookOver) && ownFile(st);
}

async function hashExisting(handle: OpenFile, hash: Hash, size: number, stop?: () => boolean): Promise<number> {
  // No larger than the file: a tree of small files already there is hashed file by file.
  const buf = new Uint8Array(Math.max(1, Math.min(1024 * 1024, size)));
  let pos = 0;
  while (pos < size && !stop?.()) {
    const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, size - pos), pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return pos;
}

/** Hashes the `offset` bytes a resumed temporary file starts with (until `stop`); they must all still be there. */
async function hashPrefix(handle: OpenFile, hash: Hash, offset: number, path: string, stop: () => boolean): Promise<void> {
  let got: number;
  try {
    got = await hashExisting(handle, hash, offset, stop);
  } catch (err) {
    throw ioError(err, "read", path);
  }
  if (stop()) return;
  if (got !== offset) throw new SfxError("SFX_IO", `${path} lost bytes while it was being resumed (${got} of ${offset})`);
}

class SafeWriteImpl implements SafeWrite {
  readonly finalPath: string;
  readonly partPath: string;
  readonly offset: number;
  #root: string;
  #rel: string;
  #handle: OpenFile;
  /** The temporary file's device and inode, from its handle: what `partPath` must still be when it is placed or removed. */
  #id: FileId;
  /** Under its final name, its lock given back. */
  #placed = false;
  #hash: Hash;
  #size: number;
  #pending = 0;
  #chain: Promise<void> = Promise.resolve();
  #failure: SfxError | undefined;
  #closed = false;
  #opts: SafeWriteOptions;
  #unlock: () => Promise<void>;
  /** How its calls on names are made (src/fs_calls.ts). */
  #calls: FsCalls;

  constructor(
    root: string,
    rel: string,
    finalPath: string,
    partPath: string,
    handle: OpenFile,
    id: FileId,
    hash: Hash,
    offset: number,
    opts: SafeWriteOptions,
    unlock: () => Promise<void>,
    calls: FsCalls,
  ) {
    this.#root = root;
    this.#rel = rel;
    this.finalPath = finalPath;
    this.partPath = partPath;
    this.#handle = handle;
    this.#id = id;
    this.#hash = hash;
    this.offset = offset;
    this.#size = offset;
    this.#opts = opts;
    this.#unlock = unlock;
    this.#calls = calls;
    if (offset > 0) {
      // The kept bytes are hashed first; every write waits behind them (and hashes its own in
      // order). An abort stops it: the bytes stay, and are hashed again when resumed.
      this.#chain = hashPrefix(handle, hash, offset, partPath, () => this.#closed).catch((err) => {
        this.#failure ??= err instanceof SfxError ? err : ioError(err, "read", partPath);
      });
    }
    this.ready = this.#chain;
  }

  readonly ready: Promise<void>;

  get size(): number {
    return this.#size;
  }

  get pendingBytes(): number {
    return this.#pending;
  }

  write(chunk: Uint8Array, opts?: { release?: boolean }): Promise<void> {
    if (this.#closed) return Promise.reject(new SfxError("SFX_INTERNAL", `Write to ${this.#rel} after it was closed`));
    if (this.#failure) return Promise.reject(this.#failure);
    this.#pending += chunk.length;
    // Chunks that arrive while a write is in progress are gathered and written with one writev().
    let entry = this.#batch;
    if (!entry) {
      const position = this.#size;
      const batch: Batch = { chunks: [], release: [], done: Promise.resolve() };
      batch.done = this.#chain.then(() => {
        this.#batch = undefined;
        return this.#writeBatch(batch, position);
      });
      entry = this.#batch = batch;
      this.#chain = batch.done.catch(() => {});
      // A failed write (disk full…) ends the write: the temporary file goes at once.
      batch.done.catch(() => this.abort());
    }
    entry.chunks.push(chunk);
    if (opts?.release) entry.release.push(chunk);
    this.#size += chunk.length;
    return entry.done;
  }

  /** The batch still open for more chunks (its write has not started). */
  #batch: Batch | undefined;

  async #writeBatch({ chunks, release }: Batch, position: number): Promise<void> {
    const bytes = chunks.reduce((n, c) => n + c.length, 0);
    try {
      if (this.#failure) throw this.#failure;
      // Hashed here, in file order: a resumed file's kept bytes were hashed first (the chain).
      for (const c of chunks) this.#hash.update(c);
      let written = 0;
      let list = chunks;
      while (written < bytes) {
        const { bytesWritten } = await this.#handle.writev(list, position + written);
        written += bytesWritten;
        if (written < bytes) list = remainder(chunks, written);
      }
    } catch (err) {
      this.#failure ??= ioError(err, "write", this.finalPath);
      throw this.#failure;
    } finally {
      this.#pending -= bytes;
      // Written or failed, these are not read again (a failed write ends the file).
      for (const c of release) releaseReceived(c);
    }
  }

  async finish(expectedSha256?: string | ((sha256: string) => boolean), expectedSize?: number): Promise<SafeWriteResult> {
    try {
      await this.#chain;
      if (this.#failure) throw this.#failure;
      const size = this.#size;
      const wanted = expectedSize ?? this.#opts.size ?? undefined;
      if (wanted != null && size !== wanted) {
        throw new SfxError("SFX_INTEGRITY", `${this.#rel}: received ${size} bytes, expected ${wanted}; nothing was kept`);
      }
      const sha256 = this.#hash.digest("hex");
      if (typeof expectedSha256 === "function" && !expectedSha256(sha256)) {
        throw new SfxError(
          "SFX_INTEGRITY",
          `${this.#rel}: SHA-256 mismatch: what arrived is not what the sender's end vouches for: changed on the way, or the two ends' keys disagree because the list of files or a key was changed (the verification codes then differ); nothing was kept`,
        );
      }
      if (typeof expectedSha256 === "string" && sha256 !== expectedSha256) {
        throw new SfxError("SFX_INTEGRITY", `${this.#rel}: SHA-256 mismatch (got ${sha256.slice(0, 12)}…, expected ${expectedSha256.slice(0, 12)}…); nothing was kept`);
      }
      try {
        await this.#handle.sync();
      } catch (err) {
        throw ioError(err, "flush", this.finalPath);
      }
      this.#closed = true;
      await this.#handle.close().catch(() => {});
      const { path, unchanged } = await this.#place(size, sha256);
      await this.#calls.unlink(resumeNotePathFor(this.partPath)).catch(() => {});
      await this.#unlock();
      this.#placed = true;
      if (!this.#opts.deferDirSync) await syncDirectory(dirname(path));
      const relativePath = path.slice(this.#root.length + 1).split(sep).join("/");
      return unchanged ? { path, relativePath, size, sha256, unchanged } : { path, relativePath, size, sha256 };
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /**
   * Fails unless `partPath` is still our temporary file in a directory inside
   * the target: checked just before each link or rename, since a directory
   * checked at the open may have been swapped for a link to elsewhere since.
   */
  async #checkPlace(): Promise<void> {
    if (!(await isAt(this.#root, this.#rel, this.partPath, this.#id, this.#calls))) {
      // Said as it is: the file deleted from a directory still ours, or a directory replaced.
      const real = await realInside(this.#root, dirname(this.partPath), this.#rel).catch(() => undefined);
      const gone = real !== undefined && (await lstat(join(real, basename(this.partPath))).then(() => false, () => true));
      throw new SfxError("SFX_IO", gone
        ? `Refusing ${this.#rel}: its temporary file ${this.partPath} was deleted while it was being written`
        : `Refusing ${this.#rel}: its temporary file ${this.partPath} is no longer in ${this.#root} (a directory on the way was replaced)`);
    }
  }

  /** Moves the temporary file to the final name, or the first free `name (n).ext`. */
  async #place(size: number, sha256: string): Promise<{ path: string; unchanged?: boolean }> {
    if (this.#opts.overwrite) {
      await this.#checkPlace();
      try {
        await rename(this.partPath, this.finalPath);
        return { path: this.finalPath };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Another user's file in a shared directory, which we may not replace, or a directory of
        // that name (which --overwrite does not remove): saved beside it (`name (1).ext`, below)
        // rather than thrown away after the whole transfer.
        if (code !== "EPERM" && code !== "EACCES" && code !== "EISDIR" && code !== "ENOTEMPTY" && code !== "EEXIST") {
          throw ioError(err, "rename to", this.finalPath);
        }
      }
    }
    for (let n = 0; n < 10_000; n++) {
      const candidate = n === 0 ? this.finalPath : numbered(this.finalPath, n);
      await this.#checkPlace();
      try {
        // link() fails with EEXIST instead of replacing: no window where another file is clobbered.
        await this.#calls.link(this.partPath, candidate);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EEXIST") {
          // The very same bytes already under this name (or a numbered copy of it): no further copy.
          if (await sameFile(candidate, size, sha256, this.#calls)) {
            await unlinkFile(this.partPath, this.#calls);
            return { path: candidate, unchanged: true };
          }
          continue;
        }
        if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "EXDEV") {
          // A file system without hard links: check, then rename (a tiny race, accepted there).
          const exists = await lstat(candidate).then(() => true, () => false);
          if (exists) continue;
          await this.#checkPlace();
          try {
            await rename(this.partPath, candidate);
            return { path: candidate };
          } catch (err2) {
            throw ioError(err2, "rename to", candidate);
          }
        }
        throw ioError(err, "create", candidate);
      }
      // In place. A temporary name that cannot be removed (EPERM, an immutable directory entry) is
      // left: a later write passes a file with two links by (see openPart).
      await this.#calls.unlink(this.partPath).catch(() => {});
      return { path: candidate };
    }
    throw new SfxError("SFX_IO", `Cannot find a free name for ${this.finalPath}`);
  }

  async abort(opts: { keepPartial?: boolean } = {}): Promise<number> {
    if (this.#placed) return 0; // finished: nothing of it is temporary any more
    if (!this.#closed) {
      this.#closed = true;
      await this.#chain;
      if (opts.keepPartial) await this.#handle.sync().catch(() => {});
      await this.#handle.close().catch(() => {});
    }
    // A failed write removed the file already (and a kept one must still be there to count).
    const kept = opts.keepPartial ? ((await lstat(this.partPath).catch(() => undefined))?.size ?? 0) : 0;
    // Removed only when the name is still our file inside the target (not after a directory swap);
    // the note too when our file was deleted from under it, in a directory still inside the target.
    if (!opts.keepPartial) {
      const ours = await isAt(this.#root, this.#rel, this.partPath, this.#id, this.#calls);
      const real = ours ? undefined : await realInside(this.#root, dirname(this.partPath), this.#rel).catch(() => undefined);
      const deleted = real !== undefined && (await lstat(join(real, basename(this.partPath))).then(() => false, () => true));
      if (ours) await rm(this.partPath, { force: true }).catch(() => {});
      if (ours || deleted) await this.#calls.unlink(resumeNotePathFor(this.partPath)).catch(() => {});
    }
    await this.#unlock();
    return kept;
  }
}

/**
 * A temporary file kept to resume an interrupted transfer, with its note (see
 * {@link listKeptParts}); or, without one, what a killed receiver left of a
 * file it could not keep (smaller than 1 MiB, standard input): not resumable.
 */
export interface KeptPart {
  /** The temporary file. */
  temporary: string;
  /** The directory it is in, relative to the one searched ("/"-separated; "" for that one). */
  relativeDir: string;
  /** Bytes it holds. */
  bytes: number;
  /** Its note: what the finished file must be (the writer's resume key). Undefined: none, not resumable. */
  note?: string;
}

/** How far {@link listKeptParts} looks: directory levels below the one given, and entries read in all. */
export const KEPT_PARTS_SEARCH = { depth: 8, entries: 20_000 };

/**
 * The kept temporary files under `dir` whose writer is gone: those with a
 * resume note, and those a killed writer left without one. Looks into
 * subdirectories (not hidden ones, nor through links) up to
 * {@link KEPT_PARTS_SEARCH}, so a large directory costs a bounded time;
 * `truncated` says when it stopped early, or could not open a folder.
 * `strays` are the temporary files' own leftovers with no part beside them —
 * a note whose part is gone, a dead writer's lock — for
 * {@link discardKeptParts} to remove too.
 */
export async function listKeptParts(dir: string, search = KEPT_PARTS_SEARCH): Promise<{ parts: KeptPart[]; truncated: boolean; strays: string[]; inUse: number }> {
  const parts: KeptPart[] = [];
  /** Parts a live writer holds (a receive or share get at them now): not listed, but counted. */
  let inUse = 0;
  const strays: string[] = [];
  let budget = search.entries;
  let truncated = false;
  const queue: { path: string; rel: string; depth: number }[] = [{ path: dir, rel: "", depth: 0 }];
  for (let i = 0; i < queue.length; i++) {
    if (budget === 0) {
      truncated = true;
      break;
    }
    const { path, rel, depth } = queue[i];
    // A subfolder listed as one and a link by now (swapped by someone who may write beside it) is not
    // followed: what it leads to is not in the folder searched.
    if (depth > 0 && !(await lstat(path).then((st) => st.isDirectory(), () => false))) continue;
    // Entry by entry, so one huge directory costs no more than the budget. A folder that cannot be
    // read counts as one not searched.
    const entries = await opendir(path).catch(() => undefined);
    if (!entries) {
      truncated = true;
      continue;
    }
    // A temporary file's name less its suffix, for each of its siblings seen here.
    const seen = new Map<string, { part?: boolean; note?: boolean; lock?: boolean }>();
    for await (const e of entries) {
      if (budget === 0) {
        truncated = true;
        break; // closes the directory
      }
      budget--;
      if (e.isDirectory() && !e.name.startsWith(".")) {
        if (depth < search.depth) queue.push({ path: join(path, e.name), rel: rel ? `${rel}/${e.name}` : e.name, depth: depth + 1 });
        else truncated = true;
        continue;
      }
      if (!e.name.startsWith(".")) continue;
      for (const [suffix, kind] of [[PART_SUFFIX, "part"], [RESUME_SUFFIX, "note"], [LOCK_SUFFIX, "lock"]] as const) {
        if (!e.name.endsWith(suffix) || e.name.length === suffix.length) continue;
        const stem = e.name.slice(0, -suffix.length);
        let s = seen.get(stem);
        if (!s) seen.set(stem, s = {});
        s[kind] = true;
      }
    }
    for (const [stem, s] of seen) {
      const temporary = join(path, `${stem}${PART_SUFFIX}`);
      const lock = lockPathFor(temporary);
      const [st, note, lockText] = await Promise.all([
        lstat(temporary).catch(() => undefined),
        readSmallFile(resumeNotePathFor(temporary), NOTE_MAX_BYTES),
        readLockText(lock),
      ]);
      if (await judgeLock(lock, lockText)) {
        if (st?.isFile()) inUse++;
        continue; // a live writer's
      }
      // Past here no live writer holds it: a lock sfx wrote names a process that is gone.
      const deadSfxLock = s.lock === true && isSfxLockText(lockText);
      if (st === undefined) {
        // Its part is gone: what is left beside it is of no use (the removal checks again under the lock).
        // Only what sfx writes: a note of its form, a lock naming a dead process (a file merely named
        // like one is the user's).
        // Also an empty lock of the user's own, untouched past the time a writer takes to fill it in
        // (judgeLock): a writer killed between making its lock and writing its process ID in it.
        const stray = s.note && typeof note === "string" && isSfxNote(note.trim()) ? resumeNotePathFor(temporary)
          : deadSfxLock || (s.lock === true && lockText === "") ? lock : undefined;
        const sst = stray === undefined ? undefined : await lstat(stray).catch(() => undefined);
        if (sst?.isFile() && (stray === lock && lockText === "" ? ownFile(sst) : await listable(sst, stray!))) strays.push(stray!);
        continue;
      }
      // A note that is not a small regular file (see readSmallFile) is not ours: neither is its part.
      // Another user's (in a shared directory) is neither ours to resume nor to discard.
      if (!st.isFile() || note === null || !(await listable(st, temporary))) continue;
      // Without a note, only what proves to be a killed writer's of ours: our own file beside the lock sfx
      // left naming its process (a file merely named so, or another user's, even to root, is not).
      if (note === undefined && !(deadSfxLock && ownFile(st))) continue;
      parts.push({ temporary, relativeDir: rel, bytes: st.size, ...(note === undefined ? {} : { note: note.trim() }) });
    }
  }
  return { parts, truncated, strays, inUse };
}

/** A share download's resume note: the SHA-256 of the file it becomes. */
export function isShareDownloadNote(note: string): boolean {
  return /^[0-9a-f]{64}$/.test(note);
}

/** A resume note as sfx writes one: an exchange's (size, time, name) or a share download's. */
function isSfxNote(note: string): boolean {
  return /^exchange \d+ \d+ ".*"$/.test(note) || isShareDownloadNote(note);
}

/** Whether `st` is this user's (always, where there are no user ids). */
function ownFile(st: { uid: number }): boolean {
  const me = process.geteuid?.();
  return me === undefined || st.uid === me;
}

/**
 * Deletes what `parts` (from {@link listKeptParts}) kept: each temporary file
 * and its note, under the part's lock, so a writer that took the part up
 * since is left alone. A part is checked again under the lock: still a
 * regular file with the same note (or still none). One that cannot be deleted (permissions)
 * does not stop the others. `strays` (from the listing too) are removed under
 * their part's lock while it is still absent: a dead writer's lock goes with
 * taking it over. Returns the parts deleted and those that failed.
 */
export async function discardKeptParts(parts: readonly KeptPart[], strays: readonly string[] = []): Promise<{ gone: KeptPart[]; failed: { part: KeptPart; error: SfxError }[] }> {
  const gone: KeptPart[] = [];
  const failed: { part: KeptPart; error: SfxError }[] = [];
  for (const p of parts) {
    let release: (() => Promise<void>) | undefined;
    try {
      release = await takeLock(lockPathFor(p.temporary));
      if (!release) continue; // taken up by a writer since it was listed
      const st = await lstat(p.temporary).catch(() => undefined);
      if (!st?.isFile() || (await readResumeNote(p.temporary)) !== p.note) continue;
      await unlinkFile(p.temporary);
      await unlinkFile(resumeNotePathFor(p.temporary));
      gone.push(p);
    } catch (err) {
      failed.push({ part: p, error: ioError(err, "delete", p.temporary) });
    } finally {
      await release?.();
    }
  }
  for (const stray of strays) {
    const temporary = join(dirname(stray), `${basename(stray).slice(0, -(stray.endsWith(LOCK_SUFFIX) ? LOCK_SUFFIX : RESUME_SUFFIX).length)}${PART_SUFFIX}`);
    // Leftovers of no value: one that cannot be removed (another user's) is passed by.
    const release = await takeLock(lockPathFor(temporary)).catch(() => undefined);
    if (!release) continue;
    try {
      if (stray.endsWith(RESUME_SUFFIX) && !(await lstat(temporary).then(() => true, () => false))) await unlinkFile(stray).catch(() => {});
    } finally {
      await release();
    }
  }
  return { gone, failed };
}

/** Removes a file (not a directory): gone already is fine. (`rm` reports EPERM on a file as ENOTDIR.) */
async function unlinkFile(path: string, calls: FsCalls = queued): Promise<void> {
  await calls.unlink(path).catch((err) => {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  });
}

/**
 * Whether the file at `path` (its `st`) is a stranger's: neither ours, nor
 * root's, nor the owner's of its directory — someone else who may write into
 * a shared directory (the sticky bit, as /tmp): they can change it after we
 * looked, and we may not remove it. The owner of the directory and root can
 * replace anything in it anyway. Never on systems without user ids.
 */
async function othersFile(st: { uid: number }, path: string): Promise<boolean> {
  const me = process.geteuid?.();
  if (me === undefined || st.uid === me || st.uid === 0) return false;
  // The directory the file is really in (a link on the way must not lend its owner's trust).
  const dir = await stat(dirname(path)).catch(() => undefined);
  return dir === undefined || st.uid !== dir.uid;
}

/**
 * Whether a kept part is listed as ours (to resume or discard): trusted as
 * the writer trusts it ({@link othersFile}) and ours to remove — our own;
 * root's in our directory; as root, any but a stranger's (a stranger's part
 * in a shared directory is theirs, even to root).
 */
async function listable(st: { uid: number }, path: string): Promise<boolean> {
  const me = process.geteuid?.();
  if (me === undefined || st.uid === me) return true;
  if (me === 0) return !(await othersFile(st, path));
  return st.uid === 0 && (await stat(dirname(path)).catch(() => undefined))?.uid === me;
}

/**
 * Whether `path` is a regular file (not a link) of `size` bytes with SHA-256
 * `sha256`, and ours: another user's copy, however equal now, is theirs to change.
 */
export async function sameFile(path: string, size: number, sha256: string, calls: FsCalls = queued): Promise<boolean> {
  const st = await calls.lstat(path).catch(() => undefined);
  if (!st?.isFile() || st.size !== size || (await othersFile(st, path))) return false;
  try {
    const h = await openFile(calls, path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const hash = createHash("sha256");
      await hashExisting(h, hash, size);
      return hash.digest("hex") === sha256;
    } finally {
      await h.close();
    }
  } catch {
    return false;
  }
}

/** The chunks after the first `skip` bytes (after a short writev). */
function remainder(chunks: Uint8Array[], skip: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of chunks) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    out.push(skip > 0 ? c.subarray(skip) : c);
    skip = 0;
  }
  return out;
}

/** `dir/name.ext` → `dir/name (n).ext`; dot files and names without an extension get the suffix at the end. */
export function numbered(path: string, n: number): string {
  const dir = dirname(path);
  const name = basename(path);
  // A compressed tarball keeps its whole extension: `x (1).tar.gz`, not `x.tar (1).gz`.
  const tar = /\.tar\.[a-z0-9]{1,4}$/i.exec(name);
  const dot = tar && tar.index > 0 ? tar.index : name.lastIndexOf(".");
  let [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  const mark = ` (${n})`;
  // A name that was already as long as a name may be: cut the stem, keeping its first character
  // (then the extension), so the numbered one fits.
  const first = String.fromCodePoint(stem.codePointAt(0) ?? 0x5f);
  stem = truncateUtf8(stem, Math.max(NAME_MAX - byteLength(`${mark}${ext}`), byteLength(first)));
  ext = truncateUtf8(ext, NAME_MAX - byteLength(`${stem}${mark}`));
  return join(dir, `${stem}${mark}${ext}`);
}

/** fsyncs a directory, making renames in it durable; best effort (not every platform can open a directory). */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const h = await open(dir, constants.O_RDONLY);
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // ignore
  }
}
