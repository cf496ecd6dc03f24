/**
 * The INIT ACK budget (SctpOptions.initAcksPerSecond): an INIT costs its
 * sender nothing, from any source address, and its answer costs a State
 * Cookie's MAC; a flood of them must not take the CPU established
 * associations need, nor make the endpoint reflect unbounded traffic.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CHUNK, type Chunk } from "../../../src/transport/sctp/chunk_types.ts";
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

test("INITs are answered up to initAcksPerSecond a second, a quarter of them to one address; the rest are dropped and counted, and the next second has a new budget", async () => {
  const clock = new ManualClock();
  const r = recordingSocket();
  const ep = SctpEndpoint.listen({ socket: r.socket, clock, initAcksPerSecond: 40 });
  try {
    const acks = () => r.sentTypes.filter((t) => t === CHUNK.INIT_ACK).length;
    // One address floods: a quarter of the budget.
    for (let i = 0; i < 100; i++) r.deliver(init(1000 + i), { address: "192.0.2.1", port: 40000 + i });
    assert.is(acks(), 10);
    // Others still get answers, until the second's budget is spent.
    for (let i = 0; i < 40; i++) r.deliver(init(2000 + i), { address: `192.0.2.${10 + i}`, port: 40000 });
    assert.is(acks(), 40);
    r.deliver(init(3000), { address: "192.0.2.99", port: 40000 });
    assert.is(acks(), 40);
    assert.is(ep.stats().initsAnswered, 40);
    assert.is(ep.stats().initsDropped, 101);
    assert.is(r.sentTypes.length, 40, "nothing else sent in their place");
    clock.advance(1000);
    r.deliver(init(4000), { address: "192.0.2.1", port: 40000 });
    assert.is(acks(), 41, "a new second, a new budget");
  } finally {
    await ep.close();
  }
});

test("INITs spoofed as an established association's peer (tag 0: anyone can send them) are answered within the same budget, and the association keeps moving data", async () => {
  const m = makeManualPair({ delayMs: 5 }, { initAcksPerSecond: 40 });
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
    // 5 s of manual time: 10 answers a second at most (a quarter of 40, all from one address).
    assert.ok(initAcks > 0 && initAcks <= 50, `${initAcks} INIT ACKs for 1,000 INITs in 5 s`);
    assert.ok(m.server.stats().initsDropped >= 950, `${m.server.stats().initsDropped} dropped`);
    assert.equal(await got, pattern(200_000));
    assert.is(s.state, "established");
  } finally {
    await m.close();
  }
});

test.run();
