/**
 * The share store: anonymous shares on disk, opened by their code.
 *
 * Layout under the storage directory:
 *
 * ```
 * shares/<key>/manifest.json   a visible share; <key> = SHA-256 of its code
 * shares/<key>/files/<n>       its files, by index (names only in the manifest)
 * uploads/<random>/            uploads in progress: never visible, removed at start
 * trash/<random>/              shares being deleted: removed at start
 * corrupt/<key>.<time>/        shares found damaged at start: never served nor deleted
 * ended.log                     keys of enciphered shares that ended, and until when no upload may reuse them
 * ```
 *
 * An upload is published by one `rename(uploads/<id>, shares/<key>)` after
 * every file is verified and fsynced and its manifest written, so a crash at
 * any point leaves either no share or a whole one. A deletion first renames
 * the share into `trash/`, so a crash mid-delete leaves nothing visible.
 *
 * Expiry is checked on every lookup against the injected clock, so a share is
 * refused from the instant it expires; a sweep (at start, then every
 * `sweepIntervalMs` on an unref'd timer) deletes expired shares.
 *
 * **Downloads** (`maxDownloads`): a download counts when a `get` has served
 * every file it asked for to its end ({@link ShareDownload.complete}). A `get`
 * that fails or is interrupted does not count, and the resumed `get` that
 * fetches the rest counts once. Downloads in progress hold a reservation, so
 * a share limited to N downloads never serves more than N complete ones;
 * when the count reaches N the share is deleted.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { appendFile, lstat, open, readdir, realpath, rename, rm, statfs, writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { Readable } from "node:stream";
import { getLogger } from "@logtape/logtape";
import { ensureDir } from "../ensure_dir.ts";
import { formatBytes } from "../units.ts";
import { SfxError } from "../errors.ts";
import { lockOwner, readSmallFile, takeLock } from "../file_lock.ts";
import { STALE_LOCK_PREFIX } from "../protocol/paths.ts";
import { processCheckHint } from "../deno_access.ts";
import { codeKey, generateCode, shareKeyOf } from "./code.ts";
import { DEFAULT_SHARE_LIMITS, ENDED_KEEP_MS, MAX_DOWNLOADS_LIMIT, MIN_EXPIRY_MS, READ_CHUNK_BYTES, type ShareLimits, storedBytes } from "./defaults.ts";
import { addressKey, LookupLimiter } from "../failure_limiter.ts";
import { fsyncDir, type Manifest, MANIFEST_VERSION, readManifest, type ShareFile, writeManifest } from "./manifest.ts";
import { checkSharePaths } from "./share_path.ts";
import { type FileSink, openSink, storeFailure, type UploadFileSpec } from "./upload.ts";

const log = getLogger(["sfx", "share"]);

/** Options of {@link ShareStore.open}. */
export interface ShareStoreOptions {
  /** The storage directory (see {@link chooseStorageDir}); created if missing. */
  dir: string;
  /** Limits; each missing one takes its default from `defaults.ts`. */
  limits?: Partial<ShareLimits>;
  /** Clock in ms since the epoch; injectable for tests. */
  now?: () => number;
  /** Run the periodic sweep timer (default true). */
  sweepTimer?: boolean;
}

/** What a client asks for when it starts an upload. */
export interface UploadRequest {
  files: UploadFileSpec[];
  /** Expiry relative to the moment the share is created. */
  expiresInMs?: number;
  /** Absolute expiry, ms since the epoch (instead of `expiresInMs`). */
  expiresAt?: number;
  /** Delete after this many completed downloads. */
  maxDownloads?: number;
  /** Who uploads, for the log (`address:port`). */
  client?: string;
  /**
   * The uploader's address (as {@link hostKey} gives it): one address may keep at most a quarter
   * of the store's shares and of its quota, uploads in progress included, so that one LAN host cannot
   * fill the store for the week its shares may last. Held in memory only: shares from before a
   * restart count for nobody.
   */
  owner?: string;
  /** The uploader's network (as {@link addressKey} gives it: an IPv6 /64): at most half the store's shares and quota. */
  network?: string;
  /**
   * The lookup of the code the uploading client made (see {@link shareSecrets}): the share is found
   * under it, and its files and list are enciphered with keys the server never sees. Without it the
   * store makes a code of a share in the clear (20 characters), as servers did before.
   */
  lookup?: string;
}

/** A share as `ls` shows it. */
export interface ShareListing {
  files: { path: string; size: number; sha256: string }[];
  createdAt: number;
  expiresAt: number;
  maxDownloads: number | null;
  downloads: number;
  /** An enciphered share's list of files, as its client sealed it (opaque to the server). */
  sealed?: string;
}

/** What a committed upload returns. */
export interface CreatedShare extends ShareListing {
  /** The code, grouped with hyphens: give it to whoever should download. */
  code: string;
  /** Set when the expiry asked for was longer than the server allows. */
  warning?: string;
}

interface ShareRecord {
  key: string;
  dir: string;
  manifest: Manifest;
  /** What it counts for against the quota ({@link storedBytes}). */
  bytes: number;
  activeDownloads: number;
  deleted: boolean;
  /** Why the share was deleted while downloads were still running: remove on the last one. */
  pendingRemoval?: string;
  /** Serializes manifest rewrites. */
  writing: Promise<void>;
  /** Why the manifest on disk is behind (its download count): the last write failed, and is tried again. */
  unsaved?: string;
  /** The uploader's address and network, for the per-address limits ({@link UploadRequest.owner}); not saved. */
  owner?: string;
  network?: string;
}

/** How logs name a share: the start of its key, never its code. */
export function shortKey(key: string): string {
  return key.slice(0, 12);
}

function notFound(): SfxError {
  return new SfxError("SFX_SHARE_NOT_FOUND", "No share with that code: it is wrong, or the share has expired or had all its downloads");
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Human form of a duration for messages: `7d`, `36h`, `90m`, `45s`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}

/** The anonymous share store. Create with {@link ShareStore.open}; `close()` when done. */
export class ShareStore {
  /** The storage directory. */
  readonly dir: string;
  /** The limits in force. */
  readonly limits: Readonly<ShareLimits>;
  readonly #now: () => number;
  readonly #shares = new Map<string, ShareRecord>();
  readonly #uploads = new Set<ShareUpload>();
  /**
   * Store keys of enciphered shares that have ended, each with the time until which an upload under
   * it is refused ({@link ENDED_KEEP_MS}); kept in `ended.log`, one `<key> <until>` line each.
   */
  readonly #ended = new Map<string, { until: number; groups: string[] }>();
  /**
   * The keys in {@link #ended} of the shares each uploader's address (`owner:…`) and network
   * (`network:…`) ended, oldest first (this run's only).
   */
  readonly #endedBy = new Map<string, Set<string>>();
  /** Whether the store has had to forget ended keys for room this run (said once). */
  #endedFull = false;
  /** Lines in `ended.log` (live or past): rewritten without the past ones once they outnumber the rest. */
  #endedLines = 0;
  /** Appends to `ended.log` and rewrites of it, one after another: an append during a rewrite would go to the file being replaced. */
  #endedWrites: Promise<void> = Promise.resolve();
  readonly #limiter: LookupLimiter;
  readonly #removals = new Set<Promise<void>>();
  #committedBytes = 0;
  /** Bytes of deleted shares whose files are not removed yet (a download was reading them). */
  #removingBytes = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #unlock: (() => Promise<void>) | undefined;

