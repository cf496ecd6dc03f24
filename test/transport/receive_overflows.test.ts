/** The kernel's count of datagrams a UDP socket dropped for a full receive buffer, read from /proc/net/udp and /proc/net/snmp. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { endianness } from "node:os";
import { procAddress, type ProcReader, receiveOverflowCounter } from "../../src/transport/receive_overflows.ts";
import { openUdpSocket } from "../../src/transport/udp.ts";
import { until } from "../pairing/_harness.ts";

const HEAD = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";
const V4_LOOPBACK = "0100007F";
const V4_LOOPBACK_2 = "0200007F";
/** A reader that waited for datagrams all along (its event loop idle). */
const idle = () => 0;

/** A /proc/net/udp line: socket `inode` bound to `address` (as /proc prints it) and `port`, with `drops` dropped and `queued` bytes to read. */
function line(port: number, inode: number, drops: number, address = V4_LOOPBACK, queued = 0): string {
  const p = port.toString(16).toUpperCase().padStart(4, "0");
  const q = queued.toString(16).toUpperCase().padStart(8, "0");
  return `  12: ${address}:${p} 00000000:0000 07 00000000:${q} 00:00000000 00000000     0        0 ${inode} 2 0000000000000000 ${drops}`;
}

/** The system's UDP counters as /proc/net/snmp and snmp6 print them: full buffers and bad checksums. */
function snmp(rcvbuf: number, rcvbuf6 = 0, csum = 0, csum6 = 0): Record<string, string[]> {
  return {
    "/proc/net/snmp": [
      "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors",
      `Udp: 1000 0 ${rcvbuf + csum} 1000 ${rcvbuf} 0 ${csum} 0 0`,
    ],
    "/proc/net/snmp6": [
      `Udp6InErrors                    \t${rcvbuf6 + csum6}`,
      `Udp6RcvbufErrors                \t${rcvbuf6}`,
      `Udp6InCsumErrors                \t${csum6}`,
    ],
  };
}

/** A reader serving `files` (path → lines, with a header for the socket tables), counting its reads; `own` are the process's socket inodes. */
function reader(files: Record<string, string[]>, own: number[] = [], mayRead = true): ProcReader & { reads: number } {
  const r = {
    reads: 0,
    mayRead: () => mayRead,
    readFile(path: string) {
      r.reads++;
      const lines = files[path];
      if (!lines) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
      return [...(path.includes("snmp") ? [] : [HEAD]), ...lines, ""].join("\n");
    },
    ownSocketInodes: () => new Set(own.map(String)),
  };
  return r;
}

test("procAddress() writes an address as /proc/net/udp does: 32-bit words in native byte order", () => {
  const le = endianness() === "LE";
  assert.is(procAddress({ address: "127.0.0.1", family: "IPv4" }), le ? "0100007F" : "7F000001");
  assert.is(procAddress({ address: "0.0.0.0", family: "IPv4" }), "00000000");
  assert.is(procAddress({ address: "::", family: "IPv6" }), "0".repeat(32));
  assert.is(procAddress({ address: "::1", family: "IPv6" }), "0".repeat(24) + (le ? "01000000" : "00000001"));
  assert.is(procAddress({ address: "::ffff:127.0.0.1", family: "IPv6" }), le ? "0000000000000000FFFF00000100007F" : "00000000" + "00000000" + "0000FFFF" + "7F000001");
  assert.is(procAddress({ address: "fe80::1%eth0", family: "IPv6" }), le ? "000080FE000000000000000001000000" : "FE800000000000000000000000000001");
});

test("the count is of drops on this socket that the system counted as full buffers: bad checksums (drops, no RcvbufErrors), other sockets' overflows (RcvbufErrors, no drops), and both at once are not", () => {
  const port = 6969;
  const files = { "/proc/net/udp": [line(6970, 11, 0), line(port, 22, 5)], ...snmp(100) };
  const overflows = receiveOverflowCounter({ address: "127.0.0.1", port, family: "IPv4" }, { proc: reader(files), busy: idle });
  if (endianness() !== "LE") return; // the lines above are written for a little-endian machine
  assert.is(overflows(), 0, "counted from the first call");
  files["/proc/net/udp"] = [line(6970, 11, 0), line(port, 22, 8)];
  assert.is(overflows(), 0, "3 bad checksums");
  Object.assign(files, snmp(140));
  assert.is(overflows(), 0, "40 overflows elsewhere");
  files["/proc/net/udp"] = [line(port, 22, 18)];
  Object.assign(files, snmp(150, 5));
  assert.is(overflows(), 10, "10 more drops here, 15 full buffers in the system");
  files["/proc/net/udp"] = [line(port, 44, 1000, V4_LOOPBACK_2), line(port, 22, 30)];
  Object.assign(files, snmp(170, 5));
  assert.is(overflows(), 22, "another socket took the port on another address: ours is followed by its inode");
  // Bad checksums sent here while another socket overflows: both system counts rise, and our drops.
  files["/proc/net/udp"] = [line(port, 22, 130)];
  Object.assign(files, snmp(270, 5, 60, 40));
  assert.is(overflows(), 22, "100 bad checksums here, 100 overflows elsewhere");
  files["/proc/net/udp"] = [line(port, 22, 150)];
  Object.assign(files, snmp(300, 5, 65, 40));
  assert.is(overflows(), 37, "20 more drops here, 5 of them bad checksums");
});

