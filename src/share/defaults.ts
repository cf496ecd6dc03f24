/**
 * Every share-store limit and default, in one place. `sfx serve` has a flag
 * for each limit (see {@link ShareLimits}); the store reads nothing else.
 *
 * @module
 */

import { DATA_MESSAGE_BYTES } from "../protocol/defaults.ts";

/** Where shares live when `--storage` is not given. */
export const DEFAULT_STORAGE_DIR = "/var/lib/sfx/shares";

/** Most files one share may hold (the original tool allowed 6). */
export const MAX_FILES_PER_SHARE = 100;

/** Most bytes one share may hold, all files together: 8 GiB. */
export const MAX_SHARE_BYTES = 8 * 2 ** 30;

/** Most bytes the whole store may hold, committed shares and uploads in progress: 64 GiB. */
export const MAX_STORE_BYTES = 64 * 2 ** 30;

/** Longest expiry a share may ask for; a longer request is shortened to this, and the client told. */
export const MAX_EXPIRY_MS = 7 * 86_400_000;

/** Expiry of a share that asks for none. */
export const DEFAULT_EXPIRY_MS = 24 * 3_600_000;

/** Shortest expiry a share may ask for (shorter requests are refused, not lengthened). */
export const MIN_EXPIRY_MS = 1_000;

/** Most uploads the store accepts at once; more are refused until one ends. */
export const MAX_UPLOADS_IN_PROGRESS = 64;

/**
 * Most shares the store keeps at once, uploads in progress included: shares
 * of empty files cost the quota next to nothing, and each file still takes an
 * inode (one client made 3,000 shares in 5 s).
 */
export const MAX_SHARES = 10_000;

/**
 * What the quota counts a stored file as at the least, and the unit it
 * rounds sizes up to: a file takes whole blocks on disk, and an empty one an
 * inode and an entry all the same.
 */
export const STORED_FILE_BLOCK_BYTES = 4096;

/** What the quota counts a share as beyond its files: its manifest and directories. */
export const STORED_SHARE_OVERHEAD_BYTES = 8192;

/**
 * What a share of files of these `sizes` counts for against the store's
 * quota: each file in whole {@link STORED_FILE_BLOCK_BYTES} blocks (at least
 * one), and {@link STORED_SHARE_OVERHEAD_BYTES} for the share.
 */
export function storedBytes(sizes: readonly number[]): number {
  let n = STORED_SHARE_OVERHEAD_BYTES;
  for (const size of sizes) n += Math.max(1, Math.ceil(size / STORED_FILE_BLOCK_BYTES)) * STORED_FILE_BLOCK_BYTES;
  return n;
}

/**
 * Uploads, and downloads, one connection may have in progress at once: the
 * client does them one after the other anyway; more would let one client
 * take every upload slot, or open a file per download until the server runs
 * out of descriptors.
 */
export const MAX_REQUESTS_PER_CLIENT = 8;

/** An upload in which no byte arrives for this long is abandoned (its slot and reservation freed); `sfx serve --idle-timeout` sets it. */
export const UPLOAD_STALL_MS = 5 * 60_000;

/**
 * An upload to which nothing at all arrives this long after the server said
 * ready is abandoned: its reservation, up to the whole quota, is not held for
 * the stall time by a client that never meant to send (a client sends at once).
 */
export const UPLOAD_FIRST_BYTES_MS = 30_000;

/** An upload must move at a pace that would finish it within this many hours (see {@link uploadPaceBytes}). */
export const UPLOAD_MAX_HOURS = 24;

/**
 * The bytes an upload of `bytes` must receive in `windowMs` (the stall time),
 * else it is abandoned: a pace that finishes it within
 * {@link UPLOAD_MAX_HOURS}, and 64 KiB per 5 minutes (218 B/s) at least,
 * whatever the window. An upload reserves its whole size of the quota when
 * it starts, so a client trickling a few bytes would hold it for as long as
 * it liked; at this pace, holding a reservation costs as many bytes as
 * filling it (8 GiB: 97 kB/s). The caller asks no more than what is left.
 */
