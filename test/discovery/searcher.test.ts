import { test } from "uvu";
import * as assert from "uvu/assert";
import { type DiscoveredServer, discoverServers, findFirstServer, findOnlyServer, startDiscoveryResponder } from "../../src/discovery/index.ts";
import { decodeDiscoveryMessage, encodeReply } from "../../src/discovery/message.ts";
import { openDiscoverySocket } from "../../src/discovery/udp_socket.ts";
import { advertisedAddresses } from "../../src/discovery/interfaces.ts";
import { isSfxError } from "../../src/errors.ts";
import { networkInterfaces } from "node:os";

test("discoverServers() lists each server once though the query goes out three times", async () => {
  // Two servers on one port (SO_REUSEADDR): both get each multicast query.
  const a = await startDiscoveryResponder({ name: "alpha", bind: { host: "0.0.0.0", port: 0, reuseAddr: true }, interfaces: ["127.0.0.1"] });
  const port = a.localAddress().port;
  const b = await startDiscoveryResponder({ name: "beta", bind: { host: "0.0.0.0", port, reuseAddr: true }, interfaces: ["127.0.0.1"] });
  try {
    const seen: DiscoveredServer[] = [];
    const servers = await discoverServers({ port, interfaces: ["127.0.0.1"], timeoutMs: 400, repeats: 3, onServer: (s) => seen.push(s) });
    assert.equal(servers.map((s) => s.name).sort(), ["alpha", "beta"]);
    assert.equal(seen.map((s) => s.name).sort(), ["alpha", "beta"], "onServer once per server");
    assert.equal(new Set(servers.map((s) => s.instanceId)), new Set([a.instanceId, b.instanceId]));
    for (const s of servers) {
      assert.is(s.host, "127.0.0.1");
      assert.is(s.port, port);
    }
    // The three rounds go out in the first half of the window, so all have arrived by its end.
    assert.is(a.stats().queries, 3, "alpha saw three queries");
    assert.is(b.stats().queries, 3, "beta saw three queries");
  } finally {
    await a.close();
    await b.close();
  }
});

test("replies that do not echo the query's nonce, and garbage, are ignored; one instance is listed once", async () => {
  // A fake server: answers each query with a stale nonce, with garbage, then correctly — twice, as a
  // server reached by two paths would.
  const fake = await openDiscoverySocket({ host: "127.0.0.1", port: 0 });
  fake.onMessage((data, from) => {
    const q = decodeDiscoveryMessage(data);
    const reply = (nonce: Uint8Array, name: string, id: number) =>
      encodeReply({ nonce, instanceId: new Uint8Array(8).fill(id), port: 7000, name, version: "9.9.9", addresses: [] });
    fake.send(reply(new Uint8Array(16).fill(7), "stale", 1), from);
    fake.send(Uint8Array.of(0, 0, 0x73, 0x66, 0x78, 0x64, 1, 2, 3), from);
    fake.send(reply(q.nonce, "real", 2), from);
    fake.send(reply(q.nonce, "real again", 2), from);
  });
  try {
    const servers = await discoverServers({ target: { address: "127.0.0.1", port: fake.localAddress().port }, timeoutMs: 300, repeats: 1 });
    assert.equal(servers.map((s) => [s.name, s.version, s.port]), [["real", "9.9.9", 7000]]);
  } finally {
    await fake.close();
  }
});

test("an answer in another server's name from elsewhere is listed beside it, not taken for it; one server through two addresses is one", async () => {
  // The real server answers from 127.0.0.1 and 127.0.0.2, each reply listing both; an impostor at
  // 127.0.0.3 answers first with the real server's instance id and port.
  const real1 = await openDiscoverySocket({ host: "127.0.0.1", port: 0 });
  const real2 = await openDiscoverySocket({ host: "127.0.0.2", port: 0 });
  const impostor = await openDiscoverySocket({ host: "127.0.0.3", port: 0 });
  const id = new Uint8Array(8).fill(9);
  real1.onMessage((data, from) => {
    const { nonce } = decodeDiscoveryMessage(data);
    const reply = (addresses: string[]) => encodeReply({ nonce, instanceId: id, port: 7000, name: "office", version: "9.9.9", addresses });
    impostor.send(reply(["127.0.0.3"]), from);
    real1.send(reply(["127.0.0.1", "127.0.0.2"]), from);
    real2.send(reply(["127.0.0.1", "127.0.0.2"]), from);
  });
  try {
    const servers = await discoverServers({ target: { address: "127.0.0.1", port: real1.localAddress().port }, timeoutMs: 300, repeats: 1 });
    // The real server once, whichever of its replies came first; the impostor beside it.
    const hosts = servers.map((s) => s.host.replace("127.0.0.2", "127.0.0.1")).sort();
    assert.equal(hosts, ["127.0.0.1", "127.0.0.3"], servers.map((s) => s.host).join(", "));
    assert.ok(servers.every((s) => s.name === "office" && s.port === 7000));
  } finally {
    await Promise.all([real1.close(), real2.close(), impostor.close()]);
  }
});

