/**
 * CPU cost of the SCTP stack per MiB moved, sender and receiver separately
 * (process.cpuUsage, user + sys), over real UDP on loopback between two
 * processes, with no hashing or copying by the application: the figure the
 * stack's per-packet work decides, and far less sensitive to other load on
 * the machine than MB/s. Also prints wall-clock MB/s.
 *
 *   node bench/sctp_cpu.ts [MiB=64] [messageBytes=65536] [packet=1200 | 0 for PLPMTUD]
 *   SCTP_OPTS='{"congestionControl":"reno"}' node bench/sctp_cpu.ts 64 65536 0
 *   WARM_MIB=100 node bench/sctp_cpu.ts 100 65536 1200
 *
 * WARM_MIB first moves that many MiB on the same association, unmeasured, so
 * the figures are those of code V8 has already optimized (a cold process pays
 * for its JIT compiling during the first tens of MiB).
 * @module
 */
import { fork } from "node:child_process";
import { openUdpSocket } from "../src/transport/udp.ts";
import { type Association, SctpEndpoint } from "../src/transport/sctp/index.ts";
const extra = JSON.parse(process.env.SCTP_OPTS ?? "{}");
const warmBytes = Number(process.env.WARM_MIB ?? 0) * 1024 * 1024;
if (process.argv[2] === "--receiver") {
  const packet = Number(process.argv[3]);
  const socket = await openUdpSocket({ host: "127.0.0.1", port: 0 });
  const ep = SctpEndpoint.listen({ socket, ...extra, ...(packet > 0 ? { maxPacketSize: packet, initialPacketSize: packet, pmtud: false } : {}) });
  ep.on("association", (a: Association) => {
    let bytes = 0; let warm = 0; let c0: NodeJS.CpuUsage | undefined;
    a.on("message", (_s: number, d: Uint8Array) => {
      if (warm < warmBytes) { warm += d.length; return; }
      if (!c0) c0 = process.cpuUsage(); bytes += d.length;
    });
    a.on("close", () => { const c = process.cpuUsage(c0); process.send!({ done: true, bytes, cpu: c.user + c.system }); void ep.close().then(() => process.exit(0)); });
  });
  process.send!({ port: socket.localAddress().port });
} else {
  const mib = Number(process.argv[2] ?? 64); const msg = Number(process.argv[3] ?? 65536); const packet = Number(process.argv[4] ?? 1200);
  const child = fork(new URL(import.meta.url).pathname, ["--receiver", String(packet)], { stdio: "inherit" });
  const port = await new Promise<number>((r) => child.once("message", (m: any) => r(m.port)));
  const result = new Promise<any>((r) => child.on("message", (m: any) => m.done && r(m)));
  const socket = await openUdpSocket({ host: "127.0.0.1", port: 0, connect: { address: "127.0.0.1", port } });
  const ep = SctpEndpoint.listen({ socket, accept: false, ...extra, ...(packet > 0 ? { maxPacketSize: packet, initialPacketSize: packet, pmtud: false } : {}) });
  const a = await ep.connect({ address: "127.0.0.1", port });
  if (packet === 0) { const t = performance.now(); while (a.stats().pmtu <= 1200 && performance.now() - t < 2000) await new Promise((r) => setTimeout(r, 10)); }
  const total = mib * 1024 * 1024; const block = new Uint8Array(msg).fill(7);
  for (let w = 0; w < warmBytes; w += msg) if (!a.send(1, block)) await new Promise<void>((r) => a.once("drain", r));
  const c0 = process.cpuUsage(); const t0 = performance.now(); let sent = 0;
  while (sent < total) { const n = Math.min(msg, total - sent); sent += n; if (!a.send(1, n === msg ? block : block.subarray(0, n))) await new Promise<void>((r) => a.once("drain", r)); }
  await a.close(); const c = process.cpuUsage(c0); const r = await result; const secs = (performance.now() - t0) / 1000;
  const st = a.stats();
  console.log(`packet ${packet || st.pmtu}: ${(total / 1e6 / secs).toFixed(1)} MB/s wall; CPU µs/MiB sender ${((c.user + c.system) / mib).toFixed(0)} receiver ${(r.cpu / mib).toFixed(0)}; ok=${r.bytes === total} rtx=${st.retransmissions} pkts=${st.packetsSent} rcvd=${st.packetsReceived}`);
  await ep.close(); await socket.close();
  await new Promise((r) => child.once("exit", r));
}
