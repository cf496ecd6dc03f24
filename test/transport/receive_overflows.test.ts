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

/** A /proc/net/udp line: socket `inode` bound to `address` (as /proc prints it) and `port`, with `drops` dropped. */
function line(port: number, inode: number, drops: number, address = V4_LOOPBACK): string {
  const p = port.toString(16).toUpperCase().padStart(4, "0");
  return `  12: ${address}:${p} 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 ${inode} 2 0000000000000000 ${drops}`;
}

/** The namespace's counts as /proc/net/snmp and snmp6 print them: full buffers and bad checksums. */
function snmp(rcvbuf: number, csum = 0, rcvbuf6 = 0, csum6 = 0): Record<string, string[]> {
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
function reader(files: Record<string, string[]>, own: number[] = [], mayRead = true): ProcReader & { reads: number; log: string[] } {
  const r = {
    reads: 0,
    mayRead: () => mayRead,
    log: [] as string[],
    readFile(path: string) {
      r.reads++;
      r.log.push(path);
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

test("the count is this socket's drops less the namespace's bad checksums, no more than its full buffers: nothing a stranger sends makes it grow", () => {
  if (endianness() !== "LE") return; // the lines below are written for a little-endian machine
  const port = 6969;
  const files: Record<string, string[]> = { "/proc/net/udp": [line(7000, 11, 0), line(port, 22, 5)], ...snmp(100, 10) };
  const overflows = receiveOverflowCounter({ address: "127.0.0.1", port, family: "IPv4" }, { proc: reader(files) });
  const step = (drops: number, rcvbuf: number, csum: number) => {
    files["/proc/net/udp"] = [line(7000, 11, 0), line(port, 22, drops)];
    Object.assign(files, snmp(rcvbuf, csum));
    return overflows();
  };
  assert.is(overflows(), 0, "counted from the first call");
  assert.is(step(55, 150, 10), 50, "50 overflows here");
  assert.is(step(58, 150, 13), 50, "3 bad checksums here, no full buffer anywhere");
  assert.is(step(58, 190, 13), 50, "40 overflows of another socket, or of sockets since closed");
  assert.is(step(158, 290, 113), 50, "100 bad checksums here while others overflow 100 times");
  assert.is(step(208, 340, 133), 80, "50 overflows here while 20 bad checksums go elsewhere: 30 counted (errs low)");
  assert.is(step(218, 350, 133), 90, "10 more here");
  // Another socket took the port on another address: ours is followed by its inode.
  files["/proc/net/udp"] = [line(port, 44, 1000, V4_LOOPBACK_2), line(port, 22, 228)];
  Object.assign(files, snmp(360, 133));
  assert.is(overflows(), 100);
});

test("while the namespace's full buffers stand still the socket's table is not read, and what changed meanwhile is counted at the next read", () => {
  if (endianness() !== "LE") return;
  const port = 6969;
  const files: Record<string, string[]> = { "/proc/net/udp": [line(port, 22, 0)], ...snmp(0) };
  const r = reader(files);
  const overflows = receiveOverflowCounter({ address: "127.0.0.1", port, family: "IPv4" }, { proc: r });
  assert.is(overflows(), 0);
  const tableReads = () => r.log.filter((path) => path === "/proc/net/udp").length;
  const before = tableReads();
  files["/proc/net/udp"] = [line(port, 22, 7)];
  Object.assign(files, snmp(0, 7)); // 7 bad checksums here
  assert.equal([overflows(), overflows(), tableReads() - before], [0, 0, 0]);
  files["/proc/net/udp"] = [line(port, 22, 17)];
  Object.assign(files, snmp(10, 7)); // then 10 overflows here
  assert.equal([overflows(), tableReads() - before], [10, 1]);
});

test("an IPv6 socket is read from udp6, with the IPv6 counters added; several sockets on one address and port are told apart by the inodes this process holds", () => {
  if (endianness() !== "LE") return;
  const any6 = "0".repeat(32);
  const files: Record<string, string[]> = { "/proc/net/udp6": [line(6969, 33, 7, any6), line(6969, 34, 2, any6)], ...snmp(0) };
  const mine = receiveOverflowCounter({ address: "::", port: 6969, family: "IPv6" }, { proc: reader(files, [34, 99]) });
  const unknown = receiveOverflowCounter({ address: "::", port: 6969, family: "IPv6" }, { proc: reader(files, [99]) });
  assert.equal([mine(), unknown()], [0, undefined]);
  // 3 overflows from IPv4 clients of the dual-stack socket, 1 from an IPv6 one, 2 bad IPv6 checksums.
  files["/proc/net/udp6"] = [line(6969, 33, 7, any6), line(6969, 34, 8, any6)];
  Object.assign(files, snmp(3, 0, 1, 2));
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
      await new Promise((r) => setImmediate(r)); // one turn of the event loop: the receiver reads
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
