import { test } from "uvu";
import v8 from "node:v8";
import vm from "node:vm";
import * as assert from "uvu/assert";
import { isSfxError } from "../../../src/errors.ts";
import { CHUNK, type Chunk, type InitChunk, PARAM } from "../../../src/transport/sctp/chunk_types.ts";
import { parseUnrecognizedParameter } from "../../../src/transport/sctp/param.ts";
import { decodePacketUnchecked, encodePacket } from "../../../src/transport/sctp/packet.ts";
import { type Association, type CloseReason, ManualClock, SctpEndpoint, SCTP_DEFAULTS } from "../../../src/transport/sctp/index.ts";
import type { DatagramHandler, DatagramSocket, RemoteAddress } from "../../../src/transport/datagram.ts";
import { closed, connectPair, makeManualPair, makePair, pattern, receiveBytes, sendAll, within } from "./_pair.ts";

const PORT = SCTP_DEFAULTS.sctpPort;

if (process.env.SCTP_TEST_TIMING) {
  let t0 = 0;
  test.before.each(() => void (t0 = performance.now()));
  test.after.each((ctx) => console.error(`${Math.round(performance.now() - t0)} ms  ${ctx.__test__}`));
}

const CHUNK_NAMES: Record<number, string> = Object.fromEntries(Object.entries(CHUNK).map(([k, v]) => [v, k]));

function packet(vt: number, chunks: Chunk[]): Uint8Array {
  return encodePacket({ srcPort: PORT, dstPort: PORT, verificationTag: vt, chunks });
}

function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  return within(ms, new Promise<void>((resolve) => {
    const tick = () => (cond() ? resolve() : void setTimeout(tick, 5));
    tick();
  }), what);
}

test("a silent peer is reported with close kind timeout within failureTimeoutMs", async () => {
  const p = makePair({}, {}, { failureTimeoutMs: 800 });
  try {
    const { c } = await connectPair(p);
    const t0 = performance.now();
    p.bridge.setLossRate(1, "b->a");
    p.bridge.setLossRate(1, "a->b");
    const reason = await within(3000, closed(c), "failure report");
    const elapsed = performance.now() - t0;
    assert.is(reason.kind, "timeout");
    assert.ok(elapsed < 1200, `reported after ${elapsed} ms`);
  } finally {
    await p.close();
  }
});

test("an endpoint that gives up on a silent peer says so with an ABORT, which a one-way fault lets through: the peer knows at once, not at its own deadline", async () => {
  const p = makePair({}, {}, { failureTimeoutMs: 800 });
  try {
    const { c, s } = await connectPair(p);
    p.bridge.setLossRate(1, "b->a"); // c hears nothing; what c sends still arrives
    c.send(1, pattern(10_000));
    assert.is((await within(3000, closed(c), "failure report")).kind, "timeout");
    const reason = await within(1000, closed(s), "the peer told"); // its own deadline is 20 s away
    assert.is(reason.kind, "peer-abort");
    assert.match(reason.message, /nothing heard from you for \d+ s/);
  } finally {
    await p.close();
  }
});

test("a handshake given up in COOKIE-ECHOED (every COOKIE ACK lost) aborts the association the peer made", async () => {
  let toClient = 0;
  // b->a carries the INIT ACK, then only COOKIE ACKs: all lost.
  const p = makePair({ filter: (_d, dir) => dir === "a->b" || ++toClient <= 1 }, {}, { failureTimeoutMs: 800 });
  try {
    const connecting = p.client.connect(p.bridge.addressOf("b")).then(() => "connected", (err: Error) => err.message);
    const s = await within(3000, p.nextAccepted(), "the server's side established");
    assert.match(await connecting, /no answer to COOKIE ECHO/);
    const reason = await within(1000, closed(s), "the server told"); // its own deadline is 20 s away
    assert.is(reason.kind, "peer-abort");
    assert.match(reason.message, /no answer from you to COOKIE ECHO/);
  } finally {
    await p.close();
  }
});

test("a silent peer with data outstanding is reported as timeout too", async () => {
  const p = makePair({}, {}, { failureTimeoutMs: 800 });
  try {
    const { c } = await connectPair(p);
    p.bridge.setLossRate(1);
    c.send(1, pattern(100_000));
    const reason = await within(3000, closed(c), "failure report");
    assert.is(reason.kind, "timeout");
  } finally {
    await p.close();
  }
});

test("close() right after send() sets the I bit on the last chunk (RFC 7053), so SHUTDOWN does not wait for the peer's delayed SACK", async () => {
  const p = makePair({}, { sackDelayMs: 500 });
  let immediate = 0;
  p.bridge.filter = (d, dir) => {
    if (dir === "a->b") for (const ch of decodePacketUnchecked(d).chunks) if ((ch.type === CHUNK.I_DATA || ch.type === CHUNK.DATA) && (ch as { immediate?: boolean }).immediate) immediate++;
    return true;
  };
  try {
    const { c, s } = await connectPair(p);
    s.on("message", () => {});
    c.send(1, new Uint8Array(100));
    const t = performance.now();
    await within(5000, c.close(), "close");
    assert.is(immediate, 1, "one chunk with the I bit");
    assert.ok(performance.now() - t < 400, `close took ${(performance.now() - t).toFixed(0)} ms (the delayed-SACK timer is 500 ms)`);
  } finally {
    await p.close();
  }
});

test("abort() reaches the peer with its reason", async () => {
  const p = makePair();
  try {
    const { c, s } = await connectPair(p);
    const sc = closed(s);
    c.abort("user pressed ctrl-c");
    assert.is(c.closeReason?.kind, "abort");
    const r = await within(3000, sc, "peer abort");
    assert.is(r.kind, "peer-abort");
    assert.match(r.message, "user pressed ctrl-c");
  } finally {
    await p.close();
  }
});

test("abort()'s reason reaches the peer cut to 200 characters, never inside a surrogate pair", async () => {
  const p = makePair();
  try {
    const { c, s } = await connectPair(p);
    const sc = closed(s);
    c.abort("a".repeat(199) + "\u{1F600}" + "tail");
    const r = await within(3000, sc, "peer abort");
    assert.is(r.peerReason, "a".repeat(199) + "\u{1F600}");
  } finally {
    await p.close();
  }
});

test("the close event fires exactly once", async () => {
  const p = makePair();
  try {
    const { c } = await connectPair(p);
    let n = 0;
    c.on("close", () => n++);
    c.abort("one");
    c.abort("two");
    await c.close();
    assert.is(n, 1);
  } finally {
    await p.close();
  }
});