test("a server on this machine answering from loopback and from one of the machine's own addresses is one server", async () => {
  const own = Object.values(networkInterfaces()).flat().find((a) => a && !a.internal && a.family === "IPv4")?.address;
  if (!own) {
    console.warn("SKIP: this machine has no IPv4 address but loopback");
    return;
  }
  const viaLoopback = await openDiscoverySocket({ host: "127.0.0.1", port: 0 });
  const viaOwn = await openDiscoverySocket({ host: own, port: 0 });
  viaLoopback.onMessage((data, from) => {
    const { nonce } = decodeDiscoveryMessage(data);
    // What a server bound to 0.0.0.0 lists: its addresses, not loopback.
    const reply = encodeReply({ nonce, instanceId: new Uint8Array(8).fill(5), port: 7000, name: "here", version: "9.9.9", addresses: [own] });
    viaLoopback.send(reply, from);
    viaOwn.send(reply, from);
  });
  try {
    const servers = await discoverServers({ target: { address: "127.0.0.1", port: viaLoopback.localAddress().port }, timeoutMs: 300, repeats: 1 });
    assert.is(servers.length, 1, servers.map((s) => s.host).join(", "));
  } finally {
    await Promise.all([viaLoopback.close(), viaOwn.close()]);
  }
});

test("findFirstServer() resolves on the first answer, long before its timeout", async () => {
  const r = await startDiscoveryResponder({ name: "first", bind: { host: "127.0.0.1", port: 0 }, group: null });
  try {
    const started = performance.now();
    const s = await findFirstServer({ target: { address: "127.0.0.1", port: r.localAddress().port }, timeoutMs: 10_000 });
    const ms = performance.now() - started;
    assert.is(s.name, "first");
    assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
  } finally {
    await r.close();
  }
});

test("findOnlyServer() with two servers answering rejects with SFX_SEVERAL_SERVERS naming both; with one, resolves soon after it answers", async () => {
  const a = await startDiscoveryResponder({ name: "alpha", bind: { host: "0.0.0.0", port: 0, reuseAddr: true }, interfaces: ["127.0.0.1"] });
  const port = a.localAddress().port;
  const b = await startDiscoveryResponder({ name: "beta", bind: { host: "0.0.0.0", port, reuseAddr: true }, interfaces: ["127.0.0.1"] });
  try {
    // Whichever answers first, the other answers within the settle time: neither is taken.
    for (let i = 0; i < 3; i++) {
      try {
        const s = await findOnlyServer({ port, interfaces: ["127.0.0.1"], timeoutMs: 10_000, settleMs: 200 });
        assert.unreachable(`took "${s.name}"`);
      } catch (err) {
        assert.ok(isSfxError(err, "SFX_SEVERAL_SERVERS"), String(err));
        // By name, whichever answered first (the order changed from run to run).
        assert.is((err as Error).message, `2 sfx servers answered: "alpha" at 127.0.0.1:${port}, "beta" at 127.0.0.1:${port}`);
      }
    }
    await b.close();
    const started = performance.now();
    const s = await findOnlyServer({ port, interfaces: ["127.0.0.1"], timeoutMs: 10_000, settleMs: 200 });
    const ms = performance.now() - started;
    assert.is(s.name, "alpha");
    assert.ok(ms >= 190 && ms < 5000, `took ${ms.toFixed(0)} ms: settled, not timed out`);
  } finally {
    await a.close();
    await b.close();
  }
});

