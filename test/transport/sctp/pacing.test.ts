/**
 * BBR pacing with small messages, on a manual clock (deterministic, no
 * waiting in real time): over a rate-limited link the sender keeps up with
 * the link. The pacing budget must be spent in the unit BBR measures
 * bandwidth in (user-data bytes); spent in encoded chunk bytes, every round
 * trip lowered the estimate by the payload's share of the wire and small
 * messages collapsed to almost nothing.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { makeManualPair } from "./_pair.ts";

test("BBR keeps a 200 kB/s link busy with 16-byte messages (no collapse of its bandwidth estimate)", async () => {
  const opts = { congestionControl: "bbr" as const, pmtud: false };
  const m = makeManualPair({ delayMs: 5, rateBytesPerSec: 200_000 }, opts, opts);
  try {
    const { c, s } = await m.connect();
    const arrivals: number[] = [];
    s.on("message", () => arrivals.push(m.clock.now()));
    const start = m.clock.now();
    const message = new Uint8Array(16);
    // 1.5 s of manual time in 1 ms steps, the sender's queue kept full.
    for (let ms = 0; ms < 1500; ms++) {
      for (let n = 0; n < 1000 && c.send(1, message); n++);
      await m.run(1);
    }
    const inWindow = (from: number, to: number) => arrivals.filter((t) => t >= start + from && t < start + to).length;
    const early = inWindow(250, 750);
    const late = inWindow(1000, 1500);
    // Each 16-byte message costs about 36 bytes on the wire: the link carries ~2,700 a half second.
    assert.ok(early > 1000, `${early} messages in 0.25–0.75 s`);
    assert.ok(late > 0.7 * early, `${late} messages in 1.0–1.5 s against ${early} in 0.25–0.75 s`);
  } finally {
    await m.close();
  }
});

test.run();