test("pause({ except: [0] }) holds data but keeps stream 0 flowing, in its own order; resume() delivers the data in order", async () => {
  const p = makePair({}, { receiveBufferSize: 64 * 1024 }, {});
  try {
    const { c, s } = await connectPair(p);
    const got: string[] = [];
    s.on("message", (st: number, d: Uint8Array) => got.push(`${st}:${d[0]}`));
    s.pause({ except: [0] });
    for (let i = 0; i < 5; i++) {
      c.send(1, new Uint8Array(10_000).fill(i)); // data: held
      c.send(0, Uint8Array.of(100 + i)); // control: delivered
    }
    await waitFor(() => got.length === 5, 5000, "the control messages");
    assert.equal(got, ["0:100", "0:101", "0:102", "0:103", "0:104"]);
    s.resume();
    await waitFor(() => got.length === 10, 5000, "the data");
    assert.equal(got.slice(5), ["1:0", "1:1", "1:2", "1:3", "1:4"]);
  } finally {
    await p.close();
  }
});

test("pause() closes the window: send() returns false and stays bounded; resume() completes the transfer", async () => {
  const p = makePair({ delayMs: 1 }, { receiveBufferSize: 64 * 1024 }, { sendHighWaterMark: 256 * 1024 });
  try {
    const { c, s } = await connectPair(p);
    s.pause();
    let delivered = 0;
    s.on("message", (_st: number, d: Uint8Array) => (delivered += d.length));
    const data = pattern(1024 * 1024, 5);
    let off = 0;
    while (off < data.length && c.send(1, data.subarray(off, off + 4096))) off += 4096;
    off += 4096;
    assert.ok(off < data.length, "send() returned false before everything was queued");
    await waitFor(() => c.stats().peerRwnd === 0 && c.stats().bufferedAmount > 0, 5000, "window closes");
    await new Promise((r) => setTimeout(r, 100));
    assert.is(delivered, 0, "nothing delivered while paused");
    assert.ok(c.bufferedAmount <= 256 * 1024 + 4096, `sender buffer bounded (${c.bufferedAmount})`);
    assert.ok(s.stats().windowDrops >= 0);
    const rest = (async () => {
      while (off < data.length) {
        if (!c.send(1, data.subarray(off, off + 4096))) await new Promise<void>((r) => c.once("drain", r));
        off += 4096;
      }
    })();
    s.resume();
    await within(20_000, rest, "rest sent");
    await waitFor(() => delivered === data.length, 20_000, "all delivered");
  } finally {
    await p.close();
  }
});

test("discardQueued() drops the waiting messages it picks; what was sent arrives, in order, and the stream goes on after the hole", async () => {
  const p = makePair({ delayMs: 1 }, { receiveBufferSize: 64 * 1024 }, { sendHighWaterMark: 4 * 1024 * 1024 });
  try {
    const { c, s } = await connectPair(p);
    s.pause();
    const got: string[] = [];
    let ppid7 = 0;
    s.on("message", (st: number, d: Uint8Array, ppid: number) => {
      // Which of the numbered messages this is: its first byte is its number.
      got.push(`${st}:${ppid}:${d.length}:${d[0]}`);
      if (ppid === 7) ppid7 += d.length;
    });
    const msg = (i: number, n: number) => new Uint8Array(n).fill(i);
    for (let i = 0; i < 40; i++) c.send(1, msg(i, 16 * 1024), { ppid: i === 30 ? 9 : 7 });
    c.send(2, msg(99, 1000), { ppid: 7 });
    await waitFor(() => c.stats().peerRwnd === 0, 5000, "window closes");
    const before = c.bufferedAmount;
    const dropped = c.discardQueued((stream, ppid) => stream === 1 && ppid === 7);
    assert.ok(dropped >= 16 * 1024 && dropped % (16 * 1024) === 0, `dropped ${dropped}`);
    assert.ok(dropped > 10 * 16 * 1024, `the window held a few messages; ${dropped / 16384} of 39 were still waiting`);
    assert.is(c.bufferedAmount, before - dropped);
    c.send(1, msg(50, 500), { ppid: 8 });
    c.send(0, new TextEncoder().encode("x"), { ppid: 0 });
    s.resume();
    const kept = 39 - dropped / (16 * 1024);
    await waitFor(() => got.length === kept + 4, 5000, "what was not dropped");
    // Stream 1: the messages sent before the discard (0, 1, …), the one of another ppid, then the new one.
    const one = got.filter((g) => g.startsWith("1:"));
    assert.equal(one, [...Array.from({ length: kept }, (_, i) => `1:7:16384:${i}`), "1:9:16384:30", "1:8:500:50"]);
    assert.ok(got.includes("2:7:1000:99"), "another stream's message is not picked");
    assert.is(ppid7, kept * 16 * 1024 + 1000);
    assert.is(c.discardQueued(() => true), 0, "nothing left to drop");
    await waitFor(() => c.bufferedAmount === 0, 5000, "all acknowledged");
    // Counted per stream, the dropped ones not given: what lets an application wait for one message.
    assert.equal(c.messagesAcknowledged(1), { given: kept + 2, acknowledged: kept + 2 });
    assert.equal(c.messagesAcknowledged(2), { given: 1, acknowledged: 1 });
    assert.equal(c.messagesAcknowledged(0), { given: 1, acknowledged: 1 });
    assert.equal(c.messagesAcknowledged(5), { given: 0, acknowledged: 0 });
    assert.is(c.acknowledgedBytes, (kept + 1) * 16 * 1024 + 1000 + 500 + 1);
  } finally {
    await p.close();
  }
});

test("send() returns false at sendHighWaterMessages queued messages, however small, and 'drain' comes once the queue is down to half", async () => {
  const p = makePair({ delayMs: 1 }, { receiveBufferSize: 4096 }, { sendHighWaterMessages: 100 });
  try {
    const { c, s } = await connectPair(p);
    s.pause(); // the window closes after ~500 bytes: the rest stays queued at the sender
    let accepted = 0;
    while (c.send(1, new Uint8Array(8)) && accepted < 10_000) accepted++;
    assert.ok(accepted < 1000, `send() said false after ${accepted} 8-byte messages`);
    assert.ok(c.bufferedAmount < 64 * 1024, `by count, not bytes (${c.bufferedAmount} buffered)`);
    const drained = new Promise<void>((resolve) => c.once("drain", () => resolve()));
    let got = 0;
    s.on("message", () => got++);
    s.resume();
    await within(5000, drained, "drain");
    assert.ok(c.queuedMessages <= 50, `${c.queuedMessages} still queued at drain`);
    await waitFor(() => got === accepted + 1, 5000, "every message");
  } finally {
    await p.close();
  }
});

