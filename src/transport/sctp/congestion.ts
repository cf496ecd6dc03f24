/**
 * Congestion control for one destination (RFC 9260 §7.2): slow start,
 * congestion avoidance, fast recovery and the reaction to a T3-rtx timeout.
 * Byte counts are user-data bytes of DATA chunks, as the RFC counts them.
 *
 * @module
 */

/** Slow start's per-SACK increase limit in MTUs (RFC 3465 §2.3 L). */
export const SLOW_START_L = 2;

/** cwnd, ssthresh and partial_bytes_acked, with the RFC's update rules. */
export class CongestionController {
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow-start threshold in bytes. */
  ssthresh: number;
  /** partial_bytes_acked (§7.2.2). */
  partialBytesAcked = 0;
  /** True while in Fast Recovery (§7.2.4). */
  inFastRecovery = false;
  /** The Fast Recovery exit point: the highest TSN outstanding when it began. */
  fastRecoveryExit = 0;
  /** True until the first loss event: PMTU increases may still rescale the initial window. */
  #pristine = true;
  #mtu: number;

  constructor(mtu: number, peerRwnd: number) {
    this.#mtu = mtu;
    this.cwnd = CongestionController.initialCwnd(mtu);
    // §7.2.1: the initial ssthresh MAY be arbitrarily high (e.g. the peer's a_rwnd).
    this.ssthresh = Math.max(peerRwnd, 4 * mtu);
  }

  /** §7.2.1: initial cwnd = min(4*MTU, max(2*MTU, 4404)). */
  static initialCwnd(mtu: number): number {
    return Math.min(4 * mtu, Math.max(2 * mtu, 4404));
  }

  /** The path MTU the rules use. */
  get mtu(): number {
    return this.#mtu;
  }

  /**
   * The path MTU changed (PLPMTUD). Before any loss the initial window is
   * recomputed for the new MTU, as if the association had started with it;
   * after that only the MTU used by the increase rules changes.
   */
  setMtu(mtu: number): void {
    this.#mtu = mtu;
    if (this.#pristine) this.cwnd = Math.max(this.cwnd, CongestionController.initialCwnd(mtu));
    if (this.ssthresh < 4 * mtu && this.#pristine) this.ssthresh = 4 * mtu;
  }

  /**
   * A SACK arrived. `bytesAcked` is the user data newly acknowledged (cumulative
   * and gap); `cumAdvanced` whether the Cumulative TSN Ack Point moved;
   * `flightBefore` the bytes outstanding before the SACK was processed.
   */
  onSack(bytesAcked: number, cumAdvanced: boolean, flightBefore: number, cumTsn: number): void {
    if (this.inFastRecovery && ((cumTsn - this.fastRecoveryExit) | 0) >= 0) {
      // §7.2.4: Fast Recovery ends when the exit point is acknowledged.
      this.inFastRecovery = false;
    }
    if (bytesAcked <= 0) return;
    // "Fully utilized": the window held at least cwnd minus one MTU of data.
    const fullyUsed = flightBefore + this.#mtu > this.cwnd;
    if (this.cwnd <= this.ssthresh) {
      // §7.2.1 slow start: only when cum ack advances, cwnd is fully used and
      // not in Fast Recovery; by at most the bytes acknowledged and at most
      // L MTUs. L = 2 as RFC 3465 (Appropriate Byte Counting) allows: one SACK
      // often covers more than two packets here (SACKs go out once per batch
      // of arrivals), and L = 1 would then grow cwnd far slower than doubling
      // per round trip.
      if (cumAdvanced && fullyUsed && !this.inFastRecovery) {
        this.cwnd += Math.min(bytesAcked, SLOW_START_L * this.#mtu);
      }
      return;
    }
    // §7.2.2 congestion avoidance.
    this.partialBytesAcked += bytesAcked;
    if (this.partialBytesAcked >= this.cwnd && cumAdvanced && fullyUsed && !this.inFastRecovery) {
      this.partialBytesAcked -= this.cwnd;
      this.cwnd += this.#mtu;
    }
  }

  /** All outstanding data was acknowledged: partial_bytes_acked resets (§7.2.2). */
  onAllAcked(): void {
    this.partialBytesAcked = 0;
  }

  /**
   * Entering Fast Recovery on a third miss indication (§7.2.4 step 2):
   * ssthresh = max(cwnd/2, 4*MTU), cwnd = ssthresh. Returns false when
   * already in Fast Recovery (no second reduction).
   */
  onFastRetransmit(highestOutstanding: number): boolean {
    if (this.inFastRecovery) return false;
    this.#pristine = false;
    this.ssthresh = Math.max(Math.floor(this.cwnd / 2), 4 * this.#mtu);
    this.cwnd = this.ssthresh;
    this.partialBytesAcked = 0;
    this.inFastRecovery = true;
    this.fastRecoveryExit = highestOutstanding;
    return true;
  }

  /** T3-rtx expiry (§6.3.3 E1, §7.2.3): ssthresh = max(cwnd/2, 4*MTU), cwnd = 1 MTU. */
  onTimeout(): void {
    this.#pristine = false;
    this.ssthresh = Math.max(Math.floor(this.cwnd / 2), 4 * this.#mtu);
    this.cwnd = this.#mtu;
    this.partialBytesAcked = 0;
    this.inFastRecovery = false;
  }

  /**
   * One RTO passed without sending data (§7.2.1): cwnd = max(cwnd/2, 4*MTU),
   * never raising it.
   */
  onIdle(): void {
    this.cwnd = Math.min(this.cwnd, Math.max(this.cwnd >>> 1, 4 * this.#mtu));
  }
}
