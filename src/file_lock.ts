/**
 * Lock files that say who holds them (`<pid> <nonce> <host>`), for files
 * one process at a time may own: a temporary file being written
 * (src/client/safe_write.ts), a share store (src/share/store.ts). Taken by
 * exclusive creation; touched while held; a lock whose process is gone, or
 * another host's left untouched for long, is taken over — by one taker at a
 * time, and removed only if it is still the file judged stale, so processes
 * taking over the same stale lock cannot both win.
 *
 * @module
 */
import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, lstat, lutimes, open, rename, rm, type FileHandle, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { type FsCalls, queued } from "./fs_calls.ts";
import { processAlive } from "./process_alive.ts";
import { STALE_LOCK_PREFIX } from "./protocol/paths.ts";

/** An empty lock older than this was left by a writer that died (or a full disk) between creating and filling it. */
const EMPTY_LOCK_STALE_MS = 10_000;
/** A writer touches its lock this often… */
const LOCK_TOUCH_MS = 60_000;
/** …so another host's lock untouched for this long was left by a writer that is gone. */
const FOREIGN_LOCK_STALE_MS = 10 * 60_000;
/** @internal How often held locks are touched (tests shorten it). */
export const lockTouch = { ms: LOCK_TOUCH_MS };
/** The most a lock (a process ID, a nonce, a host) may take. */
const LOCK_MAX_BYTES = 1024;

/**
 * The text of a small regular file of ours (a note, a lock): undefined when
 * nothing is there; null when what is there is not one — a link, a FIFO
 * (whose open would wait for a writer for ever), a device, a directory, or a
 * file larger than `max`.
 */
export async function readSmallFile(path: string, max: number, calls: FsCalls = queued): Promise<string | null | undefined> {
  let fd: number | undefined;
  try {
    fd = await calls.open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    const st = await calls.fstat(fd);
    if (!st.isFile() || st.size > max) return null;
    const buf = new Uint8Array(max + 1);
    const bytesRead = await calls.read(fd, buf, 0, max + 1, 0);
    return bytesRead > max ? null : new TextDecoder().decode(buf.subarray(0, bytesRead));
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? undefined : null;
  } finally {
    if (fd !== undefined) await calls.close(fd).catch(() => {});
  }
}

/**
 * Whether this process's umask takes read permission from anyone, so that a
 * lock created with mode 0644 needs a chmod to be readable by all (one call
 * fewer per lock otherwise: a tree of many small files takes a lock per
 * file). Asked each time: the umask may change.
 */
function umaskHidesLocks(): boolean {
  try {
    return (process.umask() & 0o444) !== 0;
  } catch {
    return true; // not told (a runtime without it): chmod
  }
}

/** Writes all of `bytes` at the start of the new file `fd` (a short write is continued; a full disk throws). */
async function writeAll(calls: FsCalls, fd: number, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    const n = await calls.write(fd, bytes, at, bytes.length - at, at);
    if (n <= 0) throw Object.assign(new Error("ENOSPC: nothing written"), { code: "ENOSPC" });
    at += n;
  }
}

/** The text of every lock this process takes, and as bytes. */
let ourLockText: string | undefined;
const ourText = (): string => (ourLockText ??= `${process.pid} ${LOCK_NONCE} ${thisHost()}\n`);
let ourBytes: Uint8Array | undefined;
const ourTextBytes = (): Uint8Array => (ourBytes ??= new TextEncoder().encode(ourText()));

/** The file behind locks this process holds, and the names it holds it under. */
interface LockFile {
  dev: number;
  ino: number;
  names: Set<string>;
  /**
   * Touches it while held (under any name, or one being linked): a lock
   * another host left (whose process we cannot ask about) is stale once it
   * has not been touched for a while. One for all its names, which share its
   * time: a name taken a moment ago is as old as the file, so the file must
   * be fresh while any is held.
   */
  touch?: ReturnType<typeof setInterval>;
}