test("setSendHighWaterMark(): a lower mark makes send() say false sooner; raising it over what waits brings 'drain'", async () => {
  const p = makePair({ delayMs: 1 }, { receiveBufferSize: 4096 });
  try {
    const { c, s } = await connectPair(p);
    assert.is(c.sendHighWaterMark, SCTP_DEFAULTS.sendHighWaterMark);
    assert.throws(() => c.setSendHighWaterMark(0), RangeError);
    assert.throws(() => c.setSendHighWaterMark(1.5), RangeError);
    c.setSendHighWaterMark(64 * 1024);
    s.pause(); // the window closes: what is sent stays buffered at the sender
    let accepted = 0;
    while (c.send(1, new Uint8Array(1024)) && accepted < 10_000) accepted++;
    assert.ok(accepted >= 60 && accepted < 64, `false at the new mark, after ${accepted} KiB`);
    let drains = 0;
    c.on("drain", () => drains++);
    c.setSendHighWaterMark(100 * 1024); // half of it is under what waits: no drain
    await waitFor(() => c.bufferedAmount >= 63 * 1024, 1000, "buffered");
    await new Promise((r) => setImmediate(r));
    assert.is(drains, 0, "still over half the mark");
    c.setSendHighWaterMark(1024 * 1024);
    assert.is(drains, 0, "not from inside the call");
    await waitFor(() => drains === 1, 1000, "drain after raising the mark");
    s.resume();
  } finally {
    await p.close();
  }
});

test("checkPeer(): true when the peer says anything within the time (asked again meanwhile), at once when it answers, false when the path is dark or the association closes", async () => {
  const p = makePair({ delayMs: 1 });
  try {
    const { c } = await connectPair(p);
    let heartbeats = 0;
    let dark = false;
    p.bridge.filter = (d, dir) => {
      if (dir === "a->b" && decodePacketUnchecked(d).chunks.some((ch) => ch.type === CHUNK.HEARTBEAT)) heartbeats++;
      return !dark;
    };
    assert.is(await within(2000, c.checkPeer(300), "check"), true);
    assert.is(heartbeats, 1, "one HEARTBEAT: the answer came before the next was due");
    // Answered, it resolves then, not at the end of its time.
    assert.is(await within(2000, c.checkPeer(60_000), "an answered check"), true);
    heartbeats = 0;
    dark = true;
    assert.is(await within(2000, c.checkPeer(300), "check"), false);
    assert.is(heartbeats, 3, "asked three times: at once, and at a third and two thirds of the time");
    p.bridge.filter = undefined;
    const pending = c.checkPeer(60_000);
    c.abort("over");
    assert.is(await within(1000, pending, "check on close"), false, "no timer outlives the association");
    assert.is(await c.checkPeer(10), false);
  } finally {
    await p.close();
  }
});

test("checkPeer() over a long time asks every second (a lossy path loses some); silentForMs counts from the last word heard", async () => {
  const m = makeManualPair({ delayMs: 5 });
  try {
    const { c } = await m.connect();
    let heartbeats = 0;
    let dark = true;
    // checkPeer()'s own HEARTBEATs: their information starts with its kind, 3 (liveness and path MTU probes are others).
    const isCheck = (ch: { type: number }) => ch.type === CHUNK.HEARTBEAT && (ch as unknown as { info: Uint8Array }).info[0] === 3;
    m.bridge.filter = (d, dir) => {
      if (dir === "a->b" && decodePacketUnchecked(d).chunks.some(isCheck)) heartbeats++;
      return !dark;
    };
    const before = c.silentForMs;
    let result: boolean | undefined;
    void c.checkPeer(10_000).then((r) => (result = r));
    await m.run(4_500, 10);
    assert.is(heartbeats, 5, "at once, then every second");
    assert.is(result, undefined, "still asking");
    assert.ok(c.silentForMs >= before + 4_500, `silent for ${c.silentForMs} ms`);
    // The path comes back: by the next ask a word has come (an answer, or the peer's own packets), and the check ends then.
    dark = false;
    await m.run(1_500, 10, () => result !== undefined);
    assert.is(result, true);
    assert.ok(c.silentForMs < 1000, `heard within the second (${c.silentForMs} ms ago)`);
  } finally {
    await m.close();
  }
});

test("checkPeer(): an INIT from the peer's address is no word from the peer (tag 0: anyone can send one); the peer's silence still decides", async () => {
  const m = makeManualPair({ delayMs: 5 });
  try {
    const { c } = await m.connect();
    m.bridge.filter = () => false; // the peer is gone
    const from = m.bridge.addressOf("b");
    let result: boolean | undefined;
    void c.checkPeer(5_000).then((r) => (result = r));
    const forged = packet(0, [{ type: CHUNK.INIT, initiateTag: 0x2222_2222, aRwnd: 65536, outboundStreams: 4, inboundStreams: 4, initialTsn: 1, params: [] }]);
    for (let s = 0; s < 5 && result === undefined; s++) {
      await m.run(900, 10);
      m.bridge.inject("a", forged, from);
    }
    await m.run(1_000, 10, () => result !== undefined);
    assert.is(result, false, "silent for the whole time");
    assert.ok(c.silentForMs >= 5_000, `silent for ${c.silentForMs} ms`);
  } finally {
    await m.close();
  }
});

test("a graceful close hands the application the messages pause() held back, before 'close'", async () => {
  const p = makePair({ delayMs: 1 });
  try {
    const { c, s } = await connectPair(p);
    s.pause();
    const events: string[] = [];
    s.on("message", (st: number, d: Uint8Array) => events.push(`${st}:${new TextDecoder().decode(d)}`));
    const closedS = closed(s);
    s.once("close", () => events.push("close"));
    c.send(1, new TextEncoder().encode("data"));
    c.send(0, new TextEncoder().encode("why I stop"));
    await within(10_000, c.close(), "client close");
    await within(5000, closedS, "server close");
    assert.equal(events, ["1:data", "0:why I stop", "close"]);
  } finally {
    await p.close();
  }
});

test("messages pause() held are delivered before 'close' when the SHUTDOWN COMPLETE is lost, and when the peer is then gone", async () => {
  for (const peerGone of [false, true]) {
    // failureTimeoutMs 2000: heartbeats every 500 ms, before T2 (RTO 1 s, never measured) retransmits the SHUTDOWN ACK.
    const p = makePair({ delayMs: 1 }, { failureTimeoutMs: 2000 }, {});
    try {
      const { c, s } = await connectPair(p, 4);
      s.pause();
      const events: string[] = [];
      s.on("message", () => events.push("message"));
      const ended = new Promise<CloseReason>((resolve) => s.once("close", (r: CloseReason) => (events.push("close"), resolve(r))));
      for (let i = 0; i < 6; i++) c.send(0, new Uint8Array(1000).fill(i));
      let lost = 0;
      p.bridge.filter = (d, dir) => {
        if (dir !== "a->b") return true;
        if (peerGone && c.state === "closed") return false; // the client's host is gone: nothing more from it
        if (decodePacketUnchecked(d).chunks[0].type === CHUNK.SHUTDOWN_COMPLETE && lost === 0) return (lost++, false);
        return true;
      };
      await within(5000, c.close(), "the sender's close");
      const reason = await within(10_000, ended, "the receiver's close");
      // Acknowledged data the peer will not send again: the application gets it, then "close".
      assert.equal(events, ["message", "message", "message", "message", "message", "message", "close"], `peer gone: ${peerGone}`);
      // Before: a heartbeat in SHUTDOWN-ACK-SENT drew an ABORT ("peer-abort") and the messages were dropped.
      // With the peer gone, the failure deadline still ends it.
      assert.is(reason.kind, peerGone ? "timeout" : "shutdown");
    } finally {
      await p.close();
    }
  }
});

