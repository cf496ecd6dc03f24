import { test } from "uvu";
import * as assert from "uvu/assert";
import { ClientConnection } from "../../src/client/connection.ts";
import { isSfxError } from "../../src/errors.ts";
import { CONTROL_PPID, decodeMessage, ErrorMessage, Hello, Offer, Ping, Pong, PROTOCOL_VERSION, Welcome, type AnyMessage } from "../../src/protocol/index.ts";
import { type Harness, startHarness, until } from "../pairing/_harness.ts";
import { type FakeAssociation, fakeAssociationPair } from "../_fake_association.ts";

const enc = (s: string) => new TextEncoder().encode(s);

type Client = Awaited<ReturnType<Harness["client"]>>;

/** A client that stops reading, then asks `pings` times: the server queues as many pongs for it (about 1 KiB each, as counted). */
async function askingWithoutReading(h: Harness, pings: number, what: string): Promise<Client> {
  const c = await h.client();
  c.fake.stall();
  for (let n = 0; n < pings; n++) c.conn.send(Ping, { n });
  await until(() => c.serverSide.sentMessages >= pings + 1 || c.serverSide.closed, 2000, `${what}'s pongs`);
  return c;
}

/** Tests that ask with pings (the cheapest question) have every one answered; by default a connection gets 10 a second. */
const ASK_FREELY = 1e9;

function collect(fake: FakeAssociation): AnyMessage[] {
  const got: AnyMessage[] = [];
  fake.on("message", (stream: number, data: Uint8Array) => {
    if (stream === 0) got.push(decodeMessage(data));
  });
  return got;
}

test("hello gets a welcome with a fresh six-digit ID, the server's name, version and limits", async () => {
  const h = startHarness({ maxFileSize: 1234 });
  try {
    const { conn } = await h.client();
    assert.match(conn.id, /^[1-9][0-9]{5}$/);
    assert.is(conn.welcome.server.name, "test");
    assert.is(conn.welcome.limits.maxFileSize, 1234);
    assert.ok(h.logs.some((l) => l.message.includes("got its ID")));
    assert.ok(h.logs.some((l) => l.message.startsWith("Connection from 127.0.0.1:")));
  } finally {
    await h.close();
  }
});

test("a client its NAT moves to another UDP port is logged as such, under its ID", async () => {
  const h = startHarness();
  try {
    const { conn, serverSide } = await h.client();
    const was = serverSide.remote.port;
    (serverSide.remote as { port: number }).port = was + 1;
    serverSide.emit("address", serverSide.remote, was);
    const line = h.logs.find((l) => l.message.includes("its NAT gave it a new mapping"));
    assert.ok(line, "logged");
    assert.ok(line.message.includes(conn.id.replace(/(\d{3})(\d{3})/, "$1 $2")) && line.message.includes(`port ${was + 1}, not ${was}`), line.message);
  } finally {
    await h.close();
  }
});

