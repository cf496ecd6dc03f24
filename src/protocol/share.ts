/**
 * The control messages of anonymous shares. Every request carries `req`, an
 * id the client picks (unique among its requests in flight); every answer,
 * including `error`, echoes it. File bytes travel on data streams with PPID
 * `dataPpid(req, fileIndex)` (see `data.ts`), so uploads and downloads never
 * mix with exchanges or with each other.
 *
 * ```
 * put:   share.put ─────────────▶                 (lookup; files: path, size; expiry; max downloads)
 *                   ◀──────────── share.ready     (reserved; warning if the expiry was shortened)
 *        data (stream ≥ 1, PPID dataPpid(req, i)) and share.end (i, size, sha256) per file ─▶
 *        share.seal ────────────▶                 (the list of files, sealed)
 *                   ◀──────────── share.created   (expiry, files)  — or error {req}
 * ls:    share.ls ──────────────▶ ◀── share.listing (files, expiry, downloads, sealed list)
 * get:   share.get ─────────────▶                 (lookup, files: path + offset; none = all from 0)
 *                   ◀──────────── share.sending   (files: path, size, offset, sha256, in this order)
 *        ◀── data from each offset to the end, then share.end (i, size, whole file's sha256)
 *        share.received ────────▶                 (every file verified and in place)
 *                   ◀──────────── share.done      (the download counted)
 * either way: share.cancel {req} stops an upload or a download.
 * ```
 *
 * Shares are enciphered by their clients (`src/share/share_crypto.ts`): the
 * server is sent the code's lookup, never the code; files named `0`, `1`, …
 * whose bytes and SHA-256s are the enciphered ones; and the real names, sizes
 * and SHA-256s only sealed (`share.seal`), which it keeps and hands back with
 * every listing. `code` in `share.ls` and `share.get` is the lookup, or the
 * code itself of a share in the clear (made by a server of before).
 *
 * @module
 */
import { MAX_CONTROL_BYTES, MAX_FILES_PER_OFFER, MAX_PATH_BYTES, MAX_TEXT_BYTES } from "./defaults.ts";
import { defineMessage } from "./registry.ts";
import { array, int, nullable, object, optional, string } from "./schema.ts";

const req = int({ max: 2 ** 31 - 1 });
const sha256 = string({ max: 64, min: 64, pattern: /^[0-9a-f]{64}$/ });
const path = string({ max: MAX_PATH_BYTES, min: 1 });
/** A lookup, or a typed code of a share in the clear: the server parses it (and answers SFX_BAD_CODE); the wire only bounds it. */
const code = string({ max: 100 });
/** What a client finds its share under: HKDF of the code it made (see `shareSecrets`). */
const lookup = string({ max: 64, min: 64, pattern: /^[0-9a-f]{64}$/ });
/** A share's list of files as its client sealed it: base64, bounded by the control message itself. */
const sealed = string({ max: MAX_CONTROL_BYTES, min: 1, pattern: /^[A-Za-z0-9+/]+={0,2}$/ });
/** The latest milliseconds since the epoch a Date can hold (8.64e15). */
export const MAX_TIME_MS = 8.64e15;
/** Milliseconds since the epoch that make a valid Date. */
const time = int({ max: MAX_TIME_MS });
const fileIndex = int({ max: MAX_FILES_PER_OFFER - 1 });

/** A file of a share as listed: path, size, SHA-256. */
export const ListedFile = object({ path, size: int(), sha256 });

/** Client → server: upload these files as a new share. */
export const SharePut = defineMessage("share.put", {
  req,
  lookup,
  files: array(object({ path, size: int() }), { max: MAX_FILES_PER_OFFER, min: 1 }),
  /** Expiry relative to creation, in ms. */
  expiresInMs: optional(int({ min: 1 })),
  /** Absolute expiry, ms since the epoch (instead of expiresInMs). */
  expiresAt: optional(time),
  maxDownloads: optional(int({ min: 1 })),
});

/** Server → client: the upload is reserved; send the files. `warning` when the expiry was shortened. */
export const ShareReady = defineMessage("share.ready", { req, warning: optional(string({ max: MAX_TEXT_BYTES, printable: true })) });

/** Either way: file `file` of request `req` is complete: its size and whole-file SHA-256. */
export const ShareEnd = defineMessage("share.end", { req, file: fileIndex, size: int(), sha256 });

/** Client → server, after the last `share.end` of a put: the share's list of files, sealed; the share is made once it is here. */
export const ShareSeal = defineMessage("share.seal", { req, sealed });

/** Server → client: the share exists, under the lookup the put gave. */
export const ShareCreated = defineMessage("share.created", {
  req,
  createdAt: time,
  expiresAt: time,
  maxDownloads: nullable(int({ min: 1 })),
  files: array(ListedFile, { max: MAX_FILES_PER_OFFER, min: 1 }),
  warning: optional(string({ max: MAX_TEXT_BYTES, printable: true })),
});

/** Client → server: what is in this share? */
export const ShareLs = defineMessage("share.ls", { req, code });

/** Server → client: the answer to share.ls. */
export const ShareListingMessage = defineMessage("share.listing", {
  req,
  createdAt: time,
  expiresAt: time,
  maxDownloads: nullable(int({ min: 1 })),
  downloads: int(),
  files: array(ListedFile, { max: MAX_FILES_PER_OFFER, min: 1 }),
  /** An enciphered share's list (see `share.seal`); none for a share in the clear. */
  sealed: optional(sealed),
});

/** Client → server: send these files (none listed: all), each from `offset` (resume). */
export const ShareGet = defineMessage("share.get", {
  req,
  code,
  files: array(object({ path, offset: int() }), { max: MAX_FILES_PER_OFFER }),
});

/** Server → client: the files about to be sent, in order: file index i is `files[i]`. */
export const ShareSending = defineMessage("share.sending", {
  req,
  files: array(object({ path, size: int(), offset: int(), sha256 }), { max: MAX_FILES_PER_OFFER, min: 1 }),
});

/**
 * Client → server, after the last `share.end` of a get: every file is
 * verified and under its final name, and the download counts (towards
 * `maxDownloads`; a client that leaves without saying it counts once its
 * transport acknowledged everything). One broken off in its last bytes,
 * still in buffers on the way, does not use up a share that allows one download.
 */
export const ShareReceived = defineMessage("share.received", { req });

/** Server → client, the answer to `share.received`: the download counted; `bytes` were sent. */
export const ShareDone = defineMessage("share.done", { req, files: int(), bytes: int() });

/** Either way: stop request `req` (an upload or a download). */
export const ShareCancel = defineMessage("share.cancel", { req, reason: optional(string({ max: MAX_TEXT_BYTES, printable: true })) });
