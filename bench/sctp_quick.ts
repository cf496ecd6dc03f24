/**
 * Quick SCTP goodput check on loopback: two processes (this file forks a
 * receiver), real UDP, one association, N MiB in messages of M bytes,
 * SHA-256 compared at the end. Prints MB/s at a fixed 1200-byte packet size
 * and with the PMTU that PLPMTUD discovers.
 *
 *   node bench/sctp_quick.ts [MiB=64] [messageBytes=65536] [mode=both|1200|pmtud]
 *
 * @module
 */

import { fork } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { openUdpSocket } from "../src/transport/udp.ts";
import { type Association, SctpEndpoint } from "../src/transport/sctp/index.ts";

const role = process.argv[2];
/** Extra options from the environment, for experiments: SCTP_OPTS='{"receiveBufferSize":8388608}'. */
const extra = JSON.parse(process.env.SCTP_OPTS ?? "{}");

if (role === "--receiver") {
  const packet = Number(process.argv[3]);
  const socket = await openUdpSocket({ host: "127.0.0.1", port: 0 });
  const ep = SctpEndpoint.listen({ socket, ...extra, ...(packet > 0 ? { maxPacketSize: packet, initialPacketSize: packet, pmtud: false } : {}) });
  ep.on("association", (a: Association) => {
    const hash = createHash("sha256");
    let bytes = 0;
    a.on("message", (_s: number, d: Uint8Array) => {
      hash.update(d);
      bytes += d.length;
    });
    a.on("close", () => {
      process.send!({ done: true, bytes, sha: hash.digest("hex"), stats: a.stats() });
      void ep.close().then(() => process.exit(0));
    });
  });
  process.send!({ port: socket.localAddress().port });
} else {
  const mib = Number(process.argv[2] ?? 64);
  const msg = Number(process.argv[3] ?? 65536);
  const mode = process.argv[4] ?? "both";
  for (const packet of mode === "both" ? [1200, 0] : mode === "1200" ? [1200] : [0]) {
    await run(mib, msg, packet);
  }
}

async function run(mib: number, msgSize: number, packet: number): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ["--receiver", String(packet)], { stdio: "inherit" });
  const port = await new Promise<number>((resolve) => child.once("message", (m: { port: number }) => resolve(m.port)));
  const result = new Promise<{ bytes: number; sha: string; stats: unknown }>((resolve) => child.on("message", (m: { done?: boolean; bytes: number; sha: string; stats: unknown }) => m.done && resolve(m)));
  const socket = await openUdpSocket({ host: "127.0.0.1", port: 0 });
  const ep = SctpEndpoint.listen({ socket, ...extra, ...(packet > 0 ? { maxPacketSize: packet, initialPacketSize: packet, pmtud: false } : {}) });
  const a = await ep.connect({ address: "127.0.0.1", port });
  if (packet === 0) {
    // Let PLPMTUD finish its first probe round before timing.
    const t = performance.now();
    while (a.stats().pmtu <= 1200 && performance.now() - t < 2000) await new Promise((r) => setTimeout(r, 10));
  }
  const total = mib * 1024 * 1024;
  const block = new Uint8Array(msgSize);
  for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff;
  const hash = createHash("sha256");
  const t0 = performance.now();
  let sent = 0;
  while (sent < total) {
    const n = Math.min(msgSize, total - sent);
    const chunk = n === block.length ? block : block.subarray(0, n);
    hash.update(chunk);
    sent += n;
    if (!a.send(1, chunk)) await new Promise<void>((r) => a.once("drain", r));
  }
  await a.close();
  const r = await result;
  const secs = (performance.now() - t0) / 1000;
  const sha = hash.digest("hex");
  const st = a.stats();
  console.log(
    `packet ${packet || `pmtud→${st.pmtu}`}: ${(total / 1e6 / secs).toFixed(1)} MB/s (${mib} MiB in ${secs.toFixed(2)} s) ` +
      `sha ${sha === r.sha && r.bytes === total ? "ok" : "MISMATCH"} rtx=${st.retransmissions} fr=${st.fastRetransmits} t3=${st.t3Expiries} pkts=${st.packetsSent} cwnd=${st.cwnd} srtt=${st.srttMs.toFixed(2)}`,
  );
  await ep.close();
  await new Promise((r) => child.once("exit", r));
}