test("INIT collision: both ends connecting to each other end with one association each", async () => {
  const p = makePair({ delayMs: 5 });
  try {
    let accepted = 0;
    p.server.on("association", () => accepted++);
    p.client.on("association", () => accepted++);
    const [a, b] = await within(10_000, Promise.all([
      p.client.connect(p.bridge.addressOf("b")),
      p.server.connect(p.bridge.addressOf("a")),
    ]), "collision handshake");
    assert.is(a.state, "established");
    assert.is(b.state, "established");
    assert.is(p.client.associations().length, 1);
    assert.is(p.server.associations().length, 1);
    const got = new Promise<Uint8Array>((resolve) => b.once("message", (_s: number, d: Uint8Array) => resolve(d)));
    a.send(0, new Uint8Array([42]));
    assert.equal([...(await within(3000, got, "message"))], [42]);
    assert.is(accepted, 0);
  } finally {
    await p.close();
  }
});

test("a stale cookie is refused with a Stale Cookie error, and no association is created", async () => {
  const p = makePair({ delayMs: 20 }, { cookieLifetimeMs: 1 }, { maxInitRetransmits: 2, rtoInitial: 50, rtoMin: 10 });
  try {
    const err = await p.client.connect(p.bridge.addressOf("b")).then(() => undefined, (e) => e);
    assert.ok(isSfxError(err, "SFX_CONNECT_FAILED"), String(err));
    assert.ok(p.server.stats().staleCookies >= 1);
    assert.is(p.server.associations().length, 0);
  } finally {
    await p.close();
  }
});

test("a packet with a wrong verification tag is dropped", async () => {
  const p = makePair();
  try {
    const { c, s } = await connectPair(p);
    let got = 0;
    s.on("message", () => got++);
    const data: Chunk = { type: CHUNK.DATA, unordered: false, beginning: true, ending: true, immediate: false, tsn: 12345, streamId: 0, ssn: 0, ppid: 0, userData: new Uint8Array([1]) };
    p.bridge.inject("b", packet((s.localTag + 1) >>> 0, [data]), p.bridge.addressOf("a"));
    await waitFor(() => s.stats().badTagPackets === 1, 2000, "drop counted");
    assert.is(got, 0);
    assert.is(s.state, "established");
    assert.is(c.state, "established");
  } finally {
    await p.close();
  }
});

test("a datagram from another address never reaches or redirects the association", async () => {
  const p = makePair();
  try {
    const { s } = await connectPair(p);
    const before = p.server.stats().ootbPackets;
    const data: Chunk = { type: CHUNK.I_DATA, unordered: false, beginning: true, ending: true, immediate: false, tsn: 1, streamId: 0, mid: 0, ppid: 0, fsn: 0, userData: new Uint8Array([1]) };
    p.bridge.inject("b", packet(s.localTag, [data]), { address: "10.9.9.9", port: 5000 });
    await waitFor(() => p.server.stats().ootbPackets === before + 1, 2000, "OOTB counted");
    assert.equal(s.remote, p.bridge.addressOf("a"));
    assert.is(s.state, "established");
  } finally {
    await p.close();
  }
});

test("a peer a NAT maps to another UDP port mid-transfer is followed there (RFC 6951 §5.4); the transfer completes byte-exact", async () => {
  const p = makePair({ delayMs: 1 });
  try {
    const { c, s } = await connectPair(p);
    const ootb = p.server.stats().ootbPackets; // the handshake's INIT and COOKIE ECHO
    const data = pattern(2 * 1024 * 1024, 5);
    const rx = receiveBytes(s, data.length);
    const moves: Array<[number, number]> = [];
    s.on("address", (to: { port: number }, from: number) => moves.push([from, to.port]));
    let sent = 0;
    p.bridge.filter = (d, dir) => {
      // Halfway, the client's NAT mapping moves from port 5000 to 5077: its packets come from
      // there, and what the server still sends to 5000 is lost.
      if (dir === "a->b" && (sent += d.length) > data.length / 2) p.bridge.a.address.port = 5077;
      return true;
    };
    const [got] = await within(20_000, Promise.all([rx, sendAll(c, 1, data, 16384)]), "transfer");
    assert.ok(Buffer.from(got).equals(Buffer.from(data)), "byte-exact");
    assert.equal(s.remote, { address: "10.0.0.1", port: 5077 });
    assert.is(p.server.stats().portChanges, 1);
    assert.equal(moves, [[5000, 5077]], "the association says so");
    assert.is(p.server.stats().ootbPackets, ootb, "none of the packets from the new port out of the blue");
    assert.is(p.server.associations().length, 1);
  } finally {
    await p.close();
  }
});

test("from the peer's address but another port, a packet with a wrong tag moves nothing; nor does one from another address with the right tag", async () => {
  const p = makePair();
  try {
    const { s } = await connectPair(p);
    const before = p.server.stats().ootbPackets;
    const data: Chunk = { type: CHUNK.I_DATA, unordered: false, beginning: true, ending: true, immediate: false, tsn: 1, streamId: 0, mid: 0, ppid: 0, fsn: 0, userData: new Uint8Array([1]) };
    p.bridge.inject("b", packet((s.localTag + 1) >>> 0, [data]), { address: "10.0.0.1", port: 5099 });
    p.bridge.inject("b", packet(s.localTag, [data]), { address: "10.0.0.9", port: 5099 });
    await waitFor(() => p.server.stats().ootbPackets === before + 2, 2000, "both out of the blue");
    assert.equal(s.remote, p.bridge.addressOf("a"));
    assert.is(p.server.stats().portChanges, 0);
  } finally {
    await p.close();
  }
});

test("a COOKIE ECHO sent again from a new port, its COOKIE ACK lost, still gets its COOKIE ACK", async () => {
  // The cookie names the port the INIT came from; the endpoint has followed the peer to its new port.
  const p = makePair({}, {}, { failureTimeoutMs: 3000 });
  try {
    let lost = false;
    p.bridge.filter = (d, dir) => {
      if (dir !== "b->a" || lost || decodePacketUnchecked(d).chunks[0]?.type !== CHUNK.COOKIE_ACK) return true;
      lost = true;
      p.bridge.a.address.port = 5077;
      return false;
    };
    const c = await within(5000, p.client.connect(p.bridge.addressOf("b")), "handshake");
    assert.ok(lost);
    assert.is(c.state, "established");
    assert.is(p.server.associations()[0]?.remote.port, 5077);
  } finally {
    await p.close();
  }
});

