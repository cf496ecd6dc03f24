/**
 * The baseline for bench/sctp_cpu.ts: a bare node:dgram sliding window (u32
 * sequence number + payload, an ACK every 16 datagrams and for the last one,
 * go-back-N after 30 ms without progress) between two processes on loopback,
 * no hashing, printing wall-clock
 * MB/s and CPU per MiB on each side in the same format. Run the two
 * alternately to compare the stack's per-packet cost with the kernel's:
 *
 *   for i in 1 2 3; do node bench/dgram_cpu.ts 64 1200; node bench/sctp_cpu.ts 64 65536 1200; done
 *
 * @module
 */
import { fork } from "node:child_process";
import { openUdpSocket } from "../src/transport/udp.ts";
if (process.argv[2] === "--receiver") {
  const socket = await openUdpSocket({ host: "127.0.0.1", port: 0 });
  let expected = 0; const ack = new Uint8Array(4); const av = new DataView(ack.buffer); let c0: any;
  socket.onMessage((d, from) => {
    if (!c0) c0 = process.cpuUsage();
    const word = new DataView(d.buffer, d.byteOffset, d.length).getUint32(0);
    if (word === 0xffffffff) { const c = process.cpuUsage(c0); process.send!({ done: true, cpu: c.user + c.system, n: expected }); void socket.close().then(() => process.exit(0)); return; }
    // The top bit marks the last datagram, acknowledged at once (not after the sender's 30 ms timeout).
    const seq = word & 0x7fffffff; const last = word >>> 31 === 1;
    if (seq === expected) { expected++; if (expected % 16 !== 0 && !last) return; }
    av.setUint32(0, expected); socket.send(ack.slice(), from);
  });
  process.send!({ port: socket.localAddress().port });
} else {
  const mib = Number(process.argv[2] ?? 64); const packet = Number(process.argv[3] ?? 1200);
  const child = fork(new URL(import.meta.url).pathname, ["--receiver"], { stdio: "inherit" });
  const port = await new Promise<number>((r) => child.once("message", (m: any) => r(m.port)));
  const result = new Promise<any>((r) => child.on("message", (m: any) => m.done && r(m)));
  const to = { address: "127.0.0.1", port };
  const socket = await openUdpSocket({ host: "127.0.0.1", port: 0, connect: to });
  const count = Math.ceil(mib * 1048576 / (packet - 4)); const window = Math.floor((1 << 20) / packet);
  let base = 0, next = 0, goBacks = 0; const block = new Uint8Array(packet - 4).fill(7);
  const c0 = process.cpuUsage(); const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const pump = () => { while (next < count && next - base < window) { const d = new Uint8Array(packet); new DataView(d.buffer).setUint32(0, (next | (next === count - 1 ? 0x80000000 : 0)) >>> 0); d.set(block, 4); socket.send(d, to); next++; } };
    // Go back N only after 30 ms without progress: resending the window on every tick made the
    // receiver handle duplicates, which inflated the baseline's CPU per MiB.
    let lastProgress = performance.now();
    const timer = setInterval(() => { if (performance.now() - lastProgress > 30) { next = base; goBacks++; lastProgress = performance.now(); pump(); } }, 10);
    socket.onMessage((data) => { const a = new DataView(data.buffer, data.byteOffset, data.length).getUint32(0); if (a > base) { base = a; lastProgress = performance.now(); if (base >= count) { clearInterval(timer); return resolve(); } pump(); } });
    pump();
  });
  const c = process.cpuUsage(c0); const secs = (performance.now() - t0) / 1000;
  const end = new Uint8Array(4).fill(0xff); socket.send(end, to);
  const r = await Promise.race([result, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the receiver never reported (end marker lost?)")), 30_000).unref())]); await socket.close();
  console.log(`bare dgram ${packet}: ${(mib * 1.048576 / secs).toFixed(1)} MB/s wall; CPU µs/MiB sender ${((c.user + c.system) / mib).toFixed(0)} receiver ${(r.cpu / mib).toFixed(0)}; go-backs ${goBacks}`);
}
