/**
 * Congestion control for one destination (RFC 9260 §7.2): slow start,
 * congestion avoidance, fast recovery and the reaction to a T3-rtx timeout.
 * Byte counts are user-data bytes of DATA chunks, as the RFC counts them.
 *
 * Two window-growth rules for congestion avoidance:
 * - "reno": RFC 9260 §7.2.2 (one MTU per cwnd of acknowledged bytes) and
 *   halving on loss (§7.2.3, §7.2.4);
 * - "cubic": CUBIC (RFC 9438), what Linux TCP uses: after a loss the window
 *   is cut to β = 0.7 of itself and grows back along a cubic function of the
 *   time since the loss, independent of the RTT, with the Reno-friendly
 *   estimate as a floor (§4.3). Slow start, Fast Recovery entry and exit,
 *   the "window fully used" condition and the 4-MTU floor of ssthresh stay
 *   those of RFC 9260 §7.2; CUBIC replaces only the reduction factor and
 *   the congestion-avoidance increase, which RFC 9438 §1 allows for any
 *   transport that follows RFC 5681-style congestion control.
 * - "bbr" (the default): a model-based window after BBR
 *   (draft-ietf-ccwg-bbr), what Linux TCP and QUIC stacks use: a windowed
 *   maximum of delivery-rate samples (BtlBw, 10 round trips) and a minimum
 *   RTT (10 s, refreshed by a ProbeRTT dip to 4 MTUs), cwnd = 2·BtlBw·minRTT
 *   plus the ACK aggregation the path shows (the most data acknowledged
 *   beyond what BtlBw explains, over 10 rounds, as Linux BBR does: SACKs
 *   here come once per batch of datagrams the peer's event loop read, so on
 *   a fast path minRTT alone left the window too small to keep it busy).
 *   Startup grows cwnd by the bytes acknowledged until the bandwidth estimate
 *   stops growing by 25% for three rounds. Random loss does not cut the
 *   window (retransmission still follows RFC 9260 §6.3 and §7.2.4, and a
 *   T3-rtx timeout still drops cwnd to one MTU, §7.2.3). Sending is paced
 *   at pacing_gain·BtlBw ({@link CongestionController.pacingRate}): 2/ln 2
 *   in Startup, then the ProbeBW cycle (1.25, 0.75, then 1 for six rounds,
 *   each a minRTT long) that probes for more bandwidth and drains the queue
 *   the probe made, so the window is not sent as one burst that waits in
 *   the bottleneck's queue.
 *
 * @module
 */

/** Slow start's per-SACK increase limit in MTUs (RFC 3465 §2.3 L). */
export const SLOW_START_L = 2;

/** Which congestion-avoidance rule a controller uses. */
export type CongestionAlgorithm = "reno" | "cubic" | "bbr";

/** RFC 9438 §5: C = 0.4 (segments per second cubed) and β_cubic = 0.7. */
const CUBIC_C = 0.4;
const CUBIC_BETA = 0.7;
/** RFC 9438 §4.3: α_cubic = 3(1 − β)/(1 + β), the Reno-friendly region's additive increase. */
const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
/** BBR's smallest model window, in MTUs (see #bbrTarget). */
const BBR_MIN_WINDOW_MTUS = 16;
/** BBR Startup pacing gain, 2/ln 2: the rate doubles every round trip. */
const BBR_STARTUP_GAIN = 2 / Math.LN2;
/** BBR ProbeBW pacing gains, one phase per minRTT; the cycle starts at 0.75, draining Startup's queue. */
const BBR_CYCLE = [0.75, 1, 1, 1, 1, 1, 1, 1.25];

/** The maximum of values sampled over the last `rounds` round trips (BBR's windowed max filters). */
class RoundMaxFilter {
  readonly #rounds: number[] = [];
  readonly #values: number[] = [];
  readonly #window: number;

  constructor(rounds: number) {
    this.#window = rounds;
  }

