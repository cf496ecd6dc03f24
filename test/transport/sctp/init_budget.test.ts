/**
 * The INIT ACK budget (SctpOptions.initAcksPerSecond, init_budget.ts): an
 * INIT costs its sender nothing, from any source address, and its answer
 * costs a State Cookie's MAC; a flood of them must not take the CPU
 * established associations need, nor make the endpoint reflect unbounded
 * traffic, nor let a few flooding hosts keep everyone else out.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CHUNK, type Chunk } from "../../../src/transport/sctp/chunk_types.ts";
import { InitBudget } from "../../../src/transport/sctp/init_budget.ts";
import { decodePacketUnchecked, encodePacket } from "../../../src/transport/sctp/packet.ts";
import { ManualClock, SctpEndpoint, SCTP_DEFAULTS } from "../../../src/transport/sctp/index.ts";
import type { DatagramHandler, DatagramSocket, RemoteAddress } from "../../../src/transport/datagram.ts";
import { makeManualPair, pattern, receiveBytes } from "./_pair.ts";

const PORT = SCTP_DEFAULTS.sctpPort;

function init(tag: number): Uint8Array {
  const chunk: Chunk = { type: CHUNK.INIT, initiateTag: tag, aRwnd: 65536, outboundStreams: 4, inboundStreams: 4, initialTsn: 1, params: [] };
  return encodePacket({ srcPort: PORT, dstPort: PORT, verificationTag: 0, chunks: [chunk] });
}

/** A socket that records what the endpoint sends, and delivers what the test gives it. */
function recordingSocket(): { socket: DatagramSocket; deliver(data: Uint8Array, from: RemoteAddress): void; sentTypes: number[] } {
  let handler: DatagramHandler = () => {};
  const sentTypes: number[] = [];
  const socket: DatagramSocket = {
    send: (data) => void sentTypes.push(decodePacketUnchecked(data).chunks[0].type),
    onMessage: (h) => void (handler = h),
    onError: () => {},
    localAddress: () => ({ address: "10.0.0.1", port: PORT, family: "IPv4" }),
    maxDatagramSize: () => 1472,
    close: async () => {},
  };
  return { socket, deliver: (data, from) => handler(data, from), sentTypes };
}

test("InitBudget: a sender gets a hundredth of the rate at once and a hundredth a second after; everyone together the rate; both refill continuously", () => {
  let now = 0;
  const b = new InitBudget(400, () => now); // a sender: 4 at once, then 4 a second
  const answered = (address: string, n: number) => Array.from({ length: n }, () => b.take(address)).filter(Boolean).length;
  assert.is(answered("192.0.2.1", 100), 4);
  now += 250;
  assert.is(answered("192.0.2.1", 100), 1, "a quarter of a second: one more");
  // Four flooding hosts take 16; what is left of the 400 is everyone else's.
  for (const a of ["192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"]) assert.is(answered(a, 100), 4);
  let others = 0;
  for (let i = 0; i < 500; i++) others += answered(`10.0.${i >> 8}.${i & 255}`, 1);
  assert.is(others, 400 - 1 - 16, "the budget refilled to its 400 in the quarter second, less the 17 taken since");
  assert.is(b.take("203.0.113.1"), false, "the whole budget is spent");
  now += 10; // 4 more tokens in all, refilled as time passes, not at a second's boundary
  assert.is(answered("203.0.113.2", 1) + answered("203.0.113.3", 1) + answered("203.0.113.4", 1) + answered("203.0.113.5", 1), 4);
  assert.is(b.take("203.0.113.6"), false);
});

test("InitBudget: an IPv6 host's addresses count as its /64; another /64 is another sender; IPv4-mapped addresses are IPv4", () => {
  const b = new InitBudget(400, () => 0);
  for (let i = 0; i < 4; i++) assert.ok(b.take(`2001:db8:1:2::${(i + 1).toString(16)}`));
  assert.is(b.take("2001:db8:1:2:ffff::1"), false, "the same /64");
  assert.ok(b.take("2001:db8:1:3::1"), "another /64");
  for (let i = 0; i < 4; i++) assert.ok(b.take("::ffff:192.0.2.7"));
  assert.is(b.take("192.0.2.7"), false, "the same IPv4 address, written mapped or not");
});

