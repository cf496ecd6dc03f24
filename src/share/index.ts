/**
 * Anonymous shares, server side: the store (codes, manifests, expiry
 * sweeper, storage on disk, quotas) and the service that answers `share.*`
 * messages. `sfx serve` calls {@link openShareStore} then
 * {@link attachShareService}.
 *
 * @example How the server uses it (`attachShareService` and `shareLimitsFromOptions` are internal; a library user has `openShareStore` and the store)
 * ```ts
 * const store = await openShareStore({ storage: opts.storage, limits: shareLimitsFromOptions(opts) });
 * const shares = attachShareService(exchange.sessions, store);
 * // on shutdown:
 * await shares.close();
 * await store.close();
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ShareLimits } from "./defaults.ts";
import { chooseStorageDir } from "./storage_dir.ts";
import { ShareStore } from "./store.ts";

export * from "./defaults.ts";
export { codeHint, codeKey, formatCode, generateCode, isCode, parseCode } from "./code.ts";
export { type CreatedShare, type ShareListing, ShareStore, type ShareStoreOptions, ShareUpload, ShareDownload, type UploadRequest } from "./store.ts";
export { type SharePeer, ShareService } from "./service.ts";
export { attachShareService, type AttachedShareService, type ShareSession, type ShareSessionHost } from "./attach.ts";
export { chooseStorageDir, fallbackStorageDir, type StorageChoice } from "./storage_dir.ts";
export { checkSharePath, checkSharePaths } from "./share_path.ts";

/** Options of {@link openShareStore}. */
export interface OpenShareStoreOptions {
  /** `--storage DIR`; absent: /var/lib/sfx/shares, or the per-user fallback. */
  storage?: string;
  limits?: Partial<ShareLimits>;
  now?: () => number;
}

/**
 * Chooses the storage directory (logging once when it falls back), opens
 * the store, recovers from any crash, sweeps expired shares and starts the
 * sweeper.
 */
export async function openShareStore(options: OpenShareStoreOptions = {}): Promise<ShareStore> {
  const choice = chooseStorageDir(options.storage);
  if (choice.fellBackBecause) {
    getLogger(["sfx", "share"]).warn("Shares are stored in {dir}: {reason}", { dir: choice.dir, reason: choice.fellBackBecause });
  }
  return await ShareStore.open({ dir: choice.dir, limits: options.limits, now: options.now });
}
