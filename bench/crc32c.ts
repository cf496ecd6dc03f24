/**
 * CRC-32C throughput: the slice-by-16 `crc32c` the SCTP stack uses against
 * the plain one-table loop, same buffers, same run; what a whole
 * DATA packet costs to encode and decode (checksum included).
 *
 * Also: ns per call of the hot-path chunk codecs (DATA, SACK).
 *
 * Usage: node bench/crc32c.ts [--ms=300]   (or: deno run bench/crc32c.ts)
 * Prints MB/s (10^6 bytes per second), best of 3 runs of about --ms each.
 */
import { crc32c, crc32cBytewise } from "../src/transport/sctp/crc32c.ts";
import type { Chunk } from "../src/transport/sctp/chunk_types.ts";
import { chunkLength, decodeChunk, encodeChunk } from "../src/transport/sctp/chunk.ts";
import { decodePacket, encodePacket, encodePacketInto } from "../src/transport/sctp/packet.ts";

const arg = (globalThis as { process?: { argv: string[] } }).process?.argv.find((a) => a.startsWith("--ms="));
const MS = arg ? Number(arg.slice(5)) : 300;

/** Best-of-3 rate of `fn` in calls per second, each run lasting about MS ms. */
function rate(fn: () => number): number {
  let sink = 0;
  for (let i = 0; i < 200; i++) sink ^= fn(); // warm up / JIT
  let best = 0;
  for (let run = 0; run < 3; run++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < MS) {
      for (let i = 0; i < 64; i++) sink ^= fn();
      calls += 64;
      elapsed = performance.now() - start;
    }
    best = Math.max(best, (calls * 1000) / elapsed);
  }
  if (sink === 0.5) console.log(""); // keep `sink` alive
  return best;
}

const fmt = (x: number) => x.toFixed(0).padStart(6);
const data = new Uint8Array(65536);
for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;

console.log(`CRC-32C, MB/s (best of 3 × ${MS} ms)`);
console.log("  size      slice-by-16   one-table   ratio");
for (const size of [1200, 1452, 65536]) {
  const buf = data.subarray(3, 3 + size); // an unaligned view, as datagrams often are
  const fast = (rate(() => crc32c(buf)) * size) / 1e6;
  const slow = (rate(() => crc32cBytewise(buf)) * size) / 1e6;
  console.log(`  ${String(size).padStart(6)} B  ${fmt(fast)}        ${fmt(slow)}      ${(fast / slow).toFixed(2)}×`);
}

console.log("\nWhole packet with one DATA chunk (encode = build + CRC, decode = CRC check + parse), packets/s");
for (const size of [1200, 65504]) {
  const chunks: Chunk[] = [{
    type: 0, unordered: false, beginning: true, ending: true, immediate: false, tsn: 1, streamId: 1, ssn: 1, ppid: 51,
    userData: data.subarray(0, size - 28),
  }];
  const packet = { srcPort: 6969, dstPort: 6969, verificationTag: 0x12345678, chunks };
  const bytes = encodePacket(packet);
  const enc = rate(() => encodePacket(packet).length);
  const out = new Uint8Array(bytes.length);
  const into = rate(() => encodePacketInto(packet, out, 0));
  const dec = rate(() => decodePacket(bytes).chunks.length);
  const line = (name: string, r: number) => `${name} ${fmt(r / 1000)}k/s (${fmt((r * size) / 1e6)} MB/s)`;
  console.log(`  ${String(size).padStart(6)} B  ${line("encode", enc)}   ${line("encodeInto (reused buffer)", into)}   ${line("decode", dec)}`);
}

console.log("\nHot-path chunk codecs, ns per call (byte ops; a DataView per call measured ~2× slower for DATA decode)");
{
  const dataChunk: Chunk = {
    type: 0, unordered: false, beginning: true, ending: true, immediate: false, tsn: 1, streamId: 1, ssn: 1, ppid: 51, userData: data.subarray(0, 1100),
  };
  const sack: Chunk = { type: 3, cumulativeTsnAck: 100, aRwnd: 1 << 20, gapBlocks: [{ start: 2, end: 5 }, { start: 7, end: 9 }], duplicateTsns: [] };
  const scratch = new Uint8Array(2048);
  const encoded = (c: Chunk) => {
    const b = new Uint8Array(chunkLength(c));
    encodeChunk(c, b, 0);
    return b;
  };
  const dataBytes = encoded(dataChunk);
  const sackBytes = encoded(sack);
  const ns = (fn: () => number) => (1e9 / rate(fn)).toFixed(0).padStart(5);
  console.log(`  DATA (1100 B) decode ${ns(() => decodeChunk(dataBytes, 0).next)}   encode ${ns(() => encodeChunk(dataChunk, scratch, 0))}`);
  console.log(`  SACK (2 gaps)  decode ${ns(() => decodeChunk(sackBytes, 0).next)}   encode ${ns(() => encodeChunk(sack, scratch, 0))}`);
}
