/**
 * The server's receive windows, bounded as a whole. A client's receive
 * window is what it can make the server hold: bytes above a gap it never
 * fills stay held as long as it answers heartbeats. So every client gets a
 * small window (room for control messages), and only a client that is
 * sending — the sender of a streaming exchange, a share upload — draws a
 * larger one from a pool shared fairly among the senders of the moment: each
 * of n gets `min(maxBytes, poolBytes / n)` (never below the small window).
 * With the defaults (512 MiB, 8 MiB) 64 senders get the full window before
 * any gets less.
 *
 * A window that shrinks gives up at once what waits above a hole past the
 * new window and one message (reneging: the client sends it again); what was
 * delivered and is held for a slow reader is kept until it is read on. A
 * client that holds more than the small window above a gap
 * that does not move for `graceMs` (its cumulative TSN stands still) is
 * aborted, whether it still sends or stopped: an honest one fills a gap
 * within a few round trips.
 *
 * The pool also keeps the server's UDP socket from overflowing. A server
 * short of CPU reads its socket slower than the senders fill it, and the
 * kernel drops what does not fit: senders see loss they may not slow down
 * for (BBR does not take loss for congestion), and a sender whose
 * retransmissions are dropped too backs off for seconds. Given the count of
 * datagrams the socket dropped for a full buffer (`overflows`), the pool
 * looks at it every `overflowCheckMs` while anyone sends: when it grew, what
 * the windows add up to is halved, so the senders together cannot have more
 * in flight than the socket drained; while it stands still, that bound grows
 * back by a tenth per look, up to `poolBytes`. The count is the server's own
 * socket's, and of full buffers only, so neither loss on a client's path nor
 * datagrams with a bad checksum shrink anyone's window (see
 * `receiveOverflowCounter` for how the two are told apart).
 *
 * @example
 * ```ts
 * const windows = new WindowPool({ poolBytes: 512 * 2 ** 20, idleBytes: 64 * 1024, maxBytes: 8 * 2 ** 20 });
 * windows.join(association);  // it starts sending: 8 MiB
 * windows.leave(association); // done: 64 KiB again
 * windows.forget(association); // it closed
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
  /** How long a client may hold more than `idleBytes` above a gap that does not move before it is aborted; default 30 s. */
  graceMs?: number;
  /** Datagrams the server's socket has dropped for a full receive buffer, counted from the first call; `undefined` where unknown. */
  overflows?: () => number | undefined;
  /** How often `overflows` is read while anyone sends; default 250 ms. */
  overflowCheckMs?: number;
  /** Told when the windows were cut: how many datagrams the socket dropped since the last look, and each sender's window now. */
  onOverflow?: (dropped: number, share: number) => void;
  now?: () => number;
}

/** How much the bound on all windows grows per look at the socket that found no drop. */
const OVERFLOW_REGROWTH = 1.1;

/** Shares `poolBytes` of receive window among the associations that are sending. */
export class WindowPool {
  readonly #opts: Required<Omit<WindowPoolOptions, "overflows" | "onOverflow">> & Pick<WindowPoolOptions, "overflows" | "onOverflow">;
  readonly #members = new Set<AssociationLike>();
  /** Left the pool while holding more than the small window above a gap: watched until it lets go. */
  readonly #draining = new Set<AssociationLike>();
  /** Members and draining ones holding more than the small window above a gap: where their gap stood, since when. */
  readonly #stuck = new Map<AssociationLike, { tsn: number | undefined; since: number }>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  /** The window each member has now. */
  #share: number;
  /** What the members' windows may add up to now: `poolBytes`, less after the socket overflowed. */
  #budget: number;
  #overflowLook: ReturnType<typeof setInterval> | undefined;
  /** The socket's overflow count at the last look. */
  #overflowCount: number | undefined;

