import { test } from "uvu";
import * as assert from "uvu/assert";
import { closed, connectPair, makePair, pattern, receiveBytes, sendAll, within } from "./_pair.ts";

test("handshake over a perfect link establishes both sides with negotiated streams", async () => {
  const p = makePair();
  try {
    const { c, s } = await connectPair(p, 8);
    assert.is(c.state, "established");
    assert.is(s.state, "established");
    assert.is(c.outboundStreams, 8);
    assert.is(s.inboundStreams, 8);
    assert.ok(c.stats().idata, "I-DATA negotiated between two sfx endpoints");
  } finally {
    await p.close();
  }
});

test("a message sent by the client arrives byte-exact at the server, and back", async () => {
  const p = makePair();
  try {
    const { c, s } = await connectPair(p);
    const got = new Promise<[number, Uint8Array, number]>((resolve) => s.once("message", (st: number, d: Uint8Array, pp: number) => resolve([st, d, pp])));
    c.send(3, new TextEncoder().encode("hello"), { ppid: 51 });
    const [stream, data, ppid] = await within(5000, got, "message");
    assert.is(stream, 3);
    assert.is(new TextDecoder().decode(data), "hello");
    assert.is(ppid, 51);
  } finally {
    await p.close();
  }
});

test("bulk transfer of 2 MiB in 10 KiB messages is byte-exact on a perfect link", async () => {
  const p = makePair();
  try {
    const { c, s } = await connectPair(p);
    const data = pattern(2 * 1024 * 1024);
    const rx = receiveBytes(s, data.length);
    await sendAll(c, 1, data, 10 * 1024);
    const got = await within(20_000, rx, "bulk");
    assert.ok(Buffer.from(got).equals(Buffer.from(data)));
  } finally {
    await p.close();
  }
});

test("close() delivers everything in flight and both sides report kind shutdown; sends meanwhile say why they fail", async () => {
  const p = makePair({ delayMs: 2 });
  try {
    const { c, s } = await connectPair(p);
    const data = pattern(300_000, 7);
    const rx = receiveBytes(s, data.length);
    c.send(1, data);
    const sc = closed(s);
    const closing = c.close();
    assert.throws(() => c.send(1, data), /Cannot send on the SCTP association to .*: it is closing$/);
    // The server is in SHUTDOWN-RECEIVED (or SHUTDOWN-ACK-SENT) for about one round trip: catch it there (bounded).
    let peerSaw = "";
    for (let i = 0; i < 100_000 && !peerSaw && s.state !== "closed"; i++) {
      if (s.state === "shutdown-received" || s.state === "shutdown-ack-sent") {
        try {
          s.send(1, data);
        } catch (err) {
          peerSaw = (err as Error).message;
        }
      }
      await new Promise((r) => setImmediate(r));
    }
    await within(10_000, closing, "close");
    await within(5000, rx, "data");
    assert.is(c.closeReason?.kind, "shutdown");
    assert.is((await within(5000, sc, "server close")).kind, "shutdown");
    assert.throws(() => c.send(1, data), /: it is closed$/);
    assert.match(peerSaw, /: the peer is closing it$/);
  } finally {
    await p.close();
  }
});

test.run();
