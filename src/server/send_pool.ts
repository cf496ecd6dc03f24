/**
 * The server's send buffers towards clients, bounded as a whole. What the
 * server queues for a client and the client has not acknowledged stays in
 * memory, up to the association's send high-water mark (4 MiB): a receiver
 * that accepts an exchange, or starts a share download, and then reads
 * nothing holds that much until the idle or stall timeout. A thousand such
 * clients would hold 4 GB. So every client the server streams data to (the
 * receiver of an exchange, a share download) draws its mark from a pool
 * shared fairly among them: each of n gets `min(maxBytes, poolBytes / n)`,
 * never below `minBytes`. With the defaults (256 MiB, 4 MiB) 64 receivers
 * get the whole mark before any gets less; at the server's 1,000 clients,
 * 500 receivers get about 512 KiB each, still 10 MB/s each at 50 ms RTT.
 *
 * A lower mark drops nothing already queued: the relay, or the download,
 * waits for "drain" before queuing more, so the total comes down as clients
 * acknowledge. A client whose exchange or download ended keeps counting,
 * with the mark it had, for as long as data queued for it waits (a receiver
 * that stopped reading and stays connected would otherwise hold its bytes
 * outside the pool, and the next receivers get whole shares again); once it
 * has acknowledged everything it goes back to `maxBytes` (its control
 * replies have their own bound).
 *
 * @example
 * ```ts
 * const buffers = new SendBufferPool({ poolBytes: 256 * 2 ** 20, minBytes: 256 * 1024, maxBytes: 4 * 2 ** 20 });
 * buffers.join(association);   // data starts towards it: 4 MiB while few receive
 * buffers.leave(association);  // done: back to 4 MiB once its queue is acknowledged; the others' may grow
 * ```
 *
 * @module
 */
import type { AssociationLike } from "../protocol/association.ts";

/** Sizes for a {@link SendBufferPool}. */
export interface SendBufferPoolOptions {
  /** What the members' send high-water marks may add up to. */
  poolBytes: number;
  /** The least mark a member gets, however many there are. */
  minBytes: number;
  /** The most a member gets, and the mark of an association that left. */
  maxBytes: number;
  /** How often those that left with data still queued are looked at; default 1 s. */
  drainCheckMs?: number;
}

/** Shares `poolBytes` of send buffer among the associations the server streams data to. */
export class SendBufferPool {
  readonly #opts: Required<SendBufferPoolOptions>;
  readonly #members = new Set<AssociationLike>();
  /** Left with data still queued: counted, with the mark they had, until it is acknowledged. */
  readonly #draining = new Set<AssociationLike>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #share: number;

  constructor(opts: SendBufferPoolOptions) {
    this.#opts = { drainCheckMs: 1000, ...opts };
    this.#share = opts.maxBytes;
  }

  /** The mark each member has now. */
  get share(): number {
    return this.#share;
  }

  /** Associations drawing from the pool, those that left with data still queued included. */
  get size(): number {
    return this.#members.size + this.#draining.size;
  }

  /** Data starts towards `association`: it gets its share (the others' may shrink). */
  join(association: AssociationLike): void {
    if (this.#members.has(association)) return;
    this.#draining.delete(association); // still counted: joining again does not add to the count
    this.#members.add(association);
    if (!this.#rebalance()) association.setSendHighWaterMark?.(this.#share);
  }

  /** No more data towards `association`: back to `maxBytes` once what is queued for it is acknowledged; the others' may grow. */
  leave(association: AssociationLike): void {
    if (!this.#members.delete(association)) return;
    if (association.bufferedAmount > 0) {
      this.#draining.add(association);
      this.#watch();
      return;
    }
    association.setSendHighWaterMark?.(this.#opts.maxBytes);
    this.#rebalance();
  }

  /** `association` closed: it draws from the pool no more. */
  forget(association: AssociationLike): void {
    const was = this.#members.delete(association);
    if (this.#draining.delete(association) || was) this.#rebalance();
  }

  /** Stops looking at those that left (the server is closing). */
  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#draining.clear();
  }

  #watch(): void {
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => this.#sweep(), this.#opts.drainCheckMs);
    (this.#sweeper as { unref?: () => void }).unref?.();
  }

  #sweep(): void {
    let freed = false;
    for (const a of this.#draining) {
      if (a.bufferedAmount > 0) continue;
      this.#draining.delete(a);
      a.setSendHighWaterMark?.(this.#opts.maxBytes);
      freed = true;
    }
    if (freed) this.#rebalance();
    if (this.#draining.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  /** Recomputes the share; when it changed, every member gets the new one. Returns whether it did. */
  #rebalance(): boolean {
    const { poolBytes, minBytes, maxBytes } = this.#opts;
    const share = Math.max(minBytes, Math.min(maxBytes, Math.floor(poolBytes / Math.max(1, this.size))));
    if (share === this.#share) return false;
    this.#share = share;
    for (const a of this.#members) a.setSendHighWaterMark?.(share);
    return true;
  }
}