  constructor(opts: WindowPoolOptions) {
    this.#opts = { graceMs: 30_000, overflowCheckMs: 250, now: Date.now, ...opts };
    this.#share = opts.maxBytes;
    this.#budget = opts.poolBytes;
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
    // Still watched if it was draining: joining again does not restart the clock of a stuck gap.
    this.#draining.delete(association);
    this.#members.add(association);
    this.#watch();
    this.#watchSocket();
    if (!this.#rebalance()) association.setReceiveBufferSize?.(this.#share);
  }

  /** `association` stopped sending: back to the small window; the others' may grow. */
  leave(association: AssociationLike): void {
    if (!this.#members.delete(association)) return;
    association.setReceiveBufferSize?.(this.#opts.idleBytes);
    if ((association.heldAboveGapBytes ?? 0) > this.#opts.idleBytes) {
      this.#draining.add(association);
      this.#watch();
    }
    else this.#stuck.delete(association);
    if (this.#members.size === 0) this.#stopWatchingSocket();
    this.#rebalance();
  }

  /** `association` closed: it neither draws from the pool nor is watched any more. */
  forget(association: AssociationLike): void {
    this.#draining.delete(association);
    this.#stuck.delete(association);
    if (!this.#members.delete(association)) return;
    if (this.#members.size === 0) this.#stopWatchingSocket();
    this.#rebalance();
  }

  /** Stops the watch of clients that left (the server is closing). */
  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#stopWatchingSocket();
    this.#draining.clear();
    this.#stuck.clear();
  }

  #watch(): void {
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(10, Math.min(5000, this.#opts.graceMs / 4)));
    (this.#sweeper as { unref?: () => void }).unref?.();
  }

  #sweep(): void {
    const now = this.#opts.now();
    for (const a of [...this.#members, ...this.#draining]) {
      const held = a.heldAboveGapBytes ?? 0;
      if (held <= this.#opts.idleBytes) {
        this.#stuck.delete(a);
        this.#draining.delete(a);
        continue;
      }
      const tsn = a.cumulativeTsnReceived;
      const seen = this.#stuck.get(a);
      // Paused by us (a slow disk, a slow receiver at the other end), its peer may rightly stand still.
      if (!seen || seen.tsn !== tsn || a.isPaused) {
        this.#stuck.set(a, { tsn, since: now });
        continue;
      }
      if (now - seen.since < this.#opts.graceMs) continue;
      this.#stuck.delete(a);
      this.#draining.delete(a);
      a.abort(`holding ${held} bytes above a gap that has not moved for ${Math.round((now - seen.since) / 1000)} s`);
    }
    if (this.#members.size === 0 && this.#draining.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #watchSocket(): void {
    if (this.#overflowLook || !this.#opts.overflows) return;
    this.#overflowCount = this.#opts.overflows();
    this.#overflowLook = setInterval(() => this.#lookAtSocket(), this.#opts.overflowCheckMs);
    (this.#overflowLook as { unref?: () => void }).unref?.();
  }

  /** Nobody sends: the next sender starts from the whole pool. */
  #stopWatchingSocket(): void {
    clearInterval(this.#overflowLook);
    this.#overflowLook = undefined;
    this.#budget = this.#opts.poolBytes;
  }

  #lookAtSocket(): void {
    const before = this.#overflowCount;
    const count = this.#overflowCount = this.#opts.overflows!();
    if (count === undefined || before === undefined) return;
    const { poolBytes, idleBytes } = this.#opts;
    if (count > before) {
      // What is in use (the share of each, or less), halved: the senders' flight shrinks below what overflowed.
      // Not below the small windows everyone keeps, or growing back would first have to climb to them.
      const inUse = Math.min(this.#budget, this.#share * this.#members.size);
      this.#budget = Math.max(idleBytes * this.#members.size, Math.floor(inUse / 2));
      this.#rebalance();
      this.#opts.onOverflow?.(count - before, this.#share);
    } else if (this.#budget < poolBytes) {
      this.#budget = Math.min(poolBytes, Math.ceil(this.#budget * OVERFLOW_REGROWTH));
      this.#rebalance();
    }
  }

  /** Recomputes the share; when it changed, every member gets the new one. Returns whether it did. */
  #rebalance(): boolean {
    const { idleBytes, maxBytes } = this.#opts;
    const n = Math.max(1, this.#members.size);
    const share = Math.max(idleBytes, Math.min(maxBytes, Math.floor(this.#budget / n)));
    if (share === this.#share) return false;
    this.#share = share;
    for (const a of this.#members) a.setReceiveBufferSize?.(share);
    return true;
  }
}
