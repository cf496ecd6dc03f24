/**
 * The server's receive windows, bounded as a whole. A client's receive
 * window is what it can make the server hold: bytes above a gap it never
 * fills stay held as long as it answers heartbeats. So every client gets a
 * small window (room for control messages), and only a client that is
 * sending — the sender of a streaming exchange, a share upload — draws a
 * larger one from a pool shared fairly among the senders of the moment: each
 * of n gets `min(maxBytes, poolBytes / n)` (never below the small window).
 * With the defaults (512 MiB, 8 MiB) 64 senders get the full window before
 * any gets less, and the windows of all clients together stay under the pool
 * plus the small window per connection, however many connect.
 *
 * @example
 * ```ts
 * const windows = new WindowPool({ poolBytes: 512 * 2 ** 20, idleBytes: 64 * 1024, maxBytes: 8 * 2 ** 20 });
 * windows.join(association);  // it starts sending: 8 MiB
 * windows.leave(association); // done: 64 KiB again
 * ```
 *
 * @module
 */
import type { AssociationLike } from "../protocol/association.ts";

/** Sizes for a {@link WindowPool}. */
export interface WindowPoolOptions {
  /** What all senders' windows may add up to. */
  poolBytes: number;
  /** The window of a client that is not sending (and the least a sender gets). */
  idleBytes: number;
  /** The most one sender gets. */
  maxBytes: number;
}

/** Shares `poolBytes` of receive window among the associations that are sending. */
export class WindowPool {
  readonly #opts: WindowPoolOptions;
  readonly #members = new Set<AssociationLike>();
  /** The window each member has now. */
  #share: number;

  constructor(opts: WindowPoolOptions) {
    this.#opts = opts;
    this.#share = opts.maxBytes;
  }

  /** The window a sender has now (the whole of `maxBytes` while few send). */
  get share(): number {
    return this.#share;
  }

  /** Associations drawing from the pool. */
  get size(): number {
    return this.#members.size;
  }

  /** `association` starts sending: it gets its share of the pool (the others' may shrink). */
  join(association: AssociationLike): void {
    if (this.#members.has(association)) return;
    this.#members.add(association);
    if (!this.#rebalance()) association.setReceiveBufferSize?.(this.#share);
  }

  /** `association` stopped sending (or closed): back to the small window; the others' may grow. */
  leave(association: AssociationLike): void {
    if (!this.#members.delete(association)) return;
    association.setReceiveBufferSize?.(this.#opts.idleBytes);
    this.#rebalance();
  }

  /** Recomputes the share; when it changed, every member gets the new one. Returns whether it did. */
  #rebalance(): boolean {
    const { poolBytes, idleBytes, maxBytes } = this.#opts;
    const n = Math.max(1, this.#members.size);
    const share = Math.max(idleBytes, Math.min(maxBytes, Math.floor(poolBytes / n)));
    if (share === this.#share) return false;
    this.#share = share;
    for (const a of this.#members) a.setReceiveBufferSize?.(share);
    return true;
  }
}
