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
import { setImmediate as tick } from "node:timers/promises";
import { createBridge } from "../../_bridge.ts";
import { type Association, ManualClock, SctpEndpoint } from "../../../src/transport/sctp/index.ts";

test("BBR keeps a 200 kB/s link busy with 16-byte messages (no collapse of its bandwidth estimate)", async () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock, delayMs: 5, rateBytesPerSec: 200_000 });
  const opts = { clock, congestionControl: "bbr" as const, pmtud: false };
  const server = SctpEndpoint.listen({ socket: bridge.b, ...opts });
  const client = SctpEndpoint.listen({ socket: bridge.a, ...opts });
  try {
    let c: Association | undefined;
    let s: Association | undefined;
    server.on("association", (a: Association) => (s = a));
    void client.connect(bridge.addressOf("b")).then((a) => (c = a));
    for (let i = 0; i < 200 && !(c && s); i++) {
      clock.advance(5);
      await tick();
    }
    assert.ok(c && s, "established on the manual clock");
    const arrivals: number[] = [];
    s!.on("message", () => arrivals.push(clock.now()));
    const start = clock.now();
    const message = new Uint8Array(16);
    // 1.5 s of manual time in 1 ms steps, the sender's queue kept full.
    for (let ms = 0; ms < 1500; ms++) {
      for (let n = 0; n < 1000 && c!.send(1, message); n++);
      clock.advance(1);
      await tick();
    }
    const inWindow = (from: number, to: number) => arrivals.filter((t) => t >= start + from && t < start + to).length;
    const early = inWindow(250, 750);
    const late = inWindow(1000, 1500);
    // Each 16-byte message costs about 36 bytes on the wire: the link carries ~2,700 a half second.
    assert.ok(early > 1000, `${early} messages in 0.25–0.75 s`);
    assert.ok(late > 0.7 * early, `${late} messages in 1.0–1.5 s against ${early} in 0.25–0.75 s`);
  } finally {
    for (const a of [...client.associations(), ...server.associations()]) a.abort("done");
    const closing = Promise.all([client.close(), server.close()]);
    for (let i = 0; i < 100; i++) {
      clock.advance(100);
      await tick();
    }
    await closing;
    await bridge.close();
  }
});

test.run();