/** `name` held (or about to be): the file is touched while any is. */
function holdName(file: LockFile, name: string): void {
  file.names.add(name);
  if (file.touch !== undefined) return;
  file.touch = setInterval(() => void touch(file), lockTouch.ms);
  (file.touch as { unref?: () => void }).unref?.();
}

/** `name` given back: the file's touching stops with its last name. */
function dropName(file: LockFile, name: string): void {
  file.names.delete(name);
  if (file.names.size > 0) return;
  clearInterval(file.touch);
  file.touch = undefined;
}

/**
 * Touches `file` through the first of its names that still is it (another
 * may have been removed, or replaced: by a link to elsewhere, whose target
 * is not ours to touch; lutimes() does not follow one put there since).
 */
async function touch(file: LockFile): Promise<void> {
  const now = new Date();
  for (const name of [...file.names]) {
    const st = await lstat(name).catch(() => undefined);
    if (st === undefined || st.dev !== file.dev || st.ino !== file.ino) continue;
    await lutimes(name, now, now).catch(() => {});
    return;
  }
}

/**
 * Creates `lock` exclusively, with our process ID, nonce and host name in it
 * (`created` is called once it exists), and says which file it is (held
 * under this name).
 */
async function createLock(calls: FsCalls, lock: string, created: () => void): Promise<LockFile> {
  const fd = await calls.open(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  created();
  try {
    // Readable by all whatever the umask: another user's sfx judges it by what it says.
    if (umaskHidesLocks()) await calls.fchmod(fd, 0o644).catch(() => {});
    await writeAll(calls, fd, ourTextBytes());
    const st = await calls.fstat(fd);
    const file: LockFile = { dev: st.dev, ino: st.ino, names: new Set() };
    holdName(file, lock);
    return file;
  } finally {
    await calls.close(fd).catch(() => {});
  }
}

/** Locks taken by this process (and which file each is), so two writes in one process exclude each other too. */
const heldLocks = new Map<string, LockFile>();

/**
 * Takes `lock` as another name of a lock this process holds, whose text it
 * would be given anyway: link() fails when the name exists, as the exclusive
 * create does, and makes no new file. A tree of many small files takes a
 * lock per file, and a file made and deleted for each costs more than the
 * link: on some ext4 mounts (this project's VM's root), each file created
 * right after others were deleted has the allocator look at every inode just
 * freed (`recently_deleted` in a profile). Prefers a lock in the same
 * directory (one on another file system cannot be linked). Returns which
 * file the lock is (held under this name too), or undefined when there is
 * none to link from or the link cannot be made (a file system without hard
 * links): then the lock is created. Throws EEXIST when the name is taken.
 */
async function linkedLock(calls: FsCalls, lock: string): Promise<LockFile | undefined> {
  const dir = dirname(lock);
  if (cannotLink.has(dir)) return undefined;
  // One held lock per file system it may be on: the same directory's first, then one of each other.
  const tried = new Set<number>();
  for (const [name, file] of linkSources(dir)) {
    if (tried.has(file.dev)) continue;
    tried.add(file.dev);
    if (tried.size > MAX_LINK_TRIES) break;
    // Held from here, so the file stays touched even if `name`, its last other, is given back meanwhile.
    holdName(file, lock);
    try {
      await calls.link(name, lock);
    } catch (err) {
      dropName(file, lock);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") throw err;
      // Another file system; a name given back meanwhile; a file with too many links already.
      if (code === "EXDEV" || code === "ENOENT" || code === "EMLINK") continue;
      // Hard links not made here (a file system without them): not tried again in it. Anything
      // else (a full disk, an I/O error) may pass: the lock is created this time.
      if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS") {
        if (cannotLink.size >= 256) cannotLink.clear();
        cannotLink.add(dir);
      }
      return undefined;
    }
    if (await isOurLock(calls, lock, file)) return file;
    dropName(file, lock);
    await calls.unlink(lock).catch(() => {}); // the create that follows finds what is there
    return undefined;
  }
  return undefined;
}

