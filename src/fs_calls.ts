/**
 * The file-system calls on names and small files (look, resolve, link,
 * unlink, open, write a few bytes, stat, close) that a received or sent file
 * makes a dozen of, in one of two ways chosen by the file system:
 *
 * - {@link atOnce}, synchronous, on a local file system. Through Node's
 *   thread pool each call costs a hand-off between threads, about ten times
 *   the call itself, and a tree of many small files is made of little else
 *   (`bench/many_files.sh`: 5,000 files on a tmpfs, the receiver's CPU
 *   halved). Watched: once a few calls have each taken long (a cold or
 *   congested disk, where the pool would run several at once and the process
 *   would not wait), the rest go through the pool ({@link watchful}).
 * - {@link queued}, through the thread pool, anywhere else: on NFS, SMB or a
 *   FUSE mount a call may wait on a server, and a synchronous one would hold
 *   up the whole process meanwhile (the transport's timers, progress,
 *   Ctrl-C).
 *
 * Both return promises; a synchronous call's error is a rejection too.
 * {@link OpenFile} uses them for reads and writes of a few KiB; larger ones
 * and fsyncs always go through the pool.
 *
 * @module
 */
import { closeSync, fchmodSync, fstatSync, linkSync, lstatSync, openSync, readSync, realpathSync, type Stats, statSync, unlinkSync, readvSync, writeSync, writevSync } from "node:fs";
import { close, fchmod, fstat, fsync, ftruncate, link, lstat, open, read, readv, realpath, stat, statfs, unlink, write, writev } from "node:fs";
import { promisify } from "node:util";

/** Calls on names and small files; see the module's documentation. */
export interface FsCalls {
  /** What is at `path`, not followed; undefined when nothing is. */
  lstat(path: string): Promise<Stats | undefined>;
  /** What `path` leads to (ENOENT when nothing). */
  stat(path: string): Promise<Stats>;
  realpath(path: string): Promise<string>;
  link(existing: string, path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** A file descriptor (numeric flags, as `fs.constants`). */
  open(path: string, flags: number, mode?: number): Promise<number>;
  fchmod(fd: number, mode: number): Promise<void>;
  /** Bytes written of `bytes` from `offset`, at `position` of the file. */
  write(fd: number, bytes: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Bytes written of `buffers`, at `position` of the file (used for a few KiB at most: see OpenFile). */
  writev(fd: number, buffers: Uint8Array[], position: number): Promise<number>;
  /** Bytes read into `buf` from `offset`, at `position` of the file. */
  read(fd: number, buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Bytes read into `buffers`, at `position` of the file (used for a few KiB at most: see OpenFile). */
  readv(fd: number, buffers: Uint8Array[], position: number): Promise<number>;
  fstat(fd: number): Promise<Stats>;
  close(fd: number): Promise<void>;
}

/** `f()`'s result, or its exception, as a promise. */
function now<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Synchronous calls, for local file systems. */
export const atOnce: FsCalls = {
  lstat: (path) => now(() => lstatSync(path, { throwIfNoEntry: false })),
  stat: (path) => now(() => statSync(path)),
  realpath: (path) => now(() => realpathSync.native(path)),
  link: (existing, path) => now(() => linkSync(existing, path)),
  unlink: (path) => now(() => unlinkSync(path)),
  open: (path, flags, mode) => now(() => openSync(path, flags, mode)),
  fchmod: (fd, mode) => now(() => fchmodSync(fd, mode)),
  write: (fd, bytes, offset, length, position) => now(() => writeSync(fd, bytes, offset, length, position)),
  writev: (fd, buffers, position) => now(() => writevSync(fd, buffers, position)),
  read: (fd, buf, offset, length, position) => now(() => readSync(fd, buf, offset, length, position)),
  readv: (fd, buffers, position) => now(() => readvSync(fd, buffers, position)),
  fstat: (fd) => now(() => fstatSync(fd)),
  close: (fd) => now(() => closeSync(fd)),
};

const lstatAsync = promisify(lstat);
const statAsync = promisify(stat);
const realpathAsync = promisify(realpath.native);
const openAsync = promisify(open);
const fstatAsync = promisify(fstat);
const writeAsync = promisify(write);
const writevAsync = promisify(writev);
const readAsync = promisify(read);
const readvAsync = promisify(readv);

/** Calls through the thread pool, for file systems that may wait on a server. */
export const queued: FsCalls = {
  lstat: (path) => lstatAsync(path).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }),
  stat: (path) => statAsync(path),
  realpath: (path) => realpathAsync(path),
  link: promisify(link),
  unlink: promisify(unlink),
  open: (path, flags, mode) => openAsync(path, flags, mode),
  fchmod: promisify(fchmod),
  write: async (fd, bytes, offset, length, position) => (await writeAsync(fd, bytes, offset, length, position)).bytesWritten,
  writev: async (fd, buffers, position) => (await writevAsync(fd, buffers, position)).bytesWritten,
  read: async (fd, buf, offset, length, position) => (await readAsync(fd, buf, offset, length, position)).bytesRead,
  readv: async (fd, buffers, position) => (await readvAsync(fd, buffers, position)).bytesRead,
  fstat: (fd) => fstatAsync(fd),
  close: promisify(close),
};

/**
 * Linux's magic numbers (statfs f_type) of file systems on this machine's
 * own memory or disks: ext2/3/4, XFS, Btrfs, tmpfs, ramfs, F2FS, ZFS,
 * overlayfs (containers), bcachefs. Any other, and any system that does not
 * say, gets {@link queued}.
 */
const LOCAL_FILE_SYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x858458f6, 0xf2f52010, 0x2fc12fc1, 0x794c7630, 0xca451a4e]);