  update(round: number, value: number): void {
    const n = this.#rounds.length;
    if (n > 0 && this.#rounds[n - 1] === round) {
      if (value > this.#values[n - 1]) this.#values[n - 1] = value;
    } else {
      this.#rounds.push(round);
      this.#values.push(value);
    }
    while (this.#rounds.length > 0 && this.#rounds[0] <= round - this.#window) {
      this.#rounds.shift();
      this.#values.shift();
    }
  }

  max(): number {
    let m = 0;
    for (const v of this.#values) if (v > m) m = v;
    return m;
  }
}

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
  /** The congestion-avoidance rule in use. */
  readonly algorithm: CongestionAlgorithm;
  /** True until the first loss event: PMTU increases may still rescale the initial window. */
  #pristine = true;
  #mtu: number;
  // CUBIC state (RFC 9438 §4), windows in bytes, times in ms.
  #wMax = 0;
  #k = 0;
  #epochStart = -1;
  #wEst = 0;
  #cwndEpoch = 0;
  // BBR state: delivery rate in bytes/ms, times in ms.
  /** BtlBw: the highest delivery rate of the last 10 rounds. */
  #bw = new RoundMaxFilter(10);
  #round = 0;
  #nextRoundDelivered = 0;
  #minRtt = Infinity;
  #minRttStamp = 0;
  #fullBw = 0;
  #fullBwCount = 0;
  #startup = true;
  #probeRttUntil = -1;
  #ackEpochStart = -1;
  #ackEpochAcked = 0;
  #extraAcked = new RoundMaxFilter(10);
  #cycleIndex = 0;
  #cycleStart = -1;
  /** BBR: the window before a T3-rtx timeout, restored once what was outstanding then is acknowledged. */
  #priorCwnd = 0;
  #rtoRecoveryExit = -1;

  constructor(mtu: number, peerRwnd: number, algorithm: CongestionAlgorithm = "reno") {
    this.#mtu = mtu;
    this.algorithm = algorithm;
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
   * `flightBefore` the bytes outstanding before the SACK was processed;
   * `now` the clock (ms) and `srtt` the smoothed RTT (ms), used by CUBIC.
   */
  onSack(bytesAcked: number, cumAdvanced: boolean, flightBefore: number, cumTsn: number, now = 0, srtt = 0): void {
    if (this.inFastRecovery && ((cumTsn - this.fastRecoveryExit) | 0) >= 0) {
      // §7.2.4: Fast Recovery ends when the exit point is acknowledged.
      this.inFastRecovery = false;
    }
    if (this.#rtoRecoveryExit >= 0 && ((cumTsn - this.#rtoRecoveryExit) | 0) >= 0) {
      // BBR (draft-ietf-ccwg-bbr §4.6.4.4): leaving RTO recovery, the window returns to where it was.
      this.#rtoRecoveryExit = -1;
      this.cwnd = Math.max(this.cwnd, this.#priorCwnd);
    }
    if (bytesAcked <= 0) return;
    // "Fully utilized": the window held at least cwnd minus one MTU of data.
    const fullyUsed = flightBefore + this.#mtu > this.cwnd;
    if (this.algorithm === "bbr") {
      this.#bbrOnSack(bytesAcked, now);
      return;
    }
    if (this.cwnd <= this.ssthresh) {
      // §7.2.1 slow start: only when cum ack advances, cwnd is fully used and
      // not in Fast Recovery; by the bytes acknowledged (byte counting, RFC
      // 3465, which is what defeats ACK splitting: a SACK can only grow cwnd
      // by data it newly acknowledges). §7.2.1 also caps the increase at
      // L MTUs per SACK, assuming a SACK per one or two packets (§6.2). This
      // stack's peer acknowledges once per batch of arriving datagrams, so
      // one SACK stands for the several a §6.2 receiver would have sent: we
      // apply the cap per two full packets the SACK covers (L = 2), which
      // makes it the byte count. With the cap per SACK, slow start grew
      // ~2 MTUs per batch (19 → 45 KB in four 50 ms round trips) instead of
      // doubling per round trip.
      if (cumAdvanced && fullyUsed && !this.inFastRecovery) {
        const packetPairs = Math.max(1, Math.ceil(bytesAcked / (2 * this.#mtu)));
        this.cwnd += Math.min(bytesAcked, SLOW_START_L * this.#mtu * packetPairs);
        if (this.cwnd > this.ssthresh && this.algorithm === "cubic") this.#epochStart = -1;
      }
      return;
    }
    if (this.algorithm === "cubic") {
      // Like §7.2.2: no increase while the window is not fully used or in Fast Recovery.
      if (fullyUsed && !this.inFastRecovery) this.#cubicIncrease(bytesAcked, now, srtt);
      return;
    }
    // §7.2.2 congestion avoidance.
    this.partialBytesAcked += bytesAcked;
    if (this.partialBytesAcked >= this.cwnd && cumAdvanced && fullyUsed && !this.inFastRecovery) {
      this.partialBytesAcked -= this.cwnd;
      this.cwnd += this.#mtu;
    }
  }

  /** RFC 9438 §4.2–§4.4: congestion avoidance along W_cubic(t), floored by the Reno-friendly W_est. */
  #cubicIncrease(bytesAcked: number, now: number, srtt: number): void {
    const mss = this.#mtu;
    if (this.#epochStart < 0) {
      // §4.2: a new congestion-avoidance epoch starts with the first ACK in it.
      this.#epochStart = now;
      this.#cwndEpoch = this.cwnd;
      this.#wEst = this.cwnd;
      if (this.#wMax <= this.cwnd) {
        this.#wMax = this.cwnd;
        this.#k = 0;
      } else {
        // K = cbrt((W_max − cwnd_epoch) / C), W in segments (§4.2, Figure 2).
        this.#k = Math.cbrt((this.#wMax - this.cwnd) / mss / CUBIC_C);
      }
    }
    const t = (now - this.#epochStart + srtt) / 1000;
    // W_cubic(t + RTT), in bytes (§4.2 Figure 1).
    const wCubic = (CUBIC_C * (t - this.#k) ** 3) * mss + this.#wMax;
    // §4.3 Reno-friendly estimate: α_cubic segments per cwnd of acknowledged bytes.
    this.#wEst += (CUBIC_ALPHA * mss * bytesAcked) / this.cwnd;
    if (wCubic < this.#wEst) {
      this.cwnd = Math.max(this.cwnd, Math.floor(this.#wEst));
      return;
    }
    // §4.4/§4.5: the target is clamped to [cwnd, 1.5 cwnd]; cwnd moves
    // (target − cwnd)/cwnd per acknowledged segment.
    const target = Math.min(Math.max(wCubic, this.cwnd), 1.5 * this.cwnd);
    this.cwnd += Math.floor(((target - this.cwnd) * bytesAcked) / this.cwnd);
  }

  /**
   * A delivery-rate sample (BBR): `rate` in bytes/ms over the interval from
   * the acknowledged chunk's send to now, `rtt` its RTT in ms (or -1),
   * `delivered` the bytes delivered so far and `deliveredAtSend` what was
   * delivered when that chunk was sent (round counting). `appLimited`: the
   * chunk went out while the sender had nothing more to send, so the rate
   * says how fast the application wrote, not what the path carries: such a
   * sample only ever raises BtlBw and does not count towards leaving Startup
   * (draft-ietf-ccwg-bbr §4.5.2.3, §4.3.1.2).
   */
  onRateSample(rate: number, rtt: number, delivered: number, deliveredAtSend: number, now: number, appLimited = false): void {
    if (this.algorithm !== "bbr") return;
    if (deliveredAtSend >= this.#nextRoundDelivered) {
      this.#round++;
      this.#nextRoundDelivered = delivered;
      if (this.#startup && !appLimited) {
        // Full pipe: the estimate grew less than 25% in three rounds.
        const bw = this.#btlBw();
        if (bw >= this.#fullBw * 1.25) {
          this.#fullBw = bw;
          this.#fullBwCount = 0;
        } else if (++this.#fullBwCount >= 3) {
          this.#startup = false;
        }
      }
    }
    if (rate > 0 && Number.isFinite(rate) && (!appLimited || rate >= this.#bw.max())) {
      this.#bw.update(this.#round, rate);
    }
    if (rtt >= 0) {
      if (rtt <= this.#minRtt) {
        this.#minRtt = rtt;
        this.#minRttStamp = now;
      } else if (now - this.#minRttStamp > 10_000 && this.#probeRttUntil < 0) {
        // ProbeRTT: drain the queue for max(200 ms, one RTT) to measure the path's own RTT again.
        this.#probeRttUntil = now + Math.max(200, this.#minRtt);
        this.#minRtt = rtt;
        this.#minRttStamp = now;
      }
    }
  }

  #btlBw(): number {
    return this.#bw.max();
  }

  /**
   * ACK aggregation (after Linux BBR's extra_acked): within an epoch of
   * SACKs that arrive faster than BtlBw explains, how many bytes were
   * acknowledged beyond bw × elapsed. An epoch ends when the SACKs fall
   * back to the estimated rate. Windowed maximum over 10 rounds.
   */
  #updateAckAggregation(bytesAcked: number, now: number): void {
    const bw = this.#btlBw();
    if (bw <= 0) return;
    let expected = this.#ackEpochStart < 0 ? 0 : bw * (now - this.#ackEpochStart);
    if (this.#ackEpochStart < 0 || this.#ackEpochAcked <= expected || this.#ackEpochAcked >= 1 << 24) {
      this.#ackEpochStart = now;
      this.#ackEpochAcked = 0;
      expected = 0;
    }
    this.#ackEpochAcked += bytesAcked;
    // At most cwnd, and at most 100 ms at BtlBw (Linux's bbr_extra_acked_max_us): bursts beyond that are not aggregation.
    const extra = Math.min(this.#ackEpochAcked - expected, this.cwnd, bw * 100);
    this.#extraAcked.update(this.#round, extra);
  }

  /**
   * BBR: the window the model allows, 2·BtlBw·minRTT, at least
   * BBR_MIN_WINDOW_MTUS MTUs: SACKs come once per batch of arrivals, and a
   * window of a few packets on a sub-millisecond path turned most losses
   * into tail losses only T3-rtx could repair (5% loss: 91 timeouts).
   */
  #bbrTarget(gain = 2): number {
    const bw = this.#btlBw();
    if (bw === 0 || !Number.isFinite(this.#minRtt)) return Infinity;
    return Math.max(BBR_MIN_WINDOW_MTUS * this.#mtu, Math.ceil(gain * bw * this.#minRtt + this.#extraAcked.max()));
  }

  /**
   * BBR's window: grows by the bytes acknowledged, up to the model's target
   * (Startup: 2/ln2·BDP, then 2·BDP) and shrinks to it at once. Unlike the
   * loss-based rules it does not wait for a "fully used" window: with pacing
   * the window is rarely full when a SACK arrives, and that gate slowed
   * Startup to ~1.6× per round trip instead of 2×.
   */
  #bbrOnSack(bytesAcked: number, now: number): void {
    this.#updateAckAggregation(bytesAcked, now);
    if (this.#probeRttUntil >= 0) {
      if (now < this.#probeRttUntil) {
        this.cwnd = 4 * this.#mtu;
        return;
      }
      this.#probeRttUntil = -1;
    }
    if (this.#startup) {
      this.cwnd = Math.max(this.cwnd, Math.min(this.cwnd + bytesAcked, this.#bbrTarget(BBR_STARTUP_GAIN)));
      return;
    }
    this.cwnd = Math.max(4 * this.#mtu, Math.min(this.cwnd + bytesAcked, this.#bbrTarget()));
  }

  /**
   * How fast to send, in bytes per ms: pacing_gain·BtlBw for BBR (the gain
   * of the current Startup or ProbeBW phase, whose clock this advances);
   * Infinity for the window-only controllers and before the first rate
   * sample.
   */
  pacingRate(now: number): number {
    if (this.algorithm !== "bbr") return Infinity;
    const bw = this.#btlBw();
    if (bw <= 0 || !Number.isFinite(this.#minRtt)) return Infinity;
    // Startup paces at no less than the initial window per round trip
    // (draft-ietf-ccwg-bbr §4.6.2 BBRInitPacingRate): a first sample taken from
    // a small message would otherwise hold the first bulk round back.
    if (this.#startup) return BBR_STARTUP_GAIN * Math.max(bw, CongestionController.initialCwnd(this.#mtu) / Math.max(this.#minRtt, 1));
    if (this.#probeRttUntil >= 0) return bw;
    if (this.#cycleStart < 0) {
      this.#cycleStart = now;
      this.#cycleIndex = 0;
    } else if (now - this.#cycleStart > Math.max(this.#minRtt, 1)) {
      this.#cycleStart = now;
      this.#cycleIndex = (this.#cycleIndex + 1) % BBR_CYCLE.length;
    }
    return BBR_CYCLE[this.#cycleIndex] * bw;
  }

  /** All outstanding data was acknowledged: partial_bytes_acked resets (§7.2.2). */
  onAllAcked(): void {
    this.partialBytesAcked = 0;
  }

  /** The window after a loss: §7.2.3 halves it, RFC 9438 §4.6 keeps β = 0.7 of it (with fast convergence). */
  #reduce(): number {
    if (this.algorithm === "reno") return Math.max(Math.floor(this.cwnd / 2), 4 * this.#mtu);
    // §4.7 fast convergence: a flow whose W_max shrinks releases bandwidth faster.
    this.#wMax = this.cwnd < this.#wMax ? (this.cwnd * (1 + CUBIC_BETA)) / 2 : this.cwnd;
    this.#epochStart = -1;
    return Math.max(Math.floor(this.cwnd * CUBIC_BETA), 4 * this.#mtu);
  }

  /**
   * Entering Fast Recovery on a third miss indication (§7.2.4 step 2):
   * ssthresh = max(cwnd/2, 4*MTU) (CUBIC: 0.7·cwnd), cwnd = ssthresh.
   * Returns false when already in Fast Recovery (no second reduction).
   */
  onFastRetransmit(highestOutstanding: number): boolean {
    if (this.inFastRecovery) return false;
    this.#pristine = false;
    if (this.algorithm === "bbr") {
      // BBR: a loss is not a congestion signal by itself; the rate model sets the window.
      this.inFastRecovery = true;
      this.fastRecoveryExit = highestOutstanding;
      return true;
    }
    this.ssthresh = this.#reduce();
    this.cwnd = this.ssthresh;
    this.partialBytesAcked = 0;
    this.inFastRecovery = true;
    this.fastRecoveryExit = highestOutstanding;
    return true;
  }

  /**
   * T3-rtx expiry (§6.3.3 E1, §7.2.3): ssthresh = max(cwnd/2, 4*MTU) (CUBIC:
   * 0.7·cwnd), cwnd = 1 MTU. BBR also drops to one MTU, but a timeout says
   * little about the path's rate: once everything outstanding at the timeout
   * (up to TSN `highestOutstanding`) is acknowledged, it restores the window
   * it had, rather than regrowing from one MTU for a dozen round trips.
   */
  onTimeout(highestOutstanding?: number): void {
    this.#pristine = false;
    if (this.algorithm === "bbr" && highestOutstanding !== undefined) {
      if (this.#rtoRecoveryExit < 0) this.#priorCwnd = this.cwnd;
      this.#rtoRecoveryExit = highestOutstanding;
    }
    this.ssthresh = this.algorithm === "bbr" ? Math.max(this.cwnd, 4 * this.#mtu) : this.#reduce();
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
    this.#epochStart = -1;
  }
}
