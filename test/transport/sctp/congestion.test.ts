import { test } from "uvu";
import * as assert from "uvu/assert";
import { CongestionController } from "../../../src/transport/sctp/congestion.ts";
import { RtoEstimator } from "../../../src/transport/sctp/rto.ts";

test("initial cwnd is min(4*MTU, max(2*MTU, 4404)) (RFC 9260 §7.2.1)", () => {
  assert.is(CongestionController.initialCwnd(1200), 4404);
  assert.is(CongestionController.initialCwnd(1000), 4000);
  assert.is(CongestionController.initialCwnd(9000), 18000);
  assert.is(CongestionController.initialCwnd(65504), 131008);
});

test("slow start grows by the bytes acknowledged, only when the window is used and cum ack advances", () => {
  const cc = new CongestionController(1200, 1 << 20);
  const w0 = cc.cwnd;
  cc.onSack(5000, true, w0, 10);
  assert.is(cc.cwnd, w0 + 5000, "a SACK covering several packets counts as the SACKs a per-2-packet receiver sends");
  cc.onSack(500, true, cc.cwnd, 11);
  assert.is(cc.cwnd, w0 + 5500, "bytes acked when fewer (no growth from ACK splitting)");
  const w1 = cc.cwnd;
  cc.onSack(1200, true, 100, 12);
  assert.is(cc.cwnd, w1, "no growth while the window is not fully used");
  cc.onSack(1200, false, w1, 12);
  assert.is(cc.cwnd, w1, "no growth without cumulative ack advance");
});

test("CUBIC (RFC 9438): a loss keeps 0.7 of cwnd; the window regrows towards W_max, then beyond it", () => {
  const mtu = 1000;
  const cc = new CongestionController(mtu, 1 << 30, "cubic");
  cc.cwnd = 1_000_000;
  cc.ssthresh = 500_000;
  assert.ok(cc.onFastRetransmit(500));
  assert.is(cc.cwnd, 700_000, "β = 0.7");
  assert.is(cc.ssthresh, 700_000);
  cc.onSack(1000, true, 700_000, 500, 0, 50); // exits Fast Recovery
  let now = 0;
  const at = (ms: number) => {
    while (now < ms) {
      now += 10;
      cc.onSack(cc.cwnd / 5, true, cc.cwnd, 600, now, 50);
    }
    return cc.cwnd;
  };
  // K = cbrt(W_max·(1−β)/C) = cbrt(1000·0.3/0.4) ≈ 9.1 s (segments of 1000 B).
  const early = at(2000);
  assert.ok(early > 800_000 && early < 1_000_000, `concave growth below W_max, got ${early}`);
  const plateau = at(9100);
  assert.ok(plateau > 980_000 && plateau < 1_020_000, `near W_max at K, got ${plateau}`);
  const late = at(18_000);
  assert.ok(late > 1_150_000, `convex growth beyond W_max, got ${late}`);
  cc.onTimeout();
  assert.is(cc.cwnd, mtu, "T3-rtx: one MTU (§7.2.3)");
  assert.is(cc.ssthresh, Math.floor(late * 0.7));
});

test("CUBIC never grows slower than the Reno-friendly estimate (RFC 9438 §4.3)", () => {
  const cc = new CongestionController(1000, 1 << 30, "cubic");
  const reno = new CongestionController(1000, 1 << 30, "reno");
  for (const c of [cc, reno]) {
    c.cwnd = 20_000;
    c.onFastRetransmit(1);
    c.onSack(1000, true, c.cwnd, 1, 0, 10);
  }
  const start = cc.cwnd;
  for (let i = 1; i <= 200; i++) {
    cc.onSack(cc.cwnd, true, cc.cwnd, 2, i * 10, 10);
    reno.onSack(reno.cwnd, true, reno.cwnd, 2, i * 10, 10);
  }
  assert.ok(cc.cwnd - start >= 0.5 * 200 * 1000 * 0.9, `α_cubic ≈ 0.53 MTU per RTT at least, got ${cc.cwnd - start}`);
});

test("congestion avoidance adds one MTU per cwnd of acknowledged bytes", () => {
  const cc = new CongestionController(1000, 10_000);
  cc.cwnd = 20_000;
  cc.ssthresh = 10_000;
  for (let i = 0; i < 19; i++) cc.onSack(1000, true, 20_000, i);
  assert.is(cc.cwnd, 20_000);
  cc.onSack(1000, true, 20_000, 20);
  assert.is(cc.cwnd, 21_000);
});