/** The locks held, one in `dir` first (if any). */
function* linkSources(dir: string): Generator<[string, LockFile]> {
  let first: string | undefined;
  for (const held of heldLocks) {
    if (dirname(held[0]) === dir) {
      first = held[0];
      yield held;
      break;
    }
  }
  for (const held of heldLocks) if (held[0] !== first) yield held;
}

/** How many of the file systems this process holds locks on a lock may be linked from. */
const MAX_LINK_TRIES = 3;
/** Directories where a lock could not be linked (not for want of a lock on its file system). */
const cannotLink = new Set<string>();

/**
 * Whether the lock just linked is `file` saying what our locks say: the name
 * linked from may have been replaced meanwhile (given back and taken again,
 * or by someone who may write into that directory), and a file made since
 * may have the inode number of ours, freed; what it says tells.
 */
async function isOurLock(calls: FsCalls, lock: string, file: LockFile): Promise<boolean> {
  const st = await calls.lstat(lock).catch(() => undefined);
  if (st === undefined || st.dev !== file.dev || st.ino !== file.ino) return false;
  return (await readSmallFile(lock, LOCK_MAX_BYTES, calls)) === ourText();
}

/**
 * Written into every lock this process takes, after its process ID: a lock
 * that names our process ID but not this nonce was left by another process
 * (one that had our ID before, or one in another PID namespace sharing the
 * directory), and one with this nonce is ours even when reached through
 * another path (a symbolic link inside the target directory).
 */
const LOCK_NONCE = randomBytes(8).toString("hex");

/** This machine's name, asked for when a lock is first written or judged (Deno asks for a permission to tell it). */
let host: string | undefined;
const thisHost = (): string => (host ??= hostname());

/** Who holds a lock, from its text: `<pid> <nonce> <host>` (older sfx wrote only the pid). */
export function lockOwner(text: string): { pid: number; nonce?: string; host?: string } {
  const [pid, nonce, host] = text.trim().split(/\s+/);
  return { pid: Number(pid), nonce, host };
}

/** Gives a lock back (once; every call waits until it is gone). */
export interface LockRelease {
  (): Promise<void>;
  /**
   * What the lock this call took over said, when it replaced one whose
   * process was gone (see {@link isSfxLockText}); undefined when there was
   * none. Only this: a lock seen before taking ours may have been a live
   * writer's, which let go meanwhile.
   */
  readonly tookOver?: string | null;
}

/**
 * Takes the lock of a temporary file: creates `lock` exclusively with our
 * process ID, nonce and host name in it. A lock whose process is gone
 * (killed mid-transfer) is taken over; one held by this process (under any
 * path), by a live process, or by a process on another host is not: returns
 * undefined. `calls`: how the lock is made and given back (see
 * src/fs_calls.ts; the caller knows the file system).
 */
