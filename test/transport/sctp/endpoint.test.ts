import { test } from "uvu";
import * as assert from "uvu/assert";
import { setImmediate as tick } from "node:timers/promises";
import { createBridge } from "../../_bridge.ts";
import { CHUNK } from "../../../src/transport/sctp/chunk_types.ts";
import { decodePacketUnchecked, encodePacket } from "../../../src/transport/sctp/packet.ts";
import { type Association, ManualClock, SCTP_DEFAULTS, SctpEndpoint } from "../../../src/transport/sctp/index.ts";
import { openUdpSocket } from "../../../src/transport/udp.ts";
import { closed, connectPair, makeManualPair, makePair, pattern, receiveBytes, within } from "./_pair.ts";

function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  return within(ms, new Promise<void>((resolve) => {
    const check = () => (cond() ? resolve() : void setTimeout(check, 5));
    check();
  }), what);
}

test("PLPMTUD takes the socket's ceiling at once when the path carries it", async () => {
  const p = makePair();
  try {
    const { c, s } = await connectPair(p);
    await waitFor(() => c.stats().pmtu === 65504 && s.stats().pmtu === 65504, 5000, "pmtu");
  } finally {
    await p.close();
  }
});

test("PLPMTUD finds a 1500-byte path under a 64 KiB ceiling, and data then never exceeds it", async () => {
  const opts = { rtoInitial: 50, rtoMin: 20 };
  const p = makePair({ mtu: 1500, maxDatagramSize: 65507 }, opts, opts);
  try {
    const { c, s } = await connectPair(p);
    await waitFor(() => c.stats().pmtu >= 1400, 15_000, "search converges");
    assert.ok(c.stats().pmtu <= 1500, `pmtu ${c.stats().pmtu}`);
    // Count too-big packets carrying data (PLPMTUD probes of the search's last steps may still be in flight).
    let tooBigData = 0;
    p.bridge.filter = (d, dir) => {
      if (dir === "a->b" && d.length > 1500 && decodePacketUnchecked(d).chunks.some((ch) => ch.type === CHUNK.DATA || ch.type === CHUNK.I_DATA)) tooBigData++;
      return true;
    };
    const data = pattern(300_000);
    const rx = receiveBytes(s, data.length);
    c.send(1, data);
    assert.ok(Buffer.from(await within(10_000, rx, "transfer")).equals(Buffer.from(data)));
    assert.is(tooBigData, 0, "no data packet was too big");
  } finally {
    await p.close();
  }
});

test("a receiver that pauses does not make the sender take the path for a black hole: zero-window probes keep the PMTU", async () => {
  const m = makeManualPair({ delayMs: 1 }, { receiveBufferSize: 256 * 1024 });
  try {
    const { c, s } = await m.connect();
    await m.run(2000, 5, () => c.stats().pmtu === 65504);
    assert.is(c.stats().pmtu, 65504, "the search reached the socket's ceiling");
    s.pause(); // a slow disk: the window closes and the sender's probes go unanswered
    let got = 0;
    s.on("message", (_st: number, d: Uint8Array) => (got += d.length));
    for (let k = 0; k < 20; k++) c.send(0, new Uint8Array(60_000));
    await m.run(10_000, 50);
    assert.ok(c.stats().t3Expiries >= 2, `${c.stats().t3Expiries} T3 expiries while paused`);
    assert.is(c.stats().pmtu, 65504, "PMTU kept while the receiver paused");
    s.resume();
    await m.run(4000, 10, () => got === 20 * 60_000);
    assert.is(got, 20 * 60_000);
  } finally {
    await m.close();
  }
});

test("an interface whose MTU went down is seen at the next raise timer: the PMTU comes down to it instead of every packet leaving as IP fragments", async () => {
  const m = makeManualPair({ delayMs: 1, mtu: 1500 });
  try {
    const { c } = await m.connect();
    await m.run(5000, 5, () => c.stats().pmtu >= 1400);
    assert.ok(c.stats().pmtu >= 1400 && c.stats().pmtu <= 1500, `pmtu ${c.stats().pmtu}`);
    m.bridge.a.setMaxDatagramSize(1280);
    await m.run(SCTP_DEFAULTS.pmtuRaiseIntervalMs + 10_000, 1000, () => c.stats().pmtu <= 1280);
    assert.is(c.stats().pmtu, 1280);
  } finally {
    await m.close();
  }
});

