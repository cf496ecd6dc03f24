import { test } from "uvu";
import * as assert from "uvu/assert";
import { discoverServers, isDiscoveryDatagram, startDiscoveryResponder } from "../../src/discovery/index.ts";
import { encodeQuery, encodeReply } from "../../src/discovery/message.ts";
import { openDiscoverySocket } from "../../src/discovery/udp_socket.ts";
import { VERSION } from "../../src/version.ts";
import { openClient, prng, waitFor } from "./_helpers.ts";

const LOOPBACK = { host: "127.0.0.1", port: 0 };

test("a unicast query is answered by unicast with name, version, port and addresses, echoing its nonce", async () => {
  const responder = await startDiscoveryResponder({ name: "office", advertisePort: 7000, bind: LOOPBACK, group: null, addresses: () => ["10.1.2.3", "fd00::5"] });
  const client = await openClient();
  try {
    const to = { address: "127.0.0.1", port: responder.localAddress().port };
    const reply = await client.query(to);
    assert.ok(reply, "no reply");
    assert.is(reply!.name, "office");
    assert.is(reply!.version, VERSION);
    assert.is(reply!.port, 7000);
    assert.equal(reply!.addresses, ["10.1.2.3", "fd00::5"]);
    assert.is([...reply!.instanceId].map((b) => b.toString(16).padStart(2, "0")).join(""), responder.instanceId);
    assert.is(client.received[0].from.port, to.port, "the reply comes from the discovery port");
    const s = responder.stats();
    assert.is(s.queries, 1);
    assert.is(s.replies, 1);
  } finally {
    await client.close();
    await responder.close();
  }
});

test("the advertised port defaults to the bound port", async () => {
  const responder = await startDiscoveryResponder({ name: "x", bind: LOOPBACK, group: null });
  const client = await openClient();
  try {
    const port = responder.localAddress().port;
    assert.is((await client.query({ address: "127.0.0.1", port }))?.port, port);
  } finally {
    await client.close();
    await responder.close();
  }
});

test("oversized, foreign, malformed, wrong-version and unexpected datagrams are dropped, counted and never answered", async () => {
  const responder = await startDiscoveryResponder({ name: "x", bind: LOOPBACK, group: null });
  const client = await openClient();
  try {
    const to = { address: "127.0.0.1", port: responder.localAddress().port };
    const query = encodeQuery(new Uint8Array(16));
    const v2 = query.slice();
    v2[6] = 2;
    const bad = [
      new Uint8Array(600), // oversized
      new Uint8Array(1400), // oversized
      new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"), // foreign
      new Uint8Array(0), // foreign
      query.slice(0, 20), // malformed
      Uint8Array.from(query, (b, i) => (i === 100 ? 1 : b)), // malformed: padding not zero
      v2, // version
      encodeReply({ nonce: new Uint8Array(16), instanceId: new Uint8Array(8), port: 1, name: "fake", version: "1", addresses: [] }), // unexpected
    ];
    for (const d of bad) client.socket.send(d, to);
    await waitFor(() => responder.stats().received === bad.length, "the bad datagrams to arrive");
    assert.equal(responder.stats().dropped, { oversized: 2, foreign: 2, malformed: 2, version: 1, unexpected: 1, source: 0 });
    assert.is(responder.stats().replies, 0);
    // A valid query after them is answered, and it is the only thing the client ever got.
    assert.ok(await client.query(to), "valid query not answered");
    assert.is(client.received.length, 1);
  } finally {
    await client.close();
    await responder.close();
  }
});