  private constructor(options: ShareStoreOptions) {
    this.dir = options.dir;
    this.limits = Object.freeze({ ...DEFAULT_SHARE_LIMITS, ...options.limits });
    this.#now = options.now ?? Date.now;
    this.#limiter = new LookupLimiter({
      burst: this.limits.failedLookupBurst,
      perMinute: this.limits.failedLookupsPerMinute,
      now: this.#now,
      refusal: "Too many wrong share codes",
    });
  }

  /**
   * Opens (or creates) the store in `options.dir`: removes what crashed
   * uploads and deletions left, loads every share, deletes the expired ones,
   * and starts the sweep timer.
   *
   * @example
   * ```ts
   * const store = await ShareStore.open({ dir: "/var/lib/sfx/shares" });
   * const listing = store.list("7KQ2-M9XD-4T1F-HB6R-W3NP-5ZET", "192.0.2.7");
   * await store.close();
   * ```
   */
  static async open(options: ShareStoreOptions): Promise<ShareStore> {
    await ensureDir(options.dir, 0o700);
    // A --storage that is a symbolic link (to a data disk) stands for the directory it leads to:
    // resolved once, here; links inside the store are refused (checkStoreDir).
    options = { ...options, dir: await realpath(options.dir) };
    const store = new ShareStore(options);
    // Before anything is written or removed there: the start empties uploads/ and trash/.
    await checkStoreDir(options.dir);
    store.#unlock = await holdStore(options.dir);
    try {
      await store.#recover();
      await store.sweep();
      store.#logSummary();
    } catch (err) {
      await store.#unlock();
      throw err;
    }
    if (options.sweepTimer !== false && store.limits.sweepIntervalMs > 0) {
      store.#timer = setInterval(() => {
        store.sweep().catch((err) => log.error("Share sweep failed: {error}", { error: String(err) }));
      }, store.limits.sweepIntervalMs);
      store.#timer.unref(); // the sweeper alone never keeps the server process alive
    }
    return store;
  }

  async #recover(): Promise<void> {
    for (const sub of ["shares", "uploads", "trash"]) await ensureDir(join(this.dir, sub), 0o700);
    for (const sub of ["uploads", "trash"]) {
      const left = await readdir(join(this.dir, sub));
      for (const name of left) await rm(join(this.dir, sub, name), { recursive: true, force: true });
      if (left.length > 0) {
        log.warn("Removed {count} unfinished {what} left by an earlier run", {
          count: left.length,
          what: sub === "uploads" ? "upload(s)" : "deletion(s)",
        });
      }
    }
    await this.#loadEnded();
    const sharesDir = join(this.dir, "shares");
    for (const name of await readdir(sharesDir)) {
      const dir = join(sharesDir, name);
      if (!/^[0-9a-f]{64}$/.test(name)) {
        log.warn("Ignoring unexpected entry {name} in the share store", { name });
        continue;
      }
      try {
        // The share itself must be a directory of the store's (a link would serve files from elsewhere).
        const entry = await lstat(dir);
        if (!entry.isDirectory()) throw new SfxError("SFX_IO", `Corrupt share: ${entry.isSymbolicLink() ? "a symbolic link" : "not a directory"}`);
        const manifest = await readManifest(dir);
        await rm(join(dir, "manifest.json.tmp"), { force: true });
        const bytes = storedBytes(manifest.files.map((f) => f.size));
        this.#shares.set(name, { key: name, dir, manifest, bytes, activeDownloads: 0, deleted: false, writing: Promise.resolve() });
        this.#committedBytes += bytes;
      } catch (err) {
        // Never deleted here: a share that cannot be read now may be whole (a wrong owner after a
        // restore, an I/O error), and a damaged one is the admin's to look at.
        await this.#setAside(name, dir, err);
      }
    }
  }

  /** Says what the store holds, once it is open: after the first sweep, so that shares that expired while the server was down are not counted. */
  #logSummary(): void {
    let fileBytes = 0;
    for (const entry of this.#shares.values()) fileBytes += entry.manifest.files.reduce((n, f) => n + f.size, 0);
    log.info("Share store {dir}: {count} share(s), {files} of files, {counted} counted against its {quota} quota", {
      dir: this.dir,
      count: this.#shares.size,
      files: formatBytes(fileBytes),
      counted: formatBytes(this.#committedBytes),
      quota: formatBytes(this.limits.maxStoreBytes),
      fileBytes,
      bytes: this.#committedBytes,
    });
    if (this.#committedBytes > this.limits.maxStoreBytes) {
      // A store filled under a larger quota, or before files were counted in whole blocks.
      log.warn("The share store holds more than its quota ({counted} counted, {quota} allowed): new shares are refused until enough expire", {
        counted: formatBytes(this.#committedBytes),
        quota: formatBytes(this.limits.maxStoreBytes),
        bytes: this.#committedBytes,
      });
    }
  }

  /** Number of visible shares. */
  get size(): number {
    return this.#shares.size;
  }

  /** Bytes held by visible shares plus bytes reserved by uploads in progress, each file in whole blocks ({@link storedBytes}). */
  get usedBytes(): number {
    return this.#committedBytes + this.#removingBytes + this.#reservedBytes();
  }

  #reservedBytes(): number {
    let reserved = 0;
    for (const u of this.#uploads) reserved += u.spec.stored;
    return reserved;
  }

  /** Number of uploads in progress. */
  get uploadsInProgress(): number {
    return this.#uploads.size;
  }

  #checkOpen(): void {
    if (this.#closed) throw new SfxError("SFX_INTERNAL", "The share store is closed");
  }

  /**
   * Starts an upload after checking every limit: file count, bytes per
   * share, store quota, free disk space, uploads at once, expiry bounds and
   * file names. Each refusal is an `SFX_LIMIT` (or `SFX_BAD_ARGUMENT` for a
   * bad name or expiry) saying which limit and its value.
   */
  async beginUpload(request: UploadRequest): Promise<ShareUpload> {
    this.#checkOpen();
    const { files } = request;
    const L = this.limits;
    if (!Array.isArray(files) || files.length === 0) throw new SfxError("SFX_BAD_ARGUMENT", "A share needs at least one file");
    if (files.length > L.maxFilesPerShare) {
      throw new SfxError("SFX_LIMIT", `Too many files for one share: ${files.length}, the server allows ${L.maxFilesPerShare}`);
    }
    const paths = checkSharePaths(files.map((f) => f.path));
    if (request.lookup !== undefined) {
      if (!/^[0-9a-f]{64}$/.test(request.lookup)) throw new SfxError("SFX_BAD_CODE", "Invalid share lookup: expected 64 hex digits");
      this.#checkLookupFree(request.lookup);
    }
    let bytes = 0;
    for (const f of files) {
      if (!Number.isSafeInteger(f.size) || f.size < 0) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid size for ${f.path}: ${f.size}`);
      bytes += f.size;
    }
    const maxDownloads = request.maxDownloads ?? null;
    if (maxDownloads !== null && (!Number.isSafeInteger(maxDownloads) || maxDownloads < 1 || maxDownloads > MAX_DOWNLOADS_LIMIT)) {
      throw new SfxError("SFX_BAD_ARGUMENT", `Invalid max downloads ${maxDownloads}: use 1 to ${MAX_DOWNLOADS_LIMIT}`);
    }
    const expiry = this.#grantExpiry(request);
    const disk = await statfs(this.dir).catch(() => undefined);
    this.#checkOpen();
    if (bytes > L.maxShareBytes) {
      throw new SfxError("SFX_LIMIT", `Share too large: ${formatBytes(bytes)}, the server allows ${formatBytes(L.maxShareBytes)} per share`);
    }
    if (this.#uploads.size >= L.maxUploadsInProgress) {
      throw new SfxError("SFX_LIMIT", `The server is taking ${L.maxUploadsInProgress} uploads already: try again later`);
    }
    if (this.#shares.size + this.#uploads.size >= L.maxShares) {
      throw new SfxError("SFX_LIMIT", `The share store holds ${L.maxShares} shares, the most it keeps: try again once some expire`);
    }
    // Files in whole blocks: shares of empty files would otherwise fill the disk's inodes at no cost to the quota.
    const stored = storedBytes(files.map((f) => f.size));
    // Never fits, even in an empty store: the share's size, not the store's fill, is the reason.
    if (stored > L.maxStoreBytes) {
      throw new SfxError(
        "SFX_LIMIT",
        `Share too large for this server's store: it counts ${formatBytes(stored)} (each file in whole 4 KiB blocks, and 8 KiB for the share), more than the whole ${formatBytes(L.maxStoreBytes)} quota`,
      );
    }
    if (this.usedBytes + stored > L.maxStoreBytes) {
      throw new SfxError(
        "SFX_LIMIT",
        `The share store is full: this share counts ${formatBytes(stored)} (its files in whole 4 KiB blocks, and 8 KiB for the share), and ${formatBytes(Math.max(0, L.maxStoreBytes - this.usedBytes))} of its ${formatBytes(L.maxStoreBytes)} quota is free (the rest held by shares and uploads in progress)`,
      );
    }
    // A quarter for an address, half for an IPv6 /64 (whose addresses one host may step through).
    for (const [who, what, share] of [[request.owner, "owner", 4], [request.network, "network", 2]] as const) {
      if (who === undefined) continue;
      const mostShares = Math.max(1, Math.floor(L.maxShares / share));
      const mostBytes = Math.max(L.maxShareBytes, Math.floor(L.maxStoreBytes / share));
      const held = this.#heldBy(what, who);
      const one = what === "owner" ? "one address" : "one IPv6 /64 network";
      if (held.shares >= mostShares) {
        throw new SfxError("SFX_LIMIT", `${who} keeps ${held.shares} shares on this server (uploads in progress included), the most ${one} may: try again once some expire or are used up`);
      }
      if (held.bytes + stored > mostBytes) {
        throw new SfxError("SFX_LIMIT", `${who} keeps shares counting ${formatBytes(held.bytes)} on this server (uploads in progress included); this one's ${formatBytes(stored)} would pass the ${formatBytes(mostBytes)} ${one} may keep: try again once some expire or are used up`);
      }
    }
    if (disk && disk.bavail * disk.bsize < this.#reservedBytes() + stored) {
      throw new SfxError("SFX_LIMIT", `The server's disk has room for ${formatBytes(disk.bavail * disk.bsize)} more, not ${formatBytes(stored)}`);
    }
    // A file system with a fixed number of inodes (tmpfs, ext4) can run out of them before bytes:
    // each file takes one, and the upload's folders and the manifest three more. (Some, btrfs,
    // report no inode count at all: nothing to check.)
    const inodes = files.length + 3;
    if (disk && disk.files > 0 && disk.ffree < inodes + this.#reservedInodes()) {
      throw new SfxError("SFX_LIMIT", `The server's disk has room for ${Math.max(0, disk.ffree - this.#reservedInodes())} more files (inodes), not ${inodes}`);
    }
    const id = randomBytes(12).toString("hex");
    const dir = join(this.dir, "uploads", id);
    const upload = new ShareUpload(this, {
      id,
      dir,
      files: files.map((f, i) => ({ path: paths[i], size: f.size })),
      bytes,
      stored,
      maxDownloads,
      ...expiry,
      ...(request.client === undefined ? {} : { client: request.client }),
      ...(request.owner === undefined ? {} : { owner: request.owner }),
      ...(request.network === undefined ? {} : { network: request.network }),
      ...(request.lookup === undefined ? {} : { lookup: request.lookup }),
    });
    // Again, after the waits above: two uploads under one lookup that began together must not both go on.
    if (request.lookup !== undefined) this.#checkLookupFree(request.lookup);
    this.#uploads.add(upload); // reserves its bytes before anything else is awaited
    try {
      await ensureDir(join(dir, "files"), 0o700);
    } catch (err) {
      this.#uploads.delete(upload);
      // Made in part (the upload's folder, not its files/): nothing of it stays.
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      throw storeFailure("Cannot store an upload", err);
    }
    log.debug("Upload {upload} started: {files} file(s), {bytes} bytes", { upload: id.slice(0, 8), files: files.length, bytes });
    return upload;
  }

  #grantExpiry(r: UploadRequest): { relativeMs?: number; absoluteAt?: number; warning?: string } {
    const L = this.limits;
    const max = formatDuration(L.maxExpiryMs);
    if (r.expiresAt !== undefined) {
      if (!Number.isSafeInteger(r.expiresAt)) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid expiry ${r.expiresAt}`);
      const ms = r.expiresAt - this.#now();
      if (ms < MIN_EXPIRY_MS) throw new SfxError("SFX_BAD_ARGUMENT", `Invalid expiry ${iso(r.expiresAt)}: it is not in the future`);
      if (ms > L.maxExpiryMs) {
        return { relativeMs: L.maxExpiryMs, warning: `Expiry shortened to ${max}, the longest this server allows (asked for ${iso(r.expiresAt)})` };
      }
      return { absoluteAt: r.expiresAt };
    }
    const ms = r.expiresInMs ?? L.defaultExpiryMs;
    if (!Number.isSafeInteger(ms) || ms < MIN_EXPIRY_MS) {
      throw new SfxError("SFX_BAD_ARGUMENT", `Invalid expiry of ${ms} ms: use at least ${MIN_EXPIRY_MS / 1000} s`);
    }
    if (ms > L.maxExpiryMs) {
      return { relativeMs: L.maxExpiryMs, warning: `Expiry shortened to ${max}, the longest this server allows (asked for ${formatDuration(ms)})` };
    }
    return { relativeMs: ms };
  }

  /** @internal Publishes a verified upload; called by {@link ShareUpload.commit}. */
  async _publish(upload: ShareUpload, files: ShareFile[], sealed: string | undefined): Promise<CreatedShare> {
    this.#checkOpen();
    const now = this.#now();
    const spec = upload.spec;
    let expiresAt = spec.absoluteAt ?? now + spec.relativeMs!;
    expiresAt = Math.min(expiresAt, now + this.limits.maxExpiryMs);
    if (expiresAt <= now) throw new SfxError("SFX_BAD_ARGUMENT", `The share's expiry ${iso(expiresAt)} passed during the upload`);
    const manifest: Manifest = {
      version: MANIFEST_VERSION,
      files,
      createdAt: now,
      expiresAt,
      maxDownloads: spec.maxDownloads,
      downloads: 0,
      ...(sealed === undefined ? {} : { sealed }),
    };
    // Checked at the start too (beginUpload): this is for a library caller's two uploads under one lookup.
    if (spec.lookup !== undefined) this.#checkLookupFree(spec.lookup, upload);
    let code = spec.lookup ?? generateCode(true);
    let key = codeKey(code);
    for (let i = 0; this.#shares.has(key) && i < 4; i++) {
      code = generateCode(true);
      key = codeKey(code);
    }
    await fsyncDir(join(spec.dir, "files"));
    await writeManifest(spec.dir, manifest);
    const dir = join(this.dir, "shares", key);
    await rename(spec.dir, dir);
    await fsyncDir(join(this.dir, "shares"));
    this.#uploads.delete(upload);
    this.#shares.set(key, {
      key, dir, manifest, bytes: spec.stored, activeDownloads: 0, deleted: false, writing: Promise.resolve(),
      ...(spec.owner === undefined ? {} : { owner: spec.owner }), ...(spec.network === undefined ? {} : { network: spec.network }),
    });
    this.#committedBytes += spec.stored;
    // The fields stay plain values; the wording goes in the message.
    const limited = spec.maxDownloads === null ? "" : ", at most {maxDownloads} download(s)";
    // A shortened expiry, as the client was told of it: an admin asked why a share went early can say.
    const capped = spec.warning === undefined ? "" : " ({warning})";
    log.info(`Share {share} created from upload {upload}: {files} file(s), {bytes} bytes, expires {expiresAt}${capped}${limited}`, {
      share: shortKey(key),
      upload: spec.id.slice(0, 8),
      files: files.length,
      bytes: spec.bytes,
      expiresAt: iso(expiresAt),
      maxDownloads: spec.maxDownloads,
      ...(spec.warning === undefined ? {} : { warning: spec.warning }),
    });
    return { code, ...listingOf(manifest), ...(spec.warning ? { warning: spec.warning } : {}) };
  }

  /**
   * Refuses a lookup that a share has (live, or ended less than {@link ENDED_KEEP_MS} ago) or an
   * upload in progress other than `self` has. A client makes a new random code for each share: one
   * in use is someone else's, seen on the way (taken first, the owner's upload would fail at its
   * end) or given to them (reused once the share is gone, it would serve their files instead).
   */
  #checkLookupFree(lookup: string, self?: ShareUpload): void {
    const key = codeKey(lookup);
    if (this.#shares.has(key) || this.#ended.has(key) || [...this.#uploads].some((u) => u !== self && u.spec.lookup === lookup)) {
      throw new SfxError("SFX_BAD_CODE", "A share has had this code already: a code serves one share only");
    }
  }

  /** Shares and uploads in progress of an owner (or a network), and what they count against the quota. */
  #heldBy(what: "owner" | "network", who: string): { shares: number; bytes: number } {
    let shares = 0;
    let bytes = 0;
    for (const rec of this.#shares.values()) {
      if (rec[what] !== who) continue;
      shares++;
      bytes += rec.bytes;
    }
    for (const u of this.#uploads) {
      if (u.spec[what] !== who) continue;
      shares++;
      bytes += u.spec.stored;
    }
    return { shares, bytes };
  }

  /** Inodes the uploads in progress will still take (each file, its folders, its manifest). */
  #reservedInodes(): number {
    let n = 0;
    for (const u of this.#uploads) n += u.spec.files.length + 3;
    return n;
  }

  /** @internal Deletes a share just published whose upload was abandoned meanwhile (see {@link ShareUpload.abort}). */
  _withdraw(code: string, reason: string): void {
    const rec = this.#shares.get(codeKey(code));
    if (rec) this.#delete(rec, reason);
  }

  /** @internal Forgets an upload that ended without a share (abort or failure). */
  async _discard(upload: ShareUpload, reason: string): Promise<void> {
    // Its reservation holds until its files are gone from the disk, and it is counted in progress until
    // the admin's log says how it ended.
    try {
      await rm(upload.spec.dir, { recursive: true, force: true });
    } finally {
      // A failure (disk full, I/O) is the admin's business; a client that cancels or leaves is not.
      const level = /^(failed|cannot)/.test(reason) ? "warn" : "info";
      log[level]("Upload {upload} from {client} abandoned: {reason}", { upload: upload.spec.id.slice(0, 8), client: upload.spec.client ?? "a client", reason });
      this.#uploads.delete(upload);
    }
  }

  /**
   * Finds a live share by code for `client` (an address, for the rate
   * limit). Throws `SFX_BAD_CODE` for a malformed code, `SFX_LIMIT` when the
   * address made too many failed lookups, and `SFX_SHARE_NOT_FOUND` for a
   * wrong, expired, used-up or deleted share alike.
   */
  #find(code: string, client: string, label = client): ShareRecord {
    this.#checkOpen();
    const { key, sealed } = shareKeyOf(code);
    this.#limiter.check(addressKey(client));
    // Each share is found by its own kind of key: an enciphered one by its lookup, one in the clear by
    // its code's store key (`v1:`). Else a store key seen in a directory listing would fetch an
    // enciphered share's bytes, and use up its downloads.
    const found = this.#shares.get(key);
    const rec = found && (found.manifest.sealed !== undefined) === sealed ? found : undefined;
    if (rec && this.#now() >= rec.manifest.expiresAt) {
      this.#delete(rec, "expired");
    }
    const m = rec?.manifest;
    if (!rec || rec.deleted || !m || (m.maxDownloads !== null && m.downloads >= m.maxDownloads)) {
      this.#limiter.fail(addressKey(client));
      log.info("Failed share lookup from {client}", { client: label });
      throw notFound();
    }
    return rec;
  }

  /**
   * A share's files and expiry (see {@link ShareStore.#find} for the errors).
   * `client` is the address the failed-lookup limit counts; `label` names the
   * client in the log (default: the address).
   */
  list(code: string, client: string, label?: string): ShareListing {
    return listingOf(this.#find(code, client, label).manifest);
  }

  /**
   * Starts a download of `paths` (every file when empty). Each name must be
   * in the share (`SFX_BAD_ARGUMENT` otherwise). When the share has a
   * download limit and downloads in progress already hold every remaining
   * download, it is refused with `SFX_LIMIT`.
   */
  beginDownload(code: string, client: string, paths: readonly string[] = [], label = client): ShareDownload {
    const rec = this.#find(code, client, label);
    const m = rec.manifest;
    let files = m.files;
    if (paths.length > 0) {
      const byPath = new Map(m.files.map((f) => [f.path, f]));
      const seen = new Set<string>();
      files = [];
      for (const p of paths) {
        const f = byPath.get(typeof p === "string" ? p.normalize("NFC") : "");
        if (!f) throw new SfxError("SFX_BAD_ARGUMENT", `The share has no file named ${JSON.stringify(p).slice(0, 200)}`);
        if (!seen.has(f.path)) files.push(f);
        seen.add(f.path);
      }
    }
    if (m.maxDownloads !== null && m.downloads + rec.activeDownloads >= m.maxDownloads) {
      // Often the user's own: a download killed mid-way holds its slot until the server notices the
      // client is gone (the service asks the holders for a word first: see ShareService).
      throw new DownloadsHeldError(rec.key);
    }
    if (m.maxDownloads !== null && rec.unsaved) {
      void this.#save(rec);
      // The error's code only: its message names the server's paths, which are the server's business (its log has them).
      throw new SfxError("SFX_IO", `The server cannot record this share's downloads right now (${rec.unsaved}): try again later`);
    }
    rec.activeDownloads++;
    return new ShareDownload(this, rec, files, label);
  }

  /** @internal Called when a download ends, complete or not. */
  async _endDownload(rec: ShareRecord, download: ShareDownload, completed: boolean): Promise<void> {
    rec.activeDownloads--;
    if (completed) {
      const bytes = download.files.reduce((n, f) => n + f.size, 0);
      log.info("Share {share} downloaded by {client}: {files} file(s), {bytes} bytes", {
        share: shortKey(rec.key),
        client: download.client,
        files: download.files.length,
        bytes,
      });
      if (!rec.deleted) {
        rec.manifest = { ...rec.manifest, downloads: rec.manifest.downloads + 1 };
        const m = rec.manifest;
        if (m.maxDownloads !== null && m.downloads >= m.maxDownloads) {
          this.#delete(rec, `downloaded ${m.downloads} time(s), its limit`);
        } else {
          await this.#save(rec);
        }
      }
    } else {
      log.info("Share {share}: a download by {client} ended before it was complete; not counted", { share: shortKey(rec.key), client: download.client });
    }
    if (rec.activeDownloads === 0 && rec.pendingRemoval) {
      const reason = rec.pendingRemoval;
      rec.pendingRemoval = undefined;
      await this.#track(this.#removeShare(rec, reason));
    }
  }

  /**
   * Writes a share's manifest (its download count). A write that fails (a full disk) leaves the
   * share `unsaved`: it is tried again at each sweep, at close, and when a download of it begins
   * (a share with a download limit takes none meanwhile: a restart would forget the downloads).
   */
  #save(rec: ShareRecord): Promise<void> {
    rec.writing = rec.writing.then(() => writeManifest(rec.dir, rec.manifest)).then(() => {
      if (rec.unsaved) log.info("Share {share}: its manifest is saved again", { share: shortKey(rec.key) });
      rec.unsaved = undefined;
    }, (err) => {
      if (!rec.unsaved) log.error("Cannot update the manifest of share {share}: {error}; trying again at the next sweep", { share: shortKey(rec.key), error: String(err) });
      rec.unsaved = (err as NodeJS.ErrnoException)?.code ?? "an error writing its manifest";
    });
    return rec.writing;
  }

  /**
   * Saves the download count of the share under `code` if an earlier write of
   * it failed (see {@link ShareStore.#save}), so that a download beginning
   * next is not refused for it once there is room again. Finds nothing
   * (and says nothing) for any other code: {@link ShareStore.beginDownload}
   * judges the code.
   */
  async saveCountOf(code: string): Promise<void> {
    let key: string;
    try {
      key = codeKey(code);
    } catch {
      return;
    }
    const rec = this.#shares.get(key);
    if (rec?.unsaved && !rec.deleted) await this.#save(rec);
  }

  /** Saves what failed to save before (see {@link ShareStore.#save}). */
  async #saveUnsaved(): Promise<void> {
    for (const rec of this.#shares.values()) if (rec.unsaved && !rec.deleted) await this.#save(rec);
  }

  /** Makes a share invisible at once, and removes its files when no download is reading them. */
  #delete(rec: ShareRecord, reason: string): void {
    if (rec.deleted) return;
    rec.deleted = true;
    this.#shares.delete(rec.key);
    if (rec.manifest.sealed !== undefined) this.#end(rec.key, Math.max(this.#now(), rec.manifest.expiresAt) + ENDED_KEEP_MS, rec);
    this.#committedBytes -= rec.bytes;
    // Still on disk (a download may be reading it): counted against the quota until removed.
    this.#removingBytes += rec.bytes;
    if (rec.activeDownloads > 0) {
      rec.pendingRemoval = reason;
      return;
    }
    void this.#track(this.#removeShare(rec, reason));
  }

  #track(p: Promise<void>): Promise<void> {
    const q = p.catch((err) => log.error("Cannot delete a share: {error}", { error: String(err) })).finally(() => this.#removals.delete(q));
    this.#removals.add(q);
    return q;
  }

  async #removeShare(rec: ShareRecord, reason: string): Promise<void> {
    try {
      await rec.writing;
      await this.#removeDir(rec.dir);
    } finally {
      this.#removingBytes -= rec.bytes;
    }
    log.info("Share {share} deleted: {reason}", { share: shortKey(rec.key), reason });
  }

  /**
   * A share whose manifest cannot be read at start: not served. One the file
   * system refused to read (permissions, an I/O error) stays where it is, to
   * be served once it can be read and the server restarts; a damaged one
   * (missing, not JSON, not a manifest) is moved to `corrupt/`.
   */
  async #setAside(name: string, dir: string, err: unknown): Promise<void> {
    const errno = err instanceof SfxError ? undefined : (err as NodeJS.ErrnoException).code; // an SfxError: the manifest's checks
    const error = errno === "ENOENT" ? "its manifest is missing" : (err as Error).message;
    // Missing, or a file where a directory should be: damaged. Any other refusal may pass (an owner, a disk).
    if (errno !== undefined && errno !== "ENOENT" && errno !== "ENOTDIR") {
      log.error("Cannot read share {share} ({error}): it is left in place and not served; once the server can read it (its owner, its permissions), restart the server", { share: shortKey(name), error, dir });
      return;
    }
    const aside = join(this.dir, "corrupt", `${name}.${new Date(this.#now()).toISOString().replace(/[:.]/g, "-")}`);
    try {
      await ensureDir(join(this.dir, "corrupt"), 0o700);
      await rename(dir, aside);
      log.error("Share {share} is damaged ({error}): moved to {aside} and not served; delete it there once looked at", { share: shortKey(name), error, aside });
    } catch (moveErr) {
      log.error("Share {share} is damaged ({error}), and cannot be moved aside ({moveError}): it is left in place and not served", { share: shortKey(name), error, moveError: (moveErr as Error).message, dir });
    }
  }

  async #removeDir(dir: string): Promise<void> {
    const trash = join(this.dir, "trash", randomBytes(12).toString("hex"));
    await rename(dir, trash);
    await fsyncDir(join(this.dir, "shares"));
    await rm(trash, { recursive: true, force: true });
  }

  /**
   * Deletes every share that has expired by `now()`. Idempotent: a second
   * sweep finds nothing more. Resolves with the number of shares deleted.
   */
  async sweep(): Promise<number> {
    if (this.#closed) return 0;
    await this.#saveUnsaved();
    const now = this.#now();
    let count = 0;
    for (const rec of [...this.#shares.values()]) {
      if (now >= rec.manifest.expiresAt) {
        this.#delete(rec, `expired at ${iso(rec.manifest.expiresAt)}`);
        count++;
      }
    }
    for (const [key, { until }] of this.#ended) if (now >= until) this.#forget(key);
    if (this.#endedLines > 2 * this.#ended.size + 1000) await this.#writeEnded();
    await this.settled();
    return count;
  }

  /**
   * Reads `ended.log`, a line at a time (a line it cannot read is skipped: at worst a code ended
   * long ago is free again), keeping at most {@link #endedRoom} keys, the latest.
   */
  async #loadEnded(): Promise<void> {
    const path = join(this.dir, ENDED_LOG);
    const exists = await lstat(path).then((st) => st.isFile(), (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return false;
      throw err;
    });
    if (!exists) return;
    const now = this.#now();
    let unread = 0;
    let last = "";
    const lines = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
    for await (const line of lines) {
      last = line;
      const m = /^([0-9a-f]{64}) (\d{1,16})$/.exec(line);
      if (!m) {
        unread++;
        continue;
      }
      this.#endedLines++;
      const until = Number(m[2]);
      if (until <= now || until <= (this.#ended.get(m[1])?.until ?? 0)) continue;
      this.#ended.delete(m[1]); // set again below: the latest line last
      this.#ended.set(m[1], { until, groups: [] });
      if (this.#ended.size > this.#endedRoom) this.#forget(this.#ended.keys().next().value!);
    }
    // A last line without its end is one a crash cut short (readline cannot say; the size can).
    const size = (await lstat(path)).size;
    if (size > 0 && last !== "" && !(await endsWithNewline(path, size))) unread++;
    // Rewritten whole, so that the next line appended does not run on from one cut short.
    if (unread > 0 || this.#endedLines > this.#ended.size) await this.#writeEnded();
  }

  /** The most ended keys kept: ten times the shares the store keeps (80 bytes a key on disk, about 200 in memory). */
  get #endedRoom(): number {
    return 10 * this.limits.maxShares;
  }

  #forget(key: string): void {
    for (const group of this.#ended.get(key)?.groups ?? []) {
      const keys = this.#endedBy.get(group);
      keys?.delete(key);
      if (keys?.size === 0) this.#endedBy.delete(group);
    }
    this.#ended.delete(key);
  }

  /**
   * Notes that the enciphered share under `key` has ended: no upload may reuse its code until
   * `until`. Room is bounded, as shares are: one uploader's address keeps at most a quarter of it
   * and its network (an IPv6 /64) half, their own oldest forgotten first, so that ending shares in
   * a loop forgets no one else's; the store's oldest go once it is full.
   */
  #end(key: string, until: number, by: { owner?: string; network?: string } = {}): void {
    this.#forget(key);
    const groups: string[] = [];
    for (const [group, share] of [[by.owner && `owner:${by.owner}`, 4], [by.network && `network:${by.network}`, 2]] as const) {
      if (!group) continue;
      const keys = this.#endedBy.get(group) ?? new Set<string>();
      this.#endedBy.set(group, keys);
      if (keys.size >= Math.floor(this.#endedRoom / share)) this.#forget(keys.values().next().value!);
      keys.add(key);
      groups.push(group);
    }
    if (this.#ended.size >= this.#endedRoom) {
      this.#forget(this.#ended.keys().next().value!);
      if (!this.#endedFull) {
        this.#endedFull = true;
        log.warn("The share store keeps {count} ended shares' codes, the most it keeps: the oldest are forgotten, and their codes could be used again", { count: this.#endedRoom });
      }
    }
    this.#ended.set(key, { until, groups });
    this.#endedLines++;
    // Lost (a full disk), the key is still refused until the server restarts.
    void this.#track(this.#endedWrite(() => appendFile(join(this.dir, ENDED_LOG), `${key} ${until}\n`, { mode: 0o600 })).catch((err) => {
      log.error("Cannot note in {log} that share {share} ended: {error}; its code is refused for new shares until the server restarts", { log: ENDED_LOG, share: shortKey(key), error: String(err) });
    }));
  }

  /** Rewrites `ended.log` with the live keys only (atomically: a temporary file renamed over it). A failure is logged: the file as it was still holds every key. */
  #writeEnded(): Promise<void> {
    return this.#endedWrite(async () => {
      const temp = join(this.dir, `${ENDED_LOG}.tmp`);
      const live = [...this.#ended];
      // Synced before the rename and the directory after it: a crash leaves the old file or the new one, whole.
      const fh = await open(temp, "w", 0o600);
      try {
        await fh.writeFile(live.map(([key, { until }]) => `${key} ${until}\n`).join(""));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, join(this.dir, ENDED_LOG));
      await fsyncDir(this.dir);
      this.#endedLines = live.length;
    }).catch((err) => log.error("Cannot rewrite {log}: {error}", { log: ENDED_LOG, error: String(err) }));
  }

  /** Runs `write` once the writes of `ended.log` before it are done. */
  #endedWrite(write: () => Promise<void>): Promise<void> {
    const done = this.#endedWrites.then(write);
    this.#endedWrites = done.catch(() => {});
    return done;
  }

  /** Resolves when every deletion started so far has finished. */
  async settled(): Promise<void> {
    while (this.#removals.size > 0) await Promise.all([...this.#removals]);
  }

  /** Stops the sweeper, abandons uploads in progress and waits for deletions. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const u of [...this.#uploads]) await u.abort("server closing");
    await this.#saveUnsaved();
    this.#closed = true;
    await this.settled();
    await this.#unlock?.();
  }
}

/**
 * Holds the store for this process (`server.lock` in it; see file_lock.ts):
 * opening a store clears what unfinished uploads left, so a second server
 * on the same directory would delete the first one's uploads in progress,
 * and the two would then keep separate counts of one store. Held against
 * any process, a library's included, and a second open in this process.
 */
async function holdStore(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, "server.lock");
  let release: (() => Promise<void>) | undefined;
  try {
    release = await takeLock(path);
  } catch (err) {
    throw new SfxError("SFX_IO", `Cannot lock the share store ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (release) return release;
  const text = await readSmallFile(path, 1024);
  const holder = typeof text === "string" ? lockOwner(text) : undefined;
  const who = holder && holder.pid > 0 ? ` (pid ${holder.pid}${holder.host ? ` on ${holder.host}` : ""})` : "";
  throw new SfxError(
    "SFX_ALREADY_RUNNING",
    `The share store ${dir} is in use by another server${who}: give each server its own --storage (if none runs, delete ${path})${processCheckHint()}`,
  );
}

/** Marks a directory as a share store sfx made (see {@link checkStoreDir}). */
const STORE_MARKER = ".sfx-share-store";
const ENDED_LOG = "ended.log";
/** What a store holds at its top (older sfx made no marker). */
const STORE_ENTRIES = new Set(["shares", "uploads", "trash", "corrupt", "server.lock", STORE_MARKER, ENDED_LOG, `${ENDED_LOG}.tmp`]);
/** The names sfx gives what it puts in each of them: how a store without the marker (an older sfx's) is told from a folder that only has such a subfolder. */
const STORE_NAMES: Record<string, RegExp> = {
  shares: /^[0-9a-f]{64}$/,
  uploads: /^[0-9a-f]{24}$/,
  trash: /^[0-9a-f]{24}$/,
  corrupt: /^[0-9a-f]{64}\.[0-9A-Za-z-]+$/,
};

/**
 * Refuses a `--storage` that is not a store of sfx's: a directory with other
 * things in it and no marker (a typo, `--storage ~/Documents`), whose
 * `uploads/` and `trash/` the start would empty; a `shares`, `uploads`,
 * `trash` or `corrupt` that is not a real directory (a link would make the
 * start empty, or move things in, another folder), or that is another
 * user's; a directory another user owns or may write into. A new or empty
 * directory, or an older sfx's store, becomes one (the marker is written).
 */
async function checkStoreDir(dir: string): Promise<void> {
  const me = process.geteuid?.();
  const top = await lstat(dir);
  if (!top.isDirectory()) throw new SfxError("SFX_IO", `Cannot use ${dir} as the share store: it is not a directory`);
  // Writable by others without the sticky bit: they could swap our entries for links between checks.
  if (me !== undefined && (top.uid !== me || ((top.mode & 0o022) !== 0 && (top.mode & 0o1000) === 0))) {
    throw new SfxError("SFX_IO", `Cannot use ${dir} as the share store: ${top.uid !== me ? "another user owns it" : "others may write into it"}; give --storage a directory of this user's own (made by sfx if missing)`);
  }
  const entries = await readdir(dir);
  const foreign = entries.filter((n) => !STORE_ENTRIES.has(n) && !n.startsWith(STALE_LOCK_PREFIX));
  if (!entries.includes(STORE_MARKER) && foreign.length > 0) {
    const some = foreign.slice(0, 3).map((n) => JSON.stringify(n)).join(", ");
    throw new SfxError("SFX_IO", `Cannot use ${dir} as the share store: it is not one (no ${STORE_MARKER}) and holds other things (${some}${foreign.length > 3 ? ", …" : ""}); give --storage a new or empty directory`);
  }
  for (const sub of ["shares", "uploads", "trash", "corrupt"]) {
    const st = await lstat(join(dir, sub)).catch(() => undefined);
    if (st === undefined) continue;
    if (!st.isDirectory() || (me !== undefined && st.uid !== me)) {
      throw new SfxError("SFX_IO", `Cannot use ${dir} as the share store: its ${sub} is ${st.isSymbolicLink() ? "a symbolic link" : !st.isDirectory() ? "not a directory" : "another user's"}; remove it, or give --storage another directory`);
    }
  }
  if (!entries.includes(STORE_MARKER)) {
    // Only sfx's own names inside, too: a folder whose only entry is an `uploads/` of someone else's
    // (an app's uploads) would have been taken for a store, and that folder emptied.
    const others: string[] = [];
    for (const sub of Object.keys(STORE_NAMES)) {
      if (!entries.includes(sub)) continue;
      for (const name of await readdir(join(dir, sub))) if (!STORE_NAMES[sub].test(name)) others.push(`${sub}/${name}`);
    }
    if (others.length > 0) {
      const some = others.slice(0, 3).map((n) => JSON.stringify(n)).join(", ");
      throw new SfxError("SFX_IO", `Cannot use ${dir} as the share store: it is not one (no ${STORE_MARKER}) and holds other things (${some}${others.length > 3 ? ", …" : ""}); give --storage a new or empty directory`);
    }
    await writeFile(join(dir, STORE_MARKER), "An sfx share store: sfx serve empties its uploads/ and trash/ when it starts.\n", { mode: 0o600 });
  }
}

function listingOf(m: Manifest): ShareListing {
  return {
    files: m.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
    createdAt: m.createdAt,
    expiresAt: m.expiresAt,
    maxDownloads: m.maxDownloads,
    downloads: m.downloads,
    ...(m.sealed === undefined ? {} : { sealed: m.sealed }),
  };
}

/** @internal What {@link ShareStore.beginUpload} decided. */
export interface UploadSpec {
  id: string;
  dir: string;
  files: UploadFileSpec[];
  /** The files' bytes, and what they count for against the quota ({@link storedBytes}). */
  bytes: number;
  stored: number;
  maxDownloads: number | null;
  relativeMs?: number;
  absoluteAt?: number;
  warning?: string;
  /** Who uploads, for the log. */
  client?: string;
  /** The uploader's address and network, for the per-address limits. */
  owner?: string;
  network?: string;
  /** The lookup the share is to be found under (see {@link UploadRequest.lookup}). */
  lookup?: string;
}

/**
 * An upload in progress. Open a sink per file with {@link file}, write its
 * bytes, `end()` it with the client's SHA-256, then {@link commit}. Anything
 * else ends in {@link abort}, which removes every byte written.
 */
export class ShareUpload {
  /** @internal */
  readonly spec: UploadSpec;
  readonly #store: ShareStore;
  readonly #sinks = new Map<number, FileSink>();
  /** Files being opened: abort() waits for them, so none is left open on a removed directory. */
  readonly #opening = new Map<number, Promise<FileSink>>();
  #state: "open" | "committing" | "committed" | "aborted" = "open";

  constructor(store: ShareStore, spec: UploadSpec) {
    this.#store = store;
    this.spec = spec;
  }

  /** The files, with their checked paths, in the order announced. */
  get files(): readonly UploadFileSpec[] {
    return this.spec.files;
  }

  /** Bytes reserved by this upload. */
  get bytes(): number {
    return this.spec.bytes;
  }

  /** Set when the expiry asked for was shortened. */
  get warning(): string | undefined {
    return this.spec.warning;
  }

  /** Opens file `index` for writing (once per file). */
  async file(index: number): Promise<FileSink> {
    if (this.#state !== "open") throw new SfxError("SFX_PROTOCOL", `The upload is ${this.#state}`);
    const f = this.spec.files[index];
    if (!Number.isInteger(index) || !f) throw new SfxError("SFX_PROTOCOL", `The upload has no file ${index}`);
    if (this.#sinks.has(index) || this.#opening.has(index)) throw new SfxError("SFX_PROTOCOL", `File ${index} of the upload was already opened`);
    const opening = openSink(this.spec.dir, index, f.size);
    this.#opening.set(index, opening);
    let sink: FileSink;
    try {
      sink = await opening;
    } finally {
      this.#opening.delete(index);
    }
    if (this.#state !== "open") {
      // Aborted while the file was being opened: abort() could not see this one.
      await sink.discard();
      throw new SfxError("SFX_CANCELLED", "The upload was abandoned");
    }
    this.#sinks.set(index, sink);
    return sink;
  }

  /**
   * Publishes the share once every file is verified (`SFX_TRANSFER_FAILED`
   * naming the first one that is not). Resolves with the code (the lookup,
   * for a share uploaded with one) and listing. `sealed`: the enciphered
   * share's list of files, kept as its client sealed it.
   */
  async commit(sealed?: string): Promise<CreatedShare> {
    if (this.#state !== "open") throw new SfxError("SFX_PROTOCOL", `The upload is ${this.#state}`);
    const files: ShareFile[] = [];
    for (let i = 0; i < this.spec.files.length; i++) {
      const sink = this.#sinks.get(i);
      if (!sink?.verified) {
        throw new SfxError("SFX_TRANSFER_FAILED", `The upload is incomplete: ${this.spec.files[i].path} was not received and verified`);
      }
      files.push({ path: this.spec.files[i].path, size: this.spec.files[i].size, sha256: sink.sha256, blob: String(i) });
    }
    this.#state = "committing";
    let decided!: () => void;
    this.#published = new Promise<void>((resolve) => (decided = resolve));
    try {
      let created: CreatedShare;
      try {
        created = await this.#store._publish(this, files, sealed);
      } catch (err) {
        this.#state = "open";
        await this.abort(`cannot publish: ${(err as Error).message}`);
        throw storeFailure("Cannot store the share", err);
      }
      const why = this.#abortedWhilePublishing;
      if (why !== undefined) {
        // Cancelled, or its client gone, while the share was being made: nobody will learn its code,
        // and it would hold its bytes of the quota until it expired.
        this.#state = "aborted";
        this.#store._withdraw(created.code, `its upload was abandoned as it was published: ${why}`);
        throw new SfxError("SFX_CANCELLED", `The upload was abandoned: ${why}`);
      }
      this.#state = "committed";
      return created;
    } finally {
      decided();
    }
  }

  /** Settles once commit() has published the share, or withdrawn it, or failed. */
  #published: Promise<void> = Promise.resolve();
  /** Why abort() was called while commit() published the share, which commit() then withdraws. */
  #abortedWhilePublishing: string | undefined;

  /** Settles once abort() has removed the upload's files: a second abort() (the store closing) waits for it too. */
  #aborting: Promise<void> | undefined;

  /**
   * Abandons the upload and removes its files. Idempotent; a no-op once
   * committed. Called while commit() publishes the share, it has commit()
   * withdraw the share (and fail), and resolves once that is decided.
   * Called again while an abort runs, it resolves when that one is done.
   */
  abort(reason = "aborted"): Promise<void> {
    if (this.#state === "committing") {
      this.#abortedWhilePublishing ??= reason;
      return this.#published;
    }
    // Its failure is the first caller's to report.
    if (this.#state !== "open") return (this.#aborting ?? Promise.resolve()).catch(() => {});
    this.#state = "aborted";
    this.#aborting = (async () => {
      for (const s of this.#sinks.values()) await s.discard();
      // Each file() still opening discards its own file when the open ends; wait for that.
      await Promise.allSettled([...this.#opening.values()]);
      await this.#store._discard(this, reason);
    })();
    return this.#aborting;
  }
}

/**
 * Every remaining download of a share is held by downloads in progress
 * (`SFX_LIMIT`); `share` is the share's key, as {@link ShareDownload.share}.
 */
export class DownloadsHeldError extends SfxError {
  readonly share: string;
  constructor(share: string) {
    super("SFX_LIMIT", "Every remaining download of this share is in progress: try again later");
    this.share = share;
  }
}

/**
 * A download in progress: open each file at an offset with {@link read},
 * then {@link complete} when every file was served to its end, or
 * {@link cancel}. Exactly one of the two counts; later calls do nothing.
 */
export class ShareDownload {
  /** The files asked for (every file of the share when none were named). */
  readonly files: readonly ShareFile[];
  /** Who downloads, as the log names it (address, or address:port). */
  readonly client: string;
  readonly #store: ShareStore;
  readonly #rec: ShareRecord;
  #ended = false;

  constructor(store: ShareStore, rec: ShareRecord, files: readonly ShareFile[], client: string) {
    this.#store = store;
    this.#rec = rec;
    this.files = files;
    this.client = client;
  }

  /** The key of the share it reads (as {@link DownloadsHeldError.share}). */
  get share(): string {
    return this.#rec.key;
  }

  /**
   * A stream of `path`'s bytes from `offset` to its end (byte ranges, for
   * resume), read `READ_CHUNK_BYTES` at a time and only as fast as the
   * consumer pulls. `SFX_BAD_ARGUMENT` for a name not in this download or an
   * offset past the end.
   */
  async read(path: string, offset = 0): Promise<Readable> {
    if (this.#ended) throw new SfxError("SFX_PROTOCOL", "The download has ended");
    const f = this.files.find((x) => x.path === path);
    if (!f) throw new SfxError("SFX_BAD_ARGUMENT", `The download has no file named ${JSON.stringify(path).slice(0, 200)}`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > f.size) {
      throw new SfxError("SFX_BAD_ARGUMENT", `Invalid offset ${offset} for ${f.path} (${f.size} bytes)`);
    }
    const fh = await open(join(this.#rec.dir, "files", f.blob), "r");
    if (offset === f.size) {
      await fh.close();
      return Readable.from([]);
    }
    // A read per message. Reading 16 at once with readFileMessages (as the senders do) cut the
    // server's CPU by a fifth but raised its peak RSS during a 1 GiB download from +46 to +96 MiB.
    return fh.createReadStream({ start: offset, highWaterMark: READ_CHUNK_BYTES, autoClose: true });
  }

  /** Counts the download (every requested file served to its end). */
  async complete(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await this.#store._endDownload(this.#rec, this, true);
  }

  /** Ends the download without counting it. */
  async cancel(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await this.#store._endDownload(this.#rec, this, false);
  }
}

/** Whether the file at `path`, of `size` bytes, ends with a line's end. */
async function endsWithNewline(path: string, size: number): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const { buffer } = await fh.read(Buffer.alloc(1), 0, 1, size - 1);
    return buffer[0] === 0x0a;
  } finally {
    await fh.close();
  }
}