test("a path that shrinks under data already cut for it fails the association with a reason that says so (the chunks cannot be resent smaller)", async () => {
  const m = makeManualPair({ delayMs: 1 });
  try {
    const { c, s } = await m.connect();
    await m.run(2000, 5, () => c.stats().pmtu === 65504);
    assert.is(c.stats().pmtu, 65504, "the search reached the socket's ceiling");
    s.on("message", () => {});
    m.bridge.filter = (d, dir) => dir !== "a->b" || d.length <= 1300; // a black hole for big packets
    let reason: { kind: string; message: string } | undefined;
    c.once("close", (r: { kind: string; message: string }) => (reason = r));
    for (let k = 0; k < 4; k++) c.send(1, new Uint8Array(60_000));
    await m.run(120_000, 50, () => reason !== undefined);
    assert.is(c.stats().pmtu, 1200, "fell back to the base size");
    assert.is(reason?.kind, "timeout");
    assert.match(reason!.message, /packets of 65504 bytes had stopped getting through \(the path's packet size shrank\)/);
  } finally {
    await m.close();
  }
});

test("a lost window update does not cost the sender's backed-off RTO: the receiver says it again while no data follows", async () => {
  const m = makeManualPair({ delayMs: 1 }, { receiveBufferSize: 256 * 1024 });
  try {
    const { c, s } = await m.connect();
    s.pause(); // a slow disk: the window shuts, and the sender's zero-window probes back its RTO off
    let got = 0;
    s.on("message", (_st: number, d: Uint8Array) => (got += d.length));
    for (let k = 0; k < 20; k++) c.send(0, new Uint8Array(60_000));
    await m.run(30_000, 50);
    // Backed off as far as it goes: a fifth of the 20 s failure timeout.
    assert.ok(c.stats().rtoMs >= 4000, `the sender's RTO backed off (${c.stats().rtoMs} ms)`);
    let dropped = 0;
    m.bridge.filter = (d, dir) => {
      // The first SACK after the resume (the window update) is lost.
      if (dir === "b->a" && dropped === 0 && decodePacketUnchecked(d).chunks.some((ch) => ch.type === CHUNK.SACK)) {
        dropped++;
        return false;
      }
      return true;
    };
    const resumedAt = m.clock.now();
    s.resume();
    await m.run(15_000, 10, () => got === 20 * 60_000);
    assert.is(dropped, 1);
    assert.is(got, 20 * 60_000);
    const took = m.clock.now() - resumedAt;
    assert.ok(took < 1000, `data flowed again ${took} ms after the resume`);
  } finally {
    await m.close();
  }
});

test("connect() to a silent peer fails at failureTimeoutMs, not up to one backed-off RTO later", async () => {
  for (const failureTimeoutMs of [5000, 20_000]) {
    const clock = new ManualClock();
    const bridge = createBridge({});
    bridge.filter = () => false; // the peer never answers
    const client = SctpEndpoint.listen({ socket: bridge.a, clock, failureTimeoutMs });
    let settledAt = -1;
    let code = "";
    client.connect(bridge.addressOf("b")).catch((e: { code?: string }) => {
      settledAt = clock.now();
      code = e.code ?? String(e);
    });
    for (let t = 0; t < 60_000 && settledAt < 0; t += 100) {
      clock.advance(100);
      await tick();
    }
    assert.is(code, "SFX_CONNECT_FAILED");
    assert.is(settledAt, failureTimeoutMs); // before: 7000 and 25,000
    await client.close();
    await bridge.close();
  }
});

test("bad arguments are refused at once: a port out of range in connect(), data that is not a Uint8Array in send()", async () => {
  const p = makePair();
  try {
    for (const port of [0, 70_000, -1, 1.5]) {
      const refused = await p.client.connect({ address: "10.0.0.2", port }).then(() => undefined, (e: unknown) => e);
      assert.ok(refused instanceof RangeError, `port ${port}: ${String(refused)}`);
    }
    const { c, s } = await connectPair(p);
    for (const bad of [new ArrayBuffer(4), [1, 2, 3], "text"]) {
      assert.throws(() => c.send(1, bad as unknown as Uint8Array), (e: unknown) => e instanceof TypeError);
    }
    assert.is(c.bufferedAmount, 0); // was NaN: send() never returned false again, and the next flush threw
    const got = receiveBytes(s, 3);
    c.send(1, Uint8Array.of(1, 2, 3));
    assert.equal([...(await within(2000, got, "data after the refusals"))], [1, 2, 3]);
  } finally {
    await p.close();
  }
});

test("connect() to a host name, or an address written otherwise (127.000.000.001), is refused at once: the reply would come from the address itself and match nothing, failing after the whole timeout", async () => {
  const p = makePair();
  try {
    for (const address of ["localhost", "127.000.000.001", "example.invalid"]) {
      const refused = await p.client.connect({ address, port: 6969 }).then(() => undefined, (e: unknown) => e);
      assert.ok(refused instanceof RangeError, `${address}: ${String(refused)}`);
      assert.match((refused as Error).message, /takes an IP address/);
    }
  } finally {
    await p.close();
  }
  const socket = await openUdpSocket({ host: "127.0.0.1", port: 0 });
  const e = SctpEndpoint.listen({ socket });
  try {
    const refused = await e.connect({ address: "::ffff:127.0.0.1", port: 6969 }).then(() => undefined, (err: unknown) => err);
    assert.ok(refused instanceof RangeError && /IPv4 socket/.test(refused.message), String(refused));
    // One endpoint per socket: a second took the first one's datagrams, its associations dying unseen.
    assert.throws(() => SctpEndpoint.listen({ socket }), (err: unknown) => err instanceof RangeError && /already has an SCTP endpoint/.test((err as Error).message));
  } finally {
    await e.close();
  }
});

test("messages held while nobody listens are not lost at a graceful close: the first listener, added after it, gets them (the peer was told all was delivered)", async () => {
  const p = makePair();
  try {
    const { c, s } = await connectPair(p);
    for (let i = 0; i < 10; i++) c.send(1, Uint8Array.of(i));
    await within(5000, c.close(), "close");
    await closed(s);
    const got: number[] = [];
    s.on("message", (_stream, data) => got.push(data[0]));
    await tick();
    assert.equal(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  } finally {
    await p.close();
  }
});

test("a listener keeps no state for INITs that never complete the handshake", async () => {
  const p = makePair();
  try {
    for (let i = 0; i < 200; i++) {
      const init = encodePacket({
        srcPort: 1000 + i, dstPort: SCTP_DEFAULTS.sctpPort, verificationTag: 0,
        chunks: [{ type: CHUNK.INIT, initiateTag: i + 1, aRwnd: 65536, outboundStreams: 4, inboundStreams: 4, initialTsn: i, params: [] }],
      });
      // From 200 hosts: one may have only 100 answered at once (the INIT ACK budget).
      p.bridge.inject("b", init, { address: `10.1.0.${i + 1}`, port: 2000 + i });
    }
    await waitFor(() => p.server.stats().initsAnswered === 200, 5000, "INIT ACKs");
    assert.is(p.server.associations().length, 0);
  } finally {
    await p.close();
  }
});

test("with an injected clock, a dead peer is reported at failureTimeoutMs without waiting in real time", async () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock, delayMs: 5 });
  const server = SctpEndpoint.listen({ socket: bridge.b, clock });
  const client = SctpEndpoint.listen({ socket: bridge.a, clock, failureTimeoutMs: 30_000 });
  try {
    let a: Association | undefined;
    void client.connect(bridge.addressOf("b")).then((x) => (a = x));
    for (let i = 0; i < 200 && !a; i++) {
      clock.advance(5);
      await tick();
    }
    assert.ok(a, "established on the manual clock");
    const reason = closed(a!);
    let done = false;
    void reason.then(() => (done = true));
    const t0 = clock.now();
    bridge.setLossRate(1);
    for (let i = 0; i < 400 && !done; i++) {
      clock.advance(100);
      await tick();
    }
    assert.ok(done, "reported");
    assert.is((await reason).kind, "timeout");
    const after = clock.now() - t0;
    assert.ok(after <= 30_100, `reported after ${after} ms of manual time`);
    assert.ok(after >= 20_000, `not before the peer could be declared dead (${after} ms)`);
  } finally {
    for (const x of [...client.associations(), ...server.associations()]) x.abort("done");
    const closing = Promise.all([client.close(), server.close()]);
    for (let i = 0; i < 100; i++) {
      clock.advance(100);
      await tick();
    }
    await closing;
    await bridge.close();
  }
});