test("after 1,000 random and malformed datagrams, a valid query is still answered", async () => {
  const responder = await startDiscoveryResponder({ name: "sturdy", bind: LOOPBACK, group: null });
  // The noise comes from 127.0.0.2 (its own rate-limit bucket); the valid query from 127.0.0.1.
  const noise = await openDiscoverySocket({ host: "127.0.0.2", port: 0 });
  const client = await openClient();
  try {
    const to = { address: "127.0.0.1", port: responder.localAddress().port };
    const random = prng(0x5f3759df);
    const byte = () => Math.floor(random() * 256);
    const valid = encodeReply({ nonce: new Uint8Array(16), instanceId: new Uint8Array(8), port: 6969, name: "n", version: "v", addresses: ["10.0.0.1"] });
    const makeNoise = (i: number): Uint8Array => {
      switch (i % 5) {
        case 0: // random bytes, any size up to 1,500
          return Uint8Array.from({ length: Math.floor(random() * 1500) }, byte);
        case 1: { // magic plus random rest
          const d = Uint8Array.from({ length: 6 + Math.floor(random() * 600) }, byte);
          d.set([0, 0, 0x73, 0x66, 0x78, 0x64]);
          return d;
        }
        case 2: { // a valid reply with a few random bytes flipped
          const d = valid.slice();
          for (let k = 0; k < 3; k++) d[Math.floor(random() * d.length)] = byte();
          return d;
        }
        case 3: // a valid reply truncated
          return valid.slice(0, Math.floor(random() * valid.length));
        default: { // a query with a random header byte changed (some stay valid queries)
          const d = encodeQuery(Uint8Array.from({ length: 16 }, byte));
          d[Math.floor(random() * 8)] = byte();
          return d;
        }
      }
    };
    const TOTAL = 1000;
    for (let sent = 0; sent < TOTAL;) {
      // Batches small enough for the socket's receive buffer; wait for each to land.
      const batch = Math.min(100, TOTAL - sent);
      for (let i = 0; i < batch; i++) noise.send(makeNoise(sent + i), to);
      sent += batch;
      await waitFor(() => responder.stats().received === sent, `${sent} noise datagrams to be handled`);
    }
    const s = responder.stats();
    const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0);
    assert.is(dropped + s.queries, TOTAL, "every datagram is either dropped or a query");
    assert.ok(dropped > 900, `${dropped} dropped`);
    const reply = await client.query(to);
    assert.ok(reply, "valid query not answered after the noise");
    assert.is(reply!.name, "sturdy");
  } finally {
    await noise.close();
    await client.close();
    await responder.close();
  }
});

test("replies are rate-limited per source address (injected clock)", async () => {
  let now = 0;
  const responder = await startDiscoveryResponder({
    name: "x",
    bind: LOOPBACK,
    group: null,
    now: () => now,
    rateLimit: { ratePerSecond: 2, burst: 3 },
  });
  const a = await openClient("127.0.0.1");
  const b = await openClient("127.0.0.3");
  try {
    const to = { address: "127.0.0.1", port: responder.localAddress().port };
    for (let i = 0; i < 5; i++) a.socket.send(encodeQuery(new Uint8Array(16).fill(i)), to);
    await waitFor(() => responder.stats().received === 5, "5 queries");
    assert.is(responder.stats().replies, 3, "the burst");
    assert.is(responder.stats().rateLimited, 2);
    assert.ok(await b.query(to), "another source is not limited by the first");
    assert.is(await a.query(to, 300), undefined, "still limited without time passing");
    now += 500; // one token at 2/s
    assert.ok(await a.query(to), "answered again once a token has refilled");
    assert.is(responder.stats().rateLimited, 3);
  } finally {
    await a.close();
    await b.close();
    await responder.close();
  }
});

test("on a shared socket, handle() answers discovery datagrams and close() leaves the socket open", async () => {
  const shared = await openDiscoverySocket(LOOPBACK);
  const responder = await startDiscoveryResponder({ name: "shared", advertisePort: 6969, socket: shared, group: null });
  const other: Uint8Array[] = [];
  shared.onMessage((data, from) => {
    if (isDiscoveryDatagram(data)) responder.handle(data, from);
    else other.push(Uint8Array.from(data));
  });
  const client = await openClient();
  try {
    const to = { address: "127.0.0.1", port: shared.localAddress().port };
    // An SCTP common header (source port 5000): not discovery.
    client.socket.send(Uint8Array.of(0x13, 0x88, 0x1b, 0x39, 1, 2, 3, 4, 0, 0, 0, 0), to);
    const reply = await client.query(to);
    assert.ok(reply);
    assert.is(reply!.name, "shared");
    assert.is(reply!.port, 6969);
    await waitFor(() => other.length === 1, "the SCTP datagram to reach the other handler");
    assert.is(responder.stats().received, 1, "the responder saw only its own datagram");
    await responder.close();
    responder.handle(encodeQuery(new Uint8Array(16)), { address: "127.0.0.1", port: client.socket.localAddress().port });
    assert.is(responder.stats().received, 1, "a closed responder ignores datagrams");
    // The socket still works for its owner.
    client.socket.send(Uint8Array.of(1, 2, 3), to);
    await waitFor(() => other.length === 2, "the shared socket to keep receiving");
  } finally {
    await client.close();
    await shared.close();
  }
});

test("a query claiming a multicast, broadcast or unspecified source is dropped, never answered", async () => {
  const sent: Array<{ address: string; port: number }> = [];
  const socket = {
    send: (_data: Uint8Array, to: { address: string; port: number }) => void sent.push(to),
    onMessage() {},
    localAddress: () => ({ address: "0.0.0.0", port: 6969, family: "IPv4" as const }),
    close: async () => {},
  };
  const responder = await startDiscoveryResponder({ name: "x", socket, group: null });
  const query = encodeQuery(new Uint8Array(16));
  const bad = ["239.255.69.69", "224.0.0.1", "255.255.255.255", "240.0.0.1", "0.0.0.0", "ff02::1", "::", "::ffff:224.0.0.1", "not-an-address"];
  for (const address of bad) responder.handle(query, { address, port: 6969 });
  responder.handle(query, { address: "127.0.0.1", port: 0 });
  assert.is(responder.stats().dropped.source, bad.length + 1);
  assert.equal(sent, []);
  responder.handle(query, { address: "::ffff:10.0.0.1", port: 5000 });
  responder.handle(query, { address: "fd00::7", port: 5001 });
  assert.equal(sent, [{ address: "::ffff:10.0.0.1", port: 5000 }, { address: "fd00::7", port: 5001 }]);
  await responder.close();
});