test("two peers behind one NAT: one that takes over the other's old port leaves it live, listed and closed with the endpoint", async () => {
  // A tiny network whose sockets' public addresses can change (a NAT's mappings), delivering on the next turn.
  type Node = DatagramSocket & { at: RemoteAddress; deliver?: DatagramHandler };
  const nodes: Node[] = [];
  const node = (address: string, port: number): Node => {
    const n: Node = {
      at: { address, port },
      send(data, to) {
        const from = { ...n.at };
        const copy = data.slice();
        setImmediate(() => nodes.find((m) => m.at.address === to.address && m.at.port === to.port)?.deliver?.(copy, from));
      },
      onMessage(h) {
        n.deliver = h;
      },
      localAddress: () => ({ ...n.at, family: "IPv4" }),
      close() {
        nodes.splice(nodes.indexOf(n), 1);
        return Promise.resolve();
      },
    };
    nodes.push(n);
    return n;
  };
  // Manual time: closing the endpoint gives up on the association whose peer moved away (its
  // SHUTDOWN goes to the other peer's port) only after retransmissions.
  const clock = new ManualClock();
  const until = async (cond: () => boolean, what: string) => {
    for (let t = 0; t < 60_000 && !cond(); t += 20) {
      clock.advance(20);
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(cond(), what);
  };
  const server = SctpEndpoint.listen({ socket: node("10.0.0.9", 9899), clock });
  const accepted: Association[] = [];
  server.on("association", (a: Association) => accepted.push(a));
  const [na, nb] = [node("10.0.0.1", 5000), node("10.0.0.1", 6000)];
  const clients = [SctpEndpoint.listen({ socket: na, accept: false, clock }), SctpEndpoint.listen({ socket: nb, accept: false, clock })];
  try {
    void clients[0].connect({ address: "10.0.0.9", port: 9899 });
    await until(() => accepted.length === 1, "A accepted");
    let b: Association | undefined;
    void clients[1].connect({ address: "10.0.0.9", port: 9899 }).then((x) => (b = x));
    await until(() => accepted.length === 2 && b !== undefined, "B accepted");
    // A's mapping expired while it was idle; B's moves onto A's old port.
    na.at.port = 7000;
    nb.at.port = 5000;
    const moves: string[] = [];
    for (const [i, a] of accepted.entries()) a.on("address", (to: { port: number }, from: number) => moves.push(`${"AB"[i]} ${from} → ${to.port}`));
    b!.send(1, Uint8Array.of(1));
    await until(() => server.stats().portChanges === 1, "B followed");
    assert.equal(accepted[1].remote, { address: "10.0.0.1", port: 5000 });
    // A late packet of A's from the port B now has: A takes the key back, but its port did not change.
    const aHeartbeat = () => accepted[0].stats().packetsReceived;
    const before = aHeartbeat();
    na.at.port = 5000;
    clients[0].associations()[0].send(1, Uint8Array.of(2));
    await until(() => aHeartbeat() > before, "A's packet arrived");
    na.at.port = 7000;
    assert.equal(moves, ["B 6000 → 5000"], "no move reported where the port stayed");
    assert.is(server.stats().portChanges, 1);
    assert.equal(server.associations().length, 2, "A is still listed");
    assert.is(server.stats().associations, 2);
    const closing = server.close();
    await until(() => accepted.every((a) => a.state === "closed"), "both closed with the endpoint");
    await closing;
  } finally {
    const closing = Promise.all([server.close(), ...clients.map((c) => c.close())]);
    await until(() => clients.every((c) => c.associations().length === 0), "clients closed");
    await closing;
  }
});

test("closing while the peer still sends: one SHUTDOWN per packet back, however many DATA packets each answers", async () => {
  // §9.2: in SHUTDOWN-SENT every packet with DATA gets a SHUTDOWN; a batch of arrivals answered
  // together carried one for each of them (found by review).
  const p = makePair({ delayMs: 1 });
  try {
    const { c, s } = await connectPair(p);
    let most = 0;
    let withShutdown = 0;
    p.bridge.filter = (d, dir) => {
      if (dir === "b->a") {
        const n = decodePacketUnchecked(d).chunks.filter((ch) => ch.type === CHUNK.SHUTDOWN).length;
        most = Math.max(most, n);
        if (n > 0) withShutdown++;
      }
      return true;
    };
    const data = pattern(1024 * 1024, 3);
    const rx = receiveBytes(s, data.length);
    for (let o = 0; o < data.length; o += 16384) c.send(1, data.subarray(o, o + 16384));
    await within(5000, new Promise((r) => s.once("message", r)), "first message");
    const closing = s.close();
    const got = await within(20_000, rx, "everything, while the server closes");
    await within(20_000, closing, "graceful close");
    assert.ok(Buffer.from(got).equals(Buffer.from(data)));
    assert.ok(withShutdown > 1, `${withShutdown} packets carried a SHUTDOWN`);
    assert.is(most, 1, "never more than one SHUTDOWN in a packet");
  } finally {
    await p.close();
  }
});

test("malformed datagrams are counted and dropped without throwing", async () => {
  const p = makePair();
  try {
    const { s } = await connectPair(p);
    const junk = [new Uint8Array(3), new Uint8Array(40).fill(0xff), packet(s.localTag, [{ type: CHUNK.COOKIE_ACK }]).map((b, i) => (i === 14 ? b ^ 1 : b))];
    for (const j of junk) p.bridge.inject("b", j, p.bridge.addressOf("a"));
    await waitFor(() => p.server.stats().malformedPackets === 3, 2000, "drops counted");
    assert.is(s.state, "established");
  } finally {
    await p.close();
  }
});

test("unknown chunk types with upper bits 01 and 11 get an ERROR reply; 00 and 10 do not", async () => {
  const p = makePair();
  try {
    const { s } = await connectPair(p);
    const reported: number[] = [];
    p.bridge.filter = (d, dir) => {
      if (dir === "b->a") {
        for (const c of decodePacketUnchecked(d).chunks) {
          if (c.type === CHUNK.ERROR && "causes" in c) for (const cause of c.causes) if (cause.code === 6) reported.push(cause.info[0]);
        }
      }
      return true;
    };
    const unknown = (type: number): Chunk => ({ type, flags: 0, value: new Uint8Array([9, 9, 9, 9]), unknown: true });
    for (const t of [0x3f, 0x7f, 0xbf, 0xfe]) p.bridge.inject("b", packet(s.localTag, [unknown(t)]), p.bridge.addressOf("a"));
    await waitFor(() => reported.length >= 2, 2000, "ERROR replies");
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(reported.sort((a, b) => a - b), [0x7f, 0xfe]);
    assert.is(s.state, "established");
  } finally {
    await p.close();
  }
});

test("an INIT's unknown parameters are skipped, and reported in the INIT ACK only when their upper bits ask for it (§3.2.1)", async () => {
  const p = makePair();
  try {
    let initAck: InitChunk | undefined;
    p.bridge.filter = (d, dir) => {
      const c = decodePacketUnchecked(d).chunks[0];
      if (dir === "b->a" && c.type === CHUNK.INIT_ACK) initAck = c as InitChunk;
      return true;
    };
    const init: InitChunk = {
      type: CHUNK.INIT,
      initiateTag: 0x1234_5678,
      aRwnd: 65536,
      outboundStreams: 4,
      inboundStreams: 4,
      initialTsn: 1,
      params: [
        { type: 0xc123, value: Uint8Array.of(1, 2, 3) }, // 11: skip and report
        { type: 0x8456, value: Uint8Array.of(4, 5, 6, 7) }, // 10: skip silently
      ],
    };
    p.bridge.inject("b", packet(0, [init]), p.bridge.addressOf("a"));
    await waitFor(() => initAck !== undefined, 2000, "INIT ACK");
    const reported = initAck!.params.filter((x) => x.type === PARAM.UNRECOGNIZED_PARAMETER).map(parseUnrecognizedParameter);
    assert.equal(reported.map((x) => ({ type: x.type, value: [...x.value] })), [{ type: 0xc123, value: [1, 2, 3] }]);
    assert.ok(initAck!.params.some((x) => x.type === PARAM.STATE_COOKIE), "the INIT was still answered with a cookie");
  } finally {
    await p.close();
  }
});

/** An INIT (tag 0: anyone who knows the addresses can send one) full of empty "skip and report" parameters. */
function reportBomb(count: number): InitChunk {
  const params = Array.from({ length: count }, () => ({ type: 0xc123, value: new Uint8Array(0) }));
  return { type: CHUNK.INIT, initiateTag: 0x1111_1111, aRwnd: 65536, outboundStreams: 4, inboundStreams: 4, initialTsn: 1, params };
}

test("an INIT full of parameters to report is answered with at most 512 bytes of reports: no 2× reflection from the listener", async () => {
  const p = makePair();
  try {
    const acks: number[] = [];
    p.bridge.filter = (d, dir) => {
      if (dir === "b->a" && decodePacketUnchecked(d).chunks[0].type === CHUNK.INIT_ACK) acks.push(d.length);
      return true;
    };
    const bomb = packet(0, [reportBomb(7000)]);
    p.bridge.inject("b", bomb, { address: "192.0.2.7", port: 4000 });
    await waitFor(() => acks.length === 1, 2000, "INIT ACK");
    assert.ok(acks[0] < 1024, `an INIT of ${bomb.length} bytes got an INIT ACK of ${acks[0]}`);
    assert.is(p.server.stats().associations, 0, "no state kept");
  } finally {
    await p.close();
  }
});

test("a spoofed INIT full of parameters to report leaves a live association established (its INIT ACK stayed under the chunk limit)", async () => {
  const p = makePair();
  try {
    const { c, s } = await connectPair(p);
    const acks: InitChunk[] = [];
    p.bridge.filter = (d, dir) => {
      const first = decodePacketUnchecked(d).chunks[0];
      if (dir === "b->a" && first.type === CHUNK.INIT_ACK) acks.push(first as InitChunk);
      return true;
    };
    // 9,000 reports would make a 72 KB INIT ACK chunk: past 65,535 bytes, its encoding threw and the association was aborted.
    p.bridge.inject("b", packet(0, [reportBomb(9000)]), p.bridge.addressOf("a"));
    await waitFor(() => acks.length === 1, 2000, "INIT ACK");
    assert.is(acks[0].params.filter((x) => x.type === PARAM.UNRECOGNIZED_PARAMETER).length, 64);
    assert.is(s.state, "established");
    assert.is(c.state, "established");
    assert.is(p.server.stats().internalErrors, 0);
    const got = receiveBytes(s, 5);
    c.send(1, pattern(5));
    assert.equal([...(await within(2000, got, "data after the INIT"))], [...pattern(5)]);
  } finally {
    await p.close();
  }
});

test("reconnecting to a peer stuck in SHUTDOWN-ACK-SENT: its SHUTDOWN ACK to our INIT gets a SHUTDOWN COMPLETE (§8.4 (5)), and the new association comes up", async () => {
  const p = makePair();
  try {
    const { c, s } = await connectPair(p);
    let dropToClient = true;
    let dropToServer = false;
    p.bridge.filter = (_d, dir) => !(dir === "b->a" ? dropToClient : dropToServer);
    void c.close(); // SHUTDOWN reaches the server; its SHUTDOWN ACK is lost
    await waitFor(() => s.state === "shutdown-ack-sent", 2000, "server in SHUTDOWN-ACK-SENT");
    dropToServer = true;
    c.abort("client crashed"); // the client forgets the association; its ABORT is lost too
    await waitFor(() => c.state === "closed", 2000, "client gone");
    dropToClient = false;
    dropToServer = false;
    // The server answers the new INIT with a retransmitted SHUTDOWN ACK (§9.2). Dropped as a bad tag,
    // the reconnect waited for the server's shutdown guard (T5) or failed after 5 INITs.
    const c2 = await within(5000, p.client.connect(p.bridge.addressOf("b")), "reconnect");
    assert.is(c2.state, "established");
    assert.is(s.closeReason?.kind, "shutdown");
    assert.is(c2.stats().badTagPackets, 0);
  } finally {
    await p.close();
  }
});

test("a peer that sends one far TSN, then every TSN below it, is held to the window plus one message (§6.2)", async () => {
  const window = 64 * 1024;
  let nextTsn = -1;
  let takenOver = false;
  const p = makePair({}, { pmtud: false, idata: false, receiveBufferSize: window, maxMessageSize: window }, { pmtud: false, idata: false });
  p.bridge.filter = (d, dir) => {
    if (dir === "a->b") for (const ch of decodePacketUnchecked(d).chunks) if (ch.type === CHUNK.DATA) nextTsn = ((ch as { tsn: number }).tsn + 1) >>> 0;
    return !takenOver;
  };
  try {
    const { c, s } = await connectPair(p);
    const first = receiveBytes(s, 1);
    c.send(0, Uint8Array.of(1));
    await within(2000, first, "a first message");
    takenOver = true; // from here on the test speaks for the client
    const data = (tsn: number, ssn: number, bytes: number): Chunk => ({
      type: CHUNK.DATA, unordered: false, beginning: true, ending: true, immediate: false, tsn: tsn >>> 0, streamId: 0, ssn, ppid: 0, userData: new Uint8Array(bytes),
    });
    const inject = (chunk: Chunk) => p.bridge.inject("b", packet(s.localTag, [chunk]), p.bridge.addressOf("a"));
    const far = 3000;
    const before = s.stats().packetsReceived;
    // The first message took SSN 0. SSN 1 (TSN nextTsn) never comes, so nothing after it can be delivered.
    inject(data(nextTsn + far, far + 1, 1)); // the highest TSN first: every TSN below it is a hole
    for (let i = 1; i < far; i++) inject(data(nextTsn + i, i + 1, 16 * 1024));
    await waitFor(() => s.stats().packetsReceived === before + far, 5000, "every packet handled");
    const st = s.stats();
    assert.ok(st.bytesReceived <= 2 * window + 2, `held ${st.bytesReceived} bytes with a ${window}-byte window and messages up to ${window}`);
    assert.ok(st.windowDrops > 2900, `${st.windowDrops} chunks dropped`);
    assert.is(s.state, "established");
  } finally {
    await p.close();
  }
});

/** Bytes in ArrayBuffers once collections stop freeing any (V8 frees backing stores after the collection returns). */
async function settledArrayBuffers(gc: () => void): Promise<number> {
  let last = Infinity;
  for (let i = 0; i < 20; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
    const now = process.memoryUsage().arrayBuffers;
    if (now >= last) return now;
    last = now;
  }
  return last;
}

/** A client taken over after one message: the test then injects I-DATA chunks from it, continuing its TSNs. */
async function takeOverClient(serverOptions: object) {
  let nextTsn = -1;
  let takenOver = false;
  const p = makePair({}, { pmtud: false, ...serverOptions }, { pmtud: false });
  p.bridge.filter = (d, dir) => {
    if (dir === "a->b") for (const ch of decodePacketUnchecked(d).chunks) if (ch.type === CHUNK.I_DATA) nextTsn = ((ch as { tsn: number }).tsn + 1) >>> 0;
    return !takenOver;
  };
  const { c, s } = await connectPair(p);
  const first = receiveBytes(s, 1);
  c.send(0, Uint8Array.of(1));
  await within(2000, first, "a first message");
  takenOver = true;
  /** The first fragment of message `mid` (which never completes), one byte, with `pad` bytes of PAD chunk after it. */
  const inject = (i: number, mid: number, pad: number) => {
    const chunks: Chunk[] = [{
      type: CHUNK.I_DATA, unordered: false, beginning: true, ending: false, immediate: false, tsn: (nextTsn + i) >>> 0, streamId: 0, mid, ppid: 0, fsn: 0, userData: Uint8Array.of(7),
    }];
    if (pad > 0) chunks.push({ type: CHUNK.PAD, length: pad });
    p.bridge.inject("b", packet(s.localTag, chunks), p.bridge.addressOf("a"));
  };
  /** Fragment `fsn` of message `mid`: `bytes` bytes of `fsn & 0xff`. */
  const injectFragment = (i: number, mid: number, fsn: number, beginning: boolean, ending: boolean, bytes: number) => {
    const chunk: Chunk = {
      type: CHUNK.I_DATA, unordered: false, beginning, ending, immediate: false, tsn: (nextTsn + i) >>> 0, streamId: 0, mid, ppid: 0, fsn, userData: new Uint8Array(bytes).fill(fsn & 0xff),
    };
    p.bridge.inject("b", packet(s.localTag, [chunk]), p.bridge.addressOf("a"));
  };
  return { p, s, inject, injectFragment };
}

test("1-byte fragments in 64 KB datagrams do not keep the datagrams alive: held fragments are copied out of them", async () => {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const { p, s, inject } = await takeOverClient({});
  try {
    const n = 400;
    const before = s.stats().packetsReceived;
    const buffers0 = await settledArrayBuffers(gc);
    for (let i = 0; i < n; i++) inject(i, 1 + i, 64_000);
    await waitFor(() => s.stats().packetsReceived === before + n, 5000, "every packet handled");
    const grown = (await settledArrayBuffers(gc)) - buffers0;
    assert.is(s.stats().bytesReceived, 1 + n, "every 1-byte fragment taken");
    // Views would pin 400 × 64 KB = 25.6 MB; copies, 400 bytes.
    assert.ok(grown < 4 * 2 ** 20, `array buffers grew by ${(grown / 2 ** 20).toFixed(1)} MiB for ${n} bytes of fragments`);
    assert.is(s.state, "established");
  } finally {
    await p.close();
  }
});

test("a peer whose fragments average under 64 bytes is refused with an ABORT (Out of Resource), not stalled; 96-byte fragments arrive", async () => {
  const window = 16 * 1024;
  const limit = Math.ceil((2 * window + window) / 64); // 768
  {
    // One message in 96-byte fragments, larger than the window: delivered whole.
    const { p, s, injectFragment } = await takeOverClient({ receiveBufferSize: window, maxMessageSize: 2 * window });
    try {
      const n = 320; // 30 KiB
      const got = receiveBytes(s, n * 96);
      for (let i = 0; i < n; i++) injectFragment(i, 1, i, i === 0, i === n - 1, 96);
      const bytes = await within(5000, got, "the message in 96-byte fragments");
      assert.is(bytes.length, n * 96);
      assert.is(s.state, "established");
    } finally {
      await p.close();
    }
  }
  {
    // 1-byte fragments of incomplete messages: refused once `limit` are held.
    const { p, s, inject } = await takeOverClient({ receiveBufferSize: window, maxMessageSize: window });
    try {
      const ending = closed(s);
      for (let i = 0; i < limit + 10; i++) inject(i, 1 + i, 0);
      const reason = await within(5000, ending, "the association ends");
      assert.is(reason.kind, "error");
      assert.match(reason.message, /fragments of under 64 bytes/);
      assert.is(s.stats().bytesReceived, 1 + limit);
    } finally {
      await p.close();
    }
  }
});

test("a peer restart (§5.2.4 A) towards an endpoint that takes no associations ends the old one and answers ABORT, creating none", async () => {
  const p = makePair({}, {}, { accept: false });
  try {
    const { c } = await connectPair(p);
    const toServer: { vt: number; chunks: Chunk[] }[] = [];
    p.bridge.filter = (d, dir) => {
      if (dir === "a->b") {
        const pk = decodePacketUnchecked(d);
        toServer.push({ vt: pk.verificationTag, chunks: pk.chunks });
        return false;
      }
      return true;
    };
    // The server "restarts": a new INIT from its address and port, then the COOKIE ECHO of the client's answer.
    const newTag = 0x0bad_cafe;
    const init: InitChunk = { type: CHUNK.INIT, initiateTag: newTag, aRwnd: 65536, outboundStreams: 4, inboundStreams: 4, initialTsn: 100, params: [] };
    p.bridge.inject("a", packet(0, [init]), p.bridge.addressOf("b"));
    await waitFor(() => toServer.some((x) => x.chunks[0].type === CHUNK.INIT_ACK), 2000, "INIT ACK");
    const ack = toServer.find((x) => x.chunks[0].type === CHUNK.INIT_ACK)!.chunks[0] as InitChunk;
    const cookie = ack.params.find((x) => x.type === PARAM.STATE_COOKIE)!.value;
    p.bridge.inject("a", packet(ack.initiateTag, [{ type: CHUNK.COOKIE_ECHO, cookie }]), p.bridge.addressOf("b"));
    const reason = await within(2000, closed(c), "the old association ends");
    assert.match(reason.message, /restarted/);
    await waitFor(() => toServer.some((x) => x.chunks[0].type === CHUNK.ABORT), 2000, "ABORT");
    assert.is(toServer.find((x) => x.chunks[0].type === CHUNK.ABORT)!.vt, newTag);
    assert.is(p.client.associations().length, 0);
  } finally {
    await p.close();
  }
});

test("an OOTB packet is answered with ABORT carrying the T bit and the packet's tag", async () => {
  const p = makePair();
  try {
    let abort: { vt: number; t: boolean } | undefined;
    p.bridge.filter = (d, dir) => {
      const pk = decodePacketUnchecked(d);
      if (dir === "b->a" && pk.chunks[0].type === CHUNK.ABORT) abort = { vt: pk.verificationTag, t: (pk.chunks[0] as { tBit: boolean }).tBit };
      return true;
    };
    p.bridge.inject("b", packet(0xdeadbeef, [{ type: CHUNK.HEARTBEAT, info: new Uint8Array(8) }]), p.bridge.addressOf("a"));
    await waitFor(() => abort !== undefined, 2000, "ABORT");
    assert.equal(abort, { vt: 0xdeadbeef, t: true });
  } finally {
    await p.close();
  }
});

test("a peer that no longer knows the association (it restarted, or our address changed) answers with a reflected ABORT: the close says so", async () => {
  const p = makePair();
  try {
    const { c, s } = await connectPair(p);
    p.bridge.filter = (_d, dir) => dir !== "b->a";
    s.abort("restarted"); // the server forgets the association; its ABORT is lost
    await waitFor(() => s.state === "closed", 2000, "server side gone");
    p.bridge.filter = undefined;
    const reason = closed(c);
    c.send(1, pattern(5)); // out of the blue to the server: answered with ABORT, T bit set
    const r = await within(5000, reason, "the client's close");
    assert.is(r.kind, "peer-abort");
    assert.is(r.unknownToPeer, true);
    assert.match(r.message, /no association with us \(it restarted, or our address changed\)/);
  } finally {
    await p.close();
  }
});

test("an OOTB packet under tag 0 that is not a lone INIT is discarded, not answered (§8.5.1)", async () => {
  const p = makePair();
  try {
    const aborts: number[] = [];
    p.bridge.filter = (d, dir) => {
      const pk = decodePacketUnchecked(d);
      if (dir === "b->a" && pk.chunks[0].type === CHUNK.ABORT) aborts.push(pk.verificationTag);
      return true;
    };
    const heartbeat = { type: CHUNK.HEARTBEAT, info: new Uint8Array(8) } as Chunk;
    p.bridge.inject("b", packet(0, [heartbeat]), p.bridge.addressOf("a"));
    // Packets are handled in order: once the next one is answered, the first one was not.
    p.bridge.inject("b", packet(0xdeadbeef, [heartbeat]), p.bridge.addressOf("a"));
    await waitFor(() => aborts.length > 0, 2000, "ABORT");
    assert.equal(aborts, [0xdeadbeef]);
  } finally {
    await p.close();
  }
});

test("the accepting side sends its COOKIE ACK before its first path-MTU probe (§5.1 D)", async () => {
  const p = makePair({}, { pmtud: true }, { pmtud: true });
  try {
    const sent: string[] = [];
    p.bridge.filter = (d, dir) => {
      if (dir === "b->a") sent.push(decodePacketUnchecked(d).chunks.map((c) => CHUNK_NAMES[c.type] ?? c.type).join("+"));
      return true;
    };
    await connectPair(p);
    await waitFor(() => sent.some((x) => x.includes("PAD")), 2000, "a probe");
    const ack = sent.findIndex((x) => x.includes("COOKIE_ACK"));
    const probe = sent.findIndex((x) => x.includes("PAD"));
    assert.ok(ack >= 0 && ack < probe, sent.join(", "));
  } finally {
    await p.close();
  }
});

test("connect() to a peer that never answers fails with SFX_CONNECT_FAILED", async () => {
  const p = makePair({ lossRate: 1 }, {}, { rtoInitial: 20, rtoMin: 10, maxInitRetransmits: 3 });
  try {
    const err = await within(5000, p.client.connect(p.bridge.addressOf("b")).then(() => undefined, (e) => e), "connect failure");
    assert.ok(isSfxError(err, "SFX_CONNECT_FAILED"), String(err));
  } finally {
    await p.close();
  }
});

test("connect() with an aborted signal fails with SFX_CANCELLED", async () => {
  const p = makePair({ lossRate: 1 });
  try {
    const ac = new AbortController();
    const pr = p.client.connect(p.bridge.addressOf("b"), { signal: ac.signal }).then(() => undefined, (e) => e);
    ac.abort();
    const err = await within(2000, pr, "cancel");
    assert.ok(isSfxError(err, "SFX_CANCELLED"), String(err));
    assert.is(p.client.associations().length, 0);
  } finally {
    await p.close();
  }
});

test("connect() cancelled once the peer has its side, by a signal whose reason is text: the peer is told that reason (a handshake lost to another of its addresses), any other reason says 'connect cancelled'", async () => {
  for (const [reason, told] of [["connected through another of the server's addresses", "connected through another of the server's addresses"], [new Error("x"), "connect cancelled"]] as const) {
    const p = makePair();
    try {
      let fromB = 0;
      p.bridge.filter = (_data, dir) => dir !== "b->a" || ++fromB < 2; // the INIT ACK arrives, the COOKIE ACK never does
      const accepted = p.nextAccepted();
      const ac = new AbortController();
      const pr = p.client.connect(p.bridge.addressOf("b"), { signal: ac.signal }).then(() => undefined, (e) => e);
      const s = await within(2000, accepted, "the peer's side");
      const sc = closed(s);
      ac.abort(reason);
      assert.ok(isSfxError(await within(2000, pr, "cancel"), "SFX_CANCELLED"));
      const r = await within(3000, sc, "peer abort");
      assert.is(r.kind, "peer-abort");
      assert.is(r.peerReason, told);
    } finally {
      await p.close();
    }
  }
});

test("a message sent right after the handshake is not lost before a listener is attached", async () => {
  const p = makePair();
  try {
    const acceptedSide = p.nextAccepted();
    const c = await p.client.connect(p.bridge.addressOf("b"));
    c.send(0, new Uint8Array([7]));
    const s = await acceptedSide;
    await new Promise((r) => setTimeout(r, 20));
    const got = await within(2000, receiveBytes(s, 1), "held message");
    assert.equal([...got], [7]);
  } finally {
    await p.close();
  }
});

test("both sides closing at once still completes the shutdown", async () => {
  const p = makePair({ delayMs: 3 });
  try {
    const { c, s } = await connectPair(p);
    await within(5000, Promise.all([c.close(), s.close()]), "simultaneous close");
    assert.is(c.closeReason?.kind, "shutdown");
    assert.is(s.closeReason?.kind, "shutdown");
  } finally {
    await p.close();
  }
});

test.run();