test("findOnlyServer(): a first answer late in the window still gets its whole settle time, so a second server answering after the window is not missed", async () => {
  // One answers at once, the other 600 ms later: past the 300 ms window, within the 1.5 s settle time.
  const fake = await openDiscoverySocket({ host: "127.0.0.1", port: 0 });
  const timers: ReturnType<typeof setTimeout>[] = [];
  fake.onMessage((data, from) => {
    const { nonce } = decodeDiscoveryMessage(data);
    const reply = (name: string, id: number) => encodeReply({ nonce, instanceId: new Uint8Array(8).fill(id), port: 7000, name, version: "9.9.9", addresses: [] });
    fake.send(reply("early", 1), from);
    timers.push(setTimeout(() => fake.send(reply("late", 2), from), 600));
  });
  try {
    const err = await findOnlyServer({ target: { address: "127.0.0.1", port: fake.localAddress().port }, timeoutMs: 300, settleMs: 1500, repeats: 1 }).then((s) => s, (e: unknown) => e);
    assert.ok(isSfxError(err, "SFX_SEVERAL_SERVERS"), `took ${JSON.stringify(err)}`);
  } finally {
    for (const t of timers) clearTimeout(t);
    await fake.close();
  }
});

test("advertisedAddresses(): each interface's first address comes before any interface's second, so a host with many addresses on one link still lists its other links' within the 16 a reply carries", () => {
  const v4 = (address: string) => ({ address, family: "IPv4" as const, internal: false, netmask: "255.255.255.0", mac: "00:00:00:00:00:00", cidr: `${address}/24` });
  const ifaces = {
    lo: [{ ...v4("127.0.0.1"), internal: true }],
    eth0: [v4("10.0.0.11"), ...Array.from({ length: 20 }, (_, i) => v4(`10.0.1.${i + 1}`))],
    eth1: [v4("10.0.2.201"), v4("10.0.2.202")],
  };
  const list = advertisedAddresses(ifaces as never);
  assert.equal(list.slice(0, 4), ["10.0.0.11", "10.0.2.201", "10.0.1.1", "10.0.2.202"]);
  assert.is(list.length, 23);
});

test("findFirstServer() with nobody answering rejects with SFX_NO_SERVER after its timeout", async () => {
  // A bound socket that never answers.
  const silent = await openDiscoverySocket({ host: "127.0.0.1", port: 0 });
  try {
    const started = performance.now();
    try {
      await findFirstServer({ target: { address: "127.0.0.1", port: silent.localAddress().port }, timeoutMs: 300 });
      assert.unreachable("resolved");
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_NO_SERVER"), String(err));
      assert.match((err as Error).message, "within 0.3 s");
    }
    const ms = performance.now() - started;
    assert.ok(ms >= 290 && ms < 2000, `${ms.toFixed(0)} ms`);
  } finally {
    await silent.close();
  }
});

test("discoverServers() with nobody answering resolves with an empty list (unreachable port included)", async () => {
  const closed = await openDiscoverySocket({ host: "127.0.0.1", port: 0 });
  const port = closed.localAddress().port;
  await closed.close(); // ICMP port unreachable comes back; it must not fail the search
  assert.equal(await discoverServers({ target: { address: "127.0.0.1", port }, timeoutMs: 200 }), []);
});

test("an aborted search rejects with SFX_CANCELLED promptly", async () => {
  const silent = await openDiscoverySocket({ host: "127.0.0.1", port: 0 });
  try {
    const controller = new AbortController();
    const started = performance.now();
    const search = discoverServers({ target: { address: "127.0.0.1", port: silent.localAddress().port }, timeoutMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    try {
      await search;
      assert.unreachable("resolved");
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_CANCELLED"), String(err));
    }
    assert.ok(performance.now() - started < 2000);
    try {
      await discoverServers({ signal: controller.signal });
      assert.unreachable("an already aborted signal resolved");
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_CANCELLED"));
    }
  } finally {
    await silent.close();
  }
});

test("a search whose query cannot be sent by any interface rejects with SFX_NO_SERVER saying why", async () => {
  try {
    // 240.0.0.1 (reserved, class E) is no interface's address: choosing it fails, nothing is sent.
    await discoverServers({ port: 9, interfaces: ["240.0.0.1"], timeoutMs: 200 });
    assert.unreachable("resolved");
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_NO_SERVER"), String(err));
    assert.match((err as Error).message, "Cannot send the discovery query to 239.255.69.69:9");
  }
  try {
    await discoverServers({ port: 9, interfaces: [], timeoutMs: 100 });
    assert.unreachable("resolved with no interface");
  } catch (err) {
    assert.match((err as Error).message, "no IPv4 interface");
  }
});

test.run();
