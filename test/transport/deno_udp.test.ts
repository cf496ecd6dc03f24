/**
 * The Deno datagram adapter. The runner runs this file under Node and under
 * Deno (`deno run -A --unstable-net`): under Deno it exercises
 * `Deno.listenDatagram`; under Node it checks the fallback to node:dgram.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DatagramSocket, RemoteAddress } from "../../src/transport/datagram.ts";
import { hasDenoDatagram, openDenoUdpSocket } from "../../src/transport/deno_udp.ts";
import { defaultDatagramImpl, openDatagramSocket } from "../../src/transport/socket.ts";
import { MAX_UDP_PAYLOAD_V4 } from "../../src/transport/udp.ts";
import { runInOwnNetns } from "./_netns.ts";

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
const here = (s: DatagramSocket): RemoteAddress => ({ address: s.localAddress().address, port: s.localAddress().port });

function receive(socket: DatagramSocket, n: number, ms = 5000): Promise<Array<{ data: Uint8Array; from: RemoteAddress }>> {
  return new Promise((resolve, reject) => {
    const got: Array<{ data: Uint8Array; from: RemoteAddress }> = [];
    const timer = setTimeout(() => reject(new Error(`received ${got.length} of ${n} datagrams in ${ms} ms`)), ms);
    socket.onMessage((data, from) => {
      got.push({ data, from: { address: from.address, port: from.port } });
      if (got.length === n) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

test("openDatagramSocket() picks Deno.listenDatagram under Deno with --unstable-net, node:dgram otherwise", async () => {
  assert.is(hasDenoDatagram(), isDeno, "the runner starts Deno with --unstable-net");
  assert.is(defaultDatagramImpl(), isDeno ? "deno" : "node");
  const s = await openDatagramSocket({ host: "127.0.0.1" });
  assert.is(s.constructor.name, isDeno ? "DenoUdpSocket" : "UdpSocket");
  await s.close();
  // node:dgram stays available under Deno too.
  const n = await openDatagramSocket({ host: "127.0.0.1", impl: "node" });
  assert.is(n.constructor.name, "UdpSocket");
  await n.close();
});

test("under Deno without --unstable-net, openDatagramSocket() falls back to node:dgram", () => {
  if (isDeno) return; // checked from Node, which starts Deno without the flag
  const deno = fileURLToPath(new URL("../../node_modules/.bin/deno", import.meta.url));
  assert.ok(existsSync(deno), "deno is a dev dependency");
  const socketTs = fileURLToPath(new URL("../../src/transport/socket.ts", import.meta.url));
  const script = `import { defaultDatagramImpl, openDatagramSocket } from ${JSON.stringify(`file://${socketTs}`)};
const s = await openDatagramSocket({ host: "127.0.0.1" });
console.log(defaultDatagramImpl(), s.constructor.name);
await s.close();`;
  const r = spawnSync(deno, ["eval", "--quiet", script], { encoding: "utf8", timeout: 30_000, env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" } });
  assert.is(r.stdout.trim(), "node UdpSocket", r.stderr);
});

test("under Deno the socket's overflow count is read with read access granted, and without it is unknown, with no permission prompt on a terminal (Deno's datagrams or node:dgram)", () => {
  if (isDeno) return; // checked from Node, which starts Deno with and without --allow-read
  const deno = fileURLToPath(new URL("../../node_modules/.bin/deno", import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "sfx-deno-overflows-"));
  try {
    const script = join(dir, "overflows.ts");
    writeFileSync(script, `import { openDatagramSocket } from ${JSON.stringify(new URL("../../src/transport/socket.ts", import.meta.url).href)};
const s = await openDatagramSocket({ host: "127.0.0.1" });
console.log(s.constructor.name, JSON.stringify(s.receiveOverflows?.() ?? null));
await s.close();`);
    const env = { ...process.env, DENO_NO_UPDATE_CHECK: "1" };
    const all = spawnSync(deno, ["run", "-A", "--unstable-net", script], { encoding: "utf8", timeout: 30_000, env });
    assert.is(all.stdout.trim(), "DenoUdpSocket 0", all.stderr);
    // On a terminal (script(1) gives it one), a read Deno was not granted would ask for it.
    for (const [flags, socket] of [["--unstable-net --allow-net", "DenoUdpSocket"], ["--allow-net", "UdpSocket"]]) {
      const tty = spawnSync("script", ["-qec", `${deno} run ${flags} ${script}`, "/dev/null"], { encoding: "utf8", timeout: 30_000, env, stdio: ["ignore", "pipe", "pipe"] });
      assert.match(tty.stdout, `${socket} null`, tty.stdout + tty.stderr);
      assert.not.match(tty.stdout + tty.stderr, /requests read access/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Deno sockets exchange datagrams both ways with the sender's address", async () => {
  if (!isDeno) return;
  const a = await openDenoUdpSocket({ host: "127.0.0.1" });
  const b = await openDenoUdpSocket({ host: "127.0.0.1" });
  assert.ok(a.localAddress().port > 0);
  assert.is(a.localAddress().family, "IPv4");
  const atB = receive(b, 2);
  a.send(new Uint8Array([1, 2]), here(b));
  a.send(new Uint8Array([3]), here(b));
  const got = await atB;
  assert.equal(got.map((g) => [...g.data]), [[1, 2], [3]]);
  assert.equal(got[0].from, here(a));
  const atA = receive(a, 1);
  b.send(new Uint8Array([7]), got[0].from);
  assert.equal([...(await atA)[0].data], [7]);
  await Promise.all([a.close(), b.close()]);
});

test("a received datagram keeps its bytes while later ones arrive (no buffer reuse)", async () => {
  if (!isDeno) return;
  const a = await openDenoUdpSocket({ host: "127.0.0.1" });
  const b = await openDenoUdpSocket({ host: "127.0.0.1" });
  // Deno cannot enlarge SO_RCVBUF: keep at most 8 datagrams outstanding so none overflow it.
  const got: Array<{ data: Uint8Array }> = [];
  let sent = 0;
  const sendOne = () => a.send(new Uint8Array(4000).fill(sent++ & 0xff), here(b));
  const errors: Error[] = [];
  a.onError((e) => errors.push(e));
  b.onError((e) => errors.push(e));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`received ${got.length} of 300; errors: ${errors.join("; ")}`)), 10_000);
    b.onMessage((data) => {
      got.push({ data });
      if (sent < 300) sendOne();
      if (got.length === 300) {
        clearTimeout(timer);
        resolve();
      }
    });
    for (let i = 0; i < 8; i++) sendOne();
  });
  const values = got.map((g) => g.data[0]);
  for (const g of got) assert.ok(g.data.every((x) => x === g.data[0]) && g.data.length === 4000);
  assert.is(new Set(values).size, 256);
  await Promise.all([a.close(), b.close()]);
});

test("a 65507-byte datagram crosses loopback whole under Deno", async () => {
  if (!isDeno) return;
  const a = await openDenoUdpSocket({ host: "127.0.0.1" });
  const b = await openDenoUdpSocket({ host: "127.0.0.1" });
  assert.is(a.maxDatagramSize(here(b)), MAX_UDP_PAYLOAD_V4);
  const big = new Uint8Array(MAX_UDP_PAYLOAD_V4).map((_, i) => (i * 7) & 0xff);
  const atB = receive(b, 1);
  a.send(big, here(b));
  const [{ data }] = await atB;
  assert.is(data.length, big.length);
  assert.ok(data.every((x, i) => x === big[i]));
  await Promise.all([a.close(), b.close()]);
});

test("send() calls `released` once per datagram, only after it returns; a buffer rewritten after that still arrived as sent", async () => {
  // Under Deno the adapter's own; under Node node:dgram, unconnected and connected.
  const b = await openDatagramSocket({ host: "127.0.0.1" });
  const senders = [await openDatagramSocket({ host: "127.0.0.1" })];
  if (!isDeno) senders.push(await openDatagramSocket({ host: "127.0.0.1", connect: here(b) }));
  const perSender = 32;
  const atB = receive(b, perSender * senders.length);
  const log: string[] = [];
  const buf = new Uint8Array(1000);
  for (const [k, a] of senders.entries()) {
    for (let i = 0; i < perSender; i++) {
      const mark = k * perSender + i;
      buf.fill(mark);
      let inSend = true;
      let calls = 0;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`datagram ${mark}: released never called`)), 5000);
        a.send(buf, here(b), (d) => {
          calls++;
          if (inSend) log.push(`${mark}: released from within send`);
          if (d !== buf) log.push(`${mark}: released another buffer`);
          clearTimeout(timer);
          resolve();
        });
        inSend = false;
      });
      // One more turn: a second call would show here.
      await new Promise((r) => setTimeout(r, 0));
      if (calls !== 1) log.push(`${mark}: released ${calls} times`);
    }
  }
  buf.fill(0xff);
  const got = await atB;
  assert.equal(log, []);
  assert.equal(got.map((g) => g.data.every((x) => x === g.data[0]) ? g.data[0] : -1).sort((x, y) => x - y), [...Array(perSender * senders.length).keys()]);
  await Promise.all([b.close(), ...senders.map((a) => a.close())]);
});

test("close() ends the receive loop, is idempotent, and later sends are dropped quietly", async () => {
  if (!isDeno) return;
  const a = await openDenoUdpSocket({ host: "127.0.0.1" });
  const errors: Error[] = [];
  a.onError((e) => errors.push(e));
  await a.close();
  await a.close();
  a.send(new Uint8Array(1), { address: "127.0.0.1", port: 9 });
  assert.equal(errors, []);
});

test("a port that is taken cannot be bound", async () => {
  if (!isDeno) return;
  const a = await openDenoUdpSocket({ host: "127.0.0.1" });
  try {
    await openDenoUdpSocket({ host: "127.0.0.1", port: a.localAddress().port });
    assert.unreachable("bound a taken port");
  } catch (err) {
    assert.match(String(err), /in use|AddrInUse/i);
  }
  await a.close();
});

test("multicast: Deno listeners receive a group datagram (inside a network namespace of our own)", () => {
  if (isDeno) return; // started from Node, which runs Deno inside the namespace
  const deno = fileURLToPath(new URL("../../node_modules/.bin/deno", import.meta.url));
  const probe = fileURLToPath(new URL("../fixtures/multicast_probe.ts", import.meta.url));
  const r = runInOwnNetns([deno, "run", "-A", "--unstable-net", probe, "deno"]);
  if (r === undefined) return;
  assert.match(r, /^ok 2/, r);
});

test.run();