test("fast retransmit halves once per recovery; a timeout drops cwnd to one MTU (§7.2.3, §7.2.4)", () => {
  const cc = new CongestionController(1000, 1 << 20);
  cc.cwnd = 40_000;
  assert.ok(cc.onFastRetransmit(100));
  assert.is(cc.ssthresh, 20_000);
  assert.is(cc.cwnd, 20_000);
  assert.not.ok(cc.onFastRetransmit(120), "no second reduction in the same recovery");
  cc.onSack(1000, true, 20_000, 99);
  assert.ok(cc.inFastRecovery);
  assert.is(cc.cwnd, 20_000, "no growth during fast recovery");
  cc.onSack(1000, true, 20_000, 100);
  assert.not.ok(cc.inFastRecovery, "exits when the exit point is acknowledged");
  const before = cc.cwnd;
  cc.onTimeout();
  assert.is(cc.ssthresh, Math.floor(before / 2));
  assert.is(cc.cwnd, 1000);
  cc.cwnd = 3000;
  cc.onTimeout();
  assert.is(cc.ssthresh, 4000, "never below 4 MTU");
});

/** Drives a BBR controller: `rounds` round trips of `rttMs` at `rate` bytes/ms, `sacksPerRound` SACKs evenly spread in each. */
function bbrRounds(cc: CongestionController, t: { now: number; delivered: number }, rounds: number, rate: number, rttMs: number, sacksPerRound: number, appLimited = false): void {
  const perSack = (rate * rttMs) / sacksPerRound;
  for (let round = 0; round < rounds; round++) {
    const before = t.delivered;
    for (let i = 0; i < sacksPerRound; i++) {
      t.now += rttMs / sacksPerRound;
      t.delivered += perSack;
      cc.onRateSample(rate, rttMs, t.delivered, i === 0 ? before : before + 1, t.now, appLimited);
      cc.onSack(perSack, true, cc.cwnd, round, t.now, rttMs);
    }
  }
}

test("BBR: a loss does not cut cwnd; after Startup the window is 2·BtlBw·minRTT plus one SACK's worth; T3-rtx still drops to one MTU", () => {
  const mtu = 1000;
  const cc = new CongestionController(mtu, 1 << 30, "bbr");
  const t = { now: 0, delivered: 0 };
  // 1000 bytes/ms delivered, 50 ms RTT, ten evenly spread SACKs per round: the estimate stops growing, so Startup ends.
  bbrRounds(cc, t, 12, 1000, 50, 10);
  assert.is(cc.cwnd, 2 * 1000 * 50 + 5000, "cwnd = 2·BDP + the bytes one SACK acknowledges at once");
  assert.ok(cc.onFastRetransmit(99));
  assert.is(cc.cwnd, 105_000, "no reduction on fast retransmit");
  cc.onTimeout();
  assert.is(cc.cwnd, mtu, "RFC 9260 §7.2.3 on T3-rtx");
  for (let i = 0; i < 40; i++) {
    t.now += 5;
    cc.onSack(Math.min(cc.cwnd, 5000), true, cc.cwnd, 200 + i, t.now, 50);
  }
  assert.is(cc.cwnd, 105_000, "grows back by the bytes acknowledged, up to the model window");
});

test("BBR Startup grows the window by the bytes acknowledged even when pacing kept it from being full; CUBIC does not", () => {
  const bbr = new CongestionController(1000, 1 << 30, "bbr");
  const cubic = new CongestionController(1000, 1 << 30, "cubic");
  for (const cc of [bbr, cubic]) cc.onSack(3000, true, 500, 10, 10, 50); // only 500 bytes were in flight
  assert.is(bbr.cwnd, 4000 + 3000);
  assert.is(cubic.cwnd, 4000, "RFC 9260 §7.2.1: no growth unless the window was fully used");
});

test("BBR: after a T3-rtx timeout the window restarts at one MTU and returns to its old size once the data outstanding then is acknowledged", () => {
  const cc = new CongestionController(1000, 1 << 30, "bbr");
  const t = { now: 0, delivered: 0 };
  bbrRounds(cc, t, 12, 1000, 50, 10);
  const before = cc.cwnd;
  cc.onTimeout(500);
  assert.is(cc.cwnd, 1000, "RFC 9260 §7.2.3 first");
  cc.onSack(1000, true, 1000, 400, t.now + 50, 50);
  assert.ok(cc.cwnd < before, "still recovering below the timeout's highest TSN");
  cc.onSack(1000, true, cc.cwnd, 500, t.now + 100, 50);
  assert.is(cc.cwnd, before, "restored");
  const cubic = new CongestionController(1000, 1 << 30, "cubic");
  cubic.cwnd = 100_000;
  cubic.onTimeout(500);
  cubic.onSack(1000, true, 1000, 500, 0, 50);
  assert.ok(cubic.cwnd < 10_000, "loss-based controllers regrow by slow start");
});