test("drops that bad checksums elsewhere would cancel out count when the socket's queue is at least half its buffer (it is overflowing), not when it is near empty or the buffer's size is unknown", () => {
  if (endianness() !== "LE") return;
  const port = 6969;
  const buffer = 400_000;
  const files = { "/proc/net/udp": [line(port, 22, 0)], ...snmp(0) };
  const known = receiveOverflowCounter({ address: "127.0.0.1", port, family: "IPv4" }, { proc: reader(files), receiveBuffer: () => buffer, busy: idle });
  const unknown = receiveOverflowCounter({ address: "127.0.0.1", port, family: "IPv4" }, { proc: reader(files), busy: idle });
  assert.equal([known(), unknown()], [0, 0]);
  // 50 overflows here, 50 bad checksums to some closed port: the counts alone say nothing happened here.
  files["/proc/net/udp"] = [line(port, 22, 50, V4_LOOPBACK, 390_000)];
  Object.assign(files, snmp(50, 0, 50));
  assert.equal([known(), unknown()], [50, 0]);
  // 30 bad checksums here while another socket overflows 30 times: the queue is empty.
  files["/proc/net/udp"] = [line(port, 22, 80, V4_LOOPBACK, 0)];
  Object.assign(files, snmp(80, 0, 80));
  assert.equal([known(), unknown()], [50, 0]);
  // 40 overflows here, 10 bad checksums elsewhere: all 40 with the queue's word, 30 without.
  files["/proc/net/udp"] = [line(port, 22, 120, V4_LOOPBACK, 200_000)];
  Object.assign(files, snmp(120, 0, 90));
  assert.equal([known(), unknown()], [90, 30]);
});

test("drops that bad checksums elsewhere would cancel out count when the reader's event loop was busy at least half the time since the last read (it fell behind), whatever its queue at the read", () => {
  if (endianness() !== "LE") return;
  const port = 6969;
  let busy = 0.9;
  const files = { "/proc/net/udp": [line(port, 22, 0)], ...snmp(0) };
  const overflows = receiveOverflowCounter({ address: "127.0.0.1", port, family: "IPv4" }, { proc: reader(files), busy: () => busy });
  assert.is(overflows(), 0);
  // 50 overflows here, drained by the read; 50 bad checksums to some closed port.
  files["/proc/net/udp"] = [line(port, 22, 50)];
  Object.assign(files, snmp(50, 0, 50));
  assert.is(overflows(), 50);
  // Idle: 30 bad checksums here while another socket overflows 30 times.
  busy = 0.1;
  files["/proc/net/udp"] = [line(port, 22, 80)];
  Object.assign(files, snmp(80, 0, 80));
  assert.is(overflows(), 50);
});

test("an IPv6 socket is read from udp6, and several sockets on one address and port are told apart by the inodes this process holds", () => {
  if (endianness() !== "LE") return;
  const any6 = "0".repeat(32);
  const files = { "/proc/net/udp": [line(6969, 11, 0)], "/proc/net/udp6": [line(6969, 33, 7, any6), line(6969, 34, 2, any6)], ...snmp(0) };
  const mine = receiveOverflowCounter({ address: "::", port: 6969, family: "IPv6" }, { proc: reader(files, [34, 99]), busy: idle });
  const unknown = receiveOverflowCounter({ address: "::", port: 6969, family: "IPv6" }, { proc: reader(files, [99]), busy: idle });
  assert.equal([mine(), unknown()], [0, undefined]);
  files["/proc/net/udp6"] = [line(6969, 33, 7, any6), line(6969, 34, 6, any6)];
  Object.assign(files, snmp(3, 9));
  assert.equal([mine(), unknown()], [4, undefined]);
});

test("where /proc cannot be read, or may not be read without asking (Deno), the count is undefined and nothing is read again", () => {
  const none = reader({});
  const a = receiveOverflowCounter({ address: "127.0.0.1", port: 6969, family: "IPv4" }, { proc: none });
  assert.equal([a(), a(), none.reads], [undefined, undefined, 1]);
  const refused = reader({ "/proc/net/udp": [line(6969, 11, 0)], ...snmp(0) }, [], false);
  const b = receiveOverflowCounter({ address: "127.0.0.1", port: 6969, family: "IPv4" }, { proc: refused });
  assert.equal([b(), refused.reads], [undefined, 0]);
});

test("a real socket that cannot keep up: what it never received is counted (no more than its drops; bad checksums elsewhere on the host may hide some)", async () => {
  const socket = await openUdpSocket({ host: "127.0.0.1" });
  const sender = createSocket("udp4");
  const drops = socketDropsColumn(socket.localAddress().port);
  let received = 0;
  let sent = 0;
  socket.onMessage(() => received++);
  try {
    const before = socket.receiveOverflows();
    if (before === undefined) throw new Error("no overflow count on this machine: /proc/net/udp cannot be read");
    const dropsBefore = drops();
    const datagram = new Uint8Array(60_000);
    // The receiver reads only between bursts: a burst far larger than its buffer overflows it.
    for (let burst = 0; burst < 20 && drops() === dropsBefore; burst++) {
      for (let i = 0; i < 400; i++, sent++) sender.send(datagram, socket.localAddress().port, "127.0.0.1");
      await new Promise((r) => setTimeout(r, 50));
    }
    await until(() => received + drops() - dropsBefore === sent, 5000, "every datagram received or dropped");
    const counted = socket.receiveOverflows()! - before;
    assert.ok(counted > 0 && counted <= drops() - dropsBefore, `counted ${counted} of ${drops() - dropsBefore} dropped, ${sent} sent`);
    assert.ok(received > 0);
  } finally {
    sender.close();
    await socket.close();
  }
});

/** The raw `drops` column of the IPv4 loopback socket bound to `port`, read from /proc/net/udp. */
function socketDropsColumn(port: number): () => number {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return () => Number(readFileSync("/proc/net/udp", "latin1").split("\n").map((l) => l.trim().split(/\s+/)).find((f) => f[1]?.endsWith(suffix))?.[12]);
}

test.run();
