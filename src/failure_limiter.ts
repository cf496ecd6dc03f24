/**
 * A token bucket per client address for failed lookups of secrets a client
 * must know — share codes, the IDs of connected clients — so nobody can
 * guess them at line rate (for 100-bit share codes guessing is hopeless
 * anyway; this keeps the logs and the CPU quiet). Only failures spend
 * tokens; an address with an empty bucket is refused before its guess is
 * even looked at, so a refusal says nothing about whether it was right.
 *
 * @module
 */
import { SfxError } from "./errors.ts";

/** Addresses a limiter remembers by default (the least recently failed are forgotten first). */
export const MAX_RATE_SOURCES = 4096;

interface Bucket {
  tokens: number;
  at: number;
}

/** Options of a {@link LookupLimiter}. */
export interface LookupLimiterOptions {
  /** Failures allowed at once. */
  burst: number;
  /** Failures earned back per minute. */
  perMinute: number;
  /** Clock in ms; injectable for tests. */
  now?: () => number;
  /** Addresses remembered; the least recently seen are forgotten beyond this. */
  maxSources?: number;
  /** The refusal, before " from your address (…): try again in N s" (e.g. "Too many wrong share codes"). */
  refusal: string;
}

/** Limits failed lookups per client address. */
export class LookupLimiter {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: () => number;
  readonly #maxSources: number;
  readonly #refusal: string;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: LookupLimiterOptions) {
    this.#burst = options.burst;
    this.#perMs = options.perMinute / 60_000;
    this.#now = options.now ?? Date.now;
    this.#maxSources = options.maxSources ?? MAX_RATE_SOURCES;
    this.#refusal = options.refusal;
  }

  #refill(source: string): Bucket | undefined {
    const b = this.#buckets.get(source);
    if (!b) return undefined;
    const now = this.#now();
    b.tokens = Math.min(this.#burst, b.tokens + Math.max(0, now - b.at) * this.#perMs);
    b.at = now;
    if (b.tokens >= this.#burst) {
      this.#buckets.delete(source); // full again: nothing to remember
      return undefined;
    }
    return b;
  }

  /** Throws `SFX_LIMIT` when `source` has used up its failed lookups; otherwise does nothing. */
  check(source: string): void {
    const b = this.#refill(source);
    if (b && b.tokens < 1) {
      const waitS = Math.ceil((1 - b.tokens) / this.#perMs / 1000);
      // Counted per address, so all clients behind one (a NAT, an IPv6 /64) share it: said, as the
      // client refused may not be the one that failed.
      throw new SfxError("SFX_LIMIT", `${this.#refusal} from your address (by this client, or another at the same address): try again in ${waitS} s`);
    }
  }

  /** Spends one token of `source` for a failed lookup. */
  fail(source: string): void {
    const b = this.#refill(source) ?? { tokens: this.#burst, at: this.#now() };
    b.tokens = Math.max(0, b.tokens - 1);
    this.#buckets.delete(source); // re-insert: Map order is least recently failed first
    this.#buckets.set(source, b);
    while (this.#buckets.size > this.#maxSources) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
  }

  /** Addresses currently remembered (for tests and diagnostics). */
  get size(): number {
    return this.#buckets.size;
  }
}

/**
 * The key limits on guessing and flooding count by: an IPv4 address as it is
 * (also when written IPv4-mapped, `::ffff:10.0.0.1`), an IPv6 address by its
 * /64 — one host is routinely given a whole /64, and counting each of its
 * addresses apart would let it guess IDs or codes from each in turn. A
 * link-local address (fe80::/10, the same /64 on every link) by itself and
 * its interface. Limits that share the server fairly count by {@link hostKey}.
 */
export function addressKey(address: string): string {
  const a = address.toLowerCase().replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1];
  if (!a.includes(":")) return a;
  if (/^fe[89ab]/.test(a)) return hostKey(address);
  const [head, tail = ""] = a.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = a.includes("::") ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t] : h;
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(":")}::/64`;
}

/**
 * The key limits that share the server fairly (clients connected at once, shares kept) count by:
 * one address, IPv4-mapped or not, and a link-local one with its interface. Not the /64 of
 * {@link addressKey}: every host of a LAN with IPv6 autoconfiguration is in one /64, which would
 * make them one client.
 */
export function hostKey(address: string): string {
  const a = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1];
  // The zone only where it means something: the same fe80:: address on two links is two hosts.
  return /^fe[89ab]/.test(a) ? a : a.replace(/%.*$/, "");
}
