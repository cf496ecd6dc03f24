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

/** The namespace's full-buffer counts as /proc/net/snmp and snmp6 print them. */
function snmp(rcvbuf: number, rcvbuf6 = 0): Record<string, string[]> {
  return {
    "/proc/net/snmp": [
      "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors",
      `Udp: 1000 0 ${rcvbuf} 1000 ${rcvbuf} 0 0 0 0`,
    ],
    "/proc/net/snmp6": [`Udp6InErrors                    \t${rcvbuf6}`, `Udp6RcvbufErrors                \t${rcvbuf6}`],
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

test("the count is this socket's drops, no more than the namespace's full buffers less every other socket's drops: bad checksums here, other sockets' overflows, and both at once are not counted", () => {
  if (endianness() !== "LE") return; // the lines below are written for a little-endian machine
  const port = 6969;
  const files: Record<string, string[]> = { "/proc/net/udp": [line(7000, 11, 0), line(port, 22, 5)], ...snmp(100) };
  const overflows = receiveOverflowCounter({ address: "127.0.0.1", port, family: "IPv4" }, { proc: reader(files) });
  assert.is(overflows(), 0, "counted from the first call");
  files["/proc/net/udp"] = [line(7000, 11, 0), line(port, 22, 8)];
  assert.is(overflows(), 0, "3 bad checksums here: no full buffer");
  files["/proc/net/udp"] = [line(7000, 11, 40), line(port, 22, 8)];
  Object.assign(files, snmp(140));
  assert.is(overflows(), 0, "40 overflows of another socket");
  files["/proc/net/udp"] = [line(7000, 11, 140), line(port, 22, 108)];
  Object.assign(files, snmp(240));
  assert.is(overflows(), 0, "100 bad checksums here while the other socket overflows 100 times");
  files["/proc/net/udp"] = [line(7000, 11, 140), line(port, 22, 158)];
  Object.assign(files, snmp(290));
  assert.is(overflows(), 50, "50 overflows here (and bad checksums to a closed port, in nobody's drops)");
  files["/proc/net/udp"] = [line(7000, 11, 170), line(port, 22, 208)];
  Object.assign(files, snmp(340));
  assert.is(overflows(), 70, "50 overflows here while 30 bad checksums go to the other open socket: 20 counted (errs low)");
  files["/proc/net/udp"] = [line(port, 44, 1000, V4_LOOPBACK_2), line(7000, 11, 170), line(port, 22, 218)];
  Object.assign(files, snmp(350));
  assert.is(overflows(), 70, "a socket new since the last read brings its drops: another took the port on another address, with 1000");
  files["/proc/net/udp"] = [line(port, 44, 1000, V4_LOOPBACK_2), line(7000, 11, 170), line(port, 22, 228)];
  Object.assign(files, snmp(360));
  assert.is(overflows(), 80, "ours is followed by its inode");
});

test("an IPv6 socket is read from udp6, other sockets of both tables count as others; several sockets on one address and port are told apart by the inodes this process holds", () => {
  if (endianness() !== "LE") return;
  const any6 = "0".repeat(32);
  const files: Record<string, string[]> = { "/proc/net/udp": [line(6969, 11, 0)], "/proc/net/udp6": [line(6969, 33, 7, any6), line(6969, 34, 2, any6)], ...snmp(0) };
  const mine = receiveOverflowCounter({ address: "::", port: 6969, family: "IPv6" }, { proc: reader(files, [34, 99]) });
  const unknown = receiveOverflowCounter({ address: "::", port: 6969, family: "IPv6" }, { proc: reader(files, [99]) });
  assert.equal([mine(), unknown()], [0, undefined]);
  // 4 overflows here (an IPv4 client of the dual-stack socket counts in the IPv4 counter), 5 of the IPv4 socket.
  files["/proc/net/udp"] = [line(6969, 11, 5)];
  files["/proc/net/udp6"] = [line(6969, 33, 7, any6), line(6969, 34, 6, any6)];
  Object.assign(files, snmp(9, 0));
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
