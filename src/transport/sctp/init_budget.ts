/**
 * Which INITs an endpoint answers. An INIT costs its sender 32 bytes, from
 * any source address it likes; its answer costs a State Cookie's MAC, a
 * packet of 4× the size, and the CPU that established associations need.
 * So answers come out of token buckets that refill continuously (never all
 * at once, which a flood would empty the moment they did):
 *
 * - all senders together: `rate` a second, in bursts of as many;
 * - one sender (an IPv4 address, an IPv6 /64, as {@link addressKey} groups
 *   them): a hundredth of that, at once and then a second (50 by default:
 *   under the 64 connections from one address `sfx serve` lets wait for
 *   their hello at once). A few flooding hosts take only their shares, and
 *   others still get in; a spoofed source draws no more than that from the
 *   endpoint towards its victim.
 *
 * Over budget, an INIT is dropped unanswered; a real client retransmits it
 * (T1-init). Only floods from a hundred senders or more (spoofed, or a
 * botnet) can spend the whole budget, and then new associations wait for
 * the flood to end while established ones keep the CPU.
 *
 * @module
 */
import { addressKey } from "../../failure_limiter.ts";

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

export class InitBudget {
  readonly #rate: number;
  readonly #perSender: number;
  readonly #perSenderBurst: number;
  readonly #now: () => number;
  readonly #all: Bucket;
  /** Senders whose bucket is not full (a full one is as good as none, and is forgotten). */
  readonly #senders = new Map<string, Bucket>();
  /** The map's size at which full buckets are forgotten next: twice what was left the last time. */
  #pruneAt = 1024;

  /** `rate`: INIT ACKs a second at most, from everyone (see the module's text for the shares). */
  constructor(rate: number, now: () => number) {
    this.#rate = rate;
    this.#perSender = rate / 100;
    this.#perSenderBurst = Math.max(1, rate / 100);
    this.#now = now;
    this.#all = { tokens: rate, at: now() };
  }

  /** Whether an INIT from `address` may be answered now; if so, its tokens are taken. */
  take(address: string): boolean {
    const now = this.#now();
    const all = refill(this.#all, now, this.#rate, this.#rate);
    if (all.tokens < 1) return false;
    const key = addressKey(address);
    let mine = this.#senders.get(key);
    if (mine) refill(mine, now, this.#perSender, this.#perSenderBurst);
    else {
      if (this.#senders.size >= this.#pruneAt) this.#prune(now);
      mine = { tokens: this.#perSenderBurst, at: now };
      this.#senders.set(key, mine);
    }
    if (mine.tokens < 1) return false;
    mine.tokens--;
    all.tokens--;
    return true;
  }

  /** Senders tracked now (for tests). */
  get trackedSenders(): number {
    return this.#senders.size;
  }

  /**
   * Forgets the senders whose buckets have refilled. Those left took a token within the time a
   * bucket takes to refill (two seconds), out of the whole budget's, so their number is bounded.
   */
  #prune(now: number): void {
    for (const [key, b] of this.#senders) {
      if (refill(b, now, this.#perSender, this.#perSenderBurst).tokens >= this.#perSenderBurst) this.#senders.delete(key);
    }
    this.#pruneAt = Math.max(1024, 2 * this.#senders.size);
  }
}

function refill(b: Bucket, now: number, rate: number, burst: number): Bucket {
  if (now > b.at) {
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
  }
  return b;
}