export async function takeLock(lock: string, calls: FsCalls = queued): Promise<LockRelease | undefined> {
  let tookOver: string | null | undefined;
  for (let tries = 0; tries < 3; tries++) {
    if (heldLocks.has(lock)) return undefined;
    let created = false;
    try {
      const file = (await linkedLock(calls, lock)) ?? (await createLock(calls, lock, () => (created = true)));
      heldLocks.set(lock, file);
      // Once, and every caller waits until the lock is really gone.
      let released: Promise<void> | undefined;
      const release = () =>
        released ??= (async () => {
          heldLocks.delete(lock);
          dropName(file, lock);
          // Gone already, or no longer ours to remove: nothing more to do.
          await calls.unlink(lock).catch(() => {});
        })();
      return Object.assign(release, { tookOver });
    } catch (err) {
      // A lock we created but could not fill (a full disk) would read as "being written" for good.
      if (created) await rm(lock, { force: true }).catch(() => {});
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const st = await lstat(lock).catch(() => undefined);
    // Not a lock anybody made: a directory is not ours to remove.
    if (st?.isDirectory()) throw new Error(`${lock} is a directory, not a lock file: remove it`);
    const text = st && (await readSmallFile(lock, LOCK_MAX_BYTES));
    const held = st && (await judgeLock(lock, text));
    if (held === undefined) continue; // gone meanwhile: try again
    if (held) return undefined;
    // Its process is gone (one with our process ID and another nonce had that ID before us).
    if (!(await removeStaleLock(lock, { ino: st!.ino, dev: st!.dev, mtimeMs: st!.mtimeMs, text }))) return undefined;
    tookOver = text;
  }
  return undefined;
}

/** A lock judged stale: its file's identity and time, and what it said (see readSmallFile). */
export interface StaleLock {
  ino: number;
  dev: number;
  mtimeMs: number;
  text: string | null | undefined;
}

/**
 * Removes `lock`, judged stale when it was `judged`, only if it is still that
 * file. Another process may have judged it stale too, removed it and made its
 * own lock since: removed by path, that live lock went too (a receiver
 * resuming lost its part to `sfx receive --discard-kept`; found by review).
 * So takers go one at a time: each holds a takeover lock beside it (created
 * exclusively, naming its process like any lock) while it checks that the
 * lock is still the file judged and removes it. Nobody else removes a stale
 * lock meanwhile, and a lock cannot be replaced without being removed first.
 * A takeover lock whose process is gone is moved aside, compared and removed
 * (see {@link moveAsideIfStill}), and the takeover tried once more. Returns
 * false when the lock there is not the one judged (a live one, left in
 * place), or a live taker is at it.
 * @internal Exported for tests.
 */
export async function removeStaleLock(lock: string, judged: StaleLock, again = true): Promise<boolean> {
  // A short name of its own beside it (the lock's name plus a suffix might not fit in 255 bytes).
  const tag = createHash("sha256").update(basename(lock)).digest("hex").slice(0, 16);
  const taking = join(dirname(lock), `${STALE_LOCK_PREFIX}${tag}`);
  let h: FileHandle;
  try {
    h = await open(taking, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    // Another taker is at it (even one stopped with Ctrl-Z: its process lives), or died at it.
    if (!again) return false;
    const st = await lstat(taking).catch(() => undefined);
    if (st !== undefined) {
      const text = await readSmallFile(taking, LOCK_MAX_BYTES);
      if ((await judgeLock(taking, text)) !== false) return false;
      if (!(await moveAsideIfStill(taking, { ino: st.ino, dev: st.dev, mtimeMs: st.mtimeMs, text }))) return false;
    }
    return removeStaleLock(lock, judged, false);
  }
  try {
    try {
      await h.writeFile(`${process.pid} ${LOCK_NONCE} ${thisHost()}\n`);
    } finally {
      await h.close();
    }
    const same = await isStill(lock, judged);
    if (same === true) {
      try {
        await unlink(lock);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Another user's, in a directory with the sticky bit: not ours to take over.
        if (code === "EPERM" || code === "EACCES") return false;
        if (code !== "ENOENT") throw err;
      }
    }
    return same !== false; // removed, or gone meanwhile
  } finally {
    await rm(taking, { force: true });
  }
}

/**
 * Removes the takeover lock `path` of a taker that died, judged so when it was
 * `judged`, if it is still that file: moved aside, compared, put back if it is
 * another. (A moment remains in which a third process could make its own: only
 * after a taker died mid-takeover, and only with more takers at once.) False
 * when it may not be moved (another user's, under the sticky bit).
 */
async function moveAsideIfStill(path: string, judged: StaleLock): Promise<boolean> {
  const aside = join(dirname(path), `${STALE_LOCK_PREFIX}${LOCK_NONCE}-${++asides}`);
  try {
    await rename(path, aside);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return true;
    // Another user's, in a directory with the sticky bit: not ours to move.
    if (code === "EPERM" || code === "EACCES") return false;
    throw err;
  }
  if ((await isStill(aside, judged)) === false) await link(aside, path).catch(() => {});
  await rm(aside, { force: true });
  return true;
}

/**
 * Whether `path` is still the file judged stale as `judged` (undefined: gone).
 * An inode number alone is not enough (a lock removed and made anew may get
 * the one just freed); a live writer's lock holds its own nonce, and a fresh time.
 */
async function isStill(path: string, judged: StaleLock): Promise<boolean | undefined> {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return undefined;
  return st.ino === judged.ino && st.dev === judged.dev && st.mtimeMs === judged.mtimeMs && (await readSmallFile(path, LOCK_MAX_BYTES)) === judged.text;
}

/** Takeover locks of dead takers this process has moved aside (see {@link moveAsideIfStill}). */
let asides = 0;

/**
 * Whether an existing lock is held: by this process (under any path), by a
 * live process, or by another host's process that touched it lately (or a
 * lock being written right now). False when its writer is gone; undefined
 * when there is no lock.
 */
export async function lockHeld(lock: string): Promise<boolean | undefined> {
  return judgeLock(lock, await readLockText(lock));
}

/** What a lock says (see readSmallFile): undefined when there is none, null when it is not a small regular file. */
export function readLockText(lock: string): Promise<string | null | undefined> {
  return readSmallFile(lock, LOCK_MAX_BYTES);
}

/** Whether `text` is a lock as this sfx writes it (`<pid> <nonce> <host>`), not a file merely named like one. */
export function isSfxLockText(text: string | null | undefined): boolean {
  return typeof text === "string" && /^\d+ [0-9a-f]{16} \S+\n?$/.test(text);
}

/** Whether `lock` is a small regular file with bytes in it that this process may not read. */
async function unreadableLock(lock: string): Promise<boolean> {
  const st = await lstat(lock).catch(() => undefined);
  if (!st?.isFile() || st.size === 0 || st.size > LOCK_MAX_BYTES) return false;
  return open(lock, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW).then(
    async (h) => (await h.close(), false),
    (err) => (err as NodeJS.ErrnoException).code === "EACCES" || (err as NodeJS.ErrnoException).code === "EPERM",
  );
}

/** {@link lockHeld}, given what the lock said (see readSmallFile). */
export async function judgeLock(lock: string, text: string | null | undefined): Promise<boolean | undefined> {
  if (text === undefined) return undefined;
  const age = () => lstat(lock).then((st) => Date.now() - st.mtimeMs, () => 0);
  // A lock file with something in it that we may not read: another user's, whose umask made it
  // private. Its writer cannot be judged, so it is held (taken for one being written, it would be
  // stale after 10 s, and a live writer's part taken from it).
  if (text === null && (await unreadableLock(lock))) return true;
  // Empty or unreadable (or not a lock file at all: a link, a FIFO, something large): a lock being
  // written right now, unless it has sat like that for a while. Taking it over removes the entry
  // itself, never what a link points to.
  const owner = text === null ? { pid: NaN } : lockOwner(text);
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) return (await age()) < EMPTY_LOCK_STALE_MS;
  if (owner.nonce === LOCK_NONCE) return true; // ours, reached through another path
  // Another host's (or this one before a rename): its process cannot be asked; a running writer
  // touches its lock every minute.
  if (owner.host !== undefined && owner.host !== thisHost()) return (await age()) < FOREIGN_LOCK_STALE_MS;
  // This host's: held while its process lives, touched or not (a process stopped with Ctrl-Z keeps
  // what it holds). A pid reused after a reboot holds it on; the messages say to remove the lock.
  return owner.pid !== process.pid && processAlive(owner.pid);
}