test("a query to the multicast group on loopback is answered", async () => {
  const responder = await startDiscoveryResponder({ name: "multicast", bind: { host: "0.0.0.0", port: 0 }, interfaces: ["127.0.0.1"] });
  try {
    assert.equal(responder.joined, ["127.0.0.1"]);
    const servers = await discoverServers({ port: responder.localAddress().port, interfaces: ["127.0.0.1"], timeoutMs: 500 });
    assert.is(servers.length, 1);
    assert.is(servers[0].name, "multicast");
    assert.is(servers[0].host, "127.0.0.1");
    assert.ok(responder.stats().queries >= 1);
  } finally {
    await responder.close();
  }
});

test("an interface that comes up after the responder started, or comes back, is joined to the group as it appears (Wi-Fi, a VPN, a late DHCP lease: discovery there stayed dead until a restart)", async () => {
  const memberships: string[] = [];
  /** Interfaces the "kernel" holds a membership on already (set by the test). */
  const member = new Set<string>();
  const socket = {
    send() {},
    onMessage() {},
    localAddress: () => ({ address: "0.0.0.0", port: 6969, family: "IPv4" as const }),
    addMembership: (group: string, iface?: string) => {
      if (member.has(iface!)) throw Object.assign(new Error("addMembership EADDRINUSE"), { code: "EADDRINUSE" });
      memberships.push(`${group} ${iface}`);
    },
    setMulticastTTL() {},
    close: async () => {},
  };
  const up = ["127.0.0.1"];
  const r = await startDiscoveryResponder({ name: "late", socket, rejoinMs: 10, listInterfaces: () => [...up] });
  try {
    assert.equal(memberships, ["239.255.69.69 127.0.0.1"]);
    up.push("10.9.9.9");
    await waitFor(() => memberships.length === 2, "the late interface to be joined");
    assert.equal(memberships, ["239.255.69.69 127.0.0.1", "239.255.69.69 10.9.9.9"]);
    assert.equal(r.joined, ["127.0.0.1", "10.9.9.9"]);
    // Gone from the list while the kernel kept the membership (a link down and up): back, it is a member already.
    member.add("10.9.9.9");
    up.pop();
    await waitFor(() => !r.joined.includes("10.9.9.9"), "the gone interface to be forgotten");
    up.push("10.9.9.9");
    await waitFor(() => r.joined.includes("10.9.9.9"), "the interface to be listed again");
    assert.is(memberships.length, 2, "no second membership asked for");
    member.delete("10.9.9.9");
    // Gone (a VPN disconnects: the kernel drops the membership) and back with the same address: joined again.
    up.pop();
    await waitFor(() => !r.joined.includes("10.9.9.9"), "the gone interface to be forgotten");
    up.push("10.9.9.9");
    await waitFor(() => memberships.length === 3, "the interface to be joined again");
    assert.equal(memberships.at(-1), "239.255.69.69 10.9.9.9");
  } finally {
    await r.close();
  }
  // Stopped with the responder: nothing more is joined.
  up.push("10.9.9.10");
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.is(memberships.length, 3);
});

test("settings a reply cannot carry (empty name, port out of range) reject at start with SFX_BAD_ARGUMENT", async () => {
  for (const bad of [{ name: "" }, { name: "x", advertisePort: 70000 }, { name: "x", advertisePort: 0 }, { name: "x", version: "" }]) {
    try {
      await startDiscoveryResponder({ ...bad, bind: LOOPBACK, group: null });
      assert.unreachable(`started with ${JSON.stringify(bad)}`);
    } catch (err) {
      assert.is((err as { code?: string }).code, "SFX_BAD_ARGUMENT", String(err));
    }
  }
});

test("a bind failure rejects with SFX_IO naming the address", async () => {
  const first = await startDiscoveryResponder({ name: "a", bind: LOOPBACK, group: null });
  try {
    const port = first.localAddress().port;
    try {
      await startDiscoveryResponder({ name: "b", bind: { host: "127.0.0.1", port }, group: null });
      assert.unreachable("second bind succeeded");
    } catch (err) {
      assert.is((err as { code?: string }).code, "SFX_IO");
      assert.match((err as Error).message, `127.0.0.1:${port}`);
    }
  } finally {
    await first.close();
  }
});

test.run();