export function uploadPaceBytes(bytes: number, windowMs: number): number {
  return Math.ceil(Math.max(64 * 1024 * (windowMs / 300_000), (bytes * windowMs) / (UPLOAD_MAX_HOURS * 3_600_000)));
}

/** Largest `--max-downloads` a share may ask for. */
export const MAX_DOWNLOADS_LIMIT = 1_000_000;

/**
 * How long after an enciphered share ends (or expires, if later) a new upload under its code is
 * refused. Its code is the uploader's choice, so without this whoever was given it could, once the
 * share is gone, upload files of their own under it for those who fetch it later.
 */
export const ENDED_KEEP_MS = 90 * 24 * 3_600_000;

/** How often the sweeper looks for expired shares (it also runs at start). */
export const SWEEP_INTERVAL_MS = 60_000;

/** Failed code lookups (wrong or expired codes) one client address may make at once… */
export const FAILED_LOOKUP_BURST = 10;

/** …and how many more it earns per minute once that burst is spent. */
export const FAILED_LOOKUPS_PER_MINUTE = 10;

/** Longest relative path of a file in a share, in UTF-8 bytes. */
export const MAX_PATH_BYTES = 1024;

/** Longest single path component (a file or directory name), in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255;

/** Deepest directory nesting of a file in a share. */
export const MAX_PATH_DEPTH = 32;

/** Characters of Crockford base32 in a share code: 23 random (115 bits), the key of the share's bytes, and a check character. */
export const CODE_CHARS = 24;

/** Characters of the code of a share in the clear (100 bits), as servers made them before shares were enciphered. */
export const PLAIN_CODE_CHARS = 20;

/** Characters between hyphens when a code is printed. */
export const CODE_GROUP = 4;

/** Most bytes of an upload written to disk by one system call (chunks that queued up during the previous write). */
export const WRITE_BATCH_BYTES = 1 * 2 ** 20;

/** Most chunks in one such write (well under Linux's IOV_MAX of 1024). */
export const WRITE_BATCH_CHUNKS = 256;

/**
 * Bytes the store reads from disk at a time when serving a file: one data
 * message, sized to fill one loopback packet (a full 64 KiB message needed a
 * second, 64-byte packet each time).
 */
export const READ_CHUNK_BYTES = DATA_MESSAGE_BYTES;

/** The limits a store enforces; `sfx serve` flags override each. */
export interface ShareLimits {
  /** Most files per share (`--max-share-files`). */
  maxFilesPerShare: number;
  /** Most bytes per share (`--max-share-bytes`). */
  maxShareBytes: number;
  /** Most bytes in the whole store (`--store-quota`), each file counted in whole blocks ({@link storedBytes}). */
  maxStoreBytes: number;
  /** Longest expiry (`--max-expiry`). */
  maxExpiryMs: number;
  /** Expiry when a share asks for none (`--default-expiry`). */
  defaultExpiryMs: number;
  /** Most uploads at once. */
  maxUploadsInProgress: number;
  /** Most shares kept, uploads in progress included (`--max-shares`). */
  maxShares: number;
  /** Failed lookups allowed at once per client address. */
  failedLookupBurst: number;
  /** Failed lookups earned back per minute per client address. */
  failedLookupsPerMinute: number;
  /** Sweep period. */
  sweepIntervalMs: number;
}

/** The default limits. */
export const DEFAULT_SHARE_LIMITS: Readonly<ShareLimits> = Object.freeze({
  maxFilesPerShare: MAX_FILES_PER_SHARE,
  maxShareBytes: MAX_SHARE_BYTES,
  maxStoreBytes: MAX_STORE_BYTES,
  maxExpiryMs: MAX_EXPIRY_MS,
  defaultExpiryMs: DEFAULT_EXPIRY_MS,
  maxUploadsInProgress: MAX_UPLOADS_IN_PROGRESS,
  maxShares: MAX_SHARES,
  failedLookupBurst: FAILED_LOOKUP_BURST,
  failedLookupsPerMinute: FAILED_LOOKUPS_PER_MINUTE,
  sweepIntervalMs: SWEEP_INTERVAL_MS,
});
