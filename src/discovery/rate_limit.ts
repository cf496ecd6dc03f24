/**
 * A token bucket per key (the responder keys by source address), with an
 * injected clock so tests need not wait. Memory is bounded: past `maxKeys`
 * keys, buckets that have refilled completely are forgotten (a fresh bucket is
 * the same thing), and if that is not enough, the oldest.
 *
 * @module
 */
import { MAX_RATE_SOURCES, REPLY_BURST, REPLY_RATE_PER_SECOND } from "./defaults.ts";

/** Settings of a {@link RateLimiter}. */
export interface RateLimitOptions {
  /** Tokens added per second. */
  ratePerSecond?: number;
  /** Bucket capacity: how many may pass at once. */
  burst?: number;
  /** Most keys remembered. */
  maxKeys?: number;
  /** Milliseconds, monotonic; defaults to `performance.now()`. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Per-key token buckets. */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions = {}) {
    this.#rate = options.ratePerSecond ?? REPLY_RATE_PER_SECOND;
    this.#burst = options.burst ?? REPLY_BURST;
    this.#maxKeys = options.maxKeys ?? MAX_RATE_SOURCES;
    this.#now = options.now ?? (() => performance.now());
    if (!(this.#rate > 0) || !(this.#burst >= 1) || !(this.#maxKeys >= 1)) throw new RangeError("rate, burst and maxKeys must be positive");
  }

  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: string): boolean {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket) {
      bucket.tokens = this.#refilled(bucket, now);
      bucket.at = now;
    } else {
      if (this.#buckets.size >= this.#maxKeys) this.#evict(now);
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(key, bucket);
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Keys currently remembered. */
  get size(): number {
    return this.#buckets.size;
  }

  #refilled(bucket: Bucket, now: number): number {
    const elapsed = Math.max(0, now - bucket.at) / 1000;
    return Math.min(this.#burst, bucket.tokens + elapsed * this.#rate);
  }

  #evict(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (this.#refilled(bucket, now) >= this.#burst) this.#buckets.delete(key);
    }
    // Still full: forget the oldest (Map keeps insertion order).
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size < this.#maxKeys) break;
      this.#buckets.delete(key);
    }
  }
}
