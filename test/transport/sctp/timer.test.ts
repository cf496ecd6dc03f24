/**
 * Protocol timers that fall due while the process was busy: they let the
 * datagrams that arrived meanwhile in before acting (Clock.afterPendingInput).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type Association, ManualClock, SctpEndpoint } from "../../../src/transport/sctp/index.ts";
import { Timer } from "../../../src/transport/sctp/rtx_timer.ts";
import { openUdpSocket } from "../../../src/transport/udp.ts";
import { within } from "./_pair.ts";

/** A manual clock whose "pending input" step runs only when the test says so. */
class InputClock extends ManualClock {
  readonly waiting: Array<() => void> = [];
  afterPendingInput(fn: () => void): void {
    this.waiting.push(fn);
  }
  /** Runs what waited for pending input, as the event loop's check phase would. */
  inputHandled(): void {
    for (const fn of this.waiting.splice(0)) fn();
  }
}

test("a due timer waits for pending input, then expires when nothing restarted it", () => {
  const clock = new InputClock();
  let fired = 0;
  const t = new Timer(clock, () => fired++);
  t.start(100);
  clock.advance(100);
  assert.is(fired, 0, "not before pending input is handled");
  assert.ok(t.running);
  clock.inputHandled();
  assert.is(fired, 1);
  assert.not.ok(t.running);
});

test("a due timer restarted by the pending input does not expire, and fires at its new deadline", () => {
  const clock = new InputClock();
  let fired = 0;
  const t = new Timer(clock, () => fired++);
  t.start(100);
  clock.advance(150);
  t.start(100); // e.g. a SACK that was waiting in the socket
  clock.inputHandled();
  assert.is(fired, 0);
  assert.is(t.deadline, 250);
  clock.advance(99);
  assert.is(fired, 0);
  clock.advance(1);
  clock.inputHandled();
  assert.is(fired, 1);
});

test("a due timer stopped by the pending input does not expire", () => {
  const clock = new InputClock();
  let fired = 0;
  const t = new Timer(clock, () => fired++);
  t.start(10);
  clock.advance(10);
  t.stop();
  clock.inputHandled();
  clock.advance(1000);
  clock.inputHandled();
  assert.is(fired, 0);
});

test("ManualClock.advance() never moves time back nor to NaN", () => {
  const clock = new ManualClock(100);
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => clock.advance(bad), (e: unknown) => e instanceof RangeError);
  assert.is(clock.now(), 100);
  clock.advance(0);
  assert.is(clock.now(), 100);
});

test("a clock without afterPendingInput expires timers at once", () => {
  const clock = new ManualClock();
  let fired = 0;
  const t = new Timer(clock, () => fired++);
  t.start(10);
  clock.advance(10);
  assert.is(fired, 1);
});

/** Keeps the event loop busy for `ms` (what a long GC pause or a blocking call does). */
function blockLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

test("over real UDP, a SACK that arrived while the loop was blocked prevents a tail-loss probe and a T3-rtx", async () => {
  const opts = { rtoMin: 40, rtoInitial: 100, pmtud: false };
  const ss = await openUdpSocket({ host: "127.0.0.1", port: 0 });
  const cs = await openUdpSocket({ host: "127.0.0.1", port: 0 });
  const server = SctpEndpoint.listen({ socket: ss, ...opts });
  const client = SctpEndpoint.listen({ socket: cs, ...opts });
  try {
    const accepted = new Promise<Association>((resolve) => server.once("association", resolve));
    const c = await within(5000, client.connect(server.localAddress), "handshake");
    const s = await within(5000, accepted, "accept");
    let got = 0;
    let blockOn = -1;
    let blockMs = 0;
    s.on("message", () => {
      // After the delivery that completes message `blockOn`, the process is
      // busy for longer than both the probe timeout and RTO: the server's SACK
      // goes out, and the client can only read it once the loop runs again.
      if (++got === blockOn) setImmediate(() => blockLoop(blockMs));
    });
    const acked = () => c.bufferedAmount === 0;
    const waitAcked = (what: string) => within(5000, new Promise<void>((resolve) => {
      const check = () => (acked() ? resolve() : void setTimeout(check, 2));
      check();
    }), what);
    for (let i = 0; i < 4; i++) c.send(1, new Uint8Array(500).fill(i));
    await waitAcked("warm-up acknowledged");
    const before = c.stats();
    // Longer than RTO (≥ 40 ms) and the probe timeout (max(2·SRTT, 10 ms) ≤ RTO): both fall due during it.
    blockMs = Math.min(2000, Math.max(150, before.rtoMs + 100));
    blockOn = 5;
    c.send(1, new Uint8Array(500).fill(9));
    await waitAcked("blocked round acknowledged");
    const after = c.stats();
    assert.is(got, 5);
    assert.is(after.tailLossProbes, before.tailLossProbes, "no tail-loss probe");
    assert.is(after.t3Expiries, before.t3Expiries, "no T3-rtx expiry");
    assert.is(after.retransmissions, before.retransmissions, "nothing retransmitted");
  } finally {
    for (const a of [...client.associations(), ...server.associations()]) a.abort("test over");
    await Promise.all([client.close(), server.close()]);
    await Promise.all([cs.close(), ss.close()]);
  }
});

test.run();
