/** The kernel's count of datagrams a UDP socket dropped for a full receive buffer, read from /proc/net/udp. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSocket } from "node:dgram";
import { kernelDropCounter, type ProcReader } from "../../src/transport/kernel_drops.ts";
import { openUdpSocket } from "../../src/transport/udp.ts";
import { until } from "../pairing/_harness.ts";

const HEAD = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";

/** A /proc/net/udp line: socket `inode` bound to port `port` with `drops` dropped. */
function line(port: number, inode: number, drops: number, address = "0100007F"): string {
  const p = port.toString(16).toUpperCase().padStart(4, "0");
  return `  12: ${address}:${p} 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 ${inode} 2 0000000000000000 ${drops}`;
}

/** A reader serving `files` (path → lines), counting its reads; `own` are the process's socket inodes. */
function reader(files: Record<string, string[]>, own: number[] = []): ProcReader & { reads: number } {
  const r = {
    reads: 0,
    readFile(path: string) {
      r.reads++;
      const lines = files[path];
      if (!lines) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
      return [HEAD, ...lines, ""].join("\n");
    },
    ownSocketInodes: () => new Set(own.map(String)),
  };
  return r;
}

test("the counter follows the socket bound to the port, found once, then by its inode (IPv4 from udp, IPv6 from udp6)", () => {
  const files = { "/proc/net/udp": [line(6970, 11, 0), line(6969, 22, 5)], "/proc/net/udp6": [line(6969, 33, 7, "00000000000000000000000000000000")] };
  const v4 = kernelDropCounter({ address: "127.0.0.1", port: 6969, family: "IPv4" }, reader(files));
  const v6 = kernelDropCounter({ address: "::", port: 6969, family: "IPv6" }, reader(files));
  assert.is(v4(), 5);
  assert.is(v6(), 7);
  // Later lines keep the inode: another socket took the port number elsewhere, ours dropped more.
  files["/proc/net/udp"] = [line(6969, 44, 1000, "0200007F"), line(6969, 22, 9)];
  assert.is(v4(), 9);
});

test("several sockets on the port are told apart by the inodes this process holds; until then, and where /proc cannot be read, the count is undefined", () => {
  const files = { "/proc/net/udp": [line(6969, 11, 3, "0100007F"), line(6969, 22, 4, "0200007F")] };
  assert.is(kernelDropCounter({ address: "127.0.0.2", port: 6969, family: "IPv4" }, reader(files, [22, 99]))(), 4);
  assert.is(kernelDropCounter({ address: "127.0.0.2", port: 6969, family: "IPv4" }, reader(files, [99]))(), undefined);
  assert.is(kernelDropCounter({ address: "127.0.0.1", port: 7000, family: "IPv4" }, reader(files))(), undefined, "no socket on the port");
  const none = reader({});
  const drops = kernelDropCounter({ address: "127.0.0.1", port: 6969, family: "IPv4" }, none);
  assert.equal([drops(), drops(), none.reads], [undefined, undefined, 1], "an unreadable /proc is not read again");
});

test("a real socket that cannot keep up: the count is exactly the datagrams it never received", async () => {
  const socket = await openUdpSocket({ host: "127.0.0.1" });
  const sender = createSocket("udp4");
  let received = 0;
  let sent = 0;
  socket.onMessage(() => received++);
  try {
    const before = socket.kernelDrops();
    if (before === undefined) throw new Error("no drop counter on this machine: /proc/net/udp cannot be read");
    const datagram = new Uint8Array(60_000);
    // The receiver reads only between bursts: a burst far larger than its buffer overflows it.
    for (let burst = 0; burst < 20 && socket.kernelDrops()! === before; burst++) {
      for (let i = 0; i < 400; i++, sent++) sender.send(datagram, socket.localAddress().port, "127.0.0.1");
      await new Promise((r) => setTimeout(r, 50));
    }
    await until(() => received + socket.kernelDrops()! - before === sent, 5000, "every datagram received or counted as dropped");
    assert.ok(socket.kernelDrops()! > before, `dropped ${socket.kernelDrops()! - before} of ${sent}`);
    assert.ok(received > 0);
  } finally {
    sender.close();
    await socket.close();
  }
});

test.run();
