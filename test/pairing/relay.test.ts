/** The relay pump over real SCTP associations (the in-memory lossy link): bytes, backpressure, and memory handed back. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Relay } from "../../src/pairing/relay.ts";
import { connectPair, makePair, within } from "../transport/sctp/_pair.ts";

function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  let poll: ReturnType<typeof setInterval> | undefined;
  return within(ms, new Promise<void>((resolve) => {
    if (cond()) return resolve();
    poll = setInterval(() => cond() && resolve(), 1);
  }), what).finally(() => clearInterval(poll));
}

test("relayed messages arrive intact, and the server frees each one's buffer once the receiver acknowledged it", async () => {
  const inbound = makePair({ mtu: 1500 }, { pmtud: false }, { pmtud: false });
  const outbound = makePair({ mtu: 1500 }, { pmtud: false }, { pmtud: false });
  try {
    const { c: sender, s: serverIn } = await connectPair(inbound);
    const { c: serverOut, s: receiver } = await connectPair(outbound);
    const relay = new Relay(serverIn, serverOut);
    const atServer: Uint8Array[] = [];
    serverIn.on("message", (id: number, data: Uint8Array, ppid: number) => {
      atServer.push(data);
      relay.forward(id, data, ppid);
    });
    const got: Uint8Array[] = [];
    receiver.on("message", (_id: number, data: Uint8Array) => got.push(new Uint8Array(data)));
    const messages = [60_000, 1000, 30_000].map((n, k) => new Uint8Array(n).map((_, i) => (i * 7 + k) & 255));
    for (const m of messages) sender.send(1, m, { ppid: 5 });
    await until(() => got.length === 3, 5000, "three messages relayed");
    for (let k = 0; k < 3; k++) assert.equal(got[k], messages[k], `message ${k} byte-exact`);
    await until(() => serverOut.bufferedAmount === 0, 5000, "receiver acknowledged everything");
    // The reassembled messages (whole buffers) are freed; nothing the server still needs is touched.
    assert.is(atServer[0].byteLength, 0, "60 kB message freed");
    assert.is(atServer[2].byteLength, 0, "30 kB message freed");
    assert.is(relay.stats.messages, 3);
    assert.is(relay.stats.bytes, 91_000);
  } finally {
    await inbound.close();
    await outbound.close();
  }
});

test("many tiny messages towards a receiver that reads nothing pause the sender by their count, not only their bytes; all arrive once it reads", async () => {
  const inbound = makePair({ mtu: 1500 }, { pmtud: false }, { pmtud: false });
  // The receiver's window (4 KiB) closes after ~500 of them: the rest queue at the server.
  const outbound = makePair({ mtu: 1500 }, { pmtud: false, receiveBufferSize: 4096 }, { pmtud: false });
  try {
    const { c: sender, s: serverIn } = await connectPair(inbound);
    const { c: serverOut, s: receiver } = await connectPair(outbound);
    receiver.pause();
    const relay = new Relay(serverIn, serverOut);
    serverIn.on("message", (id: number, data: Uint8Array, ppid: number) => relay.forward(id, data, ppid));
    let got = 0;
    receiver.on("message", () => got++);
    for (let i = 0; i < 5000; i++) sender.send(1, new Uint8Array(8), { ppid: 5 });
    await until(() => relay.paused, 5000, "the relay to pause the sender");
    assert.ok(serverOut.bufferedAmount < 64 * 1024, `few bytes (${serverOut.bufferedAmount}) yet paused`);
    assert.ok(serverOut.queuedMessages <= 1100, `queued messages bounded (${serverOut.queuedMessages})`);
    // The receiver reads again: the relay resumes the sender (it waited for a "drain" that never came) and everything arrives.
    receiver.resume();
    await until(() => got === 5000, 10_000, "all 5000 to arrive");
    assert.not.ok(relay.paused);
  } finally {
    await inbound.close();
    await outbound.close();
  }
});

test("a receiver closing its connection mid-relay (SCTP SHUTDOWN) stops the relay; nothing throws into the server", async () => {
  const inbound = makePair({ mtu: 1500 }, { pmtud: false }, { pmtud: false });
  const outbound = makePair({ mtu: 1500, delayMs: 2 }, { pmtud: false }, { pmtud: false });
  try {
    const { c: sender, s: serverIn } = await connectPair(inbound);
    const { c: serverOut, s: receiver } = await connectPair(outbound);
    const relay = new Relay(serverIn, serverOut);
    const thrown: unknown[] = [];
    serverIn.on("message", (id: number, data: Uint8Array, ppid: number) => {
      try {
        relay.forward(id, data, ppid);
      } catch (err) {
        thrown.push(err);
      }
    });
    const closing = receiver.close(); // graceful: the server's side is soon "the peer is closing it"
    await until(() => serverOut.state !== "established", 5000, "the server's side sees the SHUTDOWN");
    for (let i = 0; i < 5; i++) sender.send(1, new Uint8Array(10_000), { ppid: 5 });
    await until(() => serverIn.stats().bytesReceived >= 50_000, 5000, "data reached the server");
    await within(5000, closing, "receiver closed");
    assert.equal(thrown, []);
    assert.is(relay.stats.messages, 0, "nothing was relayed to a closing association");
  } finally {
    await inbound.close();
    await outbound.close();
  }
});

test("a receiver that stops reading pauses the sender: the server holds at most its buffers, then everything arrives", async () => {
  const opts = { pmtud: false, sendHighWaterMark: 256 * 1024, receiveBufferSize: 256 * 1024 };
  const inbound = makePair({ mtu: 1500 }, opts, opts);
  const outbound = makePair({ mtu: 1500 }, opts, opts);
  try {
    const { c: sender, s: serverIn } = await connectPair(inbound);
    const { c: serverOut, s: receiver } = await connectPair(outbound);
    const relay = new Relay(serverIn, serverOut);
    serverIn.on("message", (id: number, data: Uint8Array, ppid: number) => relay.forward(id, data, ppid));
    let got = 0;
    receiver.on("message", (_id: number, d: Uint8Array) => (got += d.length));
    receiver.pause();
    const total = 4 * 1024 * 1024;
    const chunk = new Uint8Array(16 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += chunk.length; // queued even when send() says "wait for drain"
        if (!sender.send(1, chunk)) return;
      }
    };
    sender.on("drain", pump);
    pump();
    await until(() => relay.paused, 5000, "the relay pauses the sender");
    // While paused, the sender is held back: far less than the file has left it.
    await until(() => sender.bufferedAmount > 0, 5000, "sender backed up");
    assert.ok(sent < total, `the sender was held back (${sent} of ${total} queued)`);
    assert.ok(relay.stats.peakBuffered <= 2 * opts.sendHighWaterMark, `server-side queue bounded: ${relay.stats.peakBuffered}`);
    receiver.resume();
    await until(() => got === total, 20_000, "everything relayed after resume");
    assert.ok(relay.stats.pauses >= 1);
  } finally {
    await inbound.close();
    await outbound.close();
  }
});

test.run();
