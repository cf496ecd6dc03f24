import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { networkInterfaces } from "node:os";
import type { DatagramSocket, RemoteAddress } from "../../src/transport/datagram.ts";
import { openDatagramSocket } from "../../src/transport/socket.ts";
import { runInOwnNetns } from "./_netns.ts";
import { isLoopback, MAX_UDP_PAYLOAD_V4, MAX_UDP_PAYLOAD_V6, maxDatagramSizeFor, openUdpSocket } from "../../src/transport/udp.ts";

/** Resolves with the first `n` datagrams `socket` receives; fails after `ms`. */
function receive(socket: DatagramSocket, n: number, ms = 5000): Promise<Array<{ data: Uint8Array; from: RemoteAddress }>> {
  return new Promise((resolve, reject) => {
    const got: Array<{ data: Uint8Array; from: RemoteAddress }> = [];
    const timer = setTimeout(() => reject(new Error(`received ${got.length} of ${n} datagrams in ${ms} ms`)), ms);
    socket.onMessage((data, from) => {
      got.push({ data: Uint8Array.from(data), from: { address: from.address, port: from.port } });
      if (got.length === n) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

const PROBE = fileURLToPath(new URL("../fixtures/multicast_probe.ts", import.meta.url));

const here = (s: DatagramSocket): RemoteAddress => ({ address: s.localAddress().address, port: s.localAddress().port });

test("openUdpSocket() binds port 0 on 127.0.0.1 and reports the chosen port", async () => {
  const s = await openUdpSocket({ host: "127.0.0.1", port: 0 });
  const local = s.localAddress();
  assert.is(local.address, "127.0.0.1");
  assert.is(local.family, "IPv4");
  assert.ok(local.port > 0 && local.port < 65536);
  await s.close();
});

test("two sockets exchange datagrams both ways, byte-exact, with the sender's address", async () => {
  const a = await openUdpSocket({ host: "127.0.0.1" });
  const b = await openUdpSocket({ host: "127.0.0.1" });
  const atB = receive(b, 2);
  a.send(new Uint8Array([1, 2, 3]), here(b));
  a.send(new Uint8Array([4]), here(b));
  const got = await atB;
  assert.equal(got.map((g) => [...g.data]), [[1, 2, 3], [4]]);
  assert.equal(got[0].from, here(a));
  const atA = receive(a, 1);
  b.send(new Uint8Array([9, 9]), got[0].from);
  assert.equal([...(await atA)[0].data], [9, 9]);
  await Promise.all([a.close(), b.close()]);
});

test("a destination given by name is still resolved (IP literals skip the lookup)", async () => {
  const a = await openUdpSocket({ host: "127.0.0.1" });
  const b = await openUdpSocket({ host: "127.0.0.1" });
  const atB = receive(b, 1);
  a.send(new Uint8Array([5]), { address: "localhost", port: b.localAddress().port });
  assert.equal([...(await atB)[0].data], [5]);
  await Promise.all([a.close(), b.close()]);
});

test("a 65507-byte datagram crosses loopback whole, and maxDatagramSize() says so", async () => {
  const a = await openUdpSocket({ host: "127.0.0.1" });
  const b = await openUdpSocket({ host: "127.0.0.1" });
  assert.is(a.maxDatagramSize(here(b)), MAX_UDP_PAYLOAD_V4);
  const big = new Uint8Array(MAX_UDP_PAYLOAD_V4);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  const atB = receive(b, 1);
  a.send(big, here(b));
  const [{ data }] = await atB;
  assert.is(data.length, big.length);
  assert.ok(data.every((x, i) => x === big[i]));
  await Promise.all([a.close(), b.close()]);
});

test("the socket buffers hold a burst of 2000 × 1200-byte datagrams without loss", async () => {
  const a = await openUdpSocket({ host: "127.0.0.1" });
  const b = await openUdpSocket({ host: "127.0.0.1" });
  assert.ok(b.bufferSizes().recv >= 2 * 1024 * 1024, `SO_RCVBUF ${b.bufferSizes().recv}`);
  const atB = receive(b, 2000, 10_000);
  // All sends happen before the receiver runs: the burst must fit in SO_RCVBUF.
  for (let i = 0; i < 2000; i++) {
    const d = new Uint8Array(1200);
    d[0] = i & 0xff;
    d[1] = i >> 8;
    a.send(d, here(b));
  }
  const got = await atB;
  const ids = new Set(got.map((g) => g.data[0] | (g.data[1] << 8)));
  assert.is(ids.size, 2000);
  await Promise.all([a.close(), b.close()]);
});

test("maxDatagramSize() off loopback is the outgoing interface's MTU less 28 bytes (IPv4)", () => {
  assert.is(maxDatagramSizeFor("0.0.0.0", "127.0.0.1"), MAX_UDP_PAYLOAD_V4);
  assert.is(maxDatagramSizeFor("::", "::1"), MAX_UDP_PAYLOAD_V6);
  // An address on one of this machine's subnets goes out of that interface.
  let checked = 0;
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.internal || a.family !== "IPv4") continue;
      let mtu: number;
      try {
        mtu = Number(readFileSync(`/sys/class/net/${name}/mtu`, "utf8"));
      } catch {
        continue; // not Linux
      }
      // The interface's own address is on its subnet.
      assert.is(maxDatagramSizeFor(a.address, a.address), mtu - 28, `${name} ${a.address}`);
      assert.is(maxDatagramSizeFor("0.0.0.0", a.address), mtu - 28, `${name} via subnet`);
      checked++;
    }
  }
  // Anywhere else: a sane Ethernet-ish size, never a loopback size.
  const far = maxDatagramSizeFor("0.0.0.0", "198.51.100.7");
  assert.ok(far >= 548 && far <= 9000, `to a far address: ${far}`);
  if (checked === 0) console.log("  (no non-loopback IPv4 interface: subnet case not checked)");
});

test("isLoopback() knows 127/8 and ::1, and nothing else", () => {
  for (const x of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"]) assert.ok(isLoopback(x), x);
  for (const x of ["10.0.0.1", "192.0.2.2", "::", "fd00::2", "0.0.0.0"]) assert.not.ok(isLoopback(x), x);
});

test("IPv6: a socket on ::1 exchanges datagrams", async () => {
  let a: DatagramSocket;
  try {
    a = await openUdpSocket({ host: "::1" });
  } catch (err) {
    console.log(`  (IPv6 unavailable: ${(err as Error).message})`);
    return;
  }
  const b = await openUdpSocket({ host: "::1" });
  assert.is(a.localAddress().family, "IPv6");
  assert.is(a.maxDatagramSize!(here(b)), MAX_UDP_PAYLOAD_V6);
  const atB = receive(b, 1);
  a.send(new Uint8Array([6]), here(b));
  const [{ data, from }] = await atB;
  assert.equal([...data], [6]);
  assert.is(from.address, "::1");
  await Promise.all([a.close(), b.close()]);
});

test("a connected socket sends to its peer, and an unreachable peer is reported through onError", async () => {
  const b = await openUdpSocket({ host: "127.0.0.1" });
  const a = await openUdpSocket({ host: "127.0.0.1", connect: here(b) });
  const atB = receive(b, 1);
  a.send(new Uint8Array([3]), here(b));
  assert.equal([...(await atB)[0].data], [3]);
  // Now nobody listens there: the kernel's ICMP port unreachable surfaces as ECONNREFUSED.
  const gone = here(b);
  await b.close();
  try {
    const err = await new Promise<Error>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no error reported")), 5000);
      a.onError((e) => {
        clearTimeout(timer);
        resolve(e);
      });
      a.send(new Uint8Array([1]), gone);
    });
    assert.is((err as NodeJS.ErrnoException).code, "ECONNREFUSED");
  } finally {
    await a.close();
  }
});

test("send() never throws: not on a bad port, not after close()", async () => {
  const a = await openUdpSocket({ host: "127.0.0.1" });
  const errors: Error[] = [];
  a.onError((e) => errors.push(e));
  a.send(new Uint8Array(1), { address: "127.0.0.1", port: 70000 });
  assert.is(errors.length, 1, "an invalid port is reported, not thrown");
  await a.close();
  await a.close(); // idempotent
  a.send(new Uint8Array(1), { address: "127.0.0.1", port: 9 });
  assert.is(errors.length, 1);
});

test("binding a port that is taken rejects with EADDRINUSE", async () => {
  const a = await openUdpSocket({ host: "127.0.0.1" });
  try {
    await openUdpSocket({ host: "127.0.0.1", port: a.localAddress().port });
    assert.unreachable("bound a taken port");
  } catch (err) {
    assert.is((err as NodeJS.ErrnoException).code, "EADDRINUSE");
  }
  await a.close();
});

test("multicast: two listeners on one port both receive a group datagram (inside a network namespace of our own)", () => {
  const r = runInOwnNetns([process.execPath, PROBE, "node"]);
  if (r === undefined) return;
  assert.match(r, /^ok 2/, r);
});

test("openDatagramSocket() under Node uses node:dgram, and impl: 'deno' fails clearly", async () => {
  const s = await openDatagramSocket({ host: "127.0.0.1" });
  assert.is(s.constructor.name, "UdpSocket");
  await s.close();
  try {
    await openDatagramSocket({ host: "127.0.0.1", impl: "deno" });
    assert.unreachable("opened a Deno socket under Node");
  } catch (err) {
    assert.match((err as Error).message, /Deno\.listenDatagram is not available/);
  }
});

test.run();
