/**
 * Retransmission timeout calculation (RFC 9260 §6.3.1) with Karn's
 * algorithm left to the caller (only chunks sent once are measured, §6.3.1
 * C5) and exponential backoff (§6.3.3 E2).
 *
 * @module
 */

/** RTO.Alpha and RTO.Beta (RFC 9260 §16). */
const ALPHA = 1 / 8;
const BETA = 1 / 4;
/** Clock granularity G (§6.3.1 C3), in ms. */
const GRANULARITY = 1;

/** SRTT, RTTVAR and RTO for one destination. */
export class RtoEstimator {
  /** Smoothed RTT in ms (0 until the first measurement). */
  srtt = 0;
  /** RTT variation in ms. */
  rttvar = 0;
  /** Current retransmission timeout in ms. */
  rto: number;
  readonly #min: number;
  readonly #max: number;
  readonly #backoffMax: number;
  #measured = false;

  /**
   * `backoffMax` bounds what backoff() doubles the RTO to (never below what
   * it is): an association gives up after a fixed silence, and probes spaced
   * by RTO.Max would leave the last seconds before it unprobed.
   */
  constructor(initial: number, min: number, max: number, backoffMax = max) {
    this.#min = min;
    this.#max = max;
    this.#backoffMax = backoffMax;
    this.rto = Math.min(Math.max(initial, min), max);
  }

  /** True once one RTT measurement was taken. */
  get measured(): boolean {
    return this.#measured;
  }

  /** Feeds one RTT measurement R in ms (§6.3.1 C2, C3). */
  measure(r: number): void {
    if (!(r >= 0)) return;
    if (!this.#measured) {
      // C2: first measurement.
      this.srtt = r;
      this.rttvar = r / 2;
      this.#measured = true;
    } else {
      // C3: RTTVAR first, with the old SRTT.
      this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - r);
      this.srtt = (1 - ALPHA) * this.srtt + ALPHA * r;
    }
    if (this.rttvar === 0) this.rttvar = GRANULARITY;
    this.rto = this.#clamp(this.srtt + 4 * this.rttvar);
  }

  /** Doubles the RTO after a timeout (§6.3.3 E2, §6.4.1), up to RTO.Max. */
  backoff(): void {
    this.rto = Math.max(this.rto, Math.min(this.#clamp(this.rto * 2), this.#backoffMax));
  }

  #clamp(v: number): number {
    // C6/C7: RTO.Min and RTO.Max bounds.
    return Math.min(Math.max(v, this.#min), this.#max);
  }
}
