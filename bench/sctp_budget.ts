/**
 * The per-packet budget behind the transport bar "goodput ≥ 0.8× a bare
 * node:dgram window at the same packet size", in one run:
 *
 * 1. What one datagram costs the bare window on each side (kernel and
 *    node:dgram; `bench/dgram_cpu.ts`, two processes on loopback, CPU per
 *    datagram). sfx pays the same per packet, plus its own work.
 * 2. What the SCTP stack's own work costs per packet: both endpoints in this
 *    process over an in-memory link (no kernel, no node:dgram), CPU per data
 *    packet divided by two (one sender's and one receiver's share).
 * 3. Of that, the CRC-32C every packet carries (RFC 9260 §6.8), computed once
 *    on each side.
 *
 * With both processes busy, goodput ≈ bare ÷ (1 + own ÷ bare per side), so the
 * bar needs the stack's own work at most a quarter of the bare cost.
 *
 *   node bench/sctp_budget.ts [MiB=100] [packet=1200] [runs=3]
 *
 * The in-memory link hands each datagram over in a fresh buffer of its own, as
 * node:dgram does (~0.5 µs, which figure 1 already holds): what the link
 * costs per datagram is measured alone, with nothing reading, and taken off.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { DatagramHandler, DatagramSocket, LocalAddress, RemoteAddress } from "../src/transport/datagram.ts";
import { type Association, SctpEndpoint } from "../src/transport/sctp/index.ts";
import { sctpChecksum } from "../src/transport/sctp/crc32c.ts";

const mib = Number(process.argv[2] ?? 100);
const packet = Number(process.argv[3] ?? 1200);
const runs = Number(process.argv[4] ?? 3);

/** One end of an in-memory link: datagrams queue up and are delivered together on the next turn, as a socket's would be. */
class MemorySocket implements DatagramSocket {
  peer!: MemorySocket;
  sent = 0;
  #handler: DatagramHandler = () => {};
  #queue: Uint8Array[] = [];
  #scheduled = false;
  readonly #address: LocalAddress;
  constructor(port: number) {
    this.#address = { address: "127.0.0.1", port, family: "IPv4" };
  }
  send(data: Uint8Array, _to: RemoteAddress, released?: (data: Uint8Array) => void): void {
    this.sent++;
    this.peer.#enqueue(data.slice());
    if (released) setImmediate(released, data);
  }
  #enqueue(data: Uint8Array): void {
    this.#queue.push(data);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const queue = this.#queue;
      this.#queue = [];
      for (const d of queue) this.#handler(d, this.peer.#address);
    });
  }
  onMessage(handler: DatagramHandler): void {
    this.#handler = handler;
  }
  localAddress(): LocalAddress {
    return this.#address;
  }
  async close(): Promise<void> {}
}

/** CPU µs per data packet of both endpoints together, moving `mib` MiB in 64 KiB messages. */
async function stackCost(): Promise<number> {
  const a = new MemorySocket(1);
  const b = new MemorySocket(2);
  a.peer = b;
  b.peer = a;
  const fixed = { maxPacketSize: packet, initialPacketSize: packet, pmtud: false };
  const receiver = SctpEndpoint.listen({ socket: b, ...fixed });
  const sender = SctpEndpoint.listen({ socket: a, accept: false, ...fixed });
  let received = 0;
  const closed = new Promise<void>((resolve) => {
    receiver.on("association", (assoc: Association) => {
      assoc.on("message", (_stream: number, data: Uint8Array) => (received += data.length));
      assoc.on("close", () => resolve());
    });
  });
  const assoc = await sender.connect(b.localAddress());
  const total = mib * 1048576;
  const block = new Uint8Array(65536).fill(7);
  const sentBefore = a.sent;
  const c0 = process.cpuUsage();
  for (let sent = 0; sent < total; sent += block.length) {
    if (!assoc.send(1, block)) await new Promise<void>((resolve) => assoc.once("drain", resolve));
  }
  await assoc.close();
  await closed;
  const c = process.cpuUsage(c0);
  await sender.close();
  await receiver.close();
  if (received !== total) throw new Error(`received ${received} of ${total} bytes`);
  return (c.user + c.system) / (a.sent - sentBefore);
}

/** CPU µs per datagram of the in-memory link alone (nothing reads what arrives), over as many datagrams as a run moves. */
async function linkCost(): Promise<number> {
  const a = new MemorySocket(1);
  const b = new MemorySocket(2);
  a.peer = b;
  b.peer = a;
  let got = 0;
  b.onMessage(() => got++);
  const count = Math.ceil(mib * 1048576 / (packet - 32));
  const p = new Uint8Array(packet).fill(7);
  const c0 = process.cpuUsage();
  for (let sent = 0; sent < count;) {
    // In bursts, as a window's worth of packets goes out per turn of the event loop.
    for (let i = 0; i < 64 && sent < count; i++, sent++) a.send(p, b.localAddress());
    await new Promise((r) => setImmediate(r));
  }
  while (got < count) await new Promise((r) => setImmediate(r));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / count;
}

/** µs per CRC-32C of one packet of this size. */
function crcCost(): number {
  const p = new Uint8Array(packet).fill(7);
  let sink = 0;
  for (let i = 0; i < 20_000; i++) sink ^= sctpChecksum(p);
  const n = 200_000;
  const t = performance.now();
  for (let i = 0; i < n; i++) sink ^= sctpChecksum(p);
  const us = (performance.now() - t) * 1000 / n;
  return sink === 0.5 ? 0 : us;
}

/** The bare window's CPU per datagram on each side, from bench/dgram_cpu.ts (two processes, loopback). */
function bareCost(): { sender: number; receiver: number } {
  const script = fileURLToPath(new URL("./dgram_cpu.ts", import.meta.url));
  const out = execFileSync(process.execPath, [...process.execArgv, script, String(mib), String(packet)], { encoding: "utf8" });
  const m = /sender (\d+) receiver (\d+)/.exec(out);
  if (!m) throw new Error(`unexpected output from dgram_cpu.ts: ${out}`);
  const perMiB = 1048576 / (packet - 4);
  return { sender: Number(m[1]) / perMiB, receiver: Number(m[2]) / perMiB };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const bare: { sender: number; receiver: number }[] = [];
const own: number[] = [];
for (let i = 0; i < runs; i++) {
  bare.push(bareCost());
  own.push(((await stackCost()) - (await linkCost())) / 2);
}
const bareSide = Math.min(median(bare.map((b) => b.sender)), median(bare.map((b) => b.receiver)));
const ownSide = median(own);
const crc = crcCost();
const f = (x: number) => x.toFixed(2).padStart(5);
console.log(`${packet}-byte packets, ${mib} MiB, median of ${runs} (µs of CPU per packet, per side)`);
console.log(`  bare window, kernel + node:dgram: sender ${f(median(bare.map((b) => b.sender)))}, receiver ${f(median(bare.map((b) => b.receiver)))}`);
console.log(`  sfx stack's own work (in memory): ${f(ownSide)}   of which CRC-32C ${f(crc)} (${(100 * crc / ownSide).toFixed(0)} %)`);
console.log(`  expected goodput ÷ bare ≈ 1 / (1 + ${f(ownSide).trim()} / ${f(bareSide).trim()}) = ${(1 / (1 + ownSide / bareSide)).toFixed(2)}×`);
console.log(`  0.8× needs own work ≤ ${f(bareSide / 4).trim()} µs per packet per side (CRC-32C alone is ${f(crc).trim()})`);
