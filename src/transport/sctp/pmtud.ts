/**
 * Datagram Packetization Layer PMTU Discovery (RFC 8899), the search part.
 * The association sends each probe as a HEARTBEAT bundled with a PAD chunk
 * (RFC 8899 §6.2.1.2, RFC 4820) padding the packet to the probed size; a
 * HEARTBEAT ACK confirms the size. This class only decides which size to
 * try next.
 *
 * Search: try the ceiling first (on loopback and on plain Ethernet paths it
 * is what the path carries, so one round trip settles it), then a binary
 * search between the largest confirmed and the smallest failed size. A size
 * fails after MAX_PROBES unanswered probes (RFC 8899 §5.1.2).
 *
 * @module
 */

/** PLPMTUD phases (RFC 8899 §5.2, simplified to what a single-path search needs). */
export type PmtuPhase = "searching" | "complete";

/** Chooses probe sizes and holds the confirmed PLPMTU. Sizes are SCTP packet sizes (UDP payload). */
export class PmtuSearch {
  /** The largest size confirmed (the PLPMTU in use). */
  pmtu: number;
  /** Current phase. */
  phase: PmtuPhase = "searching";
  /** BASE_PLPMTU: the size assumed to work before any probe (RFC 8899 §5.1.2). */
  readonly base: number;
  #ceiling: number;
  #high: number;
  #probe = 0;
  #attempts = 0;
  readonly #maxProbes: number;
  readonly #granularity: number;

  constructor(base: number, ceiling: number, maxProbes: number, granularity: number) {
    this.base = align(base);
    this.pmtu = this.base;
    this.#ceiling = Math.max(this.base, align(ceiling));
    this.#high = this.#ceiling;
    this.#maxProbes = maxProbes;
    this.#granularity = granularity;
    if (this.#ceiling <= this.base) this.phase = "complete";
  }

  /** The size being probed, or 0 when no probe is due. */
  get probeSize(): number {
    return this.phase === "searching" ? this.#probe || this.#choose() : 0;
  }

  /** Counts one probe transmission; returns false when the size has had all its attempts. */
  countAttempt(): boolean {
    return ++this.#attempts <= this.#maxProbes;
  }

  /** A probe of `size` was acknowledged. Returns true when the PLPMTU grew. */
  acked(size: number): boolean {
    if (this.phase !== "searching" || size !== this.#probe) return false;
    const grew = size > this.pmtu;
    if (grew) this.pmtu = size;
    this.#next();
    return grew;
  }

  /** The current probe size went unanswered MAX_PROBES times. */
  failed(): void {
    if (this.phase !== "searching") return;
    this.#high = Math.max(this.pmtu, this.#probe - 4);
    this.#next();
  }

  /** Black hole (RFC 8899 §4.3): data at the PLPMTU stopped getting through. Fall back to the base and search again later. */
  blackHole(): void {
    this.pmtu = this.base;
    this.#high = this.#ceiling;
    this.#probe = 0;
    this.#attempts = 0;
    this.phase = "complete";
  }

  /** Starts a new upward search (RFC 8899 PMTU_RAISE_TIMER), e.g. after a black hole or periodically. */
  restart(ceiling = this.#ceiling): void {
    this.#ceiling = Math.max(this.base, align(ceiling));
    // The interface's MTU went down: packets past it would leave as IP fragments. No more than it now allows.
    if (this.pmtu > this.#ceiling) this.pmtu = this.#ceiling;
    this.#high = this.#ceiling;
    this.#probe = 0;
    this.#attempts = 0;
    this.phase = this.#ceiling > this.pmtu ? "searching" : "complete";
  }

  #next(): void {
    this.#probe = 0;
    this.#attempts = 0;
    this.#choose();
  }

  #choose(): number {
    if (this.#high - this.pmtu < this.#granularity) {
      this.phase = "complete";
      this.#probe = 0;
      return 0;
    }
    // First the ceiling, then halfway between confirmed and failed.
    this.#probe = this.#high === this.#ceiling && this.pmtu === this.base && this.#attempts === 0
      ? this.#high
      : align(this.pmtu + Math.ceil((this.#high - this.pmtu) / 2));
    if (this.#probe <= this.pmtu) this.#probe = this.#high;
    return this.#probe;
  }
}

function align(n: number): number {
  return Math.floor(n / 4) * 4;
}