test("InitBudget: senders whose buckets refilled are forgotten, so a flood from ever new addresses keeps a bounded map", () => {
  let now = 0;
  const b = new InitBudget(5000, () => now);
  let most = 0;
  for (let i = 0; i < 200_000; i++) {
    now += 0.2; // 5,000 INITs a second, each from a new address
    b.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    most = Math.max(most, b.trackedSenders);
  }
  assert.ok(most <= 2 * 5000 * 2 + 1024, `${most} senders tracked at most`);
});

test("an endpoint answers INITs within its budget and counts the rest; a flood from a few hosts leaves others their answers", async () => {
  const clock = new ManualClock();
  const r = recordingSocket();
  const ep = SctpEndpoint.listen({ socket: r.socket, clock, initAcksPerSecond: 400 });
  try {
    const acks = () => r.sentTypes.filter((t) => t === CHUNK.INIT_ACK).length;
    let tag = 1000;
    for (const address of ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]) {
      for (let i = 0; i < 100; i++) r.deliver(init(tag++), { address, port: 40000 + i });
    }
    assert.is(acks(), 16, "4 each");
    r.deliver(init(tag++), { address: "198.51.100.1", port: 40000 });
    assert.is(acks(), 17, "another host is answered");
    assert.is(ep.stats().initsAnswered, 17);
    assert.is(ep.stats().initsDropped, 384);
    assert.is(r.sentTypes.length, 17, "nothing else sent in their place");
  } finally {
    await ep.close();
  }
});

test("while four hosts flood INITs at twice the whole budget, a client still connects at its first try", async () => {
  const m = makeManualPair({ delayMs: 5 });
  try {
    const flooders = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"].map((address, i) => ({ address, port: 40000 + i }));
    let tag = 1;
    let c: unknown;
    let connectingSince = -1;
    let failed: unknown;
    // 10,000 INITs a second (the default budget is 5,000), 25 from each host every 10 ms; the
    // client starts connecting half a second in, once the flooders have spent their shares.
    for (let t = 0; t < 2000 && c === undefined && failed === undefined; t += 10) {
      if (t === 500) {
        connectingSince = m.clock.now();
        void m.client.connect(m.bridge.addressOf("b")).then((a) => (c = a), (err) => (failed = err));
      }
      for (const f of flooders) for (let k = 0; k < 25; k++) m.bridge.inject("b", init(tag++), f);
      await m.run(10, 5);
    }
    assert.ok(c !== undefined, `connected (${String(failed ?? "not yet")})`);
    assert.ok(m.clock.now() - connectingSince < 1000, `connected after ${m.clock.now() - connectingSince} ms: before its INIT's first retransmission`);
    assert.ok(m.server.stats().initsDropped > 0, "the flood was over its share");
  } finally {
    await m.close();
  }
});

test("INITs spoofed as an established association's peer (tag 0: anyone can send them) are answered within the same budget, and the association keeps moving data", async () => {
  const m = makeManualPair({ delayMs: 5 }, { initAcksPerSecond: 400 });
  try {
    const { c, s } = await m.connect();
    let initAcks = 0;
    m.bridge.filter = (d, dir) => {
      if (dir === "b->a" && decodePacketUnchecked(d).chunks.some((ch) => ch.type === CHUNK.INIT_ACK)) initAcks++;
      return true;
    };
    const got = receiveBytes(s, 200_000);
    c.send(1, pattern(200_000));
    const peer = m.bridge.addressOf("a");
    for (let i = 0; i < 50; i++) {
      for (let k = 0; k < 20; k++) m.bridge.inject("b", init(5000 + i * 20 + k), peer);
      await m.run(100, 5);
    }
    // 5 s of manual time, one address: 4 at once, then 4 a second.
    assert.ok(initAcks > 0 && initAcks <= 4 + 4 * 5 + 1, `${initAcks} INIT ACKs for 1,000 INITs in 5 s`);
    assert.ok(m.server.stats().initsDropped >= 970, `${m.server.stats().initsDropped} dropped`);
    assert.equal(await got, pattern(200_000));
    assert.is(s.state, "established");
  } finally {
    await m.close();
  }
});

test.run();