test("a client that keeps asking while it reads nothing is cut off once its unread replies pass the limit", async () => {
  const h = startHarness({}, {}, { pingsPerSecond: ASK_FREELY, maxUnreadBytes: 64 * 1024 });
  try {
    const { conn, fake, serverSide } = await h.client();
    const closed = new Promise<{ kind: string; message?: string }>((r) => fake.once("close", r));
    fake.stall(); // this client takes nothing more from the server
    for (let n = 0; n < 10_000 && !serverSide.closed; n++) conn.send(Ping, { n });
    const reason = await closed;
    assert.is(reason.kind, "peer-abort");
    assert.match(reason.message ?? "", /does not read the server's replies/);
    assert.ok(serverSide.peakBuffered <= 64 * 1024 + 100, `unread replies stayed bounded (${serverSide.peakBuffered})`);
    assert.ok(h.logs.some((l) => l.level === "warn" && /reads nothing of what it asks for/.test(l.message)));
  } finally {
    await h.close();
  }
});

test("a client that asks without reading is cut off at its own limit of unread replies, each counted with its cost queued, long before the 24 MiB all its data may take", async () => {
  const h = startHarness({}, {}, { pingsPerSecond: ASK_FREELY, maxUnreadControlBytes: 64 * 1024 });
  try {
    const { conn, fake, serverSide } = await h.client();
    const closed = new Promise<{ kind: string; message?: string }>((r) => fake.once("close", r));
    fake.stall();
    let sent = 0;
    for (; sent < 10_000 && !serverSide.closed; sent++) conn.send(Ping, { n: sent });
    await until(() => serverSide.closed, 3000, "the client to be cut off");
    assert.match((await closed).message ?? "", /does not read the server's replies/);
    // A pong is some 30 bytes, counted at 1 KiB with what it costs queued: cut off after about 64 of them.
    assert.ok(serverSide.sentMessages < 100, `cut off after ${serverSide.sentMessages} replies`);
    assert.ok(h.logs.some((l) => l.level === "warn" && /reads nothing of what it asks for \(\d+(\.\d)? KiB of replies waiting\)/.test(l.message)), JSON.stringify(h.logs.map((l) => l.message)));
  } finally {
    await h.close();
  }
});

test("clients that each stay under their own limit but together pass the server's are cut off, the one holding most first, until a quarter is free; a client that reads is untouched", async () => {
  const h = startHarness({}, {}, { pingsPerSecond: ASK_FREELY, maxUnreadControlBytes: 64 * 1024, maxUnreadControlTotal: 256 * 1024, unreadGraceMs: 0 });
  try {
    const reader = await h.client();
    // Each leaves 40 to 55 pongs unread (about 41 to 56 KiB counted): under 64 KiB each, over 256 KiB together.
    const stalled: Client[] = [];
    for (const [i, count] of [40, 45, 55, 50, 48, 42].entries()) stalled.push(await askingWithoutReading(h, count, `client ${i}`));
    const cut = stalled.map((c, i) => [i, c.serverSide.closed] as const).filter(([, closed]) => closed).map(([i]) => i);
    // Over 256 KiB once the sixth had sent: the one with 55, then the one with 50, bring it under 192 KiB.
    assert.equal(cut, [2, 3]);
    assert.ok(h.logs.some((l) => /KiB unacknowledged, nothing acknowledged for [\d.]+ s, while all clients leave [\d.]+ KiB unread, over the server's 256 KiB/.test(l.message)), JSON.stringify(h.logs.map((l) => l.message)));
    // The client that reads is still served.
    const before = reader.serverSide.sentMessages;
    reader.conn.send(Ping, { n: 1 });
    await until(() => reader.serverSide.sentMessages > before, 2000, "the reader's pong");
    assert.not.ok(reader.serverSide.closed);
  } finally {
    await h.close();
  }
});

test("past the server's total, a client whose replies were only just queued is not cut off, however much it holds: those whose replies have waited the grace time are (others cannot make a well-behaved client's fresh listing the heaviest)", async () => {
  const clock = { t: 1_000_000 };
  const h = startHarness({}, {}, { pingsPerSecond: ASK_FREELY, maxUnreadControlBytes: 1024 * 1024, maxUnreadControlTotal: 256 * 1024, unreadGraceMs: 300, now: () => clock.t });
  try {
    // ~46 KiB each, 230 KiB in all: under 256.
    const attackers: Client[] = [];
    for (let i = 0; i < 5; i++) attackers.push(await askingWithoutReading(h, 45, `attacker ${i}`));
    clock.t += 400; // they are past the grace time now
    // The victim is offered 3,000 files: a 200 KB message queued for it at once, the heaviest anyone holds.
    const victim = await h.client();
    victim.fake.stall(); // the offer is in flight, just queued
    const sender = await h.client();
    const files = Array.from({ length: 3000 }, (_, i) => ({ path: `photos/2026/holiday/img-${String(i).padStart(5, "0")}.jpg`, size: 1 }));
    sender.conn.send(Offer, { xid: 1, to: victim.conn.id, files });
    await until(() => victim.serverSide.sentBytes > 150_000 || victim.serverSide.closed, 2000, "the offer relayed");
    await until(() => attackers.every((a) => a.serverSide.closed), 2000, "the attackers cut off");
    assert.not.ok(victim.serverSide.closed, "the fresh one stays");
  } finally {
    await h.close();
  }
});

test("over the total on a quiet server, the clients that read nothing are cut off once they have waited the grace time, with no further message to set it off", async () => {
  const h = startHarness({}, {}, { pingsPerSecond: ASK_FREELY, maxUnreadControlBytes: 1024 * 1024, maxUnreadControlTotal: 256 * 1024, unreadGraceMs: 300 });
  try {
    // ~51 KiB each: the sixth passes 256 KiB, all fresh.
    const attackers: Client[] = [];
    for (let i = 0; i < 6; i++) attackers.push(await askingWithoutReading(h, 50, `attacker ${i}`));
    const t = Date.now();
    await until(() => attackers.filter((a) => a.serverSide.closed).length >= 2, 10_000, "the cut-off once the grace is over");
    assert.ok(Date.now() - t >= 100, "not before the grace");
    assert.ok(h.logs.some((l) => /nothing acknowledged for [\d.]+ s/.test(l.message)), JSON.stringify(h.logs.map((l) => l.message)));
  } finally {
    await h.close();
  }
});

test("over the total, a client whose oldest reply has waited the grace time but that keeps acknowledging (a slow path carrying it) is not cut off; the ones that acknowledge nothing are", async () => {
  const h = startHarness({}, {}, { pingsPerSecond: ASK_FREELY, maxUnreadControlBytes: 1024 * 1024, maxUnreadControlTotal: 256 * 1024, unreadGraceMs: 300 });
  const slowClient = await h.client();
  // Its replies stay unacknowledged, yet 70 KB of what it was sent is acknowledged every 100 ms (data on another stream, say).
  slowClient.fake.stall();
  const moving = setInterval(() => (slowClient.serverSide.acknowledgedBytes += 70_000), 100);
  try {
    for (let n = 0; n < 80; n++) slowClient.conn.send(Ping, { n }); // ~82 KiB: the heaviest
    await until(() => slowClient.serverSide.sentMessages >= 81, 2000, "the slow client's pongs");
    // 4 × ~46 KiB: with the slow client, over 256 KiB.
    const attackers: Client[] = [];
    for (let i = 0; i < 4; i++) attackers.push(await askingWithoutReading(h, 45, `attacker ${i}`));
    await until(() => attackers.filter((a) => a.serverSide.closed).length >= 2, 3000, "attackers cut off after the grace");
    assert.not.ok(slowClient.serverSide.closed, "the client that keeps acknowledging stays");
  } finally {
    clearInterval(moving);
    await h.close();
  }
});

test("connections from one address that each send undecodable messages until cut off add at most 200 lines to the log at once, not 23 each", async () => {
  const h = startHarness({ maxClientsPerAddress: 1000 });
  try {
    const fakes: FakeAssociation[] = [];
    for (let i = 0; i < 20; i++) {
      const { fake } = h.raw();
      fakes.push(fake);
      for (let n = 0; n < 20; n++) fake.send(0, enc("not json"), { ppid: CONTROL_PPID });
    }
    await until(() => fakes.every((f) => f.closed), 5000, "every connection cut off");
    const lines = h.logs.filter((l) => /Connection from|Protocol error|protocol errors|disconnected/.test(l.message));
    // Without the budget: 20 × (a connection line, 20 errors, the abort, the disconnection) = 460.
    assert.ok(lines.length <= 201, `${lines.length} lines`);
    assert.ok(lines.length >= 190, "the burst is logged");
  } finally {
    await h.close();
  }
});

test("a client's error reports in a loop add 20 lines to the log, then a few a minute, saying how many were held back", async () => {
  let t = 1_000_000;
  const { LogBudget } = await import("../../src/pairing/log.ts");
  const budget = new LogBudget({ now: () => t });
  const client = {};
  const let20 = Array.from({ length: 100 }, () => budget.take(client)).filter((n) => n >= 0);
  assert.is(let20.length, 20);
  t += 3_000; // one line a 3 s (20 a minute)
  assert.is(budget.take(client), 80, "the next line says 80 were held back");
  assert.is(budget.take(client), -1);
  assert.is(budget.take({}), 0, "another client has its own budget");
  const h = startHarness();
  try {
    const { conn } = await h.client();
    for (let i = 0; i < 200; i++) conn.send(ErrorMessage, { code: "SFX_IO", message: `report ${i}` });
    // Stream 0 is ordered: once a bad message after them is answered, all 200 were handled.
    const answered = conn.waitFor((m) => ErrorMessage.is(m) && m.code === "SFX_PROTOCOL");
    conn.sendControl(enc(JSON.stringify({ type: "no.such.message" })));
    await answered;
    assert.is(h.logs.filter((l) => /reported SFX_IO/.test(l.message)).length, 20);
  } finally {
    await h.close();
  }
});

test("a client that reconnects gets no fresh log budget: 60 connections from one address, each with 20 error reports, add 20 report lines, not 1,200; all their connection lines share the address's 200", async () => {
  const h = startHarness({ maxClientsPerAddress: 1000 });
  try {
    for (let i = 0; i < 60; i++) {
      const { conn } = await h.client();
      for (let n = 0; n < 20; n++) conn.send(ErrorMessage, { code: "SFX_IO", message: `report ${n} of connection ${i}` });
      const answered = conn.waitFor((m) => ErrorMessage.is(m) && m.code === "SFX_PROTOCOL");
      conn.sendControl(enc(JSON.stringify({ type: "no.such.message" })));
      await answered;
      await conn.abort("again");
    }
    assert.is(h.logs.filter((l) => /reported SFX_IO/.test(l.message)).length, 20);
    // A connection, its ID, its protocol error, its disconnection: 4 each, 240 in all, of which the address's 200.
    const about = h.logs.filter((l) => /Connection from|got its ID|Protocol error|disconnected/.test(l.message));
    assert.ok(about.length <= 200, `${about.length} lines`);
  } finally {
    await h.close();
  }
});

test("clients from one address beyond --max-clients-per-address are refused with SFX_LIMIT; a slot freed is taken again", async () => {
  const h = startHarness({ maxClientsPerAddress: 2 });
  try {
    const a = await h.client();
    await h.client();
    try {
      await h.client();
      assert.unreachable("a third client from one address was let in");
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_LIMIT"), String(err));
      assert.match((err as Error).message, /Too many clients from 127\.0\.0\.1: 2 are connected/);
    }
    await a.conn.close();
    await until(() => h.service.sessions.ids.size === 1, 2000, "the first client's slot to be free");
    await h.client();
  } finally {
    await h.close();
  }
});

test("a client of another protocol version gets SFX_INCOMPATIBLE_VERSION naming both versions", async () => {
  const h = startHarness();
  try {
    await h.client({ protocol: PROTOCOL_VERSION + 1 });
    assert.unreachable("connected");
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_INCOMPATIBLE_VERSION"), String(err));
    assert.match((err as Error).message, new RegExp(`protocol ${PROTOCOL_VERSION} .*protocol ${PROTOCOL_VERSION + 1}`));
  } finally {
    await h.close();
  }
});

test("a hello or welcome of another protocol version whose other fields changed shape still gets SFX_INCOMPATIBLE_VERSION, not 'invalid message'", async () => {
  // A later client: its hello is invalid to this server's schema (protocol above 65535, client an object).
  const h = startHarness();
  try {
    const { fake } = h.raw();
    const got = collect(fake);
    let closed = false;
    fake.on("close", () => (closed = true));
    fake.send(0, enc(JSON.stringify({ type: "hello", protocol: 70000, client: { name: "sfx", version: "9.0.0" } })), { ppid: CONTROL_PPID });
    await until(() => got.some((m) => ErrorMessage.is(m)) && closed, 2000, "an error, then the close");
    const [err] = got.filter((m) => ErrorMessage.is(m));
    assert.is(err.code, "SFX_INCOMPATIBLE_VERSION");
    assert.match(err.message as string, `the client speaks protocol 70000 (unknown)`);
  } finally {
    await h.close();
  }
  // A later server: its welcome is invalid to this client's schema.
  const [client, server] = fakeAssociationPair();
  server.on("message", () => {
    const welcome = { type: "welcome", protocol: PROTOCOL_VERSION + 1, id: "482913", server: { name: "next", version: "9.0.0" }, limits: { maxFileSize: "10G" } };
    server.send(0, enc(JSON.stringify(welcome)), { ppid: CONTROL_PPID });
  });
  const err = await ClientConnection.handshake(client, { timeoutMs: 2000 }).then(() => undefined, (e: unknown) => e);
  assert.ok(isSfxError(err, "SFX_INCOMPATIBLE_VERSION"), String(err));
  assert.match((err as Error).message, `the server speaks sfx protocol ${PROTOCOL_VERSION + 1} (sfx 9.0.0)`);
});

test("malformed and unknown messages get an SFX_PROTOCOL error reply and the session keeps working", async () => {
  const h = startHarness();
  try {
    const { fake } = h.raw();
    const got = collect(fake);
    fake.send(0, Hello.encode({ protocol: PROTOCOL_VERSION, client: "test" }), { ppid: CONTROL_PPID });
    await until(() => got.some((m) => Welcome.is(m)));
    const junk = [enc("{nope"), enc('{"type":"launch"}'), enc('{"type":"accept","xid":"x"}'), new Uint8Array([0xff]), enc('{"type":"welcome","protocol":1}')];
    for (const j of junk) fake.send(0, j, { ppid: CONTROL_PPID });
    await until(() => got.filter((m) => ErrorMessage.is(m)).length === junk.length, 2000, "an error per bad message");
    for (const m of got.filter((m) => ErrorMessage.is(m))) assert.is(m.code, "SFX_PROTOCOL");
    fake.send(0, Ping.encode({ n: 42 }), { ppid: CONTROL_PPID });
    await until(() => got.some((m) => m.type === "pong" && m.n === 42), 2000, "pong");
    assert.not.ok(fake.closed);
    assert.ok(h.logs.some((l) => l.level === "warn" && l.message.includes("Protocol error")));
  } finally {
    await h.close();
  }
});

test("anything before hello is refused with an error; a flood of bad messages aborts the association", async () => {
  const h = startHarness();
  try {
    const { fake } = h.raw();
    const got = collect(fake);
    fake.send(0, Ping.encode({ n: 1 }), { ppid: CONTROL_PPID });
    await until(() => got.some((m) => ErrorMessage.is(m)));
    let closed = false;
    fake.on("close", () => (closed = true));
    for (let i = 0; i < 30 && !fake.closed; i++) fake.send(0, enc("garbage"), { ppid: CONTROL_PPID });
    await until(() => closed, 2000, "abort");
  } finally {
    await h.close();
  }
});

test("a client that never says hello is dropped after the hello timeout", async () => {
  const h = startHarness({ helloTimeoutMs: 100 });
  try {
    const { fake } = h.raw();
    let closed = false;
    fake.on("close", () => (closed = true));
    await until(() => closed, 2000, "the server to drop the silent client");
  } finally {
    await h.close();
  }
});

test("past 64 connections from one address that have not said hello, more are aborted at once; once those are dropped the address connects again", async () => {
  const h = startHarness({ maxClients: 100, maxClientsPerAddress: 100, helloTimeoutMs: 300 });
  try {
    const closes: string[] = [];
    const open = (n: number) => {
      for (let i = 0; i < n; i++) {
        const { fake } = h.raw();
        fake.on("close", (r: { message?: string }) => closes.push(r.message ?? ""));
      }
    };
    open(64);
    assert.is(h.service.sessions.sessions.size, 64);
    assert.equal(closes, []);
    open(3);
    await until(() => closes.length === 3, 2000, "three refusals");
    assert.ok(closes.every((m) => /waiting to say hello/.test(m)), closes.join(" | "));
    assert.is(h.service.sessions.sessions.size, 64);
    try {
      await h.client();
      assert.unreachable("a 17th handshake from the address was let in");
    } catch (err) {
      assert.match(String(err), /waiting to say hello/);
    }
    // Once the silent ones are dropped (hello timeout), the address may connect again.
    await until(() => closes.length === 3 + 64, 3000, "the silent connections dropped");
    await h.client();
  } finally {
    await h.close();
  }
});

test("the server refuses clients beyond maxClients with SFX_LIMIT", async () => {
  const h = startHarness({ maxClients: 2 });
  try {
    await h.client();
    await h.client();
    try {
      await h.client();
      assert.unreachable();
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_LIMIT"), String(err));
    }
  } finally {
    await h.close();
  }
});

test("an idle client is disconnected; a pinging one is not, even when the idle timeout is under a second", async () => {
  // Clients pinged every second at the least: against a 600 ms timeout, a waiting receiver was dropped.
  const h = startHarness({ idleTimeoutMs: 600 });
  try {
    const { fake } = h.raw();
    const told = collect(fake);
    fake.send(0, Hello.encode({ protocol: PROTOCOL_VERSION, client: "silent" }), { ppid: CONTROL_PPID });
    const { conn } = await h.client(); // pings every idle/3
    let closed = false;
    fake.on("close", () => (closed = true));
    await until(() => closed, 3000, "the idle client to be dropped");
    // The timeout as set, to the tenth of a second (it said "0 s").
    assert.ok(told.some((m) => ErrorMessage.is(m) && m.message === "Disconnected after 0.6 s without activity"), JSON.stringify(told));
    // The server looks again a second later at the most: past that, the pinging client is still there.
    await new Promise((r) => setTimeout(r, 1200));
    assert.is(conn.closedWith, undefined, "the pinging client stays");
  } finally {
    await h.close();
  }
});

test("a keep-alive ping that comes while the association is closing (a Ctrl-C against a server gone silent) is dropped, not a crash", async () => {
  const h = startHarness({ idleTimeoutMs: 150 }); // a ping every 50 ms
  try {
    const { conn, fake } = await h.client();
    let pings = 0;
    fake.send = () => {
      pings++;
      throw new Error("Cannot send on the SCTP association: it is closing");
    };
    await until(() => pings >= 2, 3000, "two pings into a closing association");
    assert.is(conn.closedWith, undefined);
  } finally {
    await h.close();
  }
});

test("a control message from the server that breaks the protocol is told to the server and to the client's own listener (an unreadable offer left a receiver waiting without a word)", async () => {
  const h = startHarness();
  try {
    const { conn, serverSide } = await h.client();
    const heard: string[] = [];
    conn.onProtocolError((err) => heard.push(err.message));
    const told = collect(serverSide);
    serverSide.send(0, new TextEncoder().encode(JSON.stringify({ type: "offer", xid: 2, from: "123456", files: [{ path: "", size: 1 }] })), { ppid: CONTROL_PPID });
    await until(() => heard.length > 0 && told.some((m) => ErrorMessage.is(m)), 3000, "the protocol error, both ways");
    assert.match(heard[0], /^The server sent a message sfx cannot read \(Invalid 'offer' message: .*\): it was told, and the message ignored$/);
  } finally {
    await h.close();
  }
});

test("--max-clients-per-address counts each IPv6 address (a LAN's hosts share one /64 under autoconfiguration), and each link-local one with its interface", async () => {
  const h = startHarness({ maxClientsPerAddress: 1 });
  try {
    for (const remoteAddress of ["2001:db8::5", "2001:db8::6", "fe80::1%eth0", "fe80::1%eth1"]) {
      const { conn } = await h.client({ remoteAddress });
      assert.ok(conn.id, remoteAddress);
    }
    await h.client({ remoteAddress: "2001:db8::5" }).then(() => assert.unreachable("a second client from 2001:db8::5"), (err) => assert.match(String(err), /Too many clients from 2001:db8::5: 1 are connected/));
  } finally {
    await h.close();
  }
});

test("one IPv6 /64 (a host is given one whole, and may step through its addresses) has at most half the server's places, and 64 connections waiting to say hello; another /64 still gets in", async () => {
  const h = startHarness({ maxClients: 8, maxClientsPerAddress: 2 });
  try {
    for (let i = 1; i <= 4; i++) await h.client({ remoteAddress: `2001:db8:0:1::${i}` });
    await h.client({ remoteAddress: "2001:db8:0:1::5" }).then(
      () => assert.unreachable("a fifth client from one /64"),
      (err) => assert.match(String(err), /Too many clients from 2001:db8:0:1::\/64: 4 are connected, the most this server allows from one IPv6 \/64 network$/),
    );
    const { conn } = await h.client({ remoteAddress: "2001:db8:0:2::1" });
    assert.ok(conn.id, "another network still gets in");
  } finally {
    await h.close();
  }
  // Connections that never say hello, each from another address of one /64: the 65th is refused at once.
  const g = startHarness();
  try {
    const raws = Array.from({ length: 65 }, (_, i) => g.raw({ remoteAddress: `2001:db8:0:1::${(i + 1).toString(16)}` }));
    await until(() => raws[64].fake.closed, 3000, "the 65th to be refused");
    assert.not.ok(raws[63].fake.closed, "64 may wait");
  } finally {
    await g.close();
  }
});

test("the log writes an IPv6 client's address in brackets (`::1:37245` reads as an address of its own)", async () => {
  const h = startHarness();
  try {
    await h.client({ remoteAddress: "::1" });
    assert.ok(h.logs.some((l) => /^Connection from \[::1\]:\d+$/.test(l.message)), JSON.stringify(h.logs.map((l) => l.message)));
    assert.ok(h.logs.some((l) => /^Client \d{3} \d{3} at \[::1\]:\d+ \(sfx [^)]+\) got its ID$/.test(l.message)));
  } finally {
    await h.close();
  }
});

test("pings in a loop get 20 pongs at once, then 10 a second: the rest are dropped unanswered, and the connection stays", async () => {
  const h = startHarness();
  try {
    const { fake } = h.raw();
    const got = collect(fake);
    fake.send(0, Hello.encode({ protocol: PROTOCOL_VERSION, client: "pinger" }), { ppid: CONTROL_PPID });
    await until(() => got.some((m) => Welcome.is(m)), 2000, "welcome");
    const t0 = Date.now();
    for (let n = 1; n <= 1000; n++) fake.send(0, Ping.encode({ n }), { ppid: CONTROL_PPID });
    // Stream 0 is ordered: once a bad message after them is answered, all 1,000 were handled.
    fake.send(0, enc(JSON.stringify({ type: "no.such.message" })), { ppid: CONTROL_PPID });
    await until(() => got.some((m) => ErrorMessage.is(m)), 5000, "the answer to the bad message");
    const pongs = got.filter((m) => Pong.is(m)).length;
    const allowed = 20 + Math.ceil(((Date.now() - t0) / 1000) * 10);
    assert.ok(pongs >= 20 && pongs <= allowed, `${pongs} pongs, at most ${allowed}`);
    assert.not.ok(fake.closed);
  } finally {
    await h.close();
  }
});

test("handshake() fails with SFX_CONNECTION_LOST when the server goes away before welcome", async () => {
  const h = startHarness();
  try {
    const { fake, serverSide } = h.raw();
    serverSide.abort("bye");
    try {
      await ClientConnection.handshake(fake, { timeoutMs: 1000 });
      assert.unreachable();
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_CONNECTION_LOST") || isSfxError(err, "SFX_CONNECT_FAILED"), String(err));
    }
  } finally {
    await h.close();
  }
});

test.run();