const statfsAsync = promisify(statfs);

/**
 * The calls for files at `path` (a directory, or a file: its file system,
 * links followed; it must exist): {@link watchful} ones on a local file
 * system, else {@link queued}.
 */
export async function callsFor(path: string): Promise<FsCalls> {
  if (process.platform !== "linux") return queued;
  const type = await statfsAsync(path).then((st) => Number(st.type), () => undefined);
  return type !== undefined && LOCAL_FILE_SYSTEMS.has(type) ? watchful() : queued;
}

/** A synchronous call that takes this long holds up the process more than the thread pool's hand-off would cost. */
export const SLOW_CALL_MS = 5;
/**
 * {@link watchful} calls go through the pool once this many of the last
 * {@link SLOW_WINDOW} were slow: a disk that is slow makes most calls so,
 * where a busy machine that deschedules the process now and then makes a
 * few, spread out.
 */
const SLOW_CALLS = 3;
const SLOW_WINDOW = 50;

/**
 * {@link atOnce}'s calls, each timed, until {@link SLOW_CALLS} of the last
 * {@link SLOW_WINDOW} have each taken over {@link SLOW_CALL_MS}: from then on
 * {@link queued}'s. One per directory or file system that {@link callsFor}
 * was asked about.
 */
export function watchful(): FsCalls {
  let pooled = false;
  let calls = 0;
  /** The numbers of the last slow calls, oldest first. */
  const slow: number[] = [];
  const watched = <K extends keyof FsCalls>(name: K): FsCalls[K] =>
    ((...args: Parameters<FsCalls[K]>) => {
      if (pooled) return (queued[name] as (...a: unknown[]) => unknown)(...args);
      const started = performance.now();
      const result = (atOnce[name] as (...a: unknown[]) => unknown)(...args);
      calls++;
      if (performance.now() - started > SLOW_CALL_MS) {
        slow.push(calls);
        if (slow.length > SLOW_CALLS) slow.shift();
        pooled = slow.length === SLOW_CALLS && calls - slow[0] < SLOW_WINDOW;
      }
      return result;
    }) as FsCalls[K];
  // Every call of the set, watched (one added to FsCalls is watched too).
  return Object.fromEntries((Object.keys(atOnce) as Array<keyof FsCalls>).map((name) => [name, watched(name)])) as unknown as FsCalls;
}

/**
 * An open file, as a FileHandle would be but opened and closed by `calls`
 * (at once on a local file system: through the thread pool an open and a
 * close were a third of a receiver's time for a tree of small files). Reads
 * and writes of a few KiB go by `calls` too; larger ones, and fsync, always
 * through the thread pool: they may wait on the disk. After `close`, every
 * call fails (EBADF): the descriptor's number may already be another file's.
 */
export class OpenFile {
  readonly fd: number;
  #calls: FsCalls;
  #closed: Promise<void> | undefined;

  constructor(fd: number, calls: FsCalls) {
    this.fd = fd;
    this.#calls = calls;
  }

  #open(): void {
    if (this.#closed) throw Object.assign(new Error("EBADF: file already closed"), { code: "EBADF" });
  }

  /**
   * The calls for a read or write of `bytes`: a few KiB (a small file,
   * whole) by the file system's calls, at once on a local one (the page
   * cache, as fast as the hand-off to the pool would be); more through the
   * pool, as a large read or write may wait on the disk.
   */
  #callsFor(bytes: number): FsCalls {
    this.#open();
    return bytes <= SMALL_IO_BYTES ? this.#calls : queued;
  }

  async writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }> {
    return { bytesWritten: await this.#callsFor(totalBytes(buffers)).writev(this.fd, buffers, position) };
  }

  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return { bytesRead: await this.#callsFor(length).read(this.fd, buffer, offset, length, position) };
  }

  async readv(buffers: Uint8Array[], position: number): Promise<{ bytesRead: number }> {
    return { bytesRead: await this.#callsFor(totalBytes(buffers)).readv(this.fd, buffers, position) };
  }

  async sync(): Promise<void> {
    this.#open();
    await fsyncAsync(this.fd);
  }

  async truncate(length: number): Promise<void> {
    this.#open();
    await ftruncateAsync(this.fd, length);
  }

  async stat(): Promise<Stats> {
    this.#open();
    return await fstatAsync(this.fd);
  }

  /** Closes it (once; every call waits for that close). */
  close(): Promise<void> {
    return (this.#closed ??= this.#calls.close(this.fd));
  }
}

/** The most {@link OpenFile} reads or writes at once by the file system's calls. */
const SMALL_IO_BYTES = 16 * 1024;

function totalBytes(buffers: readonly Uint8Array[]): number {
  let bytes = 0;
  for (const b of buffers) bytes += b.length;
  return bytes;
}

const fsyncAsync = promisify(fsync);
const ftruncateAsync = promisify(ftruncate);

/** Opens `path` with `calls` (numeric flags). */
export async function openFile(calls: FsCalls, path: string, flags: number, mode?: number): Promise<OpenFile> {
  return new OpenFile(await calls.open(path, flags, mode), calls);
}