test("BBR: SACKs that arrive in bursts (ACK aggregation) widen the window by the burst, so the sender is not starved between them", () => {
  const even = new CongestionController(1000, 1 << 30, "bbr");
  bbrRounds(even, { now: 0, delivered: 0 }, 12, 1000, 50, 10);
  const bursty = new CongestionController(1000, 1 << 30, "bbr");
  // Same rate and RTT, but the whole round's data is acknowledged by one SACK.
  bbrRounds(bursty, { now: 0, delivered: 0 }, 12, 1000, 50, 1);
  assert.is(even.cwnd, 105_000);
  assert.is(bursty.cwnd, 150_000, "2·BDP + the 50 kB acknowledged in one burst");
});

test("BBR: application-limited samples (a few small messages) do not end Startup; the same samples from a full pipe do", () => {
  // Twelve round trips of small request/response traffic: 4 bytes/ms, 50 ms RTT.
  const chatty = new CongestionController(1000, 1 << 30, "bbr");
  bbrRounds(chatty, { now: 0, delivered: 0 }, 12, 4, 50, 1, true);
  const full = new CongestionController(1000, 1 << 30, "bbr");
  bbrRounds(full, { now: 0, delivered: 0 }, 12, 4, 50, 1, false);
  // Startup paces at 2/ln2 of at least the initial window (4000 bytes) per minRTT: 231 bytes/ms.
  assert.ok(Math.abs(chatty.pacingRate(600) - (2 / Math.LN2) * 80) < 1, `still in Startup, got ${chatty.pacingRate(600)}`);
  assert.ok(full.pacingRate(600) <= 4 * 1.25, `a full pipe at 4 bytes/ms left Startup, got ${full.pacingRate(600)}`);
  // Then bulk data: the first full-rate samples raise the estimate at once.
  const t = { now: 600, delivered: 10_000 };
  bbrRounds(chatty, t, 1, 1000, 50, 10);
  assert.ok(Math.abs(chatty.pacingRate(t.now) - 2885) < 1, `startup gain on the new estimate, got ${chatty.pacingRate(t.now)}`);
  const app = new CongestionController(1000, 1 << 30, "bbr");
  bbrRounds(app, { now: 0, delivered: 0 }, 2, 1000, 50, 10);
  bbrRounds(app, { now: 100, delivered: 100_000 }, 1, 10, 50, 10, true);
  assert.ok(Math.abs(app.pacingRate(150) - 2885) < 1, "an application-limited sample never lowers the estimate");
});

test("BBR pacing: 2/ln2·BtlBw in Startup, then the ProbeBW cycle 0.75, 1 ×6, 1.25 of BtlBw, one phase per minRTT; window controllers are not paced", () => {
  const cc = new CongestionController(1000, 1 << 30, "bbr");
  assert.is(cc.pacingRate(0), Infinity, "no estimate yet: the window alone limits");
  const t = { now: 0, delivered: 0 };
  bbrRounds(cc, t, 1, 1000, 50, 10);
  assert.ok(Math.abs(cc.pacingRate(t.now) - 2885) < 1, `startup gain, got ${cc.pacingRate(t.now)}`);
  bbrRounds(cc, t, 11, 1000, 50, 10);
  const gains: number[] = [];
  for (let phase = 0; phase < 9; phase++) {
    gains.push(Math.round((cc.pacingRate(t.now) / 1000) * 100) / 100);
    t.now += 51;
  }
  assert.equal(gains, [0.75, 1, 1, 1, 1, 1, 1, 1.25, 0.75]);
  assert.is(new CongestionController(1000, 1 << 30, "cubic").pacingRate(0), Infinity);
});

test("RTO follows RFC 9260 §6.3.1 and backs off to RTO.Max", () => {
  const r = new RtoEstimator(1000, 200, 10_000);
  assert.is(r.rto, 1000);
  r.measure(100);
  assert.is(r.srtt, 100);
  assert.is(r.rttvar, 50);
  assert.is(r.rto, 300);
  r.measure(200);
  assert.is(r.rttvar, 0.75 * 50 + 0.25 * 100);
  assert.is(r.srtt, 0.875 * 100 + 0.125 * 200);
  r.measure(1);
  assert.ok(r.rto >= 200, "clamped to RTO.Min");
  for (let i = 0; i < 10; i++) r.backoff();
  assert.is(r.rto, 10_000);
});

test("a backoff bound under RTO.Max stops the doubling there, and never lowers an RTO already above it", () => {
  const r = new RtoEstimator(1000, 200, 10_000, 4000);
  const seen = [];
  for (let i = 0; i < 4; i++) {
    r.backoff();
    seen.push(r.rto);
  }
  assert.equal(seen, [2000, 4000, 4000, 4000]);
  r.measure(3000); // a slow path: RTO = 3000 + 4 × 1500, over the bound
  assert.is(r.rto, 9000);
  r.backoff();
  assert.is(r.rto, 9000, "kept, not lowered to the bound");
});

test.run();