test("connect() to an IPv6 address written in long form completes (replies come from its short form)", async () => {
  const serverSocket = await openUdpSocket({ host: "::1", port: 0 });
  const server = SctpEndpoint.listen({ socket: serverSocket });
  const clientSocket = await openUdpSocket({ host: "::1", port: 0 });
  const client = SctpEndpoint.listen({ socket: clientSocket, accept: false });
  try {
    const a = await within(5000, client.connect({ address: "0:0:0:0:0:0:0:1", port: serverSocket.localAddress().port }), "handshake");
    assert.is(a.state, "established");
    assert.is(a.remote.address, "::1");
  } finally {
    await client.close();
    await server.close();
    await clientSocket.close();
    await serverSocket.close();
  }
});

test("one UDP socket serves 30 associations over real loopback, each echoing a message", async () => {
  const sock = await openUdpSocket({ host: "127.0.0.1", port: 0 });
  const server = SctpEndpoint.listen({ socket: sock });
  server.on("association", (a: Association) => a.on("message", (st: number, d: Uint8Array) => a.send(st, d)));
  const clients: SctpEndpoint[] = [];
  try {
    const results = await within(20_000, Promise.all(Array.from({ length: 30 }, async (_, i) => {
      const cs = await openUdpSocket({ host: "127.0.0.1", port: 0 });
      const ep = SctpEndpoint.listen({ socket: cs });
      clients.push(ep);
      const a = await ep.connect(server.localAddress);
      const echoed = new Promise<Uint8Array>((resolve) => a.once("message", (_s: number, d: Uint8Array) => resolve(d)));
      a.send(1, pattern(2000 + i, i));
      const got = await echoed;
      await a.close();
      return Buffer.from(got).equals(Buffer.from(pattern(2000 + i, i)));
    })), "30 echoes");
    assert.ok(results.every(Boolean));
    assert.is(results.length, 30);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  }
});

test.run();
